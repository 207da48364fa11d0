"""Sharded batches over 8 simulated CPU devices give the single-device results."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from costmodels import sharding

HERE = Path(__file__).resolve().parent


def test_single_device_is_a_no_op():
    assert len(jax.local_devices()) == 1  # the test process itself runs on one CPU device
    assert sharding.local_mesh() is None and sharding.device_count() == 1
    x = np.arange(6.0)
    assert sharding.shard_leading(x) is x
    padded, n = sharding.pad_leading({"a": np.arange(5)}, 4)
    assert n == 5 and padded["a"].tolist() == [0, 1, 2, 3, 4, 4, 4, 4]


@pytest.mark.slow
def test_eight_devices_match_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    run = subprocess.run(
        [sys.executable, str(HERE / "sharding_check.py")], env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["devices"] == 8 and out["mesh_devices"] == 8 and out["disabled_devices"] == 1
    assert out["split_devices"] == 8  # a batch really is spread over all 8
    assert out["batch"] == 1001 and out["legal"] > 0
    assert out["legal_equal"]
    assert out["max_rel_diff"] < 1e-6
    assert out["map_same_mappings"]
    lat = out["map_latency"]
    assert lat[0] == pytest.approx(lat[1], rel=1e-6)
