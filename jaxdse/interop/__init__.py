"""Interop with other tools' file formats: Timeloop (``jaxdse.interop.timeloop``)."""

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

__all__ = [
    "LEVEL_NAMES",
    "TimeloopArch",
    "TimeloopError",
    "dump_arch",
    "dump_mapping",
    "dump_problem",
    "export_plan",
    "read_arch",
    "read_mapping",
    "read_problem",
    "write_arch",
    "write_mapping",
    "write_problem",
]
