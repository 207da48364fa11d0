"""Import a JAX function or a Flax module as a Network: ``from_jax``, ``from_flax``.

The function is traced with ``jax.make_jaxpr`` (no computation runs; example
arguments may be ``jax.ShapeDtypeStruct``) and the jaxpr is walked
recursively:

* ``conv_general_dilated`` -> a convolution: ``dimension_numbers`` give the
  batch, feature and spatial axes; G = ``feature_group_count *
  batch_group_count``, K = out features / G, C = the kernel's in-features,
  P/Q from the output shape (so padding is already applied), R/S the kernel,
  ``window_strides`` and ``rhs_dilation`` kept. ``lhs_dilation`` > 1 (a
  transposed convolution) is counted as the dense convolution XLA runs over
  the zero-dilated input, and noted.
* ``dot_general`` -> a (batched) matmul: batch dims -> G (heads, folded),
  free dims of lhs -> P (rows, folded), free dims of rhs -> K (columns,
  folded), contracting dims -> C. When one operand derives only from
  parameters (Flax params, closed-over constants) it becomes the weights
  operand and the layer is ``linear``; two activations give ``matmul``.
* Nested jaxprs: ``jit``/``pjit``, ``closed_call``, ``remat``, ``custom_jvp``
  and ``custom_vjp`` are walked as inline code; ``scan`` bodies count
  ``length`` times; of a ``cond`` the branch with the most MACs counts;
  ``while`` bodies count once (the trip count is unknown at trace time).
  ``vmap`` needs nothing: batching is already in the primitives' shapes.

Everything else has no MACs and is dropped as the zoo drops it; primitives
with MACs that are not imported (FFTs, linear solvers, ragged dots, Pallas
kernels) are listed in the notes and warned about.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax

from workloads.importers import FOLDED_SPATIAL_NOTE, NOT_MODELLED, conv_layer, finish, gemm_layer
from workloads.layer import Layer
from workloads.network import Network

_Items = list[tuple[Layer, int]]

_INLINE = frozenset(
    {
        "jit",
        "pjit",
        "closed_call",
        "core_call",
        "remat",
        "remat2",
        "checkpoint",
        "custom_jvp_call",
        "custom_vjp_call",
        "custom_vjp_call_jaxpr",
    }
)
"""Call-like primitives whose single sub-jaxpr runs once, with the eqn's inputs as its inputs."""

_UNSUPPORTED_MAC_PRIMS = frozenset(
    {
        "ragged_dot",
        "ragged_dot_general",
        "fft",
        "triangular_solve",
        "cholesky",
        "lu",
        "qr",
        "householder_product",
        "svd",
        "eigh",
        "eig",
        "pallas_call",
    }
)

_NOTE_SCAN = "scan bodies are counted length times."
_NOTE_COND = "cond: only the branch with the most MACs is counted."
_NOTE_WHILE = "while_loop bodies are counted once (the trip count is unknown at trace time)."
_NOTE_TRANSPOSED = (
    "Transposed convolutions (lhs_dilation > 1) are counted as the dense convolution over the zero-dilated "
    "input that XLA runs: MACs include the inserted zeros (about prod(lhs_dilation) x the non-zero MACs)."
)


def _subjaxprs(params: dict[str, Any]) -> list[Any]:
    """Open jaxprs among an eqn's params (a ClosedJaxpr's ``.jaxpr``), in param order."""
    out = []
    for v in params.values():
        for x in v if isinstance(v, (tuple, list)) else (v,):
            if hasattr(x, "eqns"):
                out.append(x)
            elif hasattr(getattr(x, "jaxpr", None), "eqns"):
                out.append(x.jaxpr)
    return out


def _scope(prefix: str, eqn: Any) -> str:
    """``prefix`` joined with the eqn's name stack (module names), without transform frames like ``vmap()``."""
    parts = [prefix, *str(eqn.source_info.name_stack).split("/")]
    return "/".join(p for p in parts if p and not p.endswith(")"))


def _macs(items: _Items) -> int:
    return sum(layer.macs * c for layer, c in items)


class _Walker:
    """Walks a jaxpr, collecting (layer, count) items and notes."""

    def __init__(self) -> None:
        self.notes: dict[str, None] = {}  # ordered set
        self.skipped: Counter[str] = Counter()
        self.names: Counter[str] = Counter()

    def _name(self, prefix: str, eqn: Any, short: str) -> str:
        base = _scope(prefix, eqn) or short
        self.names[base] += 1
        return base if self.names[base] == 1 else f"{base}_{self.names[base] - 1}"

    def walk(self, jaxpr: Any, in_flags: Sequence[bool], mult: int, prefix: str = "") -> _Items:
        """Items of ``jaxpr`` run ``mult`` times; ``in_flags[i]``: invar i derives only from parameters."""
        env: dict[Any, bool] = {v: True for v in jaxpr.constvars}
        env.update(zip(jaxpr.invars, in_flags))

        def flag(v: Any) -> bool:
            return True if type(v).__name__ == "Literal" else env.get(v, False)

        items: _Items = []
        for eqn in jaxpr.eqns:
            flags = [flag(v) for v in eqn.invars]
            items += self._eqn(eqn, flags, mult, prefix)
            for v in eqn.outvars:
                env[v] = all(flags)
        return items

    def _eqn(self, eqn: Any, flags: list[bool], mult: int, prefix: str) -> _Items:
        prim, params = eqn.primitive.name, eqn.params
        if prim == "dot_general":
            layer = self._dot(eqn, flags, prefix)
            return [(layer, mult)] if layer is not None else []
        if prim == "conv_general_dilated":
            layer = self._conv(eqn, prefix)
            return [(layer, mult)] if layer is not None else []
        inner = _scope(prefix, eqn)
        if prim == "scan":
            nc, ncar = params["num_consts"], params["num_carry"]
            sub_flags = flags[:nc] + [False] * ncar + flags[nc + ncar :]
            items = self.walk(params["jaxpr"].jaxpr, sub_flags, mult * params["length"], inner)
            if items:
                self.notes[_NOTE_SCAN] = None
            return items
        if prim == "cond":
            options = [self.walk(b.jaxpr, flags[1:], mult, inner) for b in params["branches"]]
            if len({_macs(o) for o in options}) > 1:
                self.notes[_NOTE_COND] = None
            return max(options, key=_macs)
        if prim == "while":
            cn, bn = params["cond_nconsts"], params["body_nconsts"]
            carry = [False] * (len(flags) - cn - bn)
            items = self.walk(params["body_jaxpr"].jaxpr, flags[cn : cn + bn] + carry, mult, inner)
            items += self.walk(params["cond_jaxpr"].jaxpr, flags[:cn] + carry, mult, inner)
            if items:
                self.notes[_NOTE_WHILE] = None
            return items
        if prim in _UNSUPPORTED_MAC_PRIMS:
            self.skipped[prim] += mult
            return []
        items = []
        for sub in _subjaxprs(params):
            sub_flags = flags if len(sub.invars) == len(flags) else [False] * len(sub.invars)
            got = self.walk(sub, sub_flags, mult, inner)
            if got and prim not in _INLINE:
                self.notes[f"The body of '{prim}' was walked once (its trip count or sharding is not applied)."] = None
            items += got
        return items

    def _dot(self, eqn: Any, flags: list[bool], prefix: str) -> Layer | None:
        (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
        ls, rs = eqn.invars[0].aval.shape, eqn.invars[1].aval.shape
        groups = math.prod(ls[i] for i in lb)
        reduction = math.prod(ls[i] for i in lc)
        rows = math.prod(d for i, d in enumerate(ls) if i not in lc and i not in lb)
        cols = math.prod(d for i, d in enumerate(rs) if i not in rc and i not in rb)
        if 0 in (groups, reduction, rows, cols):
            return None
        lw, rw = flags[0], flags[1]
        if lw and not rw:  # the parameter plays the weights operand (indexed by G, K, C)
            rows, cols = cols, rows
        kind = "linear" if lw or rw else "matmul"
        name = self._name(prefix, eqn, "dot_general")
        return gemm_layer(name, groups=groups, rows=rows, reduction=reduction, cols=cols, kind=kind)

    def _conv(self, eqn: Any, prefix: str) -> Layer | None:
        p = eqn.params
        dn = p["dimension_numbers"]
        out = eqn.outvars[0].aval.shape
        rs = eqn.invars[1].aval.shape
        if 0 in out or 0 in rs:
            return None
        groups = p["feature_group_count"] * p["batch_group_count"]
        if any(d != 1 for d in p["lhs_dilation"]):
            self.notes[_NOTE_TRANSPOSED] = None
        layer, folded = conv_layer(
            self._name(prefix, eqn, "conv_general_dilated"),
            batch=out[dn.out_spec[0]],
            groups=groups,
            out_per_group=out[dn.out_spec[1]] // groups,
            in_per_group=rs[dn.rhs_spec[1]],
            out_spatial=[out[d] for d in dn.out_spec[2:]],
            kernel=[rs[d] for d in dn.rhs_spec[2:]],
            strides=p["window_strides"],
            dilations=p["rhs_dilation"],
        )
        if folded:
            self.notes[FOLDED_SPATIAL_NOTE] = None
        return layer


def _trace(fn: Callable[..., Any], args: tuple, n_param_leaves: int, name: str, what: str) -> Network:
    """Trace ``fn(*args)``; the first ``n_param_leaves`` flattened inputs are parameters."""
    closed = jax.make_jaxpr(fn)(*args)
    n_in = len(closed.jaxpr.invars)
    flags = [i < n_param_leaves for i in range(n_in)]
    walker = _Walker()
    items = walker.walk(closed.jaxpr, flags, 1)
    notes = [f"Traced from {what} with jax.make_jaxpr.", *walker.notes]
    if walker.skipped:
        msg = "Skipped primitives with MACs (not counted): " + ", ".join(
            f"{p} x{c}" for p, c in sorted(walker.skipped.items())
        )
        notes.append(msg + ".")
        warnings.warn(f"{name}: {msg}", UserWarning, stacklevel=3)
    notes.append(NOT_MODELLED)
    return finish(name, items, notes, what, "conv_general_dilated or dot_general")


def from_jax(fn: Callable[..., Any], *example_args: Any, name: str = "jax_model") -> Network:
    """Import the convolutions and matrix products of ``fn(*example_args)``.

    Args:
        fn: A JAX-traceable function.
        *example_args: Arguments (arrays, pytrees or ``jax.ShapeDtypeStruct``)
            fixing the traced shapes, batch included.
        name: Network name.

    Returns:
        A Network; identical layer shapes are merged into counts. Arrays
        closed over by ``fn`` count as parameters (``linear`` layers); its
        arguments count as activations.

    Raises:
        TypeError: ``fn`` is not callable.
        WorkloadError: The trace has no ``conv_general_dilated`` or ``dot_general``.
    """
    if not callable(fn):
        raise TypeError(f"from_jax: field 'fn' expected a callable, found {type(fn).__name__}")
    what = f"jax function {getattr(fn, '__name__', type(fn).__name__)!r}"
    return _trace(fn, example_args, 0, name, what)


def from_flax(
    module: Any, *example_args: Any, params: Any = None, name: str | None = None, **apply_kwargs: Any
) -> Network:
    """Import a Flax module's convolutions and matrix products.

    Linen modules are traced through ``module.apply(variables, *example_args,
    **apply_kwargs)``; without ``params`` the variables come from
    ``module.init(jax.random.PRNGKey(0), *example_args, **apply_kwargs)``
    (abstractly, via ``jax.eval_shape``). NNX modules (no ``apply``) are
    traced by calling them; their state counts as parameters.

    Args:
        module: A ``flax.linen.Module`` or a ``flax.nnx.Module``.
        *example_args: Inputs fixing the traced shapes, batch included.
        params: Linen variables as ``module.init`` returns them
            (``{"params": ...}``), or the bare params collection.
        name: Network name; defaults to the module's class name.
        **apply_kwargs: Passed to ``module.apply`` (and ``init``), e.g.
            ``train=False`` or ``mutable=["batch_stats"]``.

    Raises:
        TypeError: ``module`` is not a Flax module, or ``params`` is given for an NNX module.
        WorkloadError: The trace has no ``conv_general_dilated`` or ``dot_general``.
    """
    name = name if name is not None else type(module).__name__
    what = f"flax module {type(module).__name__!r}"
    if hasattr(module, "apply") and hasattr(module, "init"):  # linen
        if params is None:
            params = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), *example_args, **apply_kwargs))
        variables = params if isinstance(params, Mapping) and "params" in params else {"params": params}

        def apply(v: Any, *a: Any) -> Any:
            return module.apply(v, *a, **apply_kwargs)

        n_leaves = len(jax.tree_util.tree_leaves(variables))
        return _trace(apply, (variables, *example_args), n_leaves, name, what)
    from flax import nnx

    if isinstance(module, nnx.Module):  # its state is closed over, hence constants = parameters
        if params is not None or apply_kwargs:
            given = "params" if params is not None else f"apply kwargs {sorted(apply_kwargs)}"
            raise TypeError(f"from_flax: field '{given}' expected nothing for an NNX module (its state is used)")
        return _trace(lambda *a: module(*a), example_args, 0, name, what)
    found = type(module).__name__
    raise TypeError(f"from_flax: field 'module' expected a flax.linen or flax.nnx Module, found {found}")
