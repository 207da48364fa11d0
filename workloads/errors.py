"""Errors raised while reading workload descriptions."""

from __future__ import annotations


class WorkloadError(ValueError):
    """A workload file or dict is malformed.

    The message names the source (file path or ``<dict>``), the field path
    (e.g. ``layers[3].kernel``), what was expected and what was found.
    """
