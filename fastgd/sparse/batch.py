"""What a mini-batch needs from CSR rows: shuffled rows gathered, and the columns they touch.

Serial jitted functions over a :data:`fastgd.sparse.CSR` that write into
buffers the caller provides (so an epoch allocates once), trusting their
inputs (``as_csr`` validated X):

* :func:`rows_nnz` -- the nonzeros of rows ``order``: the size of the data
  and indices buffers :func:`gather_rows` fills;
* :func:`gather_rows` -- rows ``order`` of X (and their targets and
  weights) copied into a block, a CSR of its own;
* :func:`touched_columns` -- the distinct columns a row range names, in
  O(nnz) with a caller's marker array, for updates that touch only them.
"""

import numpy as np

from .._numba import jit, prefetch_span

# How far ahead gather_rows looks: it prefetches indptr[order[r + PTR_AHEAD]]
# and the entries of row order[r + ROWS_AHEAD] (whose indptr entry was
# prefetched PTR_AHEAD - ROWS_AHEAD rows before)
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

    Random rows are bound by memory latency: the row ``ROWS_AHEAD`` rows
    ahead has its entries prefetched, and the indptr entry of the row
    ``PTR_AHEAD`` rows ahead (itself a random read) is prefetched first.
    """
    m = order.size
    data, indices, indptr = X.data, X.indices, X.indptr
    weighted = sw.size > 0
    pos = 0
    indptr_out[0] = 0
    for r in range(m):
        if r + PTR_AHEAD < m:
            prefetch_span(indptr, order[r + PTR_AHEAD], order[r + PTR_AHEAD] + 2)
        if r + ROWS_AHEAD < m:
            q = order[r + ROWS_AHEAD]
            prefetch_span(data, indptr[q], indptr[q + 1])
            prefetch_span(indices, indptr[q], indptr[q + 1])
        i = order[r]
        for p in range(indptr[i], indptr[i + 1]):
            data_out[pos] = data[p]
            indices_out[pos] = indices[p]
            pos += 1
        indptr_out[r + 1] = pos
        yout[r] = y[i]
        if weighted:
            sout[r] = sw[i]
    return pos


@jit
def touched_columns(X, lo, hi, marker, out):
    """The distinct columns of rows lo..hi-1 of X into out[:count], in first-touch order; returns count.

    First-touch order: a column comes in the position where an entry of the
    rows (read in stored order) first names it. That order costs O(nnz) and
    is fixed by X alone, so an update that walks ``out`` is reproducible;
    sort ``out[:count]`` if ascending order is needed (O(count log count)).

    ``marker`` is a bool (or integer) array of X.n_cols entries, all False
    on entry; it is False again on return (only the ``count`` marked
    entries are reset, so the call never costs O(n_cols)). ``out`` is an
    integer array with room for min(nnz of the rows, n_cols) entries.
    """
    indices, indptr = X.indices, X.indptr
    count = 0
    for p in range(indptr[lo], indptr[hi]):
        j = indices[p]
        if not marker[j]:
            marker[j] = True
            out[count] = j
            count += 1
    for c in range(count):
        marker[out[c]] = False
    return count
