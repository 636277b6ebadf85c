"""The minimize loop: one driver for every rule, in nopython mode or in Python.

``drive`` is compiled with the user's ``@njit`` functions and an evaluator
as first-class function arguments, so the whole loop
(evaluations, update, stopping tests, history) runs in one nopython call.
For plain Python functions the very same source runs interpreted
(``drive.py_func``), calling the same compiled kernels: one loop, one truth.

Specialisations: one copy of the loop per update rule (:func:`driver_for`,
with the rule's serial ``apply`` bound into it), compiled once per
(evaluator, fun, jac, dtype, args types). Options, tolerances and schedules
are runtime values, so changing them recompiles nothing.

Caching: functions that take the user's function are compiled with
``cache=False``: the numba type of a function argument is tied to the
dispatcher object, so an on-disk entry never matches in a new process and
every run would add a dead entry to the cache (numba issues 2956, 4534).
Everything they call (the rule dispatch, kernels, schedules) is cached.

``fastmath=False`` here: the loop's few scalar operations (the Armijo test,
the stopping tests) then round exactly like the Python path.
"""

import math

import numpy as np

from .._numba import jit
from .._specialize import specialize
from ..kernels.clip import _sum_of_squares_1
from ..schedules import schedule_value

# status codes, as in scipy: 0 is success, 99 is a callback stop
RUNNING = -1            # paused so that Python can run the callback
GTOL = 0
MAXITER = 1
FTOL = 2
DIVERGED = 3
LINE_SEARCH_FAILED = 4
CALLBACK = 99

ARMIJO_C1 = 1e-4        # sufficient decrease: f(x - a g) <= f(x) - c1 a |g|^2
BACKTRACK = 0.5         # the step is halved until then
MAX_BACKTRACKS = 60     # at most lr * 2**-59: below rounding for any sensible lr

# what an evaluator computes; numpy ints, not Python ints, which numba would pass as
# literals and compile the evaluator once for each value
F, G, FG = np.int64(1), np.int64(2), np.int64(3)


@jit
def copy_into(dst, src):
    """dst[:] = src, as a loop: numba's slice assignment costs ~0.7 s of compile time each."""
    n = dst.size
    if src.size != n:
        raise ValueError("the gradient changed size during the run")
    for i in range(n):
        dst[i] = src[i]


# The gradient norm and the finiteness test of x are serial sums of squares, not the
# parallel kernels of fastgd.kernels.clip: a parallel region per iteration costs more
# than a small problem's whole iteration, and every parallel kernel linked into the
# driver adds to its compile time (0.6 s of 2 s for sum_of_squares and all_finite).
sum_of_squares = _sum_of_squares_1     # sum(x**2) accumulated in float64, serial


@jit(cache=False, fastmath=False)
def eval_separate(fun, jac, args, x, g, what):
    """jac is a callable: f = fun(x), g = jac(x)."""
    f = np.nan
    if what & F:
        f = np.float64(fun(x, *args))
    if what & G:
        copy_into(g, np.asarray(jac(x, *args)))  # asarray: a list from Python
    return f


@jit(cache=False, fastmath=False)
def eval_combined(fun, jac, args, x, g, what):
    """jac=True: fun returns (f, g); both are always computed."""
    f, grad = fun(x, *args)
    copy_into(g, np.asarray(grad))
    return np.float64(f)


@jit(cache=False, fastmath=False)
def eval_numeric(fun, fd, args, x, g, what):
    """jac=None: g by central differences, ``fd(fun, args, x, g)``."""
    f = np.nan
    if what & F:
        f = np.float64(fun(x, *args))
    if what & G:
        fd(fun, args, x, g)
    return f


def drive(evaluate, fun, jac, args, x, g, s, sc, h, spec, hist, counts, combined, grad_fevals,
          line_search, maxiter, gtol, ftol, max_growth, pause_at):
    r"""Run the minimize loop from iterate k = ``counts[0]``; return a status code.

    On entry ``hist[k]`` is f(x_k) and ``g`` its gradient; ``counts`` is
    [k, nfev, njev] and is updated. Each iteration, on iterate x_k:

    1. stop (FTOL) if k > 0 and |f_{k-1} - f_k| <= ftol max(|f_{k-1}|, |f_k|, 1), ftol > 0;
    2. stop (GTOL) if |g_k|_2 <= gtol; (MAXITER) if k = maxiter;
    3. x_{k+1} = the rule's update of x_k with g_k and lr_k = schedule_value(spec, k)
       (the rule's serial ``apply``, on the packed optimizer state ``s``,
       ``sc`` and hyperparameters ``h``); with
       ``line_search`` (plain gradient descent only) the step a starts at
       lr_k and is halved until f(x_k - a g_k) <= f_k - c1 a |g_k|^2
       (Armijo; LINE_SEARCH_FAILED after MAX_BACKTRACKS tries);
    4. stop (DIVERGED) if f_{k+1} is NaN/inf, |x_{k+1}|^2 is NaN/inf, or
       f_{k+1} > f_0 + max_growth max(1, |f_0|): x stays x_k, and
       ``hist[k + 1]`` keeps the value that stopped the run;
    5. pause (RUNNING) when k + 1 reaches ``pause_at``, for a callback.

    Each update steps a copy of x_k, so x_k survives a rejected or divergent
    step without a restore; the two buffers swap roles on acceptance.
    """
    x_cur, x_new = x, np.empty_like(x)
    g_cur, g_new = g, np.empty_like(g)
    swapped = False
    k = counts[0]
    f0 = hist[0]
    limit = f0 + max_growth * max(1.0, abs(f0))
    while True:
        f = hist[k]
        if ftol > 0.0 and k > 0:
            f_last = hist[k - 1]
            if abs(f_last - f) <= ftol * max(abs(f_last), abs(f), 1.0):
                status = FTOL
                break
        slope = sum_of_squares(g_cur)
        if math.sqrt(slope) <= gtol:
            status = GTOL
            break
        if k >= maxiter:
            status = MAXITER
            break
        lr = schedule_value(spec, k)
        if line_search:
            a = lr
            accepted = False
            for _ in range(MAX_BACKTRACKS):
                copy_into(x_new, x_cur)
                apply(x_new, g_cur, s, sc, k + 1, a, h)  # noqa: F821 (bound per rule)
                f_new = evaluate(fun, jac, args, x_new, g_new, F)
                counts[1] += 1
                if f_new <= f - ARMIJO_C1 * a * slope:
                    accepted = True
                    break
                a *= BACKTRACK
            if not accepted:
                status = LINE_SEARCH_FAILED
                break
            if not combined:  # a combined evaluation brought the gradient already
                evaluate(fun, jac, args, x_new, g_new, G)
                counts[1] += grad_fevals
        else:
            copy_into(x_new, x_cur)
            apply(x_new, g_cur, s, sc, k + 1, lr, h)  # noqa: F821
            f_new = evaluate(fun, jac, args, x_new, g_new, FG)
            counts[1] += 1 + grad_fevals
        counts[2] += 1
        hist[k + 1] = f_new
        # one reduction tests x for NaN/inf (and for |x|^2 overflowing, divergence too)
        if not (np.isfinite(f_new) and f_new <= limit and np.isfinite(sum_of_squares(x_new))):
            status = DIVERGED
            break
        x_cur, x_new = x_new, x_cur
        g_cur, g_new = g_new, g_cur
        swapped = not swapped
        k += 1
        if k >= pause_at:
            status = RUNNING
            break
    if swapped:  # the caller's arrays hold the result
        copy_into(x, x_cur)
        copy_into(g, g_cur)
    counts[0] = k
    return status


_DRIVERS = {}


def driver_for(rule):
    """The minimize loop :func:`drive` for one update rule (a :class:`fastgd.kernels.Rule`)."""
    if rule.name not in _DRIVERS:
        _DRIVERS[rule.name] = specialize(drive, apply=rule.apply,
                                         jit_options={"cache": False, "fastmath": False})
    return _DRIVERS[rule.name]
