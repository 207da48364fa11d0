"""Fuzzing the spec loaders and validators: malformed specs raise only the
project's error types, with a message that says what was expected.

Every loader gets garbage (any nested JSON/YAML-like value), valid specs
damaged in one to three places, and malformed files (bad YAML/JSON, raw and
non-UTF-8 bytes, truncated text, deep nesting, empty files). A spec that is
accepted must be usable: its numbers are finite and in range.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from fuzz_strategies import FUZZ, garbage, mutated, one_line, spec_file
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import costmodels
import workloads
from costmodels import ArchError, Mapping, MappingError
from jaxdse.codesign import ConstraintError, Constraints, DesignSpace, SpaceError, load_space, table1_space
from workloads import WorkloadError
from workloads.layer import MAX_EXTENT

ROOT = Path(__file__).resolve().parents[2]
WORKLOAD_BASE = yaml.safe_load((ROOT / "workloads/examples/tiny_cnn.yaml").read_text())
WORKLOAD_BASE["layers"] += [
    {"type": "matmul", "name": "qk", "m": 8, "k": 4, "n": 8, "heads": 2, "count": 3},
    {"type": "raw", "name": "r", "sizes": {"K": 4, "C": 6, "P": 5}, "stride": [2, 1], "bits": [8, 8, 16]},
    {"type": "conv2d", "in_channels": 4, "out_channels": 8, "in_hw": [9, 7], "kernel": [3, 1], "padding": 0},
]
ARCH_BASE = {**costmodels.preset_dict("tiny"), "noc_links": [4, 4, 2, 2], "freq_mhz": 500}
SPACE_BASE = {
    "num_pes": [64, 128],
    "l2_kib": [64, 256],
    "links_inputs": [1, 4],
    "fixed": {"freq_mhz": 500, "dma_setup_cycles": 291},
}
MAPPING_BASE = costmodels.make_mapping(
    dram={"K": 2}, l2={"C": 3}, spatial={"K": 2, "C": 2}, l1={"P": 5}, order={"dram": "KC", "l2": "CPQ"}
).to_dict()
CONSTRAINTS_BASE = {"area_mm2": 75, "power_w": 4.0, "min_per_s": {"resnet18": 40}, "default_throughput": True}
LAYER = workloads.raw("l", {"K": 4, "C": 6, "P": 5})

_counter = itertools.count()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Writes (bytes, suffix) to a fresh file; returns its path."""
    folder = tmp_path_factory.mktemp("fuzz_loaders")

    def write(content: bytes, suffix: str) -> Path:
        p = folder / f"spec{next(_counter)}{suffix}"
        p.write_bytes(content)
        return p

    return write


def rejected(error: BaseException) -> None:
    """A rejection is a good one: one line that says what was expected."""
    msg = str(error)
    assert one_line(msg), repr(msg)
    assert "expected" in msg, msg


def _finite_positive(x, low: float = 0.0, strict: bool = True) -> bool:
    a = np.asarray(x, dtype=np.float64)
    return bool(np.all(np.isfinite(a)) and np.all(a > low if strict else a >= low))


# ------------------------------------------------------------------ workloads
def check_network(net) -> None:
    assert isinstance(net, workloads.Network) and net.layers
    for layer, count in net.items():
        assert all(isinstance(v, int) and 1 <= v <= MAX_EXTENT for v in layer.sizes), layer
        assert all(1 <= v <= MAX_EXTENT for v in layer.stride + layer.dilation + layer.bits), layer
        assert isinstance(count, int) and count >= 1
        assert all(math.isfinite(b) and b > 0 for b in layer.compulsory_bytes().values())


@FUZZ
@given(st.one_of(garbage, mutated(WORKLOAD_BASE)))
def test_workload_from_dict(data):
    try:
        net = workloads.from_dict(data)
    except WorkloadError as e:
        rejected(e)
    else:
        check_network(net)


@FUZZ
@given(spec_file(WORKLOAD_BASE))
def test_workload_load(files, content):
    try:
        net = workloads.load(files(*content))
    except WorkloadError as e:
        rejected(e)
    else:
        check_network(net)


@FUZZ
@given(st.one_of(garbage, st.text(max_size=30)))
def test_workload_load_odd_paths(path):
    """Paths that are not paths: numbers, None, NUL bytes, overlong names."""
    with pytest.raises(WorkloadError) as info:
        workloads.load(path if not isinstance(path, str) else "/nonexistent/" + path)
    rejected(info.value)


@FUZZ
@given(
    st.sampled_from(["conv2d", "depthwise", "linear", "matmul", "raw"]),
    st.dictionaries(
        st.sampled_from(["in_channels", "out_channels", "channels", "in_features", "out_features", "m", "k", "n"]),
        garbage,
        max_size=3,
    ),
)
def test_layer_constructors(kind, kwargs):
    """The Python constructors raise TypeError/ValueError (as the loader relies on), never anything else."""
    base = {
        "conv2d": dict(in_channels=4, out_channels=8, in_hw=8),
        "depthwise": dict(channels=4, in_hw=8),
        "linear": dict(in_features=4, out_features=8),
        "matmul": dict(m=4, k=4, n=4),
        "raw": dict(sizes={"K": 4}),
    }[kind]
    ctor = getattr(workloads, kind)
    args = {**base, **{k: v for k, v in kwargs.items() if k in base}}
    try:
        layer = ctor("x", **args)
    except (TypeError, ValueError) as e:
        assert type(e) in (TypeError, ValueError), type(e)
        assert "expected" in str(e), str(e)
    else:
        assert all(isinstance(v, int) and 1 <= v <= MAX_EXTENT for v in layer.sizes)


@FUZZ
@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 40), st.integers(1, 9))
def test_touched_input_rows_match_enumeration(p, stride, r, dilation):
    """Layer.touched_input_hw (counted per residue class, not by enumeration) equals a brute-force count."""
    layer = workloads.raw("w", {"P": p, "R": r}, stride=(stride, 1), dilation=(dilation, 1))
    assert layer.touched_input_hw[0] == len({i * stride + j * dilation for i in range(p) for j in range(r)})


def test_touched_input_rows_of_a_huge_window():
    """A P x R window of 2^20 x 2^20 (enumerating it would never finish) in closed form."""
    layer = workloads.raw("w", {"P": 2**20, "R": 2**20, "Q": 3, "S": 2}, stride=(2, 3), dilation=(3, 1))
    # rows 2p + 3r (p, r < 2^20) cover 0..top except 1 and top - 1
    top = 2 * (2**20 - 1) + 3 * (2**20 - 1)
    assert layer.touched_input_hw == (top + 1 - 2, 6)  # cols: 3q + s for q < 3, s < 2


# ---------------------------------------------------------------------- archs
def check_arch(arch) -> None:
    assert isinstance(arch, costmodels.Arch)
    for f in ("num_pes", "l1_bytes", "l2_kib", "dram_mb_per_s", "freq_mhz", "noc_width_bits", "noc_links"):
        assert _finite_positive(getattr(arch, f)), (f, getattr(arch, f))
    assert _finite_positive(arch.dma_setup_cycles, strict=False)
    assert np.all(np.asarray(arch.noc_links) <= np.asarray(arch.num_pes))


@FUZZ
@given(st.one_of(garbage, mutated(ARCH_BASE)))
def test_arch_from_dict(data):
    try:
        arch = costmodels.arch_from_dict(data)
    except ArchError as e:
        rejected(e)
    else:
        check_arch(arch)


@FUZZ
@given(spec_file(ARCH_BASE))
def test_load_arch(files, content):
    try:
        arch = costmodels.load_arch(files(*content))
    except ArchError as e:
        rejected(e)
    else:
        check_arch(arch)


@FUZZ
@given(st.one_of(garbage, st.text(max_size=40), st.sampled_from(["tiny", "tiny.yaml", "a\x00b.yml", "x" * 5000])))
def test_get_arch_specs(spec):
    try:
        arch = costmodels.get_arch(spec)
    except ArchError as e:
        rejected(e)
    else:
        check_arch(arch)


# --------------------------------------------------------------------- spaces
def check_space(space) -> None:
    assert isinstance(space, DesignSpace)
    for p, vals in space.values.items():
        assert vals and _finite_positive(vals) and list(vals) == sorted(set(vals)), p
        assert max(vals) <= np.finfo(np.float32).max
    lo = {p: v[0] for p, v in space.values.items()}
    hi = {p: v[-1] for p, v in space.values.items()}
    from jaxdse.codesign import to_arch

    check_arch(to_arch(lo, space.fixed))
    check_arch(to_arch(hi, space.fixed))


@FUZZ
@given(spec_file(SPACE_BASE))
def test_load_space(files, content):
    try:
        space = load_space(files(*content))
    except SpaceError as e:
        rejected(e)
    else:
        check_space(space)


@FUZZ
@given(st.one_of(garbage, mutated({p: list(v) for p, v in table1_space().values.items()})), garbage)
def test_design_space_constructor(values, fixed):
    try:
        space = DesignSpace(values=values, fixed=fixed if isinstance(fixed, dict) else {})
    except SpaceError as e:
        rejected(e)
    else:
        check_space(space)


@FUZZ
@given(st.one_of(garbage, mutated(table1_space().default_design())))
def test_design_validate(design):
    space = table1_space()
    try:
        out = space.validate(design)
    except SpaceError as e:
        rejected(e)
    else:
        assert all(out[p] in space.values[p] for p in space.values)


# ------------------------------------------------------------------- mappings
def check_mapping(m) -> None:
    assert isinstance(m, Mapping)
    t, s, o = (np.asarray(x) for x in (m.temporal, m.spatial, m.order))
    assert t.shape == (3, 8) and s.shape == (8,) and o.shape == (3, 8)
    assert np.all(np.isfinite(t)) and np.all(t >= 1) and np.all(s >= 1)
    assert all(sorted(row.tolist()) == list(range(8)) for row in o)


@FUZZ
@given(st.one_of(garbage, mutated(MAPPING_BASE)))
def test_mapping_from_dict(data):
    try:
        m = costmodels.mapping_from_dict(data)
    except MappingError as e:
        rejected(e)
    else:
        check_mapping(m)


@FUZZ
@given(mutated(MAPPING_BASE))
def test_make_mapping_keywords(data):
    kwargs = {k: v for k, v in data.items() if k in MAPPING_BASE} if isinstance(data, dict) else {"dram": data}
    try:
        m = costmodels.make_mapping(**kwargs)
    except MappingError as e:
        rejected(e)
    else:
        check_mapping(m)


_values = st.one_of(
    st.floats(width=32),
    st.integers(-3, 12).map(float),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0, 2.0, 1.5, 6.0, 1e30, 2.0**24, 2.0**24 + 2]),
)
_shapes = st.sampled_from([(3, 8), (3, 8), (3, 8), (8,), (2, 8), (3, 9), (), (3, 8, 1)])


@st.composite
def raw_mappings(draw):
    """Mapping objects built directly from arrays: odd values, shapes and dtypes."""
    t = draw(hnp.arrays(np.float64, draw(_shapes), elements=_values))
    s = draw(hnp.arrays(np.float64, draw(st.sampled_from([(8,), (8,), (8,), (3, 8), (7,)])), elements=_values))
    perm = np.stack([np.asarray(draw(st.permutations(range(8)))) for _ in range(3)])
    o = draw(
        st.one_of(
            st.just(perm),
            hnp.arrays(np.float64, draw(_shapes), elements=_values),
            st.just(np.full((3, 8), "K")),
        )
    )
    if draw(st.booleans()):  # mostly valid factors, to reach the coverage check
        t = np.rint(np.clip(np.nan_to_num(np.asarray(t, float)), 1, 8)) if t.shape == (3, 8) else t
        s = np.rint(np.clip(np.nan_to_num(np.asarray(s, float)), 1, 8)) if s.shape == (8,) else s
    return Mapping(temporal=t, spatial=s, order=o)


@FUZZ
@given(st.one_of(raw_mappings(), garbage))
def test_validate_mapping(mapping):
    try:
        costmodels.validate_mapping(LAYER, mapping)
    except MappingError as e:
        rejected(e)
    else:
        check_mapping(mapping)
        t, s = np.asarray(mapping.temporal), np.asarray(mapping.spatial)
        assert np.all(t == np.rint(t)) and np.all(s == np.rint(s)) and np.all(t <= MAX_EXTENT)
        prod = t[0] * t[1] * s * t[2]
        assert np.all(prod >= np.asarray(LAYER.sizes)), (prod, LAYER.sizes)


@FUZZ
@given(garbage)
def test_validate_mapping_odd_layers(layer):
    with pytest.raises(MappingError) as info:
        costmodels.validate_mapping(layer, costmodels.make_mapping())
    rejected(info.value)


# ---------------------------------------------------------------- constraints
@FUZZ
@given(st.one_of(mutated(CONSTRAINTS_BASE), st.fixed_dictionaries({"area_mm2": garbage, "min_per_s": garbage})))
def test_constraints(data):
    kwargs = {k: v for k, v in data.items() if k in CONSTRAINTS_BASE} if isinstance(data, dict) else {}
    try:
        c = Constraints(**kwargs)
    except ConstraintError as e:
        rejected(e)
    else:
        budgets = c.budgets(10.0, 1.0, {"resnet18": 0.01, "mine": 0.5})
        assert all(isinstance(v, float) and not math.isnan(v) and v >= 0 for v in budgets.values()), budgets


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize(
    "load, error",
    [(workloads.load, WorkloadError), (costmodels.load_arch, ArchError), (load_space, SpaceError)],
    ids=["workload", "arch", "space"],
)
def test_nesting_past_the_recursion_limit(tmp_path, suffix, load, error):
    f = tmp_path / f"deep{suffix}"
    f.write_text("[" * 3000 + "]" * 3000)
    with pytest.raises(error, match="expected valid") as info:
        load(f)
    rejected(info.value)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("a: !!float abc", "ValueError"),  # PyYAML's float constructor
        ("a: !!timestamp 'x'", "AttributeError"),  # PyYAML's timestamp constructor
        ("a: 2001-13-45", "month"),  # an impossible date
        ("\x00", "unacceptable character"),  # ReaderError, whose text spans two lines
    ],
)
def test_yaml_values_the_parser_rejects(tmp_path, text, needle):
    f = tmp_path / "w.yaml"
    f.write_text(text)
    with pytest.raises(WorkloadError, match=needle) as info:
        workloads.load(f)
    rejected(info.value)


def test_path_with_a_newline_stays_one_line(tmp_path):
    with pytest.raises(WorkloadError) as info:
        workloads.load(tmp_path / "a\nb.yaml")
    rejected(info.value)
    assert "a\\nb.yaml" in str(info.value)


# ------------------------------------------------ Timeloop files (jaxdse.interop)
TL_LAYER = workloads.conv2d("tl", 8, 16, 10, 3, stride=2)
TL_MAPPING = costmodels.make_mapping(
    dram={"K": 2}, l2={"C": 2, "P": 5}, spatial={"K": 8}, l1={"C": 4, "R": 3, "S": 3, "Q": 5}
)


def _timeloop_bases():
    from jaxdse.interop import write_arch, write_mapping, write_problem

    return {
        "problem": write_problem(TL_LAYER),
        "arch": write_arch(costmodels.preset("tiny")),
        "mapping": write_mapping(TL_MAPPING, TL_LAYER),
    }


TL_BASES = _timeloop_bases()


def _timeloop_reader(kind: str):
    from jaxdse.interop import read_arch, read_mapping, read_problem

    return {"problem": read_problem, "arch": read_arch, "mapping": lambda src: read_mapping(src, TL_LAYER)}[kind]


@FUZZ
@given(st.sampled_from(sorted(TL_BASES)), st.data())
def test_timeloop_readers(files, kind, data):
    from jaxdse.interop import TimeloopError

    if data.draw(st.booleans()):
        src = data.draw(st.one_of(garbage, mutated(TL_BASES[kind])))
    else:
        src = files(*data.draw(spec_file(TL_BASES[kind])))
    try:
        out = _timeloop_reader(kind)(src)
    except TimeloopError as e:
        rejected(e)
    else:
        if kind == "problem":
            assert all(isinstance(v, int) and 1 <= v <= MAX_EXTENT for v in out.sizes)
        elif kind == "arch":
            check_arch(out.arch)
        else:
            check_mapping(out)
