"""Every parallel kernel opens parallel regions only where its source says ``prange``.

In a function compiled with ``parallel=True`` numba also turns ``np.zeros``,
``np.ones``, array expressions and reductions such as ``a.sum()`` into
parallel loops of their own. Such a function then wakes the thread pool on
every call, even when none of its ``prange`` loops runs. Until 2026-11-25 the
fused epoch did this with one ``np.zeros``: with OpenMP's default wait
policy the idle pool then spun through every call and starved the thread
that gathers shuffled rows (a shuffled epoch took 0.15 s instead of 0.09 s).

This test runs a small workload that calls every parallel kernel and
compares each kernel's parallel loops with the ``prange`` loops in its
source. numba keeps the loops it found (``parfor_diagnostics``) with what it
compiled in this process, not with what it loaded from the cache: a kernel
loaded from the cache is compiled again, without it.
"""

import inspect
import sys

import numpy as np
from numba import njit
from numba.core.registry import CPUDispatcher

import fastgd
from fastgd.engine.epoch import _CACHE as EPOCHS
from fastgd.losses._rows import _SUMS


def _workload():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 5))
    y = (X[:, 0] > 0).astype(float)
    fastgd.LogisticRegression(batch_size=32, max_epochs=2, tol=None, random_state=0).fit(X, y)
    fastgd.LogisticRegression(batch_size=None, max_epochs=2, tol=None).fit(X, y)
    fastgd.LinearRegression(batch_size=16, max_epochs=1, tol=None).fit(X, X[:, 1])
    fastgd.MLPClassifier(hidden_layer_sizes=(4,), batch_size=64, max_epochs=1, tol=None,
                         random_state=0).fit(X, np.arange(600) % 3)
    w = np.zeros(3)
    # every rule's step kernel is one template (fastgd.kernels.rule) with serial pieces
    # bound into it, and only code compiled parallel grows hidden regions: one rule is
    # enough, and one with a reduction stage (its branch is compiled only for such rules)
    fastgd.Adam(w, clip_norm=1.0, clip_value=1.0, skip_nonfinite=True).step(np.ones(3))
    fastgd.Prodigy(np.zeros(3)).step(np.ones(3))
    fastgd.numerical_gradient(_square, np.ones(3))
    fastgd.losses.multi_squared_error(np.zeros(12), X, np.zeros((600, 2)))


@njit
def _square(x):
    return (x * x).sum()


def _parallel_dispatchers():
    seen = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("fastgd"):
            continue
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher) and obj.targetoptions.get("parallel"):
                seen[id(obj)] = obj
    for entry in EPOCHS.values():
        seen[id(entry[2])] = entry[2]
    for entry in _SUMS.values():
        seen[id(entry[1])] = entry[1]
    return [d for d in seen.values() if d.signatures]


def _diagnostics(kernel, sig):
    """numba's parfor diagnostics of ``kernel`` at ``sig``: kept if this process compiled it."""
    metadata = kernel.get_metadata(sig)  # None when the kernel was loaded from the cache
    return metadata.get("parfor_diagnostics") if metadata else None


def _one_per_shape(kernels):
    """One kernel per template and parallel flags: the specialised copies of a template (an
    epoch per rule and loss, a step per rule) differ only in the serial pieces bound into
    them, and only parallel code grows hidden regions. In a whole test run the earlier tests
    have compiled dozens of such copies; recompiling each took three minutes."""
    seen = {}
    # one this process compiled first: its diagnostics need no second compile
    for kernel in sorted(kernels, key=lambda k: _diagnostics(k, k.signatures[0]) is None):
        flags = kernel.py_func.__globals__
        key = (inspect.getsource(kernel.py_func), flags.get("PARALLEL_GRAD"),
               flags.get("PARALLEL_UPDATE"), bool(flags.get("N_SUMS")))
        seen.setdefault(key, kernel)
    return list(seen.values())


def test_parallel_loops_are_the_pranges():
    _workload()
    # the epoch's parallel paths, so that each prange of the epoch runs in some variant
    X = np.random.default_rng(0).standard_normal((3000, 60))
    fastgd.LogisticRegression(batch_size=None, max_epochs=1, tol=None).fit(X, X[:, 0] > 0)
    wide = np.ascontiguousarray(X[:20, :20].repeat(7000, axis=1))   # 140,000 coefficients
    fastgd.LinearRegression(max_epochs=1, tol=None, batch_size=4).fit(wide, X[:20, 0])
    kernels = _parallel_dispatchers()
    assert len(kernels) >= 10, [k.py_func.__qualname__ for k in kernels]
    wrong = []
    for kernel in _one_per_shape(kernels):
        sig = kernel.signatures[0]
        diagnostics = _diagnostics(kernel, sig)
        if diagnostics is None:
            options = dict(kernel.targetoptions, cache=False)
            options.pop("nopython", None)
            fresh = njit(**options)(kernel.py_func)
            fresh.compile(sig)
            diagnostics = _diagnostics(fresh, sig)
        loops = len(getattr(diagnostics, "initial_parfors", ()))  # none found: no attribute
        pranges = inspect.getsource(kernel.py_func).count("prange(")
        flags = kernel.py_func.__globals__
        sums = bool(flags.get("N_SUMS"))  # a rule with a reduction stage: its prange too
        if "PARALLEL_GRAD" in flags:  # an epoch compiled for some of its parallel paths
            pranges = int(flags["PARALLEL_GRAD"]) + int(flags["PARALLEL_UPDATE"]) * (1 + sums)
        elif "N_SUMS" in flags:  # a step: the two pranges over a segment's chunks (the
            pranges = 2 if sums else 1   # reduction stage, then the loop), or the loop's one
        if loops != pranges:
            wrong.append(f"{kernel.py_func.__qualname__}: {loops} parallel loops, "
                         f"{pranges} prange")
    assert not wrong, wrong
