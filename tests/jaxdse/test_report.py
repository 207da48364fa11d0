"""Figures of a run and ``jaxdse report``: from a Result and from a saved folder."""

import base64
import html
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from explore_helpers import TINY_NET, small_space

from jaxdse.cli import main
from jaxdse.codesign import Constraints, explore
from jaxdse.codesign.plots import (
    FIGURES,
    layer_groups,
    plot_budgets,
    plot_convergence_compare,
    plot_design_space,
    save_figures,
)
from jaxdse.codesign.report import write_report
from jaxdse.codesign.saved import ReportError, RunData, load_run
from jaxdse.codesign.space import links

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One small explainable run (with a throughput limit, so three budgets), saved."""
    out = tmp_path_factory.mktemp("run")
    cons = Constraints(power_w=1.0, min_per_s={"tiny_cnn": 3000.0})
    result = explore(
        TINY_NET, space=small_space(), constraints=cons, budget=5, warm_start=0, seed=0, out=out, mapper_budget=300
    )
    return result, out


def _copy(run, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(run[1], dst)
    return dst


def test_save_writes_every_figure(run):
    _, out = run
    for name in FIGURES:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, name


def test_saved_run_reads_back_what_the_result_holds(run):
    result, out = run
    saved = load_run(out)
    assert len(saved.trace) == result.evaluations == 5
    assert saved.method == "explainable" and saved.objective == "latency"
    assert saved.summary["total"]["latency_s"] == pytest.approx(result.best.total()["latency_s"])
    assert saved.best_so_far() == pytest.approx(list(result.best_so_far()))
    assert [e["accepted"] for e in saved.trace] == [e.accepted for e in result.trace.entries]
    assert set(saved.summary["constraints"]["budgets"]) == {"area_mm2", "power_w", "throughput.tiny_cnn"}


def test_figures_accept_a_run_loaded_from_disk(run, tmp_path):
    result, out = run
    saved = load_run(out)
    paths = save_figures(saved, tmp_path / "figs")
    assert [p.name for p in paths] == list(FIGURES)
    for p in paths:
        assert p.read_bytes().startswith(PNG_MAGIC) and p.stat().st_size > 5000
    cmp = plot_convergence_compare({"in memory": result, "from disk": saved}, tmp_path / "cmp.png")
    assert cmp.stat().st_size > 5000


def test_figures_when_nothing_is_feasible_and_limits_are_off(run, tmp_path):
    # a run with no feasible design and no area / power limit must still plot
    saved = load_run(run[1])
    trace = tuple({**e, "feasible": False, "budgets": {"throughput.tiny_cnn": 2.0}} for e in saved.trace)
    cons = {"limits": {"area_mm2": None, "power_w": None, "min_per_s": {}}, "budgets": {"throughput.tiny_cnn": 2.0}}
    bad = RunData(summary={**saved.summary, "feasible": False, "constraints": cons}, trace=trace)
    assert plot_design_space(bad, tmp_path / "ds.png").stat().st_size > 5000
    assert plot_budgets(bad, tmp_path / "b.png").stat().st_size > 5000
    assert [p.stat().st_size > 5000 for p in save_figures(bad, tmp_path)] == [True] * len(FIGURES)


def test_layer_groups_take_the_slowest_noc():
    row = {"terms_cycles": {"compute": 10.0, "noc_inputs": 5.0, "noc_weights": 7.0, "noc_psum_reads": 1.0, "dma": 3.0}}
    assert layer_groups(row) == {"compute": 10.0, "NoC": 7.0, "DMA": 3.0}


def test_breakdown_draws_the_terms_side_by_side_not_stacked():
    """A layer's latency is the max of compute, NoC and DMA: the binding term's bar is the whole
    latency x count, the others are shorter, and no bar starts where another ends."""
    from jaxdse.codesign.plots import breakdown_figure, breakdown_ms
    from jaxdse.codesign.saved import RunData

    compute_bound = {"name": "a", "count": 2, "latency_s": 3e-3, "bottleneck": "compute", "loop_nest": "-"}
    compute_bound["terms_cycles"] = {"compute": 30.0, "noc_inputs": 10.0, "dma": 5.0}
    dma_bound = {**compute_bound, "name": "b", "count": 1, "bottleneck": "dma"}
    dma_bound["terms_cycles"] = {"compute": 1.0, "noc_inputs": 2.0, "dma": 4.0}
    assert breakdown_ms(compute_bound) == pytest.approx({"compute": 6.0, "NoC": 2.0, "DMA": 1.0})
    assert breakdown_ms(dma_bound) == pytest.approx({"compute": 0.75, "NoC": 1.5, "DMA": 3.0})
    fig = breakdown_figure(RunData(summary={"layers": {"net": [compute_bound, dma_bound]}}, trace=()))
    bars = fig.axes[0].patches
    assert len(bars) == 6 and all(b.get_x() == 0 for b in bars)
    assert sorted(round(b.get_width(), 9) for b in bars) == sorted([6.0, 2.0, 1.0, 0.75, 1.5, 3.0])


def test_report_and_result_say_how_the_run_was_made(run, tmp_path):
    """Seed, budget, command line, version and date in result.json and the report; links printed as
    physical links everywhere; budget shares and per-instance columns explained."""
    result, _ = run
    folder = _copy(run, tmp_path)
    summary = json.loads((folder / "result.json").read_text())
    info = summary["run"]
    assert info["seed"] == 0 and info["budget"] == 5 and info["mapper_budget"] == 300 and info["warm_start"] == 0
    assert info["jaxdse_version"] and info["date_utc"].startswith("20") and info["command_line"] is None
    text = write_report(folder, "md").read_text()
    assert "## Run" in text and "| seed | 0 |" in text and "| budget (designs) | 5 |" in text
    assert f"| date (UTC) | {info['date_utc']} |" in text and "(Python API)" in text
    phys = summary["links"]
    assert phys == {k: links(summary["design"], k) for k in ("inputs", "weights", "psum", "writes")}
    assert f"| links_inputs | {phys['inputs']:g} | links (stored as i = {summary['design']['links_inputs']:g}" in text
    assert (
        "links " + "/".join(f"{phys[k]:g}" for k in ("inputs", "weights", "psum", "writes")) in summary["design_text"]
    )
    assert "Used share of a limit = cost / limit" in text and "latency ms / instance" in text
    explained = result.explain()
    assert "used share of each limit" in explained and "%" in explained.splitlines()[-1]
    assert "throughput limits: tiny_cnn >= 3000 inferences/s (given)" in explained  # which limit, and why


def test_cli_records_its_command_line(monkeypatch, tmp_path):
    import jaxdse.codesign.api as codesign_api

    seen = {}

    def fake_search(*args, **kwargs):
        seen["command_line"] = args[-1]
        raise KeyboardInterrupt

    monkeypatch.setattr(codesign_api, "_search", fake_search)
    out = tmp_path / "r"
    assert main(["explore", "--model", "resnet18", "--budget", "3", "--out", str(out)]) == 130
    assert seen["command_line"] == f"jaxdse explore --model resnet18 --budget 3 --out {out}"
    assert json.loads((out / "run.json").read_text())["command_line"] == seen["command_line"]


def _accepted_reasons(folder: Path) -> list[str]:
    lines = [json.loads(x) for x in (folder / "trace.jsonl").read_text().splitlines()]
    reasons = [e["reason"] for e in lines if e["accepted"]]
    assert reasons, "the run has no accepted step"
    return reasons


def test_markdown_report(run, tmp_path):
    folder = _copy(run, tmp_path)
    path = write_report(folder)
    assert path == folder / "report.md"
    text = path.read_text()
    for reason in _accepted_reasons(folder):
        assert reason.rstrip(". ") in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(links) == sorted(FIGURES)
    saved = load_run(folder)
    n_feas = sum(e["feasible"] for e in saved.trace)
    assert f"| evaluated designs | {len(saved.trace)} |" in text
    assert f"| feasible designs | {n_feas} ({n_feas / len(saved.trace):.0%}) |" in text
    for row in saved.summary["layers"]["tiny_cnn"]:
        assert f"| {row['name']} |" in text
        assert row["loop_nest"].replace("|", "\\|") in text
    assert "| throughput.tiny_cnn | >= 3000 /s |" in text


def test_markdown_report_elsewhere_links_back(run, tmp_path):
    folder = _copy(run, tmp_path)
    path = write_report(folder, "md", out=tmp_path / "docs" / "r.md")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", path.read_text())
    assert len(links) == len(FIGURES)
    for link in links:
        assert not os.path.isabs(link) and (path.parent / link).resolve() == (folder / Path(link).name).resolve()


def test_html_report_is_self_contained(run, tmp_path):
    folder = _copy(run, tmp_path)
    path = write_report(folder, "html")
    page = path.read_text()
    assert path.name == "report.html" and page.startswith("<!DOCTYPE html>")
    for reason in _accepted_reasons(folder):
        assert html.escape(reason.rstrip(". ")) in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == len(FIGURES)
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
    # outside the inlined images (whose base64 can spell anything), nothing points elsewhere
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]*", "", page)
    assert "href=" not in text and "<link" not in text and "http" not in text.lower()


def test_report_redraws_missing_figures(run, tmp_path):
    folder = _copy(run, tmp_path)
    for name in ("budgets.png", "design_space.png"):
        (folder / name).unlink()
    write_report(folder, "md")
    for name in FIGURES:
        assert (folder / name).read_bytes().startswith(PNG_MAGIC)


def _break(folder: Path, name: str, edit) -> None:
    p = folder / name
    if name.endswith(".jsonl"):
        lines = [json.loads(x) for x in p.read_text().splitlines()]
        edit(lines)
        p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    else:
        data = json.loads(p.read_text())
        edit(data)
        p.write_text(json.dumps(data))


def test_report_errors_name_the_file_and_key(run, tmp_path, capsys):
    with pytest.raises(ReportError, match="no directory"):
        write_report(tmp_path / "nowhere")
    folder = _copy(run, tmp_path)
    with pytest.raises(ReportError, match="fmt"):
        write_report(folder, "pdf")

    (folder / "trace.jsonl").rename(folder / "t.bak")
    with pytest.raises(ReportError, match="trace.jsonl"):
        write_report(folder)
    (folder / "t.bak").rename(folder / "trace.jsonl")

    _break(folder, "trace.jsonl", lambda lines: lines[1].pop("reason"))
    with pytest.raises(ReportError, match=r"trace.jsonl line 2.*'reason'"):
        write_report(folder)

    folder = _copy(run, tmp_path / "b")
    _break(folder, "result.json", lambda d: d["total"].pop("latency_s"))
    with pytest.raises(ReportError, match=r"result.json 'total'.*'latency_s'"):
        load_run(folder)
    (folder / "result.json").write_text('{"method": "explainable",')
    with pytest.raises(ReportError, match="result.json: expected JSON"):
        load_run(folder)
    assert not (folder / "report.md").exists()

    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxdse: error:") and "result.json" in err and len(err.strip().splitlines()) == 1


def test_cli_report(run, tmp_path, capsys):
    folder = _copy(run, tmp_path)
    assert main(["report", str(folder), "--format", "html", "--out", str(tmp_path / "r.html")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'r.html'}"
    assert (tmp_path / "r.html").read_text().count("data:image/png;base64,") == len(FIGURES)


def test_figures_reject_other_objects(tmp_path):
    with pytest.raises(TypeError, match="run"):
        save_figures({"design": {}}, tmp_path)
