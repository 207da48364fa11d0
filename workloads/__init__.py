"""What is computed: layers as loop nests, networks, the model zoo, loaders."""

from workloads.layer import DIMS, KINDS, OPERANDS, RELEVANT, Layer, conv2d, depthwise, halo_extent, linear, matmul, raw
from workloads.network import Network

__all__ = [
    "DIMS",
    "KINDS",
    "OPERANDS",
    "RELEVANT",
    "Layer",
    "Network",
    "conv2d",
    "depthwise",
    "halo_extent",
    "linear",
    "matmul",
    "raw",
]
