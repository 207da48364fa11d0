"""The bottleneck tree of a layer's latency, for explorers and for people.

Explainable-DSE's bottleneck model (Dave et al., ASPLOS 2023, pp. 5-8):
a tree whose root is the cost, inner nodes are operations (max, add,
multiply) and leaves are hardware, mapping or execution factors. Analysis
follows the largest child at a max node and splits the share proportionally
at an add node; the leaf with the largest share is the bottleneck, and the
scaling it needs is (its share) / (the next largest term's share).

Built on the host from one evaluated layer (``Costs`` without batch axes).
Each node lists the hardware parameters (``Arch`` field names, with the NoC
index) and mapping parameters it depends on, which is the dictionary the
explorer uses to pick what to change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from costmodels.arch import NOCS
from costmodels.model import STREAMS, TERMS, Costs


@dataclass(frozen=True)
class Node:
    """One node of the bottleneck tree.

    Attributes:
        name: What the node is (``noc_inputs``, ``dma_weights_transfer``...).
        op: ``max``, ``add``, ``mul`` or ``leaf``.
        value: The node's value (cycles for latency nodes, a count for factors).
        share: Fraction of the root latency this node accounts for.
        hw_params: Hardware parameters that change this node.
        mapping_params: Mapping parameters that change this node.
        children: Sub-nodes.
        unit: Unit of ``value``.
    """

    name: str
    op: str
    value: float
    share: float
    hw_params: tuple[str, ...] = ()
    mapping_params: tuple[str, ...] = ()
    children: tuple[Node, ...] = field(default_factory=tuple)
    unit: str = "cycles"

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def find(self, name: str) -> Node:
        for n in self.walk():
            if n.name == name:
                return n
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "op": self.op,
            "value": self.value,
            "unit": self.unit,
            "share": self.share,
            "hw_params": list(self.hw_params),
            "mapping_params": list(self.mapping_params),
            "children": [c.to_dict() for c in self.children],
        }

    def render(self, indent: str = "") -> str:
        """The tree as indented text, one node per line."""
        line = f"{indent}{self.name} [{self.op}] = {self.value:,.6g} {self.unit}  ({self.share:.1%})"
        return "\n".join([line] + [c.render(indent + "  ") for c in self.children])


def bottleneck_tree(costs: Costs) -> Node:
    """The latency bottleneck tree of one evaluated layer."""
    c = {k: np.asarray(v) for k, v in costs.__dict__.items() if k != "traffic"}
    tr = costs.traffic
    root = float(c["latency_cycles"])
    root = root if root > 0 else 1.0
    terms = np.asarray(c["terms_cycles"], dtype=np.float64)

    compute = Node(
        "compute",
        "mul",
        float(terms[0]),
        float(terms[0]) / root,
        ("num_pes",),
        ("spatial", "temporal"),
        (
            Node(
                "padded_macs",
                "leaf",
                float(np.asarray(tr.padded_macs)),
                float(terms[0]) / root,
                (),
                ("padding",),
                unit="MACs",
            ),
            Node(
                "active_pes",
                "leaf",
                float(np.asarray(tr.active_pes)),
                float(terms[0]) / root,
                ("num_pes",),
                ("spatial",),
                unit="PEs",
            ),
        ),
    )
    nocs = []
    for i, stream in enumerate(STREAMS):
        v = float(terms[1 + i])
        share = v / root
        nocs.append(
            Node(
                f"noc_{stream}",
                "mul",
                v,
                share,
                (f"noc_links[{i}]", f"noc_width_bits[{i}]", f"noc_virtual[{i}]", "l1_bytes"),
                ("temporal.l1", "spatial", "order"),
                (
                    Node(
                        f"noc_{stream}_requests",
                        "leaf",
                        float(np.asarray(tr.noc_requests)[i]),
                        share,
                        ("l1_bytes",),
                        ("temporal.l1", "order"),
                        unit="requests",
                    ),
                    Node(
                        f"noc_{stream}_rounds",
                        "leaf",
                        float(c["noc_rounds"][i]),
                        share,
                        (f"noc_links[{i}]",),
                        ("spatial",),
                        unit="rounds",
                    ),
                    Node(
                        f"noc_{stream}_beats",
                        "leaf",
                        float(c["noc_beats"][i]),
                        share,
                        (f"noc_width_bits[{i}]",),
                        ("temporal.l1",),
                        unit="beats",
                    ),
                ),
            )
        )
    dma_total = float(terms[-1])
    dma_children = []
    for i, stream in enumerate(STREAMS):
        tv, sv = float(c["dma_transfer_cycles"][i]), float(c["dma_setup_cycles"][i])
        dma_children.append(
            Node(
                f"dma_{stream}",
                "add",
                tv + sv,
                (tv + sv) / root if dma_total > 0 else 0.0,
                ("dram_mb_per_s", "l2_kib"),
                ("temporal.dram", "temporal.l2", "order.dram"),
                (
                    Node(
                        f"dma_{stream}_transfer",
                        "leaf",
                        tv,
                        tv / root,
                        ("dram_mb_per_s", "l2_kib"),
                        ("temporal.l2", "order.dram"),
                    ),
                    Node(f"dma_{stream}_setup", "leaf", sv, sv / root, ("l2_kib",), ("temporal.l2", "order.dram")),
                ),
            )
        )
    dma = Node(
        "dma",
        "add",
        dma_total,
        dma_total / root,
        ("dram_mb_per_s", "l2_kib"),
        ("temporal.dram", "temporal.l2"),
        tuple(dma_children),
    )
    return Node("latency", "max", float(c["latency_cycles"]), 1.0, (), (), (compute, *nocs, dma))


@dataclass(frozen=True)
class Bottleneck:
    """The result of walking a tree: the dominant term and leaf.

    Attributes:
        term: The dominant latency term (a child of the root).
        leaf: The leaf with the largest share under it.
        path: Node names from the root to the leaf.
        scaling: How much the term must shrink to stop dominating (its value
            over the next largest term), Explainable-DSE's ``s``.
        next_term: Name of the next largest term.
    """

    term: Node
    leaf: Node
    path: tuple[str, ...]
    scaling: float
    next_term: str


def analyse(tree: Node) -> Bottleneck:
    """Walk the tree: follow the largest child at max/add nodes (p. 7)."""
    terms = sorted(tree.children, key=lambda n: n.value, reverse=True)
    top, nxt = terms[0], terms[1]
    path = [tree.name, top.name]
    node = top
    while node.children:
        if node.op == "mul":
            # every factor of a product is implicated; report the one that
            # departs most from its ideal of 1 (e.g. many rounds or beats)
            node = max(node.children, key=lambda n: n.value)
        else:
            node = max(node.children, key=lambda n: n.share)
        path.append(node.name)
    scaling = top.value / nxt.value if nxt.value > 0 else float("inf")
    return Bottleneck(term=top, leaf=node, path=tuple(path), scaling=scaling, next_term=nxt.name)


def describe_bottleneck(tree: Node) -> str:
    """One line a designer reads: which term dominates and by how much."""
    b = analyse(tree)
    s = "inf" if not np.isfinite(b.scaling) else f"{b.scaling:.2f}x"
    return f"{b.term.name}-bound ({b.term.name} {s} the next term, {b.next_term}); leaf {b.leaf.name}"


__all__ = ["Bottleneck", "NOCS", "Node", "TERMS", "analyse", "bottleneck_tree", "describe_bottleneck"]
