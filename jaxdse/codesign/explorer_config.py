"""The explainable explorer's tunables, in one frozen config.

``explore(..., explorer_config=ExplorerConfig(...))`` passes it; ``run.json``
records it (``explorer_config``) and ``resume`` reads it back (a ``run.json``
written before it was recorded resumes with the defaults, the values those
runs used).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from workloads.specfile import show


class ConfigError(ValueError):
    """A malformed ``ExplorerConfig``; the message names the field."""


def check_fields(cfg, what: str, ints: dict[str, int], ranges: dict[str, tuple[float, float, bool]]) -> None:
    """A config's fields checked, the first bad one named: ``ints`` name -> least value (an int,
    not a bool); ``ranges`` name -> (low, high, low included) for finite numbers, high excluded."""
    for name, low in ints.items():
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ConfigError(f"{what}: field '{name}' expected an int >= {low}, found {show(v)}")
    for name, (lo, hi, closed) in ranges.items():
        v = getattr(cfg, name)
        # compared as given (math.isfinite of a huge int overflows); NaN fails every comparison
        ok = (not isinstance(v, bool) and isinstance(v, (int, float)) and -1e308 < v < 1e308
              and (lo <= v if closed else lo < v) and v < hi)  # fmt: skip
        if not ok:
            rng = f"{'>=' if closed else '>'} {lo:g}" + (f" and < {hi:g}" if math.isfinite(hi) else "")
            raise ConfigError(f"{what}: field '{name}' expected a finite number {rng}, found {show(v)}")


class ConfigDict:
    """``to_dict`` / ``from_dict`` of a frozen config dataclass (recorded in ``run.json``)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d, where: str = "explorer config"):
        """A config from ``to_dict``'s form; keys left out keep their defaults."""
        if not isinstance(d, dict):
            raise ConfigError(f"{where} expected a dict of {[f.name for f in fields(cls)]}, found {show(d)}")
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"{where} expected keys among {[f.name for f in fields(cls)]}, found {unknown}")
        return cls(**d)


@dataclass(frozen=True)
class ExplorerConfig(ConfigDict):
    """Knobs of the explainable explorer (``jaxdse.codesign.explainable``).

    Attributes:
        per_step: Candidates evaluated per step (the most promising first).
        top_k: Layers per network whose bottleneck votes (Explainable-DSE,
            p. 7: the top layers by share of latency).
        max_scale: Largest factor one rule or elasticity move scales a
            parameter by.
        tied_scale: Factor asked for when a layer's two largest terms tie.
        strong_elasticity: |d log latency / d log parameter| above which a
            parameter gets an elasticity-sized move.
        min_gain: Least relative gain for a feasible design to replace the
            current one: the mapper's noise (a superset of legal mappings
            measures up to ~2% better or worse; 0.5% keeps the search off
            designs that are not really different).
        free_harm: Largest latency cost of one shrink in a free-budget move
            (measured where known, else predicted).
        free_gain: Least predicted latency gain of a free-budget move, its
            shrinks included.
        free_grows: Bottleneck moves a free-budget stage tries to pay for.
        free_paid: Payments (one shrink or a pair) per move proposed by the
            unchecked free-budget stage (the least latency cost first).
        paid_harm: Largest latency cost alone (measured, else predicted) of a
            payment the unchecked free-budget stage proposes before the
            neighbour sweep has ended (after it, any cost).
        shrinks_per_step: Shrinks proposed per step while over an area or
            power limit.
        warm_start_share: Share of the budget first given to the gradient
            explorer (its best design is the start); 0 disables. ``explore``'s
            ``warm_start`` (designs) overrides it. Measured (seed 0, budget 50,
            the nine zoo networks, ``benchmarks/search_quality.py``): 0.3 with
            a 250-step burn-in brought the median designs to within 2% of each
            run's best from 20 (0.5, no burn-in) to 13.
        warm_start_burn_in: Adam steps of the warm start before its first
            evaluated snap (a 150-step burn-in ended vgg16 at 62.98 ms
            instead of 52.48 ms).
    """

    per_step: int = 4
    top_k: int = 5
    max_scale: float = 8.0
    tied_scale: float = 1.5
    strong_elasticity: float = 0.05
    min_gain: float = 0.005
    free_harm: float = 0.20
    free_gain: float = 0.01
    free_grows: int = 3
    free_paid: int = 2
    paid_harm: float = 0.5
    shrinks_per_step: int = 6
    warm_start_share: float = 0.3
    warm_start_burn_in: int = 250

    def __post_init__(self) -> None:
        check_fields(
            self,
            "explorer config",
            ints={
                "per_step": 1,
                "top_k": 1,
                "free_grows": 1,
                "free_paid": 1,
                "shrinks_per_step": 1,
                "warm_start_burn_in": 0,
            },
            ranges={
                "max_scale": (1.0, math.inf, False),
                "tied_scale": (1.0, math.inf, False),
                "strong_elasticity": (0.0, math.inf, True),
                "min_gain": (0.0, 1.0, True),
                "free_harm": (0.0, math.inf, True),
                "free_gain": (0.0, 1.0, True),
                "paid_harm": (0.0, math.inf, True),
                "warm_start_share": (0.0, 1.0, True),
            },
        )


__all__ = ["ConfigDict", "ConfigError", "ExplorerConfig", "check_fields"]
