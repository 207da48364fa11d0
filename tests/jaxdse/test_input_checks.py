"""Inputs that used to be accepted and give silent wrong answers: fractional counts of
hardware things, and zoo throughput limits applied to a different network of the same name."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import yaml

import costmodels
import jaxdse
from costmodels.counts import check_counts
from jaxdse.cli import main
from jaxdse.codesign import DesignSpace, SpaceError, load_space, table1_space
from jaxdse.codesign.space import describe, links, parse_described
from workloads import load

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "workloads" / "examples" / "tiny_cnn.yaml"


def _call(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, err.getvalue()


@pytest.mark.parametrize(
    "field, value",
    [("num_pes", 16.5), ("noc_links", 0.5), ("noc_virtual", [1, 1, 2.5, 1]), ("l1_bytes", 7.5), ("l2_kib", 0.0001)],
)
def test_fractional_hardware_counts_are_refused(tmp_path, field, value):
    data = {**costmodels.preset_dict("tiny"), field: value}
    path = tmp_path / "arch.yaml"
    path.write_text(yaml.safe_dump(data))
    status, err = _call(["evaluate", "--workload", str(TINY), "--arch", str(path), "--method", "default"])
    assert status == 2, err
    assert f"'{field}'" in err and "whole number" in err and "arch.yaml" in err
    arch = costmodels.arch_from_dict(data)
    with pytest.raises(costmodels.ArchError, match=field):
        jaxdse.map_network(load(TINY), arch)
    with pytest.raises(costmodels.ArchError, match=field):
        jaxdse.evaluate(load(TINY), arch, "default")


def test_whole_counts_pass():
    arch = costmodels.preset("explainable_default")
    assert check_counts(arch) is arch


@pytest.mark.parametrize("param, values", [("num_pes", [64, 3.5]), ("links_inputs", [0.5, 1]), ("virtual_psum", [1.5])])
def test_space_with_fractional_counts_is_refused(tmp_path, param, values):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({param: values}))
    with pytest.raises(SpaceError, match=f"'{param}' expected whole numbers"):
        load_space(path)
    status, err = _call(["explore", "--workload", str(TINY), "--space", str(path), "--budget", "2"])
    assert status == 2 and param in err, err


def test_links_are_whole_for_any_pe_count():
    space = DesignSpace(values={**table1_space().values, "num_pes": (100.0,)})
    for i in (1.0, 3.0, 63.0):
        n = links({"num_pes": 100.0, "links_inputs": i}, "inputs")
        assert n == int(n) and 1 <= n <= 100
    assert space.values["num_pes"] == (100.0,)


def test_parse_described_inverts_describe_on_table1_designs():
    import numpy as np

    space, rng = table1_space(), np.random.default_rng(0)
    for _ in range(200):
        d = space.random_design(rng)
        assert parse_described(f"trial 7, proposed: {describe(d)}; feasible") == d
    with pytest.raises(SpaceError, match="links_weights"):
        parse_described("100 PEs, L1 8 B, L2 64 KiB, 1024 MB/s, NoC 16 b, links 100/3/100/100, virtual 1/1/1/1")
    with pytest.raises(SpaceError, match="expected a design"):
        parse_described("neighbour: l2_kib 128 KiB -> 256 KiB")


def test_zoo_throughput_limit_applies_to_the_zoo_network_only():
    """An imported model that happens to be called resnet18 does not get the zoo model's 40 FPS."""
    from jaxdse.codesign import Constraints
    from workloads import from_dict, get

    zoo = get("resnet18")
    impostor = load(TINY).replace(name="resnet18")
    c = Constraints()
    assert c.budgets(1.0, 1.0, {"resnet18": 0.05}, [zoo])["throughput.resnet18"] == pytest.approx(40 * 0.05)
    assert c.budgets(1.0, 1.0, {"resnet18": 0.05}, [from_dict(zoo.to_dict())])["throughput.resnet18"] > 0  # run.json
    assert "throughput.resnet18" not in c.budgets(1.0, 1.0, {"resnet18": 0.05}, [impostor])
    limits = c.to_dict([impostor])
    assert limits["min_per_s"] == {"resnet18": None} and "not the zoo network" in limits["min_per_s_source"]["resnet18"]
    assert "zoo network" in c.to_dict([zoo])["min_per_s_source"]["resnet18"]
    given = Constraints(min_per_s={"resnet18": 5.0})
    assert given.budgets(1.0, 1.0, {"resnet18": 0.1}, [impostor])["throughput.resnet18"] == pytest.approx(0.5)
