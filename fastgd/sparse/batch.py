"""What a mini-batch needs from CSR rows: shuffled rows gathered, and the columns they touch.

Serial jitted functions over a :data:`fastgd.sparse.CSR` that write into
buffers the caller provides (so an epoch allocates once), trusting their
inputs (``as_csr`` validated X):

* :func:`rows_nnz` -- the nonzeros of rows ``order``: the size of the data
  and indices buffers :func:`gather_rows` fills;
* :func:`gather_rows` -- rows ``order`` of X (and their targets and
  weights) copied into a block, a CSR of its own; :func:`take_rows` makes
  that block's arrays and fills them (from Python);
* :func:`touched_columns` -- the distinct columns a row range names, in
  O(nnz) with a caller's marker array, for updates that touch only them.
"""

import numpy as np

from .._numba import jit, prefetch_span
from .csr import CSR

# How far ahead gather_rows looks: it prefetches indptr[order[r + PTR_AHEAD]]
# and the entries of row order[r + ROWS_AHEAD] (whose indptr entry was
# prefetched PTR_AHEAD - ROWS_AHEAD rows before). A full permutation of the
# 1M x 262,144 click log (fastgd.bench.sparse.click_log: 40 float32 nonzeros
# a row, int32 indices) gathered in blocks of 16,384 rows took 83-110 ms of
# CPU this way against 107-182 ms without prefetching; 8 or 32 rows ahead
# did no better (2026-12-01, 2 cores under a load average of 4). The row's y (and
# sw) are prefetched with its entries: y[order[r]] is a random read too, and without
# it five shuffled epochs of that click log (a fit: pieces gathered between training
# calls, which push y out of the cache) took 0.30-0.32 s on two threads and 0.41-0.49 s
# on one, against 0.23-0.26 s and 0.37-0.43 s with it (A/B in one session, 2026-12-04).
# Prefetching indptr in rows_nnz as well made no difference.
ROWS_AHEAD = 16
PTR_AHEAD = 32


@jit
def rows_nnz(indptr, order):
    """sum over r of indptr[order[r] + 1] - indptr[order[r]]: the nonzeros of rows ``order``."""
    total = 0
    for r in range(order.size):
        i = order[r]
        total += indptr[i + 1] - indptr[i]
    return total


@jit
def gather_rows(X, y, sw, order, data_out, indices_out, indptr_out, yout, sout):
    """Copy row ``order[r]`` of the CSR X (and y, sw) to row r of a block; returns its nnz.

    The block is ``CSR(data_out, indices_out, indptr_out[:m + 1], X.n_cols)``
    for m = order.size: ``indptr_out[0] = 0``, ``indptr_out[r + 1] =
    indptr_out[r] + (nonzeros of row order[r])``, and the entries of each
    row in their stored order (so the same order gives the same bits).
    ``data_out`` and ``indices_out`` need ``rows_nnz(X.indptr, order)``
    entries (any larger buffer works), ``indptr_out`` m + 1, ``yout`` m,
    ``sout`` m unless sw is empty (unit weights: then it is not touched).
    """
    return gather_span(X, y, sw, order, 0, order.size, data_out, indices_out, indptr_out,
                       yout, sout)


@jit
def gather_span(X, y, sw, order, lo, hi, data_out, indices_out, indptr_out, yout, sout):
    """:func:`gather_rows` of the rows ``order[lo:hi]``, prefetching past ``hi``.

    Random rows are bound by memory latency: the row ``ROWS_AHEAD`` rows
    ahead in ``order`` has its entries (and its y and sw) prefetched, and
    the indptr entry of the row ``PTR_AHEAD`` rows ahead (itself a random
    read) is prefetched first, into the next batch's rows too: an epoch
    that gathers batch by batch hands over its whole order, so no batch
    starts with rows that were not prefetched. A prefetch changes no value.
    """
    m = hi - lo
    data, indices, indptr = X.data, X.indices, X.indptr
    weighted = sw.size > 0
    one = np.uint64(1)
    pos = np.uint64(0)  # unsigned offsets: no wrap-around tests (see fastgd.losses.csr)
    end = order.size
    indptr_out[0] = 0
    for r in range(m):
        k = lo + r
        if k + PTR_AHEAD < end:
            prefetch_span(indptr, order[k + PTR_AHEAD], order[k + PTR_AHEAD] + 2)
        if k + ROWS_AHEAD < end:
            q = order[k + ROWS_AHEAD]
            prefetch_span(data, indptr[q], indptr[q + 1])
            prefetch_span(indices, indptr[q], indptr[q + 1])
            prefetch_span(y, q, q + 1)
            if weighted:
                prefetch_span(sw, q, q + 1)
        i = np.uint64(order[k])
        for p in range(np.uint64(indptr[i]), np.uint64(indptr[i + one])):
            data_out[pos] = data[p]
            indices_out[pos] = indices[p]
            pos += one
        indptr_out[r + 1] = pos
        yout[r] = y[i]
        if weighted:
            sout[r] = sw[i]
    return np.int64(pos)


@jit
def touched_columns(X, lo, hi, marker, out):
    """The distinct columns of rows lo..hi-1 of X, into out[:count] in first-touch order: count.

    First-touch order: a column comes in the position where an entry of the
    rows (read in stored order) first names it. That order costs O(nnz) and
    is fixed by X alone, so an update that walks ``out`` is reproducible;
    sort ``out[:count]`` if ascending order is needed (O(count log count)).

    ``marker`` is a bool array of X.n_cols entries, all False on entry; it
    is False again on return (only the ``count`` marked entries are reset,
    so the call never costs O(n_cols)). ``out`` is an integer array with
    room for min(nnz of the rows, n_cols + 1) entries (one more than the
    columns: every entry is written at ``out[count]`` and kept only if new).
    """
    indices, indptr = X.indices, X.indptr
    count = 0
    for p in range(np.uint64(indptr[lo]), np.uint64(indptr[hi])):
        j = np.uint64(indices[p])
        # no branch: popular columns repeat at random, and a mispredicted
        # branch per entry made this 6 ns an entry
        out[count] = j
        count += not marker[j]
        marker[j] = True
    for c in range(count):
        marker[out[c]] = False
    return count


def take_rows(X, y, sw, order):
    """(CSR block, y, sw) of rows ``order`` of the CSR X, in new arrays sized to fit.

    The block's offsets start at 0; ``sw`` empty (unit weights) stays empty.
    """
    nnz = int(rows_nnz(X.indptr, order))
    data = np.empty(nnz, X.data.dtype)
    indices = np.empty(nnz, X.indices.dtype)
    indptr = np.empty(order.size + 1, np.int64)
    yb = np.empty(order.size, y.dtype)
    sb = np.empty(order.size, sw.dtype) if sw.size else sw
    gather_rows(X, y, sw, order, data, indices, indptr, yb, sb)
    return CSR(data, indices, indptr, X.n_cols), yb, sb
