"""Reading and writing Timeloop YAML files: the error type and the file helpers.

Timeloop (timeloop-model) concatenates every input file and looks up its
top-level keys (``problem``, ``architecture``, ``mapping``); one file may hold
one key or several (Timeloop v3 input formats,
https://timeloop.csail.mit.edu/previous_versions/timeloop-accelergy-v3/timeloop/input-formats).
``load_section`` accepts a path or an already-parsed dict, with or without
the top-level key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from workloads.specfile import read_spec

TOP_LEVEL_KEYS = frozenset({"problem", "architecture", "mapping", "mapper", "constraints", "variables", "components"})
"""Top-level keys of Timeloop input files (v3 and v4 input-format pages)."""


class TimeloopError(ValueError):
    """A Timeloop file that jaxdse cannot read or a jaxdse object Timeloop cannot express.

    The message names the file (or ``<dict>``), the YAML field, what was
    expected and what was found.
    """


class _TaggedLoader(yaml.SafeLoader):
    """SafeLoader that keeps Timeloop v0.4's node tags (``!Container``, ``!Component``, ...).

    A tagged mapping ``!Component {name: mac}`` loads as ``{"!": "Component", "name": "mac"}``;
    a tagged sequence (``!Parallel [..]``) as ``{"!": "Parallel", "nodes": [..]}``.
    """


def _construct_tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        data = loader.construct_mapping(node, deep=True)
        return {"!": suffix, **data}
    if isinstance(node, yaml.SequenceNode):
        return {"!": suffix, "nodes": loader.construct_sequence(node, deep=True)}
    return loader.construct_scalar(node)


_TaggedLoader.add_multi_constructor("!", _construct_tagged)


def read_file(path: str | Path, kind: str) -> Any:
    """Parse a Timeloop YAML (or JSON) file, raising ``TimeloopError`` naming the file.

    Plain files go through the project's shared reader
    (``workloads.specfile.read_spec``). Timeloop v0.4 architecture files use
    YAML tags that a safe loader refuses; only for those the file is parsed
    again with a loader that keeps each tag as a ``"!"`` key.
    """
    p = Path(path)
    try:
        return read_spec(p, kind, TimeloopError)
    except TimeloopError as e:
        if "could not determine a constructor for the tag" not in str(e):
            raise
    # read_spec has already checked that the file exists and is UTF-8 text.
    try:
        return yaml.load(p.read_text(encoding="utf-8"), Loader=_TaggedLoader)
    except (yaml.YAMLError, ValueError, TypeError, AttributeError, OverflowError, RecursionError) as e:
        raise TimeloopError(f"{p}: expected valid YAML, found an error: {show(str(e), 200)}") from e


def load_section(src: Any, key: str, kind: str) -> tuple[Any, str, Any]:
    """The content of top-level ``key`` in a file or dict.

    Args:
        src: A path to a YAML/JSON file, or a parsed dict (with or without ``key``).
        key: ``problem``, ``architecture`` or ``mapping``.
        kind: What the file should hold, for messages.

    Returns:
        ``(content, source, document)``: the section, the path or ``<dict>``
        for messages, and the whole parsed document.
    """
    if isinstance(src, (str, Path)):
        source = str(src)
        data = read_file(src, kind)
    else:
        source = "<dict>"
        data = src
    if isinstance(data, dict) and key in data:
        return data[key], source, data
    if key == "mapping" and isinstance(data, list):
        return data, source, data
    if isinstance(data, dict) and key != "mapping" and data and not set(data) & TOP_LEVEL_KEYS:
        return data, source, data  # the section's content without its key
    raise TimeloopError(f"{source}: field '{key}' expected a {kind} (top-level key '{key}'), found {show(data)}")


class _PlainDumper(yaml.SafeDumper):
    """SafeDumper that writes repeated objects out in full (no ``&id``/``*id`` aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: dict, path: str | Path) -> Path:
    """Write a dict as YAML (or JSON for a ``.json`` path); folders are created."""
    p = Path(path)
    if p.suffix.lower() == ".json":
        text = json.dumps(data, indent=2)
    else:
        text = yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, default_flow_style=None, width=120)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise TimeloopError(f"{str(p)[:200]}: expected a writable file path, found error: {e}") from e
    return p


def show(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages (never fails)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive_int(source: str, field: str, value: Any) -> int:
    """``value`` as a positive int (YAML ints, or floats with an integral value)."""
    ok = _is_number(value) and (isinstance(value, int) or value.is_integer()) and value >= 1
    if not ok:
        raise TimeloopError(f"{source}: field '{field}' expected a positive integer, found {show(value)}")
    return int(value)


def positive_number(source: str, field: str, value: Any, minimum: float = 0.0) -> float:
    """``value`` as a finite float > ``minimum``."""
    try:
        v = float(value) if _is_number(value) else float("nan")
    except OverflowError:
        v = float("inf")
    if not (minimum < v < float("inf")):
        raise TimeloopError(f"{source}: field '{field}' expected a finite number > {minimum:g}, found {show(value)}")
    return v


def as_list(source: str, field: str, value: Any) -> list:
    """``value`` if it is a list, ``[]`` for None; anything else raises naming the field."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise TimeloopError(f"{source}: field '{field}' expected a list, found {show(value)}")
    return value
