"""Hardware/software codesign explorers, design space and constraints."""

from jaxdse.codesign.api import EXPLORERS, ExploreError, explore, resume
from jaxdse.codesign.checkpoint import ResumeError
from jaxdse.codesign.constraints import DEFAULT_MIN_PER_S, ConstraintError, Constraints
from jaxdse.codesign.elasticity import elasticities
from jaxdse.codesign.evaluator import DesignEval, Evaluator
from jaxdse.codesign.explorer_config import ConfigError, ExplorerConfig
from jaxdse.codesign.pareto import COST_NAMES, ParetoConfig, hypervolume
from jaxdse.codesign.pareto_result import ParetoResult
from jaxdse.codesign.result import Result, Trace
from jaxdse.codesign.space import PARAMS, DesignSpace, SpaceError, describe, load_space, table1_space, to_arch

__all__ = [
    "COST_NAMES",
    "ParetoConfig",
    "ParetoResult",
    "hypervolume",
    "DEFAULT_MIN_PER_S",
    "EXPLORERS",
    "PARAMS",
    "ConfigError",
    "ConstraintError",
    "Constraints",
    "DesignEval",
    "DesignSpace",
    "Evaluator",
    "ExploreError",
    "ExplorerConfig",
    "Result",
    "ResumeError",
    "SpaceError",
    "Trace",
    "describe",
    "elasticities",
    "explore",
    "load_space",
    "resume",
    "table1_space",
    "to_arch",
]
