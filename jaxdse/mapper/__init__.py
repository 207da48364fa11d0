"""Per-layer mapping search: gradient, pruned top-N, random, exhaustive."""

from jaxdse.mapper.api import METHODS, REMAP_BUDGET, LayerMapping, map_layer, map_network
from jaxdse.mapper.space import OBJECTIVES, ORDER_TEMPLATES, Candidates, MapperError

__all__ = [
    "METHODS",
    "OBJECTIVES",
    "ORDER_TEMPLATES",
    "REMAP_BUDGET",
    "Candidates",
    "LayerMapping",
    "MapperError",
    "map_layer",
    "map_network",
]
