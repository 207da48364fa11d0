"""What is computed: layers as loop nests, networks, the model zoo, loaders."""

from workloads.errors import WorkloadError
from workloads.jax_import import from_flax, from_jax
from workloads.layer import DIMS, KINDS, OPERANDS, RELEVANT, Layer, conv2d, depthwise, halo_extent, linear, matmul, raw
from workloads.llm import TransformerConfig, from_hf_config, kv_cache_bytes
from workloads.loader import dump, from_dict, load
from workloads.network import Network
from workloads.onnx_import import from_onnx
from workloads.zoo import get, names, register

__all__ = [
    "DIMS",
    "KINDS",
    "OPERANDS",
    "RELEVANT",
    "Layer",
    "Network",
    "TransformerConfig",
    "WorkloadError",
    "conv2d",
    "depthwise",
    "dump",
    "from_dict",
    "from_flax",
    "from_hf_config",
    "from_jax",
    "from_onnx",
    "get",
    "halo_extent",
    "kv_cache_bytes",
    "linear",
    "load",
    "matmul",
    "names",
    "raw",
    "register",
]
