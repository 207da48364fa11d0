"""Constraints and their budgets.

Explainable-DSE (Table 1, p. 9): area < 75 mm^2, peak power < 4 W, and a
minimum throughput per workload: 40 FPS for light vision (ResNet-18,
MobileNetV2, EfficientNet-B0), 10 FPS for large vision (VGG16, ResNet-50,
ViT), and 120 / 530 / 176k samples/s for Transformer / BERT-base / wav2vec2.

Our reading of "samples" for the language and speech models (the reference
does not define it; stated here as an assumption): tokens for Transformer
(30 target tokens per inference -> 4 inferences/s) and BERT (128 tokens ->
4.14/s), audio samples for wav2vec2 (1 s at 16 kHz -> 11/s).

The reference's limits apply to the zoo networks themselves: a network is
given its zoo limit only when it is the zoo network of that name (same
layers and repeat counts), never because an ONNX or YAML model happens to
share the name; ``throughput_limits`` says which limit applied and why.

Budget of a constraint = cost / limit (the reference's "budget"); met when
<= 1. The throughput budget of a network is ``min_per_s x latency_s``.

LLM serving passes (``Network.phase`` set, ``workloads.llm``) can instead be
limited in tokens/s (``min_tokens_per_s``; CLI ``--min-tokens-per-s``): a
pass processes ``tokens_per_pass`` tokens (prompt tokens in prefill, one new
token per sequence in decode), so ``min_tokens_per_s`` is ``min_tokens_per_s /
tokens_per_pass`` passes per second, and ``resolve(networks)`` turns it into
that network's ``min_per_s`` (the stricter of the two when both are given).
The budget stays ``throughput.<network>``, which the explorers already read as
"this network's latency is too high". No LLM network has a default limit (the
reference states none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np

from workloads import Network, get, names
from workloads.specfile import show

DEFAULT_AREA_MM2 = 75.0
DEFAULT_POWER_W = 4.0

DEFAULT_MIN_PER_S: dict[str, float] = {
    "resnet18": 40.0,
    "mobilenet_v2": 40.0,
    "efficientnet_b0": 40.0,
    "vgg16": 10.0,
    "resnet50": 10.0,
    "vit_b16": 10.0,
    "transformer": 120.0 / 30.0,
    "bert_base": 530.0 / 128.0,
    "wav2vec2_base": 176_000.0 / 16_000.0,
}
"""Minimum inferences per second per zoo network (see the module docstring)."""


class ConstraintError(ValueError):
    """A malformed constraint; the message names the field."""


AREA = "area"
POWER = "power"
THROUGHPUT = "throughput"
KINDS = (AREA, POWER, THROUGHPUT)
"""Constraint kinds: area and peak power are functions of the hardware alone;
throughput is a limit on one network's latency."""


@dataclass(frozen=True)
class Limit:
    """One active constraint: its kind and, for throughput, its network.

    ``key`` is the name its budget has in ``Constraints.budgets`` (and in
    ``result.json`` / ``trace.jsonl``): ``area_mm2``, ``power_w`` or
    ``throughput.<network>``. Explorers ask ``Constraints.limits`` for the
    ``Limit`` of a budget instead of parsing its key.
    """

    kind: str
    network: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConstraintError(
                f"constraint limit: field 'kind' expected one of {list(KINDS)}, found {show(self.kind)}"
            )
        if (self.kind == THROUGHPUT) != isinstance(self.network, str):
            raise ConstraintError(
                f"constraint limit: field 'network' expected a network name for {THROUGHPUT} and None otherwise, "
                f"found {show(self.network)} with kind {self.kind!r}"
            )

    @property
    def key(self) -> str:
        return {AREA: "area_mm2", POWER: "power_w"}.get(self.kind) or f"{THROUGHPUT}.{self.network}"

    @property
    def hardware(self) -> bool:
        """Area or power: exact functions of the hardware (no mapping needed)."""
        return self.kind in (AREA, POWER)


AREA_LIMIT = Limit(AREA)
POWER_LIMIT = Limit(POWER)


def _positive(v) -> bool:
    """A real number > 0 that is a float (not bool, not NaN, no int past float range).

    ``inf`` passes: an infinite area or power limit is no limit; an infinite
    throughput can never be met (a "no feasible design" result)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return False
    try:
        return float(v) > 0
    except OverflowError:
        return False


@dataclass(frozen=True)
class Constraints:
    """Limits a design must meet.

    Attributes:
        area_mm2: Maximum chip area (None: unconstrained).
        power_w: Maximum peak power (None: unconstrained).
        min_per_s: Minimum inferences per second per network name; a network
            not listed uses ``DEFAULT_MIN_PER_S`` when ``default_throughput``
            is true, else is unconstrained.
        default_throughput: Apply the reference's throughput limits to zoo networks.
        min_tokens_per_s: Minimum tokens per second per LLM-pass network name
            (see the module docstring); applied by ``resolve``.
    """

    area_mm2: float | None = DEFAULT_AREA_MM2
    power_w: float | None = DEFAULT_POWER_W
    min_per_s: dict[str, float] = field(default_factory=dict)
    default_throughput: bool = True
    min_tokens_per_s: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("area_mm2", "power_w"):
            v = getattr(self, name)
            if v is not None and not _positive(v):
                raise ConstraintError(
                    f"constraints: field '{name}' expected a positive number or None, found {show(v)}"
                )
        for fname, unit in (("min_per_s", "inferences/s"), ("min_tokens_per_s", "tokens/s")):
            limits = getattr(self, fname)
            if not isinstance(limits, dict):
                raise ConstraintError(
                    f"constraints: field '{fname}' expected a dict of network name -> {unit}, found {show(limits)}"
                )
            for k, v in limits.items():
                if not isinstance(k, str):
                    raise ConstraintError(
                        f"constraints: field '{fname}' expected network names (str) as keys, found {show(k)}"
                    )
                if not _positive(v):
                    raise ConstraintError(
                        f"constraints: field '{fname}[{show(k)}]' expected a positive number, found {show(v)}"
                    )
        if not isinstance(self.default_throughput, (bool, np.bool_)):
            raise ConstraintError(
                f"constraints: field 'default_throughput' expected a bool, found {show(self.default_throughput)}"
            )

    def throughput_limit(self, network: Network) -> tuple[float | None, str]:
        """Minimum inferences/s of ``network`` and why: given in ``min_per_s``
        (by name), the reference's limit for a zoo network (only when
        ``network`` is that zoo network), or none."""
        name = network.name
        if name in self.min_per_s:
            return float(self.min_per_s[name]), "given"
        if not self.default_throughput or name not in DEFAULT_MIN_PER_S:
            return None, "none"
        if not is_zoo_network(network):
            why = f"none: not the zoo network '{name}' (its layers differ), so the reference's limit does not apply"
            return None, why
        return DEFAULT_MIN_PER_S[name], f"the reference's limit for the zoo network '{name}'"

    def resolve(self, networks) -> Constraints:
        """These constraints with every tokens/s limit turned into its network's passes/s limit.

        ``min_per_s[name]`` becomes ``min_tokens_per_s[name] / tokens_per_pass``
        (or the existing limit if stricter). Idempotent.

        Raises:
            ConstraintError: A tokens/s limit names a network that is not among
                ``networks`` or is not an LLM serving pass (no ``phase``).
        """
        if not self.min_tokens_per_s:
            return self
        by_name = {n.name: n for n in networks}
        per_s = dict(self.min_per_s)
        for name, tokens in self.min_tokens_per_s.items():
            net = by_name.get(name)
            if net is None or not net.phase:
                llm = sorted(n for n, x in by_name.items() if x.phase)
                raise ConstraintError(
                    f"constraints: field 'min_tokens_per_s' expected names of LLM prefill/decode networks being "
                    f"explored ({llm}), found {show(name)}"
                    + ("" if net is None else " (not an LLM serving pass: use min_per_s / --min-fps)")
                )
            passes = float(tokens) / net.tokens_per_pass
            old, _ = self.throughput_limit(net)
            per_s[name] = passes if old is None else max(old, passes)
        return replace(self, min_per_s=per_s)

    def throughput_limits(self, networks: Sequence[Network]) -> dict[str, float]:
        """``{network name: minimum inferences/s}`` of the networks that have a limit."""
        out = {}
        for n in networks:
            limit, _ = self.throughput_limit(n)
            if limit is not None:
                out[n.name] = limit
        return out

    def limits(self, networks: Sequence[Network]) -> dict[str, Limit]:
        """``{budget key: Limit}`` of every active constraint, in ``budgets`` order."""
        out = {}
        if self.area_mm2 is not None:
            out[AREA_LIMIT.key] = AREA_LIMIT
        if self.power_w is not None:
            out[POWER_LIMIT.key] = POWER_LIMIT
        for net in self.throughput_limits(networks):
            lim = Limit(THROUGHPUT, net)
            out[lim.key] = lim
        return out

    def budgets(
        self, area_mm2: float, power_w: float, latency_s: dict[str, float], networks: Sequence[Network] = ()
    ) -> dict[str, float]:
        """Budget (cost / limit) of every active constraint.

        Args:
            area_mm2, power_w: Of the design.
            latency_s: Per network name.
            networks: The networks of ``latency_s`` (their throughput limits
                are looked up from the networks themselves, not their names).
        """
        out = {}
        if self.area_mm2 is not None:
            out[AREA_LIMIT.key] = area_mm2 / self.area_mm2
        if self.power_w is not None:
            out[POWER_LIMIT.key] = power_w / self.power_w
        limits = self.throughput_limits(networks)
        for net, lat in latency_s.items():
            if net in limits:
                out[Limit(THROUGHPUT, net).key] = limits[net] * lat
        return out

    def to_dict(self, networks: Sequence[Network]) -> dict:
        """Limits as ``result.json`` records them; ``min_per_s_source`` says why each throughput limit applies."""
        why = {n.name: self.throughput_limit(n) for n in networks}
        out = {
            "area_mm2": self.area_mm2,
            "power_w": self.power_w,
            "min_per_s": {k: v[0] for k, v in why.items()},
            "min_per_s_source": {k: v[1] for k, v in why.items()},
        }
        if self.min_tokens_per_s:
            out["min_tokens_per_s"] = {n: float(v) for n, v in self.min_tokens_per_s.items()}
        return out


@cache
def _zoo_network(name: str) -> Network:
    return get(name)


def is_zoo_network(network: Network) -> bool:
    """Whether ``network`` is the zoo network of its name (same layers and repeat counts)."""
    if network.name not in names():
        return False
    zoo = _zoo_network(network.name)
    return network.layers == zoo.layers and network.counts == zoo.counts
