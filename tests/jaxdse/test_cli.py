"""The command line: evaluate, JSON keys, errors naming the field."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from explore_helpers import without_timings

from jaxdse.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "workloads" / "examples" / "tiny_cnn.yaml"


@pytest.mark.slow  # a minute or more on 2 loaded cores; CI runs it with -m slow
def test_map_json_keys(capsys):
    assert main(["map", "--model", "resnet18", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("latency_s", "energy_j", "area_mm2", "power_w", "macs", "utilisation", "bottleneck"):
        assert key in out["total"], key
    assert out["total"]["macs"] == 1814073344 or abs(out["total"]["macs"] / 1.814e9 - 1) < 0.01
    assert len(out["layers"]) >= 10
    for layer in out["layers"]:
        for key in ("latency_s", "energy_j", "macs", "utilisation", "bottleneck", "mapping", "count"):
            assert key in layer
        assert layer["legal"], layer["name"]
    assert out["total"]["latency_s"] > 0 and out["total"]["legal"]


@pytest.mark.slow  # a minute or more on 2 loaded cores; CI runs it with -m slow
def test_map_workload_file_table_and_out(tmp_path, capsys):
    assert main(["map", "--workload", str(EXAMPLE), "--arch", "eyeriss_template", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "total: latency" in text and "bottleneck" in text
    assert json.loads((tmp_path / "plan.json").read_text())["total"]["legal"]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["evaluate", "--model", "resnet5"], "resnet5"),
        (["evaluate", "--model", "resnet18", "--arch", "huge"], "huge"),
        (["evaluate"], "--model"),
        (["evaluate", "--workload", "/nonexistent.yaml"], "nonexistent"),
    ],
)
def test_errors_name_the_field(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error" in err and needle in err
    assert "Traceback" not in err


def test_console_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "jaxdse", "list"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "resnet50" in r.stdout and "explainable_default" in r.stdout


@pytest.mark.slow  # two fresh processes, each compiling the mapper from scratch
def test_compile_cache_is_written_and_reused(tmp_path):
    """A second ``jaxdse`` process loads what the first one compiled (JAX's persistent cache)."""
    # every executable stored (threshold 0), so the first run's set does not depend on the machine's load
    env = {**os.environ, "JAXDSE_COMPILE_CACHE": str(tmp_path / "xla"), "JAXDSE_COMPILE_CACHE_MIN_S": "0"}
    argv = [sys.executable, "-m", "jaxdse", "map", "--workload", str(EXAMPLE), "--json"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr
    stored = sorted(p.name for p in (tmp_path / "xla").iterdir())
    assert stored, "nothing was cached"
    second = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0
    assert without_timings(json.loads(second.stdout)) == without_timings(json.loads(first.stdout))
    assert sorted(p.name for p in (tmp_path / "xla").iterdir()) == stored  # every executable came from the cache


def test_compile_cache_folder_setting(monkeypatch, tmp_path):
    from jaxdse.compile_cache import ENV, compile_cache_dir

    monkeypatch.setenv(ENV, "off")
    assert compile_cache_dir() is None
    monkeypatch.setenv(ENV, str(tmp_path / "c"))
    assert compile_cache_dir() == tmp_path / "c"
    monkeypatch.delenv(ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache_dir() == tmp_path / "jaxdse" / "xla"


def test_table_says_per_instance_and_explains_its_columns():
    """Per-layer columns are per instance and say so; count x per-instance latency adds up to the total."""
    import jaxdse
    from workloads import load

    net = load(EXAMPLE)
    plan = jaxdse.evaluate(net, "tiny", "default")
    text = plan.table()
    head = text.splitlines()[0].split()
    assert head[:5] == ["layer", "count", "MMACs/inst", "latency_ms/inst", "energy_uJ/inst"]
    rows = [line.split() for line in text.splitlines()[2 : 2 + len(net.layers)]]
    total_ms = sum(int(r[1]) * float(r[3]) for r in rows)
    assert total_ms == pytest.approx(plan.total()["latency_s"] * 1e3, rel=1e-3)
    assert "x next" in text and "per layer are for one instance" in text and "the totals multiply" in text


@pytest.mark.slow  # a minute or more on 2 loaded cores; CI runs it with -m slow
def test_map_on_a_hierarchy_preset(tmp_path, capsys):
    """A level-by-level preset maps from the CLI (the hierarchy mapper on the general model)."""
    argv = ["map", "--workload", str(EXAMPLE), "--arch", "gemmini_like", "--budget", "64", "--out", str(tmp_path)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Scratchpad" in text and "total (x count)" in text
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["levels"] == ["DRAM", "Scratchpad", "Accumulator", "PEWeightReg"]
    assert plan["total"]["legal"] and plan["total"]["latency_s"] > 0
    # the template-only mappers refuse a hierarchy with a named error
    assert main(["map", "--workload", str(EXAMPLE), "--arch", "gemmini_like", "--method", "pruned"]) == 2
    assert "field '--method'" in capsys.readouterr().err


def test_evaluate_takes_given_mappings_and_never_searches(tmp_path, capsys, monkeypatch):
    """``jaxdse map --out`` then ``jaxdse evaluate --plan``: the same costs, and evaluate runs no mapper."""
    import jaxdse.mapper.api as mapper_api

    assert main(["map", "--workload", str(EXAMPLE), "--method", "default", "--out", str(tmp_path)]) == 0
    mapped = json.loads((tmp_path / "plan.json").read_text())
    capsys.readouterr()

    def no_search(*args, **kwargs):
        raise AssertionError("evaluate searched")

    monkeypatch.setattr(mapper_api, "_run_method", no_search)
    assert main(["evaluate", "--workload", str(EXAMPLE), "--plan", str(tmp_path / "plan.json"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["mapping"] for r in out["layers"]] == [r["mapping"] for r in mapped["layers"]]
    assert out["total"]["latency_s"] == pytest.approx(mapped["total"]["latency_s"], rel=1e-6)
    assert out["total"]["exact_evaluations"] == 0
    assert main(["evaluate", "--workload", str(EXAMPLE), "--method", "default", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["legal"]


@pytest.mark.parametrize(
    "extra, needle",
    [
        ([], "found none (jaxdse map searches"),
        (["--method", "default", "--plan", "PLAN"], "found --plan FILE, --method default"),
        (["--plan", "/nonexistent/plan.json"], "nonexistent"),
        (["--plan", "OTHER"], "field 'layers' expected the"),
        (["--budget", "5"], "unrecognized arguments"),
        (["--method", "gradient"], "invalid choice"),
    ],
)
def test_evaluate_needs_one_source_of_mappings(extra, needle, tmp_path, capsys):
    (tmp_path / "plan.json").write_text(json.dumps({"layers": []}))
    (tmp_path / "other.json").write_text(json.dumps({"layers": [{"name": "x", "mapping": {}}]}))
    files = {"PLAN": str(tmp_path / "plan.json"), "OTHER": str(tmp_path / "other.json")}
    argv = ["evaluate", "--workload", str(EXAMPLE)] + [files.get(x, x) for x in extra]
    if "unrecognized" in needle or "invalid" in needle:
        with pytest.raises(SystemExit):
            main(argv)
    else:
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_python_evaluate_never_searches():
    import jaxdse
    from costmodels import MappingError
    from workloads import load

    with pytest.raises(MappingError, match="never searches: jaxdse.map_network"):
        jaxdse.evaluate(load(EXAMPLE), "tiny")


def test_compile_in_background_compiles_what_the_real_call_runs(caplog):
    """Only XLA's compile runs in the thread (tracing the model in two threads at once aborted:
    jax 0.10.2, 'Store occupied'); the later real call traces again but does not compile again."""
    import logging

    import jax
    import jax.numpy as jnp

    from jaxdse.compile_cache import compile_in_background

    @jax.jit
    def f(x):
        return jnp.logaddexp(x, 0.0).sum()

    x = jnp.arange(11.0)
    with jax.log_compiles(True), caplog.at_level(logging.DEBUG):
        compile_in_background(f.lower(x)).join()
        compiled = [r for r in caplog.records if "Finished XLA compilation of jit(f)" in r.getMessage()]
        assert len(compiled) == 1
        assert float(f(x)) == pytest.approx(float(jnp.sum(jnp.logaddexp(x, 0.0))))
        again = [r for r in caplog.records if "Finished XLA compilation of jit(f)" in r.getMessage()]
    assert len(again) == 1  # the real call found the executable


def test_map_passes_tie_break_to_either_mapper(monkeypatch, capsys):
    """``--tie-break`` reaches the template mapper and the hierarchy mapper; with
    ``--method default`` (no search, no ties) it is an error naming the flag."""
    import jaxdse.hierarchy_plan as hierarchy_plan
    import jaxdse.mapper.api as mapper_api
    from jaxdse.mapper.space import MapperError

    seen = []

    def record(*args, **kwargs):
        seen.append(kwargs.get("tie_break"))
        raise MapperError("mapper: recorded")

    monkeypatch.setattr(mapper_api, "map_network", record)
    monkeypatch.setattr(hierarchy_plan, "map_on_hierarchy", record)
    assert main(["map", "--workload", str(EXAMPLE), "--tie-break", "energy"]) == 2
    assert main(["map", "--workload", str(EXAMPLE), "--arch", "gemmini_like", "--tie-break", "edp"]) == 2
    assert main(["map", "--workload", str(EXAMPLE), "--arch", "gemmini_like"]) == 2
    assert seen == ["energy", "edp", None]
    capsys.readouterr()
    assert main(["map", "--workload", str(EXAMPLE), "--method", "default", "--tie-break", "energy"]) == 2
    assert "field '--tie-break'" in capsys.readouterr().err
