"""Interop with other tools' file formats: Timeloop (``jaxdse.interop.timeloop``).

``timeloop_stats.read_stats`` and ``timeloop_tree`` read Timeloop's own files as plain
data (every level of any hierarchy), for checking cost models against Timeloop.
"""

from jaxdse.interop.timeloop import (
    LEVEL_NAMES,
    TimeloopArch,
    TimeloopError,
    dump_arch,
    dump_mapping,
    dump_problem,
    export_plan,
    read_arch,
    read_mapping,
    read_problem,
    write_arch,
    write_mapping,
    write_problem,
)
from jaxdse.interop.timeloop_stats import read_stats
from jaxdse.interop.timeloop_tree import read_arch_tree, read_mapping_tree, read_problem_tree

__all__ = [
    "LEVEL_NAMES",
    "TimeloopArch",
    "TimeloopError",
    "dump_arch",
    "dump_mapping",
    "dump_problem",
    "export_plan",
    "read_arch",
    "read_arch_tree",
    "read_mapping",
    "read_mapping_tree",
    "read_problem",
    "read_problem_tree",
    "read_stats",
    "write_arch",
    "write_mapping",
    "write_problem",
]
