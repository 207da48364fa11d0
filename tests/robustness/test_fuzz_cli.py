"""Fuzzing the command line: hypothesis-made argv lists and malformed files
through ``jaxdse.cli.main``.

Every call must end in one of: argparse's ``SystemExit(2)``; exit status 2
with a single ``jaxdse: error: ... expected ...`` line on stderr; ``list``'s
status 0; or the start of a long computation. The long computations (the
mapper's search, exact evaluation of a whole plan, the explorer's search)
are replaced by a stub that raises ``Reached`` after checking that every
argument it received is valid: so the fuzzing stays cheap, and it also
proves that validation happens *before* any long computation starts
(including that an ``--out`` folder can be written, which is otherwise only
found out at the end).

One real run (marked slow) checks the other exit status: no design meets
the constraints -> status 3, the closest design and the blocking constraint.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from fuzz_strategies import FUZZ, garbage, mutated, one_line, spec_file
from hypothesis import event, given
from hypothesis import strategies as st

import costmodels
import jaxdse.codesign.api as codesign_api
import jaxdse.mapper.api as mapper_api
import jaxdse.plan as plan_module
import workloads
from jaxdse.cli import main
from jaxdse.codesign import EXPLORERS, Constraints, DesignSpace, table1_space
from jaxdse.codesign.checkpoint import run_settings
from jaxdse.mapper.api import MAX_BUDGET, MAX_SEED, METHODS, OBJECTIVES
from workloads import Layer, Network, names

ROOT = Path(__file__).resolve().parents[2]
TINY_CNN = ROOT / "workloads/examples/tiny_cnn.yaml"
WORKLOAD_BASE = yaml.safe_load(TINY_CNN.read_text())
ARCH_BASE = costmodels.preset_dict("tiny")
SPACE_BASE = {"num_pes": [64, 128], "l1_bytes": [16, 64], "l2_kib": [64], "dram_mb_per_s": [1024, 4096]}


RUN_BASE = run_settings(
    [workloads.load(TINY_CNN)],
    DesignSpace(values={**table1_space().values, "num_pes": (64.0, 128.0)}),
    Constraints(),
    "latency",
    "random",
    3,
    0,
    300,
    None,
    None,
)
"""A run.json as explore(out=...) writes it (mutated for ``--resume``)."""
RECORD_BASE = {"design": table1_space().default_design(), "plans": {"tiny_cnn": {"mappings": [], "wall_s": 0.1}}}


class Reached(Exception):
    """A long computation would start here, with arguments that passed every check."""


def _check_arch(arch) -> None:
    assert isinstance(arch, costmodels.Arch)
    for f in ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s", "freq_mhz", "noc_width_bits", "noc_links"):
        v = np.asarray(getattr(arch, f), np.float64)
        assert np.all(np.isfinite(v)) and np.all(v > 0), (f, v)


def _check_seed(seed) -> None:
    assert isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED, seed


def fake_search(evaluator, method, budget, out, start, progress, warm_start, command_line=None, config=None):
    assert evaluator.networks and all(isinstance(n, Network) for n in evaluator.networks)
    assert isinstance(evaluator.space, DesignSpace) and isinstance(evaluator.constraints, Constraints)
    assert method in EXPLORERS and isinstance(budget, int) and 1 <= budget <= codesign_api.MAX_DESIGN_BUDGET
    assert evaluator.objective in OBJECTIVES
    _check_seed(evaluator.seed)
    raise Reached("explore search")


def fake_run_method(layers, arch, objective, method, budget, seed, progress, max_padding, join=None):
    assert layers and all(isinstance(x, Layer) for x in layers)
    _check_arch(arch)
    assert objective in OBJECTIVES and method in METHODS
    assert budget is None or (isinstance(budget, int) and 1 <= budget <= MAX_BUDGET), budget
    _check_seed(seed)
    assert isinstance(max_padding, float) and 0.0 <= max_padding <= 1.0, max_padding
    assert join is None or isinstance(join, bool), join
    raise Reached("mapper search")


def fake_plan_evaluate(network, arch="explainable_default", mappings=None, **kw):
    assert isinstance(network, Network)
    _check_arch(arch)
    assert mappings == "default" or len(mappings) == len(network.layers)
    raise Reached("plan evaluation")


@contextlib.contextmanager
def stubbed():
    """The long computations replaced by the checking stubs (undone on exit)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codesign_api, "_search", fake_search)
        mp.setattr(mapper_api, "_run_method", fake_run_method)
        mp.setattr(plan_module, "evaluate", fake_plan_evaluate)
        yield


@pytest.fixture(scope="module", autouse=True)
def _in_scratch_dir(tmp_path_factory):
    """Fuzzed relative paths (``--out 0.0``, ``--export-timeloop inf``) land in a scratch folder, not the checkout."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path_factory.mktemp("cwd"))
        yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Files the flags point at: good ones, bad ones, and a run folder to resume."""
    d = tmp_path_factory.mktemp("fuzz_cli")
    (d / "good_workload.yaml").write_text(TINY_CNN.read_text())
    (d / "good_arch.yaml").write_text(yaml.safe_dump(ARCH_BASE))
    (d / "good_space.yaml").write_text(yaml.safe_dump(SPACE_BASE))
    (d / "bad.yaml").write_text("layers: [1, 2\n")
    (d / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    (d / "empty.yaml").write_text("")
    (d / "deep.json").write_text("[" * 5000 + "]" * 5000)
    (d / "a_dir.yaml").mkdir()
    (d / "a_file").write_text("not a folder")
    (d / "empty_run").mkdir()
    run = d / "run"
    with stubbed(), pytest.raises(Reached):  # writes run/run.json, then stops where the search would start
        _call(["explore", "--workload", str(TINY_CNN), "--space", str(d / "good_space.yaml"), "--out", str(run)])
    return d


_counter = itertools.count()


def _call(argv: list[str]) -> tuple[int | str, str]:
    """main(argv) -> (status or 'reached', stderr); SystemExit is turned into its status."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as e:
            status = e.code
    return status, err.getvalue()


def _usable_folder(path: str) -> bool:
    p = Path(path).absolute()
    while not p.exists():
        p = p.parent
    return p.is_dir()


NUMBERS = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats().map(repr),
    st.sampled_from(["0", "-1", "1", "2", "3", "1e3", "0x10", "", "nan", "inf", "-inf", "1e400", "9" * 50, " 7"]),
)
TEXT = st.text(max_size=15)


@st.composite
def paths(draw, base):
    """A path for a file flag: good, bad, missing, odd, or a fresh malformed file."""
    kind = draw(st.sampled_from(["fixed", "fixed", "fresh", "text"]))
    if kind == "fixed":
        return "{folder}/" + draw(
            st.sampled_from(
                [
                    "good_workload.yaml",
                    "good_arch.yaml",
                    "good_space.yaml",
                    "bad.yaml",
                    "latin1.yaml",
                    "empty.yaml",
                    "deep.json",
                    "a_dir.yaml",
                    "a_file",
                    "missing.yaml",
                    "missing.json",
                    "run/run.json",
                ]
            )
        )
    if kind == "fresh":
        content, suffix = draw(spec_file(base))
        return ("{fresh}", content, suffix)
    return draw(TEXT)


def out_dirs():
    """Only folders inside the test's tmp folder (the stubbed explore writes run.json there)."""
    return st.one_of(
        st.sampled_from(["out_new", "nested/a/b", "a_file", "a_file/sub", "a_dir.yaml", "run"]),
        TEXT.filter(lambda s: ".." not in s),
    ).map(lambda s: "{folder}/o/" + s if s not in ("a_file", "a_file/sub", "a_dir.yaml", "run") else "{folder}/" + s)


FLAG_VALUES = {
    "--model": st.one_of(st.sampled_from(names() + ["resnet5", "", "RESNET18", "tiny_cnn", "resnet18\n"]), TEXT),
    "--workload": paths(WORKLOAD_BASE),
    "--arch": st.one_of(st.sampled_from(costmodels.preset_names() + ["huge", ""]), paths(ARCH_BASE)),
    "--space": paths(SPACE_BASE),
    "--method": st.one_of(st.sampled_from(list(METHODS) + sorted(EXPLORERS) + ["default", "oracle"]), TEXT),
    "--objective": st.one_of(st.sampled_from(list(OBJECTIVES) + ["speed"]), TEXT),
    "--budget": NUMBERS,
    "--seed": NUMBERS,
    "--max-padding": NUMBERS,
    "--area-mm2": NUMBERS,
    "--power-w": NUMBERS,
    "--min-fps": NUMBERS,
    "--min-tokens-per-s": NUMBERS,
    "--batch": NUMBERS,
    "--out": out_dirs(),
    "--resume": st.one_of(
        st.sampled_from(["{folder}/run", "{folder}/empty_run", "{folder}/a_file"]),
        TEXT,
        st.tuples(st.just("{freshrun}"), spec_file(RUN_BASE).map(lambda c: c[0]), st.just(b"")),
        st.tuples(
            st.just("{freshrun}"),
            st.just(json.dumps(RUN_BASE).encode()),
            st.lists(
                st.one_of(mutated(RECORD_BASE), garbage).map(lambda r: json.dumps(r, default=str)), max_size=3
            ).map(lambda lines: "\n".join(lines).encode())
            | st.binary(max_size=40),
        ),
    ),
    "--timeloop-problem": paths(WORKLOAD_BASE),
    "--timeloop-arch": paths(ARCH_BASE),
    "--timeloop-mapping": paths({"mapping": [{"target": "DRAM", "type": "temporal", "factors": "K=4"}]}),
    "--export-timeloop": out_dirs(),
}
BARE = ["--json", "--nests", "--bogus", "-x", "--", "-", "--budget", "--model"]


GOOD = {
    "evaluate": {
        "--arch": costmodels.preset_names() + ["{folder}/good_arch.yaml"],
        "--method": ["default"],
        "--out": ["{folder}/o/evaluate"],
    },
    "map": {
        "--arch": costmodels.preset_names() + ["{folder}/good_arch.yaml"],
        "--method": list(METHODS) + ["default"],
        "--objective": list(OBJECTIVES),
        "--budget": ["1", "300"],
        "--seed": ["0", "7"],
        "--max-padding": ["0", "0.125"],
        "--out": ["{folder}/o/map"],
        "--export-timeloop": ["{folder}/o/timeloop"],
    },
    "explore": {
        "--space": ["{folder}/good_space.yaml"],
        "--method": sorted(EXPLORERS),
        "--objective": list(OBJECTIVES),
        "--area-mm2": ["75", "1e-3"],
        "--power-w": ["4"],
        "--min-fps": ["10"],
        "--budget": ["3"],
        "--seed": ["1"],
        "--out": ["{folder}/o/explore"],
    },
}
SOURCES = {"--model": ["resnet18", "mobilenet_v2", "bert_base"], "--workload": ["{folder}/good_workload.yaml"]}


@st.composite
def argvs(draw):
    """A valid command line (subcommand, one workload source, some good flags)
    damaged zero to three times: a flag's value replaced from that flag's
    fuzz strategy or another's, a foreign flag added, a flag dropped, a junk
    token inserted."""
    cmd = draw(st.sampled_from(["evaluate", "map", "explore", "explore", "list"]))
    pairs: list[list] = []
    if cmd == "explore" and draw(st.integers(0, 4)) == 0:
        pairs.append(["--resume", draw(st.sampled_from(["{folder}/run", "{folder}/run"]) | FLAG_VALUES["--resume"])])
    elif cmd != "list":
        src = draw(st.sampled_from(sorted(SOURCES)))
        pairs.append([src, draw(st.sampled_from(SOURCES[src]))])
        for flag in draw(st.lists(st.sampled_from(sorted(GOOD[cmd])), max_size=4, unique=True)):
            pairs.append([flag, draw(st.sampled_from(GOOD[cmd][flag]))])
    junk = []
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
        op = draw(st.sampled_from(["value", "value", "other", "foreign", "drop", "junk"]))
        if op in ("value", "other") and pairs:
            pair = draw(st.sampled_from(pairs))
            flag = pair[0] if op == "value" else draw(st.sampled_from(sorted(FLAG_VALUES)))
            pair[1] = draw(FLAG_VALUES[flag])
        elif op == "foreign":
            flag = draw(st.sampled_from(sorted(FLAG_VALUES)))
            pairs.append([flag, draw(FLAG_VALUES[flag])])
        elif op == "drop" and pairs:
            pairs.remove(draw(st.sampled_from(pairs)))
        else:
            junk.append(draw(st.one_of(st.sampled_from(BARE), TEXT)))
    argv = [cmd] + [x for pair in draw(st.permutations(pairs)) for x in pair]
    for token in junk:
        argv.insert(draw(st.integers(1, len(argv))), token)
    if draw(st.booleans()):
        argv.append("--json")
    return argv


def _materialise(argv, folder: Path) -> list[str]:
    out = []
    for a in argv:
        if isinstance(a, tuple) and a[0] == "{freshrun}":  # a run folder: run.json, evaluations.jsonl
            _, run_json, evaluations = a
            p = folder / f"freshrun{next(_counter)}"
            p.mkdir()
            (p / "run.json").write_bytes(run_json)
            (p / "evaluations.jsonl").write_bytes(evaluations)
            a = str(p)
        elif isinstance(a, tuple):  # a fresh malformed file
            _, content, suffix = a
            p = folder / f"fresh{next(_counter)}{suffix}"
            p.write_bytes(content)
            a = str(p)
        out.append(a.replace("{folder}", str(folder)))
    return out


def _last(argv: list[str], flag: str) -> str | None:
    idx = [i for i, a in enumerate(argv[:-1]) if a == flag]
    return argv[idx[-1] + 1] if idx else None


@FUZZ
@given(argvs())
def test_cli_fuzz(folder, argv):
    argv = _materialise(argv, folder)
    try:
        with stubbed():
            status, err = _call(argv)
    except Reached as r:
        event(f"reached {r}")
        # Validation passed and a long computation would start: any folder to
        # write must be usable now, not found broken at the end.
        for flag in ("--out", "--export-timeloop"):
            target = _last(argv, flag)
            if target is not None and argv[0] in ("evaluate", "map"):
                assert _usable_folder(target), f"{flag} {target!r} accepted but cannot be a folder"
        return
    event(f"status {status}")
    assert status in (0, 2), (status, err)
    if status == 0:
        assert argv[0] == "list", argv
        return
    if err.startswith("jaxdse: error:"):
        assert one_line(err), err
        assert "expected" in err, err
    else:
        assert "usage:" in err, err  # argparse's own error


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["map", "--model", "resnet18", "--seed", "-1"], "seed"),
        (["map", "--model", "resnet18", "--max-padding", "2"], "max_padding"),
        (["map", "--model", "resnet18", "--budget", str(10**12)], "budget"),
        (["explore", "--model", "resnet18", "--seed", str(2**40)], "seed"),
        (["explore", "--model", "resnet18", "--budget", "1000000000"], "budget' expected an int in 1..100,000"),
        (["explore", "--model", "resnet18", "--area-mm2", "nan"], "area_mm2"),
        (["explore", "--model", "resnet18", "--min-fps", "-3"], "min_per_s"),
        (["explore", "--workload", "{folder}/deep.json"], "deep.json"),
        (["explore", "--model", "resnet18", "--out", "{folder}/a_file"], "out"),
        (["evaluate", "--model", "resnet18", "--out", "{folder}/a_file/sub"], "--out"),
        (["map", "--model", "resnet18", "--export-timeloop", "{folder}/a_file"], "--export-timeloop"),
        (["evaluate", "--workload", "{folder}/latin1.yaml"], "UTF-8"),
        (["evaluate", "--model", "resnet18\nx"], "resnet18\\nx"),
    ],
)
def test_cli_rejects_before_any_search(folder, argv, needle):
    with stubbed():
        status, err = _call(_materialise(argv, folder))
    assert status == 2, err
    assert err.startswith("jaxdse: error:") and one_line(err), err
    assert needle in err, err


# ------------------------------------------------------ no feasible design
SMALL_SPACE = {
    "num_pes": [64],
    "l1_bytes": [64],
    "l2_kib": [64, 128],
    "dram_mb_per_s": [4096],
    "noc_width_bits": [64],
    **{f"links_{k}": [4] for k in ("inputs", "weights", "psum", "writes")},
    **{f"virtual_{k}": [8] for k in ("inputs", "weights", "psum", "writes")},
}


@pytest.mark.slow
def test_no_feasible_design_exits_3_with_closest_design_and_blocking_constraint(tmp_path):
    """An area limit no design meets: status 3 (text and --json alike), the closest
    design, and the constraint that blocks it (area_mm2)."""
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SMALL_SPACE))
    argv = ["explore", "--workload", str(TINY_CNN), "--space", str(space), "--method", "random", "--budget", "2"]
    argv += ["--area-mm2", "0.001", "--seed", "0"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(argv + ["--out", str(tmp_path / "run")]) == 3
    text = out.getvalue()
    assert "NO feasible design found; closest is blocked by area_mm2" in text
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["feasible"] is False and result["blocking_constraint"] == "area_mm2"
    assert result["constraints"]["budgets"]["area_mm2"] > 1
    assert set(result["design"]) >= {"num_pes", "l2_kib"} and math.isfinite(result["total"]["latency_s"])

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(argv + ["--json"]) == 3
    assert json.loads(out.getvalue())["blocking_constraint"] == "area_mm2"


def test_stubs_are_the_real_entry_points():
    """The stubs replace functions that exist (a rename would silently un-stub them)."""
    assert callable(codesign_api._search) and callable(mapper_api._run_method) and callable(plan_module.evaluate)


# ------------------------------------------------------------- Python API
def _maybe(good: list, bad=garbage):
    return st.one_of(st.sampled_from(good), bad)


@FUZZ
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "space": _maybe([None, str(ROOT / "workloads/examples/tiny_cnn.yaml")], garbage | TEXT),
            "constraints": _maybe([None, Constraints(), Constraints(area_mm2=1.0)]),
            "objective": _maybe(list(OBJECTIVES)),
            "method": _maybe(sorted(EXPLORERS)),
            "budget": _maybe([1, 5]),
            "seed": _maybe([0, 3]),
            "start": _maybe([None, table1_space().default_design()]),
            "progress": _maybe([None, print]),
            "mapper_budget": _maybe([None, 100]),
            "warm_start": _maybe([None, 0, 2]),
        },
    ),
    _maybe(["resnet18", ["mobilenet_v2", "resnet18"]], garbage),
)
def test_explore_arguments(kwargs, networks):
    """``jaxdse.explore`` checks every argument before its search starts."""
    from jaxdse import explore
    from jaxdse.cli import USER_ERRORS

    try:
        with stubbed():
            explore(networks, **kwargs)
    except Reached as r:
        event(f"reached {r}")
    except USER_ERRORS as e:
        assert one_line(str(e)) and "expected" in str(e), str(e)


@FUZZ
@given(
    _maybe(["map_network", "map_layer"], st.nothing()),
    st.fixed_dictionaries(
        {},
        optional={
            "arch": _maybe(["tiny", costmodels.preset("tiny")], garbage | TEXT),
            "objective": _maybe(list(OBJECTIVES)),
            "method": _maybe(list(METHODS)),
            "budget": _maybe([None, 1, 500]),
            "seed": _maybe([0, 3]),
            "max_padding": _maybe([0, 0.125]),
            "join": _maybe([None, True, False]),
            "tie_break": _maybe([None, *OBJECTIVES]),
        },
    ),
    st.booleans(),
    garbage,
)
def test_mapper_arguments(which, kwargs, good_target, bad_target):
    """``map_network`` / ``map_layer`` check every argument before any search starts."""
    from jaxdse import map_layer, map_network
    from jaxdse.cli import USER_ERRORS

    net = workloads.load(TINY_CNN)
    target = (net if which == "map_network" else net.layers[0]) if good_target else bad_target
    fn = map_network if which == "map_network" else map_layer
    try:
        with stubbed():
            fn(target, **kwargs)
    except Reached as r:
        event(f"reached {r}")
    except USER_ERRORS as e:
        assert one_line(str(e)) and "expected" in str(e), str(e)


# ------------------------------------------- one line, never a traceback (issue 18)
def _result_folder(path: Path) -> Path:
    """A minimal result folder as ``Result.save`` writes it (no search needed)."""
    design = table1_space().default_design()
    total = {"latency_s": 0.01, "energy_j": 0.001, "area_mm2": 10.0, "power_w": 1.0, "objective": 0.01}
    row = {"name": "c1", "count": 2, "latency_s": 0.005, "energy_j": 0.0005, "bottleneck": "compute", "loop_nest": "-"}
    row["terms_cycles"] = {"compute": 10.0, "noc_inputs": 5.0, "dram": 3.0}
    summary = {
        "method": "random",
        "objective": "latency",
        "design": design,
        "feasible": True,
        "total": total,
        "constraints": {"limits": {"area_mm2": 75.0, "power_w": 4.0, "min_per_s": {}}, "budgets": {"area_mm2": 0.1}},
        "layers": {"net": [row]},
    }
    path.mkdir(parents=True, exist_ok=True)
    (path / "result.json").write_text(json.dumps(summary))
    line = {"design": design, "total": total, "budgets": {"area_mm2": 0.1}, "accepted": True, "reason": "start"}
    (path / "trace.jsonl").write_text(json.dumps(line) + "\n")
    return path


def _denied(*args, **kwargs):
    raise PermissionError(13, "Permission denied", "somewhere")


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_during_explore_prints_the_resume_command(folder, monkeypatch):
    """Ctrl-C: exit 130 and one line with the exact command that continues the run."""
    monkeypatch.setattr(codesign_api, "_search", _interrupt)
    out = folder / "o" / "interrupted"
    status, err = _call(["explore", "--workload", str(TINY_CNN), "--budget", "3", "--out", str(out)])
    assert status == 130 and one_line(err), err
    assert f"jaxdse explore --resume {out}" in err
    status, err = _call(["explore", "--resume", str(out)])
    assert status == 130 and f"jaxdse explore --resume {out}" in err, err
    status, err = _call(["explore", "--workload", str(TINY_CNN), "--budget", "3"])  # nothing saved
    assert status == 130 and one_line(err) and "--resume" not in err, err


def test_report_binary_files_are_one_line(tmp_path):
    run = _result_folder(tmp_path / "a")
    assert _call(["report", str(run)])[0] == 0  # the minimal folder is a valid one
    for name in ("result.json", "trace.jsonl"):
        bad = _result_folder(tmp_path / name)
        (bad / name).write_bytes(b"\xff\xfe\x00binary\x80")
        status, err = _call(["report", str(bad)])
        assert status == 2 and err.startswith("jaxdse: error:") and one_line(err), err
        assert name in err and "UTF-8" in err


@pytest.mark.parametrize("where", ["report", "figures"])
def test_report_in_a_read_only_place_is_one_line(tmp_path, monkeypatch, where):
    """Writes that fail (a read-only folder; simulated, as these tests may run as root) end in one line."""
    import jaxdse.codesign.report as report_module

    run = _result_folder(tmp_path / "run")
    monkeypatch.setattr(report_module, "atomic_write" if where == "report" else "save_figures", _denied)
    for argv in (["report", str(run)], ["report", str(run), "--out", str(tmp_path / "ro" / "r.md")]):
        status, err = _call(argv)
        assert status == 2 and err.startswith("jaxdse: error:") and one_line(err), err
        assert "Permission denied" in err and "expected" in err


def test_resume_in_a_read_only_folder_is_one_line(folder, monkeypatch):
    monkeypatch.setattr(codesign_api, "atomic_write", _denied)
    with stubbed():
        status, err = _call(["explore", "--resume", str(folder / "run")])
    assert status == 2 and err.startswith("jaxdse: error:") and one_line(err), err
    assert "writable" in err


@pytest.mark.parametrize(
    "mappings",
    [
        [[[1]], [0]],
        [[[1] * 8] * 4],
        "x",
        [[[[1] * 8] * 4, [list(range(8))] * 2]],
        [[[[0] * 8] * 4, [list(range(8))] * 3]],
    ],
)
def test_resume_with_a_malformed_stored_mapping_is_one_line(folder, mappings):
    """A stored mapping that cannot be rebuilt is named before any search starts (was an IndexError in it)."""
    run = folder / f"malformed{next(_counter)}"
    run.mkdir()
    (run / "run.json").write_text(json.dumps(RUN_BASE))
    layers = len(workloads.load(TINY_CNN).layers)
    good = [[[1] * 8] * 4, [list(range(8))] * 3]
    plan = {"method": "gradient", "exact_evaluations": 1, "wall_s": 0.1}
    plan["mappings"] = mappings if not isinstance(mappings, list) else mappings + [good] * (layers - len(mappings))
    record = {"design": table1_space().default_design() | {"num_pes": 64.0}, "wall_s": 0.1, "plans": {"tiny_cnn": plan}}
    (run / "evaluations.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n")
    with stubbed():
        status, err = _call(["explore", "--resume", str(run)])
    assert status == 2 and err.startswith("jaxdse: error:") and one_line(err), err
    assert "evaluations.jsonl' line 1" in err and "mappings" in err


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_out_where_no_folder_can_be_made_is_one_line():
    """/proc looks writable to root, but no folder can be made in it."""
    with stubbed():
        status, err = _call(["explore", "--workload", str(TINY_CNN), "--budget", "3", "--out", "/proc/jaxdse-x"])
    assert status == 2 and err.startswith("jaxdse: error:") and one_line(err), err
    assert "out" in err
