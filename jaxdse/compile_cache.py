"""Less waiting for XLA: a persistent compilation cache, and compiling in the background.

Much of a short command's wall time is compiling the cost model, the
mapper and the explorers' relaxed losses (README, "Performance": about 25 s
of the first 55 s ResNet-50 codesign run on 2 cores; 38 s once cached).
JAX can keep compiled executables on disk (``jax_compilation_cache_dir``,
https://docs.jax.dev/en/latest/persistent_compilation_cache.html); the
command line turns that on by default, library users call
``enable_compile_cache()`` (a notebook, a research script) or leave JAX's
settings alone.

``compile_in_background(*lowered)`` compiles computations the caller has
lowered (traced) in a daemon thread: the explorers compile their relaxed
losses while the mapper (on the main thread) compiles and maps the first
design, so the two compiles share the cores instead of queueing.

Where the cache lives: ``$JAXDSE_COMPILE_CACHE`` if set (``off`` disables it), else
``$XDG_CACHE_HOME/jaxdse/xla`` or ``~/.cache/jaxdse/xla``. A folder that
cannot be created means no cache, not an error: the run is only slower.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import jax

ENV = "JAXDSE_COMPILE_CACHE"
MIN_COMPILE_S = 0.5
"""Only executables that took this long to compile are stored (JAX's default
of 1 s would leave out most of the mapper's pieces); ``$JAXDSE_COMPILE_CACHE_MIN_S``
overrides it (0: store every executable, as the cache's own test does, so
what is stored does not depend on how busy the machine was)."""
MIN_ENV = "JAXDSE_COMPILE_CACHE_MIN_S"


def _min_compile_s() -> float:
    v = os.environ.get(MIN_ENV, "")
    try:
        return max(0.0, float(v)) if v.strip() else MIN_COMPILE_S
    except ValueError:
        return MIN_COMPILE_S


def compile_cache_dir() -> Path | None:
    """The cache folder this process would use (None: disabled by ``$JAXDSE_COMPILE_CACHE``)."""
    v = os.environ.get(ENV)
    if v is not None:
        return None if v.strip().lower() in ("", "0", "off", "no", "none", "false") else Path(v).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "jaxdse" / "xla"


def enable_compile_cache(path: str | Path | None = None) -> Path | None:
    """Store and reuse compiled executables in ``path`` (default ``compile_cache_dir()``).

    Call before the first computation of the process. A cache folder the
    user already gave JAX (``jax_compilation_cache_dir``) is kept.

    Returns:
        The folder in use, or None when the cache is off or the folder
        cannot be created.
    """
    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    folder = compile_cache_dir() if path is None else Path(path).expanduser()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", _min_compile_s())
    return folder


def compile_in_background(*lowered) -> threading.Thread:
    """Compile computations already lowered (``jitted.lower(*args)``) in a daemon thread.

    Lower with the shapes and static arguments of a later real call: the real
    call traces again but finds the executable compiled (JAX keeps compiled
    computations keyed by their lowering), so XLA's compile, the slow part,
    overlaps the caller's own work. Only the compile runs in the thread:
    tracing the model in two threads at once is not safe here (jax 0.10.2:
    ``StoreException: Store occupied`` from ``jnp.logaddexp``'s custom JVP, then
    an abort, when the gradient explorer's loss was traced beside the mapper's;
    seen in ``tests/jaxdse/test_explore.py`` on a busy machine). A failure here
    is ignored: the real call raises it where it can be reported.
    """

    def run() -> None:
        for lo in lowered:
            try:
                lo.compile()
            except Exception:  # noqa: BLE001 - the real call reports it
                pass

    t = threading.Thread(target=run, name="compile in background", daemon=True)
    t.start()
    return t


__all__ = ["ENV", "compile_cache_dir", "compile_in_background", "enable_compile_cache"]
