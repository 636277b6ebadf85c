"""The loss kernels over sparse rows: X is a :data:`fastgd.sparse.CSR`.

The same losses, with the same meaning, ``rows``/``penalty`` contract and
``hyper`` layout as the dense kernels (:mod:`fastgd.losses._rows`): for row
i with entries x_ip = ``data[p]`` in columns j_p = ``indices[p]``,

    z_i = sum_p x_ip W[j_p] + b,      dL/dW[j] gets s_i l'(y_i, z_i) x_ip for every p with j_p = j

so a row's cost is its number of nonzeros, not d. Duplicate column indices
in a row add up (scipy's meaning) and the order of the indices does not
matter, up to the rounding of the sums. Dot products run in X's dtype
(float32 stays float32, as in the dense kernels); per-row terms and the
gradient accumulate in float64: the gradient terms are scattered straight
into the float64 accumulator, ``g[j_p] += r_i x_ip``.

Offsets and column indices are read as unsigned integers (``np.uint64``),
which ``as_csr`` allows by checking that none is negative.

* :func:`csr_logits` and :func:`csr_scatter`: the two passes over a row
  range that every sparse objective is made of (and that a mini-batch
  engine needs on its own);
* :func:`csr_linear_rows` (squared, Huber, logistic, hinge: the per-row
  losses of :func:`fastgd.losses.linear.pointwise_block`) and
  :func:`csr_softmax_rows` (:func:`fastgd.losses.softmax.softmax_terms`),
  and the same at coefficients ``a * w`` (``*_rows_at``, for the scaling
  trick of :mod:`fastgd.engine.sparse`);
* :data:`csr_linear_kernel` and :data:`csr_softmax_kernel`: the parallel
  loss kernels, ``kernel(w, X, y, sw, hyper, grad) -> loss``, built by
  :func:`fastgd.losses.objective_kernel` with :data:`CSR_LAYOUT`.

The parallel kernels cut the rows into parts with :func:`csr_partition`:
each part's work is about (nnz / n + 1) multiply-adds per row and output,
and a part also zeroes and merges a float64 buffer of w.size entries, so
with many columns the parts are fewer and larger than for dense X.
"""

import numpy as np

from .._numba import CHUNK, cast_like, jit
from ..sparse.csr import csr_n_rows, csr_take_rows
from ._rows import EXTRA, KIND, N_INTERCEPTS, RowLayout, objective_kernel, row_partition
from .linear import BLOCK, pointwise_block
from .softmax import softmax_terms

# What the parts' float64 buffers may take together before page faults count
# (csr_partition): glibc hands a freed block above 32 MB back to the OS, so
# the next call faults it in again. Allocating, zeroing and merging 32 parts of
# 262,145 entries (67 MB) took 62 ms a call, 8 parts (17 MB) 0.6 ms.
BUFFER_BYTES = 32 * 2**20


# Unsigned offsets and indices: with a signed index numba tests every access
# for a negative index (Python's wrap-around), and a sparse dot product over
# 200,000 rows of 40 nonzeros took 38-40 ms that way against 17 ms unsigned
# (scipy's X @ w: 21-23 ms; 2026-12-01, 2 cores under load).
@jit
def csr_logits(X, lo, m, w, b, z):
    """z[k] = x . w + b for the rows x = row lo + k of the CSR X, k < m.

    ``x . w = sum_p data[p] w[indices[p]]`` over the row's entries, summed in
    X's dtype (w has X's dtype and at least X.n_cols entries), then b is
    added in float64. An empty row gives b.
    """
    csr_scaled_logits(X, lo, m, w, 1.0, b, z)


@jit
def csr_scaled_logits(X, lo, m, w, a, b, z):
    """z[k] = a (x . w) + b: :func:`csr_logits` for coefficients a * w (a float64; a = 1 gives
    csr_logits' bits)."""
    data, indices, indptr = X.data, X.indices, X.indptr
    zero = cast_like(0.0, data)
    for k in range(m):
        acc = zero
        for p in range(np.uint64(indptr[lo + k]), np.uint64(indptr[lo + k + 1])):
            acc += data[p] * w[np.uint64(indices[p])]
        z[k] = a * np.float64(acc) + b


@jit
def csr_scatter(X, lo, m, r, g):
    """g[indices[p]] += r[k] * data[p] for the entries p of row lo + k of X, k < m.

    ``g`` is a dense float64 buffer of at least X.n_cols entries and ``r``
    the per-row terms (float64); the products are taken in float64. A row
    with r[k] = 0 is skipped (adding its zeros would change nothing).
    """
    data, indices, indptr = X.data, X.indices, X.indptr
    for k in range(m):
        rk = r[k]
        if rk == 0.0:
            continue
        for p in range(np.uint64(indptr[lo + k]), np.uint64(indptr[lo + k + 1])):
            g[np.uint64(indices[p])] += rk * np.float64(data[p])


@jit
def csr_linear_rows(w, X, y, sw, hyper, g):
    """Serial CSR rows of a one-output linear loss: returns sum_i s_i l_i, adds its gradient to g.

    The contract of :func:`fastgd.losses.linear.linear_rows`, for a CSR X:
    blocks of ``BLOCK`` rows, each in three passes: the logits
    (:func:`csr_logits`), the per-row losses and derivatives
    (:func:`fastgd.losses.linear.pointwise_block`, float64) and the scatter
    of the gradient terms (:func:`csr_scatter`).
    """
    return csr_linear_rows_at(w, 1.0, X, y, sw, hyper, g)


@jit
def csr_linear_rows_at(w, a, X, y, sw, hyper, g):
    """:func:`csr_linear_rows` at the coefficients a * w[:d] (the intercept w[d] as it is).

    The gradient added to g is the one with respect to the coefficients
    themselves (a * w), not w. The scaling trick of the sparse engine
    (:mod:`fastgd.engine.sparse`) keeps the coefficients in this form.
    """
    n = csr_n_rows(X)
    d = X.n_cols
    kind = int(hyper[KIND])
    fit_b = hyper[N_INTERCEPTS] != 0.0
    b = np.float64(w[d]) if fit_b else 0.0
    param = hyper[EXTRA]
    z = np.empty(BLOCK)
    lv = np.empty(BLOCK)
    dzv = np.empty(BLOCK)
    total = 0.0
    for lo in range(0, n, BLOCK):
        m = min(n - lo, BLOCK)
        csr_scaled_logits(X, lo, m, w, a, b, z)
        pointwise_block(kind, z, y, sw, lo, m, param, lv, dzv)
        for k in range(m):
            total += lv[k]
            if fit_b:
                g[d] += dzv[k]
        csr_scatter(X, lo, m, dzv, g)
    return total


@jit
def csr_softmax_rows(w, X, y, sw, hyper, g):
    """Serial CSR rows of the softmax cross-entropy, K = hyper[3] classes (W is K x d, row-major).

    The contract of :func:`fastgd.losses.softmax.softmax_rows`, for a CSR X:
    per block of ``BLOCK`` rows, the logits of each class
    (:func:`csr_logits` with W_k), the per-row terms
    (:func:`fastgd.losses.softmax.softmax_terms`), then the scatter of each
    class's terms into its block of g (:func:`csr_scatter`).
    """
    return csr_softmax_rows_at(w, 1.0, X, y, sw, hyper, g)


@jit
def csr_softmax_rows_at(w, a, X, y, sw, hyper, g):
    """:func:`csr_softmax_rows` at the coefficients a * W (the intercepts as they are)."""
    n = csr_n_rows(X)
    d = X.n_cols
    n_classes = int(hyper[EXTRA])
    n_coef = n_classes * d
    fit_intercept = hyper[N_INTERCEPTS] != 0.0
    weighted = sw.size > 0
    Z = np.empty((n_classes, BLOCK))   # the block's logits, then its per-row terms
    z = np.empty(n_classes)
    total = 0.0
    for lo in range(0, n, BLOCK):
        m = min(n - lo, BLOCK)
        for c in range(n_classes):
            b = np.float64(w[n_coef + c]) if fit_intercept else 0.0
            csr_scaled_logits(X, lo, m, w[c * d:(c + 1) * d], a, b, Z[c])
        for k in range(m):
            for c in range(n_classes):
                z[c] = Z[c, k]
            weight = np.float64(sw[lo + k]) if weighted else 1.0
            total += softmax_terms(z, int(y[lo + k]), weight)
            for c in range(n_classes):
                Z[c, k] = z[c]
                if fit_intercept:
                    g[n_coef + c] += z[c]
        for c in range(n_classes):
            csr_scatter(X, lo, m, Z[c], g[c * d:(c + 1) * d])
    return total


@jit
def csr_partition(X, w):
    """(parts, rows_per_part, total work) of a CSR X: a function of n, nnz and w.size only.

    Work per row: (nnz / n + 1) per output, the outputs K estimated as
    w.size / (n_cols + 1) (exact with intercepts). Each part also zeroes and
    merges a float64 buffer of w.size entries, about a quarter of a
    nonzero's cost per entry: a part gets at least ``4 * w.size`` units of
    work, so the buffers stay within about an eighth of the pass, while all
    of them together fit in ``BUFFER_BYTES``. Beyond that every call also
    page-faults them in, about three nonzeros' cost per entry: then a part
    gets ``32 * w.size`` units, or the budget's share if that gives more parts.
    """
    n = csr_n_rows(X)
    nnz = X.indptr[n] - X.indptr[0]
    size = w.size
    outputs = max(1, -(-size // (X.n_cols + 1)))
    work = max(1, -(-(nnz + n) * outputs // max(n, 1)))
    parts, per = row_partition(n, work, max(CHUNK, 4 * size))
    if parts * size * 8 > BUFFER_BYTES:
        within = max(1, BUFFER_BYTES // (8 * size))      # as many parts as the budget holds
        big, big_per = row_partition(n, work, max(CHUNK, 32 * size))
        parts, per = row_partition(n, work, work * -(-n // within))
        if big > parts:
            parts, per = big, big_per
    return parts, per, n * work


CSR_LAYOUT = RowLayout(take_rows=csr_take_rows, partition=csr_partition)

csr_linear_kernel = objective_kernel(csr_linear_rows, layout=CSR_LAYOUT)
csr_linear_kernel.__doc__ = """The parallel loss kernel of :func:`csr_linear_rows` (X a CSR)."""
csr_softmax_kernel = objective_kernel(csr_softmax_rows, layout=CSR_LAYOUT)
csr_softmax_kernel.__doc__ = """The parallel loss kernel of :func:`csr_softmax_rows` (X a CSR)."""
