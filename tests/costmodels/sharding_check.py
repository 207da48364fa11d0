"""Run by tests/costmodels/test_sharding.py in a subprocess with N simulated CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=N`` must be set before JAX starts).
Prints one JSON line of checks; the test asserts on it.

Usage: ``sharding_check.py [MAPPER_BUDGET]``; the mapped sub-network has one
layer per device so the layer axis splits across all of them; 0 skips the
mapper check (the quick default-run variant)."""

import json
import sys

import jax
import numpy as np

import costmodels as cm
from costmodels import sharding
from jaxdse import map_network
from jaxdse.mapspace import random_mappings
from workloads import Network, get

out = {"devices": len(jax.devices())}
arch = cm.get_arch("explainable_default")
net = get("resnet18")
layer = net.layers[3]
# odd size, large enough that map_batch splits it: padded to a multiple of the device count
n_items = sharding.MIN_ITEMS_PER_DEVICE * len(jax.devices()) + 1
ms = random_mappings(layer, n_items, np.random.default_rng(0))
la = cm.layer_arrays(layer)
sharded = cm.evaluate_sharded(arch, la, ms)
with sharding.disabled():
    single = cm.evaluate_sharded(arch, la, ms)
    out["disabled_devices"] = sharding.device_count()
out["mesh_devices"] = sharding.device_count()
out["split_devices"] = len(sharding.shard_leading(np.zeros((16, 3))).sharding.device_set)
out["batch"] = int(sharded.latency_cycles.shape[0])
out["batch_expected"] = n_items
out["eval_devices"] = len(sharded.latency_cycles.sharding.device_set)  # computed over the whole mesh
out["legal"] = int(np.asarray(single.legal).sum())
out["legal_equal"] = bool(np.array_equal(np.asarray(sharded.legal), np.asarray(single.legal)))
# float32 costs agree to rounding: the two programs are compiled differently (as jit and eager do)
rel = []
for k in ("latency_cycles", "energy_total_pj", "area_total_mm2"):
    a, b = np.asarray(getattr(sharded, k)), np.asarray(getattr(single, k))
    rel.append(float(np.max(np.abs(a - b) / b)))
out["max_rel_diff"] = max(rel)
n = out["devices"]
budget = int(sys.argv[1]) if len(sys.argv) > 1 else 900
if budget > 0:
    sub = Network(f"resnet18_first{n}", net.layers[:n], net.counts[:n])  # one layer per device: the layer axis splits
    plan_s = map_network(sub, arch, budget=budget, seed=0)
    with sharding.disabled():
        plan_1 = map_network(sub, arch, budget=budget, seed=0)
    out["map_same_mappings"] = all(
        np.array_equal(a.factors(), b.factors()) and np.array_equal(np.asarray(a.order), np.asarray(b.order))
        for a, b in zip(plan_s.mappings, plan_1.mappings)
    )
    out["map_latency"] = [plan_s.total()["latency_s"], plan_1.total()["latency_s"]]
print(json.dumps(out))
