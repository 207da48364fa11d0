"""Hypothesis strategies shared by the fuzz tests: garbage values, mutated
specs and malformed spec-file text.

``garbage`` is any JSON/YAML-like value (nested lists and dicts of odd
scalars); ``mutated(base)`` takes a valid spec and damages it in one to three
places (replace a value by garbage, delete or add a key, drop or duplicate a
list item), so the fuzzing reaches the validators deep inside a spec instead
of stopping at the top-level type check; ``spec_file(base)`` renders a
mutated spec as YAML or JSON text, or gives raw bytes, truncated text,
UTF-16, YAML punctuation soup or an empty file.
"""

from __future__ import annotations

import copy
import json
import os

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=int(os.environ.get("JAXDSE_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
"""Settings of every fuzz test: no deadline (the first call compiles JAX code);
``JAXDSE_FUZZ_EXAMPLES=2000`` fuzzes harder."""

ODD_NUMBERS = [
    0,
    -1,
    1,
    2,
    3,
    2**24,
    2**24 + 1,
    2**31,
    2**63,
    10**30,
    10**400,
    -(10**400),
    0.5,
    -0.0,
    1e-320,
    1e-45,
    1e39,
    1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    True,
    False,
]
ODD_STRINGS = ["", " ", "3", "1e3", "nan", "-1", "abc", "\x00", "K", "KCPQ", "conv2d", "\n", "ü", "resnet18", "a" * 300]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(ODD_NUMBERS),
    st.sampled_from(ODD_STRINGS),
)
keys = st.one_of(
    st.text(max_size=10),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.sampled_from(["name", "layers", "type", "sizes", "fixed", "num_pes", "K", "dram", "order", "count", "bits"]),
)
garbage = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(keys, kids, max_size=4),
    max_leaves=12,
)


def _mutate_once(draw, node):
    """A copy of ``node`` damaged at one random place."""
    if isinstance(node, dict) and node and draw(st.integers(0, 5)) > 0:
        k = draw(st.sampled_from(sorted(node, key=repr)))
        op = draw(st.sampled_from(["descend", "descend", "replace", "delete", "add"]))
        node = dict(node)
        if op == "descend":
            node[k] = _mutate_once(draw, node[k])
        elif op == "replace":
            node[k] = draw(garbage)
        elif op == "delete":
            del node[k]
        else:
            node[draw(keys)] = draw(garbage)
        return node
    if isinstance(node, list) and node and draw(st.integers(0, 5)) > 0:
        i = draw(st.integers(0, len(node) - 1))
        op = draw(st.sampled_from(["descend", "descend", "replace", "delete", "duplicate", "append"]))
        node = list(node)
        if op == "descend":
            node[i] = _mutate_once(draw, node[i])
        elif op == "replace":
            node[i] = draw(garbage)
        elif op == "delete":
            del node[i]
        elif op == "duplicate":
            node.insert(i, copy.deepcopy(node[i]))
        else:
            node.append(draw(garbage))
        return node
    return draw(garbage)


@st.composite
def mutated(draw, base):
    """``base`` (a valid spec) damaged in one to three places."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        data = _mutate_once(draw, data)
    return data


def _yaml(data) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:  # e.g. a key type YAML cannot write
        return json.dumps(data, default=str)


@st.composite
def spec_file(draw, base):
    """(bytes, suffix) of a malformed (or, rarely, still valid) spec file."""
    kind = draw(st.sampled_from(["yaml", "json", "truncated", "bytes", "punctuation", "utf16", "empty", "deep"]))
    data = draw(mutated(base))
    suffix = draw(st.sampled_from([".yaml", ".yml", ".json", ".txt", ""]))
    if kind == "yaml":
        return _yaml(data).encode(), suffix
    if kind == "json":
        return json.dumps(data, default=str).encode(), ".json"
    if kind == "truncated":
        text = _yaml(base) if draw(st.booleans()) else json.dumps(base)
        return text[: draw(st.integers(0, max(len(text) - 1, 0)))].encode(), suffix
    if kind == "bytes":
        return draw(st.binary(max_size=200)), suffix
    if kind == "punctuation":
        return draw(st.text(alphabet="{}[]:,-&*!|>'\"#%@ \n\tab01.?", max_size=80)).encode(), suffix
    if kind == "utf16":
        return _yaml(data).encode("utf-16"), suffix
    if kind == "deep":  # JSON only: PyYAML takes ~2 s to give up (test_fuzz_loaders has one YAML case)
        n = draw(st.sampled_from([50, 5000, 100_000]))
        return (b"[" * n + b"]" * n), ".json"
    return b"", suffix


def one_line(message: str) -> bool:
    """Whether an error message fits the CLI's one-line format."""
    return bool(message.strip()) and "\n" not in message.strip()
