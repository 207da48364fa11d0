"""A network: unique layers with repeat counts."""

from __future__ import annotations

from collections.abc import Iterable

from flax import struct

from workloads.layer import Layer

PHASES: tuple[str, ...] = ("", "prefill", "decode")
"""Values of ``Network.phase``: not an LLM serving pass, prefill, decode."""


@struct.dataclass(frozen=True)
class Network:
    """A named list of unique layers, each with how many times it runs.

    Layers with the same shape (``Layer.shape_key``) cost the same, so they
    are stored once with a count; the first layer's name is kept. Network
    cost = sum over layers of count x layer cost (Explainable-DSE, p. 8).

    Attributes:
        name: Network name.
        layers: Unique layers in first-seen order.
        counts: Repeat count of each layer (same length as ``layers``).
        notes: Free text: batch size, resolution, what is not modelled.
        phase: ``"prefill"`` or ``"decode"`` for one pass of an LLM serving
            phase (``workloads.llm``), else ``""``.
        sequences: Sequences served together in one pass (the batch); 0 when
            ``phase`` is empty.
        tokens_per_pass: Tokens one pass processes: prompt tokens of every
            sequence in prefill (batch x prompt length), one new token per
            sequence in decode (batch); 0 when ``phase`` is empty. Serving
            figures (tokens/s, energy per token) divide by it.
    """

    name: str = struct.field(pytree_node=False)
    layers: tuple[Layer, ...] = struct.field(pytree_node=False)
    counts: tuple[int, ...] = struct.field(pytree_node=False)
    notes: str = struct.field(pytree_node=False, default="")
    phase: str = struct.field(pytree_node=False, default="")
    sequences: int = struct.field(pytree_node=False, default=0)
    tokens_per_pass: int = struct.field(pytree_node=False, default=0)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Network: field 'name' expected a non-empty str, found {self.name!r}")
        if len(self.layers) != len(self.counts):
            raise ValueError(
                f"Network '{self.name}': fields 'layers' and 'counts' expected equal lengths, "
                f"found {len(self.layers)} and {len(self.counts)}"
            )
        if not self.layers:
            raise ValueError(f"Network '{self.name}': field 'layers' expected at least one layer, found none")
        for i, (layer, c) in enumerate(zip(self.layers, self.counts, strict=True)):
            if not isinstance(layer, Layer):
                raise TypeError(f"Network '{self.name}': field 'layers[{i}]' expected a Layer, found {layer!r}")
            if isinstance(c, bool) or not isinstance(c, int) or c < 1:
                raise ValueError(f"Network '{self.name}': field 'counts[{i}]' expected a positive int, found {c!r}")
        if self.phase not in PHASES:
            raise ValueError(f"Network '{self.name}': field 'phase' expected one of {PHASES}, found {self.phase!r}")
        for f in ("sequences", "tokens_per_pass"):
            v = getattr(self, f)
            ok = isinstance(v, int) and not isinstance(v, bool) and (v >= 1 if self.phase else v == 0)
            if not ok:
                want = "a positive int (phase is set)" if self.phase else "0 (no phase)"
                raise ValueError(f"Network '{self.name}': field '{f}' expected {want}, found {v!r}")
        if self.phase == "decode" and self.tokens_per_pass != self.sequences:
            raise ValueError(
                f"Network '{self.name}': field 'tokens_per_pass' expected {self.sequences} (one new token per "
                f"sequence in decode), found {self.tokens_per_pass}"
            )

    @classmethod
    def from_layers(
        cls, name: str, layers: Iterable[Layer | tuple[Layer, int]], notes: str = "", **serving: str | int
    ) -> Network:
        """Build a network, merging layers of identical shape into counts.

        Each item is a Layer (count 1) or a ``(Layer, count)`` pair;
        ``serving`` passes ``phase``, ``sequences``, ``tokens_per_pass``.
        """
        order: list[tuple] = []
        first: dict[tuple, Layer] = {}
        count: dict[tuple, int] = {}
        for item in layers:
            layer, c = item if isinstance(item, tuple) else (item, 1)
            if not isinstance(layer, Layer):
                raise TypeError(f"Network '{name}': expected Layer items, found {layer!r}")
            key = layer.shape_key()
            if key not in first:
                order.append(key)
                first[key] = layer
                count[key] = 0
            count[key] += c
        return cls(
            name=name,
            layers=tuple(first[k] for k in order),
            counts=tuple(count[k] for k in order),
            notes=notes,
            **serving,
        )

    @property
    def macs(self) -> int:
        """Total multiply-accumulates of one inference."""
        return sum(layer.macs * c for layer, c in zip(self.layers, self.counts, strict=True))

    @property
    def num_layers(self) -> int:
        """Total layer instances (sum of counts)."""
        return sum(self.counts)

    @property
    def num_unique(self) -> int:
        return len(self.layers)

    def items(self) -> list[tuple[Layer, int]]:
        return list(zip(self.layers, self.counts, strict=True))

    def summary(self) -> str:
        return f"{self.name}: {self.num_unique} unique layers, {self.num_layers} in all, {self.macs / 1e9:.3f} GMACs"

    def to_dict(self) -> dict:
        """Plain-data form, loadable by ``workloads.load``."""
        layers = []
        for layer, c in self.items():
            d = layer.to_dict()
            d["count"] = c
            layers.append(d)
        out = {"name": self.name, "notes": self.notes}
        if self.phase:
            out.update(phase=self.phase, sequences=self.sequences, tokens_per_pass=self.tokens_per_pass)
        return {**out, "layers": layers}
