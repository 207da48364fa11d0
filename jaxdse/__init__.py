"""How to search: mappers, evaluation of mapped networks, explorers, CLI."""

from jaxdse.codesign import Constraints, DesignSpace, Result, explore, load_space, resume, table1_space
from jaxdse.compile_cache import enable_compile_cache
from jaxdse.heuristic import default_mapping, divisors
from jaxdse.mapper.api import METHODS, OBJECTIVES, LayerMapping, map_layer, map_network
from jaxdse.mapspace import DEFAULT_MAX_PADDING
from jaxdse.plan import Plan, evaluate, load_mappings, lower_bounds, stack_mappings

__all__ = [
    "Constraints",
    "DesignSpace",
    "Result",
    "enable_compile_cache",
    "explore",
    "load_space",
    "resume",
    "table1_space",
    "DEFAULT_MAX_PADDING",
    "METHODS",
    "OBJECTIVES",
    "LayerMapping",
    "Plan",
    "default_mapping",
    "divisors",
    "evaluate",
    "load_mappings",
    "lower_bounds",
    "map_layer",
    "map_network",
    "stack_mappings",
]
