"""How to search: mappers, evaluation of mapped networks, explorers, CLI."""

from jaxdse.codesign import Constraints, DesignSpace, Result, explore, load_space, resume, table1_space
from jaxdse.compile_cache import enable_compile_cache
from jaxdse.heuristic import default_mapping, divisors
from jaxdse.mapper.api import METHODS, OBJECTIVES, LayerMapping, evaluate, map_layer, map_network
from jaxdse.plan import Plan, stack_mappings

__all__ = [
    "Constraints",
    "DesignSpace",
    "Result",
    "enable_compile_cache",
    "explore",
    "load_space",
    "resume",
    "table1_space",
    "METHODS",
    "OBJECTIVES",
    "LayerMapping",
    "Plan",
    "default_mapping",
    "divisors",
    "evaluate",
    "map_layer",
    "map_network",
    "stack_mappings",
]
