"""One-output linear models: z = x . W + b and a per-row loss chosen by ``hyper[4]``.

Every one-output loss shares one row loop, :func:`linear_rows`, in two
compiled forms: the generic one picks the per-row loss by ``hyper[4]``, with
a branch once per block of rows (the loss kernels of :mod:`fastgd.losses`
take it), and :func:`linear_rows_of` compiles it for one per-row loss (the
estimators train with it: a first ``LogisticRegression`` fit compiles the
logistic loss, not all nine: 9.2-10.0 s against 11.9-12.3 s with an empty
numba cache on 2 cores, 2026-12-02).

    L(w) = (1/n) sum_i s_i l(y_i, x_i . W + b) + alpha_2/2 ||W||^2 + alpha_1 ||W||_1
    dL/dW = (1/n) sum_i s_i l'(y_i, z_i) x_i + alpha_2 W + alpha_1 sign(W),
    dL/db = (1/n) sum_i s_i l'(y_i, z_i)

With r = z - y, m = y z and e = ``hyper[3]`` (Huber's delta, or epsilon):

==============  ==============================  ======================  ========
kind            l(y, z)                         l'(y, z)                y
==============  ==============================  ======================  ========
SQUARED         r^2 / 2                         r                       real
HUBER           r^2/2 or e (|r| - e/2)          clip(r, +-e)            real
LOGISTIC        log(1 + e^z) - y z              sigmoid(z) - y          {0, 1}
HINGE           max(0, 1 - m)                   -y if m < 1             {-1, +1}
SQUARED_HINGE   max(0, 1 - m)^2                 -2 y max(0, 1 - m)      {-1, +1}
MODIFIED_HUBER  max(0, 1 - m)^2, -4 m if m < -1 -2 y max(0, 1 - m), -4y {-1, +1}
EPS_INSENS      max(0, |r| - e)                 sign(r) if |r| > e      real
SQ_EPS_INSENS   max(0, |r| - e)^2               2 sign(r) max(0, |r|-e) real
POISSON         e^z - y z                       e^z - y                 >= 0
==============  ==============================  ======================  ========

(EPS_INSENS and SQ_EPS_INSENS are ``EPSILON_INSENSITIVE`` and
``SQUARED_EPSILON_INSENSITIVE``.) Each per-row loss's docstring says where
it differs from scikit-learn's.
"""

import numpy as np

from .._numba import cast_like, jit, prefetch_row
from .._specialize import specialize
from ._rows import EXTRA, KIND, N_INTERCEPTS, objective_kernel
from .hinge import hinge_pointwise, modified_huber_pointwise, squared_hinge_pointwise
from .logistic import logistic_block
from .poisson import poisson_pointwise
from .squared import (epsilon_insensitive_pointwise, huber_pointwise,
                      squared_epsilon_insensitive_pointwise, squared_pointwise)

(SQUARED, HUBER, LOGISTIC, HINGE, SQUARED_HINGE, MODIFIED_HUBER, EPSILON_INSENSITIVE,
 SQUARED_EPSILON_INSENSITIVE, POISSON) = range(9)
ANY_KIND = -1
ROWS_KIND = ANY_KIND  # linear_rows reads the kind from hyper; linear_rows_of binds one


@jit
def pointwise_block(kind, z, y, sw, start, m, param, loss, dz):
    """loss[k] = s l(y, z[k]) and dz[k] = s dl/dz for k < m, y = y[start + k], s = sw[start + k] or 1.

    One loop per kind, with the branch on ``kind`` outside the loops, so that
    each loop can vectorise (float64, 8 lanes with AVX-512): a loop with
    that branch inside would not.
    """
    if kind == LOGISTIC:
        logistic_block(z, y, start, m, loss, dz)
    elif kind == SQUARED:
        for k in range(m):
            loss[k], dz[k] = squared_pointwise(z[k], np.float64(y[start + k]), param)
    elif kind == HUBER:
        for k in range(m):
            loss[k], dz[k] = huber_pointwise(z[k], np.float64(y[start + k]), param)
    elif kind == HINGE:
        for k in range(m):
            loss[k], dz[k] = hinge_pointwise(z[k], np.float64(y[start + k]), param)
    elif kind == SQUARED_HINGE:
        for k in range(m):
            loss[k], dz[k] = squared_hinge_pointwise(z[k], np.float64(y[start + k]), param)
    elif kind == MODIFIED_HUBER:
        for k in range(m):
            loss[k], dz[k] = modified_huber_pointwise(z[k], np.float64(y[start + k]), param)
    elif kind == EPSILON_INSENSITIVE:
        for k in range(m):
            loss[k], dz[k] = epsilon_insensitive_pointwise(z[k], np.float64(y[start + k]), param)
    elif kind == SQUARED_EPSILON_INSENSITIVE:
        for k in range(m):
            loss[k], dz[k] = squared_epsilon_insensitive_pointwise(
                z[k], np.float64(y[start + k]), param)
    else:
        for k in range(m):
            loss[k], dz[k] = poisson_pointwise(z[k], np.float64(y[start + k]), param)
    weigh(sw, start, m, loss, dz)


@jit
def weigh(sw, start, m, loss, dz):
    """loss[k] and dz[k] times the sample weight sw[start + k], k < m (none when sw is empty)."""
    if sw.size > 0:
        for k in range(m):
            s = np.float64(sw[start + k])
            loss[k] *= s
            dz[k] *= s


#: the per-row function of each kind but LOGISTIC (whose loop is :func:`logistic_block`)
POINTWISE = {SQUARED: squared_pointwise, HUBER: huber_pointwise, HINGE: hinge_pointwise,
             SQUARED_HINGE: squared_hinge_pointwise, MODIFIED_HUBER: modified_huber_pointwise,
             EPSILON_INSENSITIVE: epsilon_insensitive_pointwise,
             SQUARED_EPSILON_INSENSITIVE: squared_epsilon_insensitive_pointwise,
             POISSON: poisson_pointwise}


def _one_kind_block(kind, z, y, sw, start, m, param, loss, dz):
    # pointwise_block for the one kind bound by specialize (IS_LOGISTIC, pointwise)
    if IS_LOGISTIC:  # noqa: F821
        logistic_block(z, y, start, m, loss, dz)
    else:
        for k in range(m):
            loss[k], dz[k] = pointwise(z[k], np.float64(y[start + k]), param)  # noqa: F821
    weigh(sw, start, m, loss, dz)


# Rows go in blocks: the logits of the block, then its per-row losses in one
# loop, then the gradient terms. The logistic loss takes blocks of BLOCK rows:
# its loop vectorises only from 32 rows (LLVM's vector loop at AVX-512 width
# takes 8 float64 lanes, interleaved 4 times), and ran scalar at 16. The
# others take FLUSH rows, so a block stays in L1 cache between its passes:
# with 64-row blocks, the squared loss over 1M x 100 float32 rows took 1.3x
# the time of one read of X, with 16 rows 1.1x (2026-11-25).
BLOCK = 64
# rows whose gradient terms are summed in X's dtype before joining the float64 sum
FLUSH = 16


@jit
def block_logits(w, X, lo, m, b, z):
    """z[k] = x . W + b for the rows x = X[lo + k], k < m, summed in X's dtype.

    Four rows per pass over W: each load of W serves four rows, and the four
    horizontal sums and loop tails overlap (100 features, float32: 6.2 ns a
    row against 7.9 ns one row at a time, 2026-11-25).

    Each pass also prefetches the four rows ``BLOCK`` rows ahead, past the
    end of X too (the next batch usually follows in memory; a prefetch never
    faults). The hardware prefetcher alone falls behind, because the passes
    over the losses and the gradient terms read no new memory: streaming
    1M x 100 float32 rows took 26 ns a row with it, 35-38 ns without.
    """
    d = X.shape[1]
    zero = cast_like(0.0, X)
    k = 0
    while k + 4 <= m:
        x0, x1, x2, x3 = X[lo + k], X[lo + k + 1], X[lo + k + 2], X[lo + k + 3]
        a0 = a1 = a2 = a3 = zero
        for q in range(lo + k + BLOCK, lo + k + BLOCK + 4):
            prefetch_row(X, q)
        for j in range(d):
            wj = w[j]
            a0 += x0[j] * wj
            a1 += x1[j] * wj
            a2 += x2[j] * wj
            a3 += x3[j] * wj
        z[k] = np.float64(a0) + b
        z[k + 1] = np.float64(a1) + b
        z[k + 2] = np.float64(a2) + b
        z[k + 3] = np.float64(a3) + b
        k += 4
    while k < m:
        x = X[lo + k]
        a = zero
        for j in range(d):
            a += x[j] * w[j]
        z[k] = np.float64(a) + b
        k += 1


@jit
def block_terms(X, lo, m, r, local, g):
    """g[:d] += sum_k r[k] X[lo + k] over k < m (r in X's dtype).

    The terms are summed in X's dtype in ``local`` (zero on entry and on
    return), four rows per pass over it, and added to the float64 ``g``
    every ``FLUSH`` rows: float32 rounding covers 16 terms, not the sum.
    """
    d = X.shape[1]
    zero = cast_like(0.0, X)
    for f in range(0, m, FLUSH):
        e = min(m, f + FLUSH)
        k = f
        while k + 4 <= e:
            x0, x1, x2, x3 = X[lo + k], X[lo + k + 1], X[lo + k + 2], X[lo + k + 3]
            r0, r1, r2, r3 = r[k], r[k + 1], r[k + 2], r[k + 3]
            for j in range(d):
                local[j] += (r0 * x0[j] + r1 * x1[j]) + (r2 * x2[j] + r3 * x3[j])
            k += 4
        while k < e:
            x = X[lo + k]
            rk = r[k]
            for j in range(d):
                local[j] += rk * x[j]
            k += 1
        for j in range(d):
            g[j] += local[j]
            local[j] = zero


@jit
def linear_rows(w, X, y, sw, hyper, g):
    """Serial rows of a one-output linear loss: sum_i s_i l_i; adds sum_i s_i l'_i (x_i, 1) to g.

    Rows go in blocks (``BLOCK`` rows for the logistic loss, ``FLUSH`` for
    the others: see above), in three passes per block: the logits
    (:func:`block_logits`), the per-row losses and derivatives
    (:func:`pointwise_block`, float64), then the gradient terms r_i x_i
    (:func:`block_terms`, in X's dtype: 16 float32 lanes per instruction,
    no conversions). Returns NaN when a logit is NaN or inf.
    """
    n, d = X.shape
    kind = int(hyper[KIND]) if ROWS_KIND == ANY_KIND else ROWS_KIND
    fit_b = hyper[N_INTERCEPTS] != 0.0
    b = np.float64(w[d]) if fit_b else 0.0
    param = hyper[EXTRA]
    local = np.zeros(d, dtype=X.dtype)
    z = np.empty(BLOCK)
    lv = np.empty(BLOCK)                # per-row losses and derivatives, float64
    dzv = np.empty(BLOCK)
    r = np.empty(BLOCK, dtype=X.dtype)  # the derivatives in X's dtype
    total = 0.0
    bad = 0
    rows_per_block = BLOCK if kind == LOGISTIC else FLUSH
    for lo in range(0, n, rows_per_block):
        m = min(n - lo, rows_per_block)
        block_logits(w, X, lo, m, b, z)
        for k in range(m):
            bad += not np.isfinite(z[k])
        pointwise_block(kind, z, y, sw, lo, m, param, lv, dzv)
        for k in range(m):
            total += lv[k]
            r[k] = cast_like(dzv[k], X)
        if fit_b:
            for k in range(m):
                g[d] += dzv[k]
        block_terms(X, lo, m, r, local, g)
    # a NaN or inf logit (NaN or inf in X, or w overflowing) makes the sum NaN, whatever the
    # loss makes of it (the hinge is 0 at y z = inf): the engine stops, and the estimators
    # tell a bad X from a divergence without reading X first
    return total if bad == 0 else np.nan


_OF_KIND = {}


def linear_rows_of(kind):
    """:func:`linear_rows` compiled for the one per-row loss ``kind`` (``hyper[4]`` is then
    not read): what the estimators train with. One dispatcher per kind, made on first use."""
    if kind not in _OF_KIND:
        block = specialize(_one_kind_block, pointwise=POINTWISE.get(kind, logistic_block),
                           IS_LOGISTIC=kind == LOGISTIC)
        _OF_KIND[kind] = specialize(linear_rows.py_func, pointwise_block=block, ROWS_KIND=kind)
    return _OF_KIND[kind]


def is_linear_rows(rows):
    """True for :func:`linear_rows` and its compilations for one kind."""
    return rows is linear_rows or any(rows is r for r in _OF_KIND.values())


linear_kernel = objective_kernel(linear_rows)
linear_kernel.__doc__ = """The parallel loss kernel of :func:`linear_rows` (see the module doc)."""
