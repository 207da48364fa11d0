"""Reading a YAML or JSON spec file with errors that say what went wrong.

Shared by every loader (workloads, architectures, design spaces): a missing
or unreadable file and a syntax error all raise the caller's error type,
naming the file, what was expected and what was found. ``check_out_dir``
does the same for a folder results will be written to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

_PARSE_ERRORS = (ValueError, TypeError, AttributeError, OverflowError, RecursionError)
"""What the parsers raise besides their own syntax errors on malformed text:
PyYAML's constructors for bad tagged scalars (``!!float abc`` -> ValueError,
``!!timestamp x`` -> AttributeError, ``2001-13-45`` -> ValueError), the json
module for integers past ``sys.get_int_max_str_digits()`` (ValueError), and
both for nesting deeper than the interpreter's recursion limit."""


def read_spec(path: str | Path, kind: str, error: type[Exception]) -> Any:
    """Parse ``path`` as JSON (``.json``) or YAML (anything else).

    Args:
        path: The file.
        kind: What the file should hold, for messages ("workload file").
        error: Exception type to raise (e.g. ``WorkloadError``).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise error(f"expected the path of a {kind} (YAML or JSON), found {show(path)}")
    p = Path(path)
    where = printable(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{where}: expected an existing {kind} (YAML or JSON), found no such file") from None
    except (OSError, UnicodeError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise error(f"{where}: expected a readable UTF-8 {kind}, found error: {e}") from e
    if p.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise error(f"{where}: expected valid JSON, found a syntax error at line {e.lineno}: {e.msg}") from e
        except _PARSE_ERRORS as e:
            raise error(f"{where}: expected valid JSON, found a value the parser rejects: {_short(e)}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())  # one line (ReaderError spans two)
        raise error(f"{where}: expected valid YAML, found a syntax error{at}: {problem}") from e
    except _PARSE_ERRORS as e:
        raise error(f"{where}: expected valid YAML, found a value the parser rejects: {_short(e)}") from None


def printable(path: str | Path) -> str:
    """A path as messages show it: as is, or quoted with escapes when it holds
    newlines or other control characters (messages stay one line)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _short(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".splitlines()[0]
    return text if len(text) <= 160 else text[:157] + "..."


def check_out_dir(path: str | Path, field: str, error: type[Exception]) -> Path:
    """Check that ``path`` can be a results folder before any work starts.

    The folder may not exist yet; the nearest existing ancestor must then be
    a writable folder. Nothing is created.

    Args:
        path: The folder results will be written to.
        field: Who asks and the field's name, the start of messages
            (``"explore: field 'out'"``).
        error: Exception type to raise.

    Raises:
        error: ``path`` is not a str or Path, is empty, names a file, contains a NUL
            byte, or no writable folder holds it.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise error(f"{field} expected a folder path, found {type(path).__name__}")
    if str(path) == "":  # Path("") is the current folder: results would land among whatever is there
        raise error(f"{field} expected a folder path, found an empty string")
    p = Path(path)
    if "\x00" in str(p):
        raise error(f"{field} expected a folder path, found a path with a NUL byte: {str(p)!r:.100}")
    probe = p.absolute()
    try:
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        is_dir = probe.is_dir()
    except OSError as e:  # e.g. a name longer than the file system allows
        raise error(f"{field} expected a usable folder path, found error: {e}") from None
    if not is_dir:
        raise error(f"{field} expected a folder (existing or to be created), found the file '{probe}'")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise error(f"{field} expected a writable folder, found '{probe}' not writable")
    return p


def show(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages.

    Never fails: an int past ``sys.get_int_max_str_digits()`` or a structure
    nested deeper than the recursion limit is shown by its type.
    """
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
