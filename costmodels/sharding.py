"""Spreading batched cost-model work over every local device.

Batches in jaxdse have a leading axis of independent items (mappings of one
layer, layers x starts of the gradient mapper), so data parallelism is all
that is needed: the leading axis is placed on a one-axis ``Mesh`` of the
local devices with a ``NamedSharding``, everything else is replicated, and
``jit`` partitions the computation to follow the data (JAX's "computation
follows data" rule; JAX docs, "Distributed arrays and automatic
parallelization", https://docs.jax.dev/en/latest/notebooks/Distributed_arrays_and_automatic_parallelization.html).
Each item is computed by the same code on one device, so sharded results
equal single-device ones (tests/costmodels/test_sharding.py checks this
with 8 simulated CPU devices, ``XLA_FLAGS=--xla_force_host_platform_device_count=8``).

With one device (the default on CPU) every function here is a no-op.
Several hosts: call ``jax.distributed.initialize()`` in each process first;
the mesh here spans that process's local devices, and processes split the
independent work (networks, seeds, designs) by ``jax.process_index()``
(README, "Scaling out").
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from costmodels.arch import Arch
from costmodels.compile import jit
from costmodels.mapping import Mapping
from costmodels.model import BATCH_CHUNK, Costs, LayerArrays, evaluate_batch
from costmodels.numerics import EXACT

AXIS = "batch"
"""Name of the mesh axis the leading batch axis is split over."""

_enabled = True


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Within this block nothing is sharded (one device does all the work)."""
    global _enabled
    old, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = old


def local_mesh() -> Mesh | None:
    """A one-axis mesh of the local devices (at most ``$JAXDSE_MAX_DEVICES`` of them, when set),
    or None with one device or sharding disabled."""
    devices = jax.local_devices()
    limit = os.environ.get("JAXDSE_MAX_DEVICES", "")
    if limit.isdigit() and int(limit) > 0:
        devices = devices[: int(limit)]
    if not _enabled or len(devices) < 2:
        return None
    return _mesh(tuple(devices))


@functools.lru_cache(maxsize=8)
def _mesh(devices: tuple) -> Mesh:
    return Mesh(np.asarray(devices), (AXIS,))


def device_count() -> int:
    """Devices a batch is split over (1 when unsharded)."""
    mesh = local_mesh()
    return 1 if mesh is None else mesh.size


def shard_leading(tree: Any, mesh: Mesh | None = None) -> Any:
    """Place every leaf whose leading axis divides evenly over the mesh split on
    that axis; other leaves (scalars, odd sizes) replicated. No-op without a mesh."""
    mesh = mesh or local_mesh()
    if mesh is None:
        return tree
    split = NamedSharding(mesh, PartitionSpec(AXIS))
    whole = NamedSharding(mesh, PartitionSpec())

    def place(x):
        x = jnp.asarray(x)
        ok = x.ndim > 0 and x.shape[0] % mesh.size == 0
        return jax.device_put(x, split if ok else whole)

    return jax.tree_util.tree_map(place, tree)


def replicate(tree: Any, mesh: Mesh | None = None) -> Any:
    """Copy every leaf to every device of the mesh (arguments shared by all items). No-op without a mesh."""
    mesh = mesh or local_mesh()
    if mesh is None:
        return tree
    whole = NamedSharding(mesh, PartitionSpec())
    return jax.tree_util.tree_map(lambda x: jax.device_put(jnp.asarray(x), whole), tree)


def pad_leading(tree: Any, multiple: int) -> tuple[Any, int]:
    """Pad the leading axis to a multiple of ``multiple`` by repeating the last item; returns (tree, n)."""
    n = jax.tree_util.tree_leaves(tree)[0].shape[0]
    extra = -n % multiple
    if extra == 0:
        return tree, n

    def pad(x):
        x = np.asarray(x)
        return np.concatenate([x, np.repeat(x[-1:], extra, axis=0)], axis=0)

    return jax.tree_util.tree_map(pad, tree), n


@jit(static_argnames=("chunk",))
def _per_device(arch, layer, mappings, nums, chunk):
    return jax.vmap(lambda m: evaluate_batch(arch, layer, m, nums, chunk))(mappings)


_one_device = jit(evaluate_batch, static_argnames=("chunk",))


def evaluate_sharded(arch: Arch, layer: LayerArrays, mappings: Mapping, nums=EXACT, chunk: int = BATCH_CHUNK) -> Costs:
    """``evaluate_batch`` (compiled) with the batch split over the local devices.

    The batch (leading axis of ``mappings``) is padded to a multiple of the
    device count, reshaped to [devices, per_device, ...], split over the mesh,
    and each device runs ``evaluate_batch`` on its share; the padding is
    dropped from the result. With one device this is ``evaluate_batch`` jitted.
    """
    mesh = local_mesh()
    if mesh is None:
        return _one_device(arch, layer, mappings, nums, chunk)
    m, n = pad_leading(mappings, mesh.size)
    m = jax.tree_util.tree_map(lambda x: np.asarray(x).reshape((mesh.size, -1) + np.shape(x)[1:]), m)
    c = _per_device(replicate(arch, mesh), replicate(layer, mesh), shard_leading(m, mesh), nums, chunk)
    return jax.tree_util.tree_map(lambda x: x.reshape((-1,) + x.shape[2:])[:n], c)


__all__ = [
    "AXIS",
    "evaluate_sharded",
    "device_count",
    "disabled",
    "local_mesh",
    "pad_leading",
    "replicate",
    "shard_leading",
]
