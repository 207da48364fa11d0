"""``jit`` with the cost model's compiler options (use it for anything that calls the model).

XLA:CPU (jaxlib 0.10) hands reductions to YNNPACK "library fusions" by
default (``xla_cpu_experimental_ynn_fusion_type``). The cost model is
made of many small reductions over short axes (levels, dims, operands,
coordinates) of a large batch, and each one run as a library fusion costs
about 1 ns per element, where XLA's own loop fusion vectorises it.
Measured by ``benchmarks/model_speed.py`` on the 2-core development machine
(ResNet-50 conv3_x 3x3 on ``explainable_default``, batch 65,536): 0.97M
exact evaluations/s with the library fusions off against 0.27M with them
on, the same numbers either way (``tests/costmodels/test_compile.py``).

``jit(f, ...)`` is ``jax.jit(f, ..., compiler_options=...)`` with the
library fusions off when the default backend is the CPU and the installed
jaxlib knows the option (probed once with a one-line program; older
jaxlibs have no such fusions and get no option). The choice is made at the
first call, not at import, so ``XLA_FLAGS`` or ``jax.config`` settings made
after ``import costmodels`` still count. Code of your own that jits the
model gets the same speed with ``compiler_options=costmodels.compiler_options()``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

CPU_COMPILER_OPTIONS: dict[str, str] = {"xla_cpu_experimental_ynn_fusion_type": ""}
"""No YNNPACK library fusions on the CPU (the empty list of fusion kinds)."""


@functools.cache
def _cpu_options_known() -> bool:
    """Whether this jaxlib accepts ``CPU_COMPILER_OPTIONS`` (compiles a one-line program with them)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_COMPILER_OPTIONS).lower(jnp.zeros(2)).compile()
    except Exception:  # noqa: BLE001 - any refusal means the option is unknown here
        return False
    return True


def compiler_options() -> dict[str, str]:
    """The options ``jit`` passes: ``CPU_COMPILER_OPTIONS`` on a CPU backend that knows them, else none."""
    if jax.default_backend() != "cpu" or not _cpu_options_known():
        return {}
    return dict(CPU_COMPILER_OPTIONS)


class _LazyJit:
    """A ``jax.jit`` made at its first use (call or attribute), with ``compiler_options()``."""

    def __init__(self, fun: Callable, kwargs: dict[str, Any]):
        self._fun, self._kwargs, self._jitted = fun, kwargs, None
        functools.update_wrapper(self, fun)

    def _get(self):
        if self._jitted is None:
            kw = dict(self._kwargs)
            options = {**compiler_options(), **(kw.pop("compiler_options", None) or {})}
            self._jitted = jax.jit(self._fun, compiler_options=options or None, **kw)
        return self._jitted

    def __call__(self, *args, **kwargs):
        return self._get()(*args, **kwargs)

    def __getattr__(self, name):  # lower, trace, eval_shape, clear_cache ...
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._get(), name)


def jit(fun: Callable | None = None, **kwargs):
    """``jax.jit`` with the cost model's compiler options; also a decorator (``@jit(static_argnames=...)``)."""
    if fun is None:
        return functools.partial(jit, **kwargs)
    return _LazyJit(fun, kwargs)
