"""How to search: evaluation of mapped networks, mappers, explorers, CLI."""

from jaxdse.heuristic import default_mapping, divisors
from jaxdse.plan import Plan, evaluate, stack_mappings

__all__ = ["Plan", "default_mapping", "divisors", "evaluate", "stack_mappings"]
