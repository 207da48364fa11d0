"""Reading a YAML or JSON spec file with errors that say what went wrong.

Shared by every loader (workloads, architectures, design spaces): a missing
or unreadable file and a syntax error all raise the caller's error type,
naming the file, what was expected and what was found.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def read_spec(path: str | Path, kind: str, error: type[Exception]) -> Any:
    """Parse ``path`` as JSON (``.json``) or YAML (anything else).

    Args:
        path: The file.
        kind: What the file should hold, for messages ("workload file").
        error: Exception type to raise (e.g. ``WorkloadError``).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{p}: expected an existing {kind} (YAML or JSON), found no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{p}: expected a readable UTF-8 {kind}, found error: {e}") from e
    if p.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise error(f"{p}: expected valid JSON, found a syntax error at line {e.lineno}: {e.msg}") from e
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise error(f"{p}: expected valid YAML, found a syntax error{at}: {problem}") from e
