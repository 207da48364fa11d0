"""Read and write workload files (YAML or JSON).

Schema (one network per file)::

    name: tiny_cnn              # str, required
    notes: "batch 1, ..."       # str, optional
    phase: decode               # optional: prefill | decode (an LLM serving pass), then also
    sequences: 8                #   sequences in the pass (the batch) and
    tokens_per_pass: 8          #   tokens it processes (prefill: batch x prompt; decode: batch)
    layers:                     # non-empty list, required
      - type: conv2d            # conv2d | depthwise | linear | matmul | raw
        name: conv1             # optional, default "<type><index>"
        count: 1                # optional positive int, default 1
        in_channels: 3          # ... plus the keyword fields of that constructor
        out_channels: 16
        in_hw: 32

Fields per ``type`` are the keyword arguments of the constructors in
``workloads.layer`` (``conv2d``, ``depthwise``, ``linear``, ``matmul``,
``raw``); ``_FIELDS`` below lists them. A ``matmul`` with ``batch > 1`` needs
``b_shared: true`` (second operand a weight shared over the batch) or ``false``
(a per-sample activation such as attention K/V); without it the file is refused. ``Network.to_dict()`` writes the
``raw`` form, so every network round-trips through ``dump`` and ``load``.

Every problem raises ``WorkloadError`` naming the file, the field path
(``layers[3].kernel``), what was expected and what was found.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from workloads.errors import WorkloadError
from workloads.layer import DIMS, KINDS, MAX_EXTENT, Layer, conv2d, depthwise, linear, matmul, raw
from workloads.network import PHASES, Network
from workloads.specfile import printable, read_spec, show


class _FieldError(Exception):
    """Internal: a field failed validation (turned into WorkloadError with the source)."""

    def __init__(self, path: str, expected: str, found: Any) -> None:
        super().__init__(path, expected, found)
        self.path, self.expected, self.found = path, expected, found


_MISSING = object()


def _name(key: Any) -> str:
    """A mapping key as it appears in a field path."""
    return key if isinstance(key, str) and key.isprintable() else show(key)


def _show(value: Any) -> str:
    if value is _MISSING:
        return "nothing (field missing)"
    return show(value)


# ----------------------------------------------------------------- checkers
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _in_range(v: Any, minimum: int) -> bool:
    return _is_int(v) and minimum <= v <= MAX_EXTENT


def _pos_int(path: str, v: Any) -> int:
    if not _in_range(v, 1):
        raise _FieldError(path, f"a positive int (at most {MAX_EXTENT})", v)
    return v


def _pair(minimum: int) -> Callable[[str, Any], int | tuple[int, int]]:
    what = f"a {'positive' if minimum == 1 else 'non-negative'} int (at most {MAX_EXTENT})"

    def check(path: str, v: Any) -> int | tuple[int, int]:
        if _in_range(v, minimum):
            return v
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(_in_range(x, minimum) for x in v):
            return (v[0], v[1])
        raise _FieldError(path, f"{what} or a list of two", v)

    return check


def _bits(path: str, v: Any) -> tuple[int, int, int]:
    if _in_range(v, 1):
        return (v, v, v)
    if isinstance(v, (list, tuple)) and len(v) == 3 and all(_in_range(x, 1) for x in v):
        return (v[0], v[1], v[2])
    raise _FieldError(path, f"a positive int (at most {MAX_EXTENT}) or three (inputs, weights, outputs) bit widths", v)


def _sizes(path: str, v: Any) -> dict[str, int]:
    if isinstance(v, (list, tuple)):
        if len(v) != len(DIMS):
            raise _FieldError(path, f"a mapping by dim {list(DIMS)} or a list of {len(DIMS)} ints", v)
        v = dict(zip(DIMS, v, strict=True))
    if not isinstance(v, Mapping):
        raise _FieldError(path, f"a mapping by dim {list(DIMS)}", v)
    out = {}
    for d, n in v.items():
        if d not in DIMS:
            raise _FieldError(f"{path}.{_name(d)}", f"a dim name among {list(DIMS)}", d)
        out[d] = _pos_int(f"{path}.{d}", n)
    return out


def _kind(path: str, v: Any) -> str:
    if v not in KINDS:
        raise _FieldError(path, f"one of {list(KINDS)}", v)
    return v


def _bool(path: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _FieldError(path, "true or false", v)
    return v


def _str(path: str, v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise _FieldError(path, "a non-empty str", v)
    return v


_Fields = dict[str, tuple[bool, Callable[[str, Any], Any]]]
"""Field name -> (required, checker) for one layer type."""

_POS, _OPT_POS = (True, _pos_int), (False, _pos_int)
_BATCH_BITS: _Fields = {"batch": _OPT_POS, "bits": (False, _bits)}
_WINDOW: _Fields = {
    "in_hw": (True, _pair(1)),
    "kernel": (False, _pair(1)),
    "stride": (False, _pair(1)),
    "padding": (False, _pair(0)),
    "dilation": (False, _pair(1)),
}
_FIELDS: dict[str, tuple[Callable[..., Layer], _Fields]] = {
    # type: (constructor in workloads.layer, its keyword fields)
    "conv2d": (conv2d, {"in_channels": _POS, "out_channels": _POS, **_WINDOW, "groups": _OPT_POS, **_BATCH_BITS}),
    "depthwise": (depthwise, {"channels": _POS, **_WINDOW, **_BATCH_BITS}),
    "linear": (linear, {"in_features": _POS, "out_features": _POS, "tokens": _OPT_POS, **_BATCH_BITS}),
    "matmul": (
        matmul,
        {"m": _POS, "k": _POS, "n": _POS, "heads": _OPT_POS, **_BATCH_BITS, "b_shared": (False, _bool)},
    ),
    "raw": (
        raw,
        {
            "sizes": (True, _sizes),
            "stride": (False, _pair(1)),
            "dilation": (False, _pair(1)),
            "bits": (False, _bits),
            "kind": (False, _kind),
        },
    ),
}
_COMMON = ("type", "name", "count")
_TOP = ("name", "notes", "phase", "sequences", "tokens_per_pass", "layers")


# ------------------------------------------------------------------- parsing
def _layer(i: int, item: Any) -> tuple[Layer, int]:
    where = f"layers[{i}]"
    if not isinstance(item, Mapping):
        raise _FieldError(where, "a mapping with a 'type' key", item)
    ltype = item.get("type", _MISSING)
    if not isinstance(ltype, str) or ltype not in _FIELDS:
        raise _FieldError(f"{where}.type", f"one of {list(_FIELDS)}", ltype)
    ctor, fields = _FIELDS[ltype]
    allowed = list(_COMMON) + list(fields)
    for key in item:
        if key not in allowed:
            raise _FieldError(f"{where}.{_name(key)}", f"a key allowed for type {ltype}: {allowed}", key)
    name = _str(f"{where}.name", item["name"]) if "name" in item else f"{ltype}{i}"
    count = _pos_int(f"{where}.count", item["count"]) if "count" in item else 1
    kwargs = {}
    for key, (required, check) in fields.items():
        if key in item:
            kwargs[key] = check(f"{where}.{key}", item[key])
        elif required:
            raise _FieldError(f"{where}.{key}", f"a value (required for type {ltype})", _MISSING)
    try:
        layer = ctor(name, **kwargs)
    except (TypeError, ValueError) as e:  # semantic checks inside the constructor (e.g. groups, in_hw)
        raise WorkloadError(f"{where}: {e}") from e
    return layer, count


def from_dict(data: Any, source: str = "<dict>") -> Network:
    """Build a Network from plain data (the workload-file schema).

    Args:
        data: Parsed YAML/JSON: a mapping with ``name``, optional ``notes``, ``layers``.
        source: Where the data came from, used in error messages.

    Raises:
        WorkloadError: Any field is missing, unknown, of the wrong type or out of range.
    """
    try:
        if not isinstance(data, Mapping):
            raise _FieldError("<top level>", "a mapping with keys 'name', 'layers' (and optional 'notes')", data)
        for key in data:
            if key not in _TOP:
                raise _FieldError(_name(key), f"a top-level key among {list(_TOP)}", key)
        name = _str("name", data.get("name", _MISSING))
        notes = data.get("notes", "")
        if notes is None:
            notes = ""
        if not isinstance(notes, str):
            raise _FieldError("notes", "a str", notes)
        layers = data.get("layers", _MISSING)
        if not isinstance(layers, list) or not layers:
            raise _FieldError("layers", "a non-empty list of layer mappings", layers)
        items = [_layer(i, item) for i, item in enumerate(layers)]
        serving = {}
        if "phase" in data:
            if data["phase"] not in PHASES[1:]:
                raise _FieldError("phase", f"one of {list(PHASES[1:])}", data["phase"])
            serving["phase"] = data["phase"]
            for key in ("sequences", "tokens_per_pass"):
                serving[key] = _pos_int(key, data.get(key, _MISSING))
        else:
            for key in ("sequences", "tokens_per_pass"):
                if key in data:
                    raise _FieldError(key, "no value unless 'phase' is given", data[key])
        net = Network.from_layers(name, items, notes=notes, **serving)
    except _FieldError as e:
        raise WorkloadError(f"{source}: field '{e.path}' expected {e.expected}, found {_show(e.found)}") from None
    except WorkloadError as e:
        raise WorkloadError(f"{source}: {e}") from e.__cause__
    except ValueError as e:  # Network's own checks (e.g. decode tokens_per_pass != sequences)
        raise WorkloadError(f"{source}: {e}") from e
    return net


def load(path: str | Path) -> Network:
    """Read a workload from a YAML (``.yaml``/``.yml``/other) or JSON (``.json``) file.

    Raises:
        WorkloadError: Missing or unreadable file, bad syntax, or an invalid field.
    """
    data = read_spec(path, "workload file", WorkloadError)
    return from_dict(data, source=printable(path))


# ------------------------------------------------------------------- writing
class _Dumper(yaml.SafeDumper):
    """Writes short lists and dims mappings inline (``stride: [1, 1]``)."""


def _scalar(x: Any) -> bool:
    return isinstance(x, (int, float, str, bool)) or x is None


_Dumper.add_representer(
    list, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=all(map(_scalar, data)))
)
_Dumper.add_representer(
    dict,
    lambda d, data: d.represent_mapping(
        "tag:yaml.org,2002:map", data.items(), flow_style=all(map(_scalar, data.values()))
    ),
)


def dump(network: Network, path: str | Path) -> Path:
    """Write ``network`` to ``path`` (YAML; JSON if the suffix is ``.json``); returns the path.

    Parent folders are created. The file loads back (``load``) to an equal Network.
    """
    if not isinstance(network, Network):
        raise TypeError(f"dump: field 'network' expected a Network, found {type(network).__name__}")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = network.to_dict()
    if p.suffix.lower() == ".json":
        p.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    else:
        p.write_text(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return p
