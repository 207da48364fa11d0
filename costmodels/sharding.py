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
``use_cpu_cores()`` (before JAX starts) gives a CPU host one device per core, and
``map_batch`` then splits large batches over them (README, "Scaling out").
Several hosts: call ``jax.distributed.initialize()`` in each process first;
the mesh here spans that process's local devices, and processes split the
independent work (networks, seeds, designs) by ``jax.process_index()``
(README, "Scaling out").
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from costmodels.arch import Arch
from costmodels.compile import jit
from costmodels.mapping import Mapping
from costmodels.model import BATCH_CHUNK, Costs, LayerArrays, evaluate, map_chunked
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


MIN_ITEMS_PER_DEVICE = 4 * BATCH_CHUNK
"""Smallest share per device worth splitting for: below it ``map_batch`` runs on one device
(dispatching a few chunks to each device costs more than it saves; ``benchmarks/scaling.py``)."""


def _chunked(fn: Callable, chunk: int, tree: Any, *shared: Any) -> Any:
    return map_chunked(functools.partial(_call_item, fn, shared), tree, chunk)


def _call_item(fn: Callable, shared: tuple, item: Any) -> Any:
    return fn(item, *shared)


def map_batch(fn: Callable, tree: Any, *shared: Any, chunk: int = BATCH_CHUNK) -> Any:
    """``fn(item, *shared)`` for every item on the leading axis of ``tree``, vectorised in
    chunks of ``chunk`` items (``jax.lax.map``), and split over the local devices with
    ``jax.shard_map`` when there are several and each gets at least
    ``MIN_ITEMS_PER_DEVICE`` items (the batch is padded with copies of its last item to a
    multiple of the device count; the padding is dropped from the result). ``shared``
    arguments (architecture, layer, numerics) are replicated.

    Traceable: call it under ``jit``. Each device runs the same chunked program on its
    share, so splitting changes which thread computes an item, not how.

    On a CPU host, several devices (``use_cpu_cores``) let XLA run one share per core:
    one XLA:CPU device spreads a single program's operations over the cores only
    partly (1.5-1.7 busy cores of 2 measured on the model), two devices keep both busy.
    """
    mesh = local_mesh()
    n = jax.tree_util.tree_leaves(tree)[0].shape[0]
    if mesh is None or n < mesh.size * MIN_ITEMS_PER_DEVICE:
        return _chunked(fn, chunk, tree, *shared)
    extra = -n % mesh.size
    if extra:
        tree = jax.tree_util.tree_map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)]), tree)
    split = jax.shard_map(
        functools.partial(_chunked, fn, chunk),
        mesh=mesh,
        in_specs=(PartitionSpec(AXIS),) + (PartitionSpec(),) * len(shared),
        out_specs=PartitionSpec(AXIS),
    )
    out = split(tree, *shared)
    return jax.tree_util.tree_map(lambda x: x[:n], out) if extra else out


def place_batch(tree: Any) -> Any:
    """Put a batch where ``map_batch`` will compute it: split over the local devices when
    ``map_batch`` would split it, else on the default device (no copy inside the call)."""
    mesh = local_mesh()
    n = jax.tree_util.tree_leaves(tree)[0].shape[0]
    if mesh is None or n < mesh.size * MIN_ITEMS_PER_DEVICE or n % mesh.size:
        return jax.device_put(tree)
    return shard_leading(tree, mesh)


def _evaluate_item(mapping: Mapping, arch: Arch, layer: LayerArrays, nums) -> Costs:
    return evaluate(arch, layer, mapping, nums)


@jit(static_argnames=("chunk",))
def _evaluate_split(arch, layer, mappings, nums, chunk):
    return map_batch(_evaluate_item, mappings, arch, layer, nums, chunk=chunk)


def evaluate_sharded(arch: Arch, layer: LayerArrays, mappings: Mapping, nums=EXACT, chunk: int = BATCH_CHUNK) -> Costs:
    """``evaluate_batch`` compiled, with the batch split over the local devices
    (``map_batch``). With one device (or a small batch) this is ``evaluate_batch`` jitted."""
    return _evaluate_split(arch, layer, mappings, nums, chunk)


def use_cpu_cores(devices: int | None = None) -> int:
    """Give JAX's CPU backend one device per core (or ``devices``; ``$JAXDSE_CPU_DEVICES``
    when set), so that ``map_batch`` and ``evaluate_sharded`` keep every core busy.

    Must run before JAX's first operation in the process (JAX fixes its devices then);
    afterwards, or when the device count was already chosen (``jax_num_cpu_devices``,
    ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``), it changes nothing.
    Returns the number of local devices JAX will use. Measured on the 2-core development
    machine, in one process, two devices against one on batches of 200,000
    (``benchmarks/model_speed.py``): README, "Performance".
    """
    from jax._src import xla_bridge

    env = os.environ.get("JAXDSE_CPU_DEVICES", "")
    if devices is None and env.isdigit() and int(env) > 0:
        devices = int(env)
    if devices is None:
        devices = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    chosen = jax.config.jax_num_cpu_devices > 0 or "device_count" in os.environ.get("XLA_FLAGS", "")
    if not chosen and not xla_bridge.backends_are_initialized():
        jax.config.update("jax_num_cpu_devices", max(1, devices))
    return len(jax.local_devices())


__all__ = [
    "AXIS",
    "evaluate_sharded",
    "device_count",
    "disabled",
    "local_mesh",
    "map_batch",
    "place_batch",
    "MIN_ITEMS_PER_DEVICE",
    "use_cpu_cores",
    "pad_leading",
    "replicate",
    "shard_leading",
]
