"""Serving figures of LLM passes (time to first token, time per output token, tokens/s, energy per
token) and the tokens/s constraint (issue 17)."""

import json

import pytest

from jaxdse.cli import main
from jaxdse.codesign import ConstraintError, Constraints
from jaxdse.plan import evaluate
from workloads import TransformerConfig, get

SMALL = TransformerConfig(name="small", hidden=256, heads=8, kv_heads=2, ffn=512, gated=True, layers=2, vocab=1000)
"""A reduced GQA model: every figure below is a property, not a number of one design."""


@pytest.fixture(scope="module")
def plans():
    return {phase: evaluate(getattr(SMALL, phase)(64, batch=4), "explainable_default", "default")
            for phase in ("prefill", "decode")}  # fmt: skip


def test_decode_figures_follow_from_latency_and_energy(plans):
    t = plans["decode"].total()
    s = t["serving"]
    assert s["phase"] == "decode" and s["sequences"] == 4 and s["tokens_per_pass"] == 4
    assert s["time_per_output_token_s"] == t["latency_s"] and "time_to_first_token_s" not in s
    assert s["tokens_per_s"] * t["latency_s"] == pytest.approx(4)
    assert s["energy_per_token_j"] * 4 == pytest.approx(t["energy_j"])
    assert "time per output token" in plans["decode"].table() and "mJ/token" in plans["decode"].table()


def test_prefill_figures(plans):
    t = plans["prefill"].total()
    s = t["serving"]
    assert s["time_to_first_token_s"] == t["latency_s"] and s["tokens_per_pass"] == 4 * 64
    assert s["tokens_per_s"] * t["latency_s"] == pytest.approx(256)
    assert "time to first token" in plans["prefill"].table()
    # one decode step is far less work than a prefill of the same sequences
    assert plans["decode"].total()["latency_s"] < t["latency_s"]


def test_non_llm_networks_have_no_serving_figures():
    plan = evaluate(get("resnet18"), "tiny", "default")
    assert "serving" not in plan.total() and "serving" not in plan.table()


def test_tokens_per_s_limit_becomes_the_pass_rate():
    dec, pre = SMALL.decode(64, batch=4), SMALL.prefill(64, batch=4)
    c = Constraints(min_tokens_per_s={dec.name: 100.0, pre.name: 512.0}).resolve([dec, pre])
    assert c.throughput_limit(dec)[0] == 25.0  # 100 tokens/s at 4 tokens per pass
    assert c.throughput_limit(pre)[0] == 2.0  # 512 prompt tokens/s at 256 per pass
    assert c.budgets(1.0, 1.0, {dec.name: 0.08}, [dec])[f"throughput.{dec.name}"] == pytest.approx(2.0)
    assert c.resolve([dec, pre]) == c  # idempotent (resume resolves a stored, resolved copy)
    # a stricter passes/s limit is kept
    both = Constraints(min_per_s={dec.name: 50.0}, min_tokens_per_s={dec.name: 100.0}).resolve([dec])
    assert both.throughput_limit(dec)[0] == 50.0
    assert both.to_dict([dec])["min_tokens_per_s"] == {dec.name: 100.0}


def test_tokens_per_s_limit_errors_name_the_field():
    with pytest.raises(ConstraintError, match=r"'min_tokens_per_s\['x'\]' expected a positive number"):
        Constraints(min_tokens_per_s={"x": -1.0})
    with pytest.raises(ConstraintError, match="'min_tokens_per_s' expected names of LLM.*not an LLM serving pass"):
        Constraints(min_tokens_per_s={"resnet18": 10.0}).resolve([get("resnet18")])


def test_cli_json_has_serving_figures(capsys):
    assert main(["evaluate", "--model", "gpt2_medium_decode", "--batch", "4", "--method", "default", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["total"]["serving"]
    assert s["sequences"] == 4 and s["time_per_output_token_s"] > 0 and s["energy_per_token_j"] > 0


def test_cli_min_tokens_per_s_needs_an_llm_pass(capsys):
    assert main(["explore", "--model", "resnet18", "--min-tokens-per-s", "10", "--budget", "1"]) == 2
    err = capsys.readouterr().err
    assert "'--min-tokens-per-s'" in err and "resnet18" in err and "Traceback" not in err


@pytest.mark.slow
def test_cli_explore_reports_serving_and_applies_tokens_per_s(tmp_path, capsys):
    """One design (random explorer) of a reduced decode pass read from a workload file: the tokens/s
    limit becomes the pass's throughput budget, and result JSON carries the serving figures."""
    from workloads import dump

    net = SMALL.replace(layers=1).decode(32, batch=2)
    path = dump(net, tmp_path / "small_decode.yaml")
    run = tmp_path / "run"
    argv = ["explore", "--workload", str(path), "--method", "random", "--budget", "1", "--json", "--out", str(run)]
    assert main([*argv, "--min-tokens-per-s", "1e9"]) == 3  # a billion tokens/s: no design meets it
    out = json.loads(capsys.readouterr().out)
    s = out["serving"][net.name]
    assert s["tokens_per_pass"] == 2 and s["time_per_output_token_s"] == pytest.approx(out["total"]["latency_s"])
    budget = out["constraints"]["budgets"][f"throughput.{net.name}"]
    assert budget == pytest.approx(1e9 / 2 * s["time_per_output_token_s"], rel=1e-6)
    assert out["constraints"]["limits"]["min_tokens_per_s"] == {net.name: 1e9}
    assert out["blocking_constraint"] == f"throughput.{net.name}"
    assert main(["report", str(run)]) == 0
    report = (run / "report.md").read_text()
    assert f"time per output token {net.name}" in report and f"energy per token {net.name}" in report
