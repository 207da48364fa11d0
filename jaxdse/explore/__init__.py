"""Hardware/software codesign explorers, design space and constraints."""

from jaxdse.explore.api import EXPLORERS, ExploreError, explore
from jaxdse.explore.constraints import DEFAULT_MIN_PER_S, ConstraintError, Constraints
from jaxdse.explore.elasticity import elasticities
from jaxdse.explore.evaluator import DesignEval, Evaluator
from jaxdse.explore.result import Result, Trace
from jaxdse.explore.space import PARAMS, DesignSpace, SpaceError, describe, load_space, table1_space, to_arch

__all__ = [
    "DEFAULT_MIN_PER_S",
    "EXPLORERS",
    "PARAMS",
    "ConstraintError",
    "Constraints",
    "DesignEval",
    "DesignSpace",
    "Evaluator",
    "ExploreError",
    "Result",
    "SpaceError",
    "Trace",
    "describe",
    "elasticities",
    "explore",
    "load_space",
    "table1_space",
    "to_arch",
]
