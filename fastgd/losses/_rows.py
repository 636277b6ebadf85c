"""The loop every loss kernel shares: rows cut into fixed parts, one pass, ordered merge.

A loss kernel evaluates, for a dense ``X`` (n x d), targets ``y``, optional
sample weights ``s`` and a flat parameter vector ``w``,

    L(w) = (1/n) sum_i s_i * l(y_i, z_i) + (alpha_2 / 2) ||W||^2 + alpha_1 ||W||_1

with ``z_i = W x_i + b`` and writes dL/dw into ``grad`` in the same pass over
the data. ``w`` holds the coefficients first (for k outputs: W as a k x d
row-major block, the layout of scikit-learn's ``coef_``), then the k
intercepts if there are any. The penalties cover the coefficients only.
Weights multiply the per-row terms and the sum is divided by n (not by the
sum of weights): pass weights with mean 1 for a weighted mean. This keeps a
mini-batch gradient an unbiased estimate of the full one.

An objective is two serial jitted functions:

``rows(w, X, y, sw, hyper, acc) -> float``
    the sum over the rows of X of s_i l_i; adds sum_i s_i dl_i/dw to the
    float64 array ``acc`` (size of w). ``sw`` is empty for unit weights.
``penalty(w, hyper, g) -> float``
    the penalty's value; adds its gradient to the float64 array ``g``.

``hyper`` is a float64 array ``[alpha_2, alpha_1, n_intercepts, extra, kind]``
(``n_intercepts`` is 0 without intercepts, else the number of outputs;
``extra`` Huber's delta or the number of classes; ``kind`` the per-row loss
of :func:`fastgd.losses.linear.linear_rows`).
:func:`objective_kernel` turns the pair into a loss kernel
``kernel(w, X, y, sw, hyper, grad) -> loss``; :mod:`fastgd.engine` runs the
same pair inside its fused epoch.

Parallelism and determinism. The rows are cut into parts by
:func:`row_partition`, a function of n and the work per row only: at least
``CHUNK`` units of work per part and at most ``MAX_PARTS`` parts. Each part
sums into its own row of a buffer (no shared writes; each part gets views, so
the loops vectorise); the parts are then merged serially in part order. Above
``PARALLEL_THRESHOLD`` units the parts run under ``prange``, below it in a
plain loop; the arithmetic is the same either way, so a kernel gives
bit-identical results whatever the number of threads. Dot products run in the
dtype of X (float32 stays float32 and vectorises); per-row terms,
accumulators and the merge are float64.

Other kinds of X. The kernel reaches X only through ``take_rows(X, lo, hi)``
(a part's rows, as ``rows`` takes them) and ``partition(X, w)`` (the parts);
for a dense X they are :func:`take_rows` and :func:`partition` here, and a
:class:`RowLayout` replaces both for another kind (:mod:`fastgd.losses.csr`:
a :data:`fastgd.sparse.CSR`, whose parts are row ranges of indptr).

Only the kernels built here are ``parallel``; the pieces they call are
serial, so they can be shared (a parallel function called from cached
jitted code crashes numba's cache: see :mod:`fastgd._numba`).
"""

from typing import NamedTuple

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, jit
from .._specialize import specialize

MAX_PARTS = 64

# hyper layout shared by every loss kernel (KIND: which per-row loss, for linear_rows)
L2, L1, N_INTERCEPTS, EXTRA, KIND = 0, 1, 2, 3, 4


@jit
def row_partition(n, work_per_row, min_part_work=CHUNK):
    """(parts, rows_per_part) for n rows: depends on n and the work per row only.

    A part does at least ``min_part_work`` units of work (unless there are
    fewer in all); there are at most ``MAX_PARTS`` parts.
    """
    min_rows = max(1, min_part_work // max(work_per_row, 1))
    rows = max(min_rows, (n + MAX_PARTS - 1) // MAX_PARTS)
    parts = max(1, (n + rows - 1) // rows)
    return parts, rows


@jit
def work_per_row(X, w):
    """The partition's unit of work per row: about max(d, size of w) multiply-adds."""
    return max(X.shape[1], w.size)


class RowLayout(NamedTuple):
    """How the loss kernels cut a kind of X into parts (dense X: ``take_rows``, ``partition``).

    ``take_rows(X, lo, hi)``: rows lo..hi-1 of X, as the ``rows`` function
    takes them (no copy); ``partition(X, w) -> (parts, rows_per_part, total
    work)``: the parts (a function of X's shape only) and the work that
    decides whether they run in parallel.
    """

    take_rows: object
    partition: object


def _dense_partition(X, w):
    n = X.shape[0]
    work = work_per_row(X, w)
    parts, per = row_partition(n, work)
    return parts, per, n * work


partition = jit(_dense_partition)
partition.__doc__ = """(parts, rows_per_part, total work) of a dense X: :func:`row_partition` of its rows."""


def dense_layout(rows):
    """The :class:`RowLayout` of a dense X for ``rows``: its own ``rows.work_per_row`` if it
    carries one (an MLP's rows cost much more than a linear model's), else :func:`work_per_row`."""
    own = getattr(rows, "work_per_row", None)
    if own is None:
        return RowLayout(take_rows, partition)
    return RowLayout(take_rows, specialize(_dense_partition, work_per_row=own))


@jit
def take_rows(X, lo, hi):
    """Rows lo..hi-1 of a dense X, as a view."""
    return X[lo:hi]


@jit
def merge_parts(acc, lsum, parts, out):
    """out = sum of the first ``parts`` rows of acc, in row order; returns sum(lsum[:parts])."""
    width = out.size
    for j in range(width):
        out[j] = 0.0
    loss = 0.0
    for p in range(parts):
        loss += lsum[p]
        row = acc[p]
        for j in range(width):
            out[j] += row[j]
    return loss


@jit
def store(g64, grad):
    """grad[:] = g64, converted to grad's dtype."""
    for j in range(grad.size):
        grad[j] = g64[j]


@jit
def scale(g64, loss_sum, n):
    """g64 /= n in place; returns loss_sum / n (0 for n = 0)."""
    inv = 1.0 / n if n > 0 else 0.0
    for j in range(g64.size):
        g64[j] *= inv
    return loss_sum * inv


@jit
def linear_penalty(w, hyper, g):
    """alpha_2/2 ||W||^2 + alpha_1 ||W||_1 over the coefficients (all but the intercepts)."""
    l2 = hyper[L2]
    l1 = hyper[L1]
    value = 0.0
    if l2 == 0.0 and l1 == 0.0:
        return value
    for j in range(w.size - int(hyper[N_INTERCEPTS])):
        wj = np.float64(w[j])
        if l2 != 0.0:
            g[j] += l2 * wj
            value += 0.5 * l2 * wj * wj
        if l1 != 0.0:
            g[j] += l1 * np.sign(wj)
            value += l1 * abs(wj)
    return value


def _part(p, per, w, X, y, sw, hyper, acc, lsum):
    # part p of the rows (views, so the loops vectorise) into acc[p] and lsum[p]
    lo = p * per
    hi = min(y.shape[0], lo + per)
    row = acc[p]
    row[:] = 0.0
    s = sw[lo:hi] if sw.size > 0 else sw
    # rows (and, for another row layout, take_rows) are bound by specialize
    lsum[p] = rows(w, take_rows(X, lo, hi), y[lo:hi], s, hyper, row)  # noqa: F821


def _pass(w, X, y, sw, hyper, out):
    # the loss kernel (SUMS False) or the sums kernel (SUMS True) of one objective
    n = y.shape[0]
    size = w.size
    parts, per, work = partition(X, w)  # bound by specialize, with the part function
    acc = np.empty((parts, size))
    lsum = np.empty(parts)  # not zeros: in a parallel function that is a parallel region
    # the same parts either way: serial and parallel give identical bits
    if work > PARALLEL_THRESHOLD and parts > 1:
        for p in prange(parts):
            part(p, per, w, X, y, sw, hyper, acc, lsum)  # noqa: F821
    else:
        for p in range(parts):
            part(p, per, w, X, y, sw, hyper, acc, lsum)  # noqa: F821
    g64 = np.empty(size)
    loss = merge_parts(acc, lsum, parts, g64)
    if SUMS:  # noqa: F821 (a constant bound by specialize)
        for j in range(size):
            out[j] += g64[j]
        return loss
    loss = scale(g64, loss, n) + penalty(w, hyper, g64)  # noqa: F821
    store(g64, out)
    return loss


_PARTS = {}


def part_function(rows, layout=None):
    """``part(p, per, w, X, y, sw, hyper, acc, lsum)``: the serial work of part p for ``rows``.

    ``layout``: None for a dense X, else the :class:`RowLayout` of another kind of X.
    """
    key = (id(rows), None if layout is None else id(layout.take_rows))
    if key not in _PARTS:
        bindings = {} if layout is None else {"take_rows": layout.take_rows}
        _PARTS[key] = (rows, specialize(_part, rows=rows, **bindings))
    return _PARTS[key][1]


def objective_kernel(rows, penalty=linear_penalty, layout=None):
    """The parallel loss kernel ``kernel(w, X, y, sw, hyper, grad) -> loss`` of an objective.

    One cached kernel per (rows, penalty, layout). Call it from Python (it is
    a parallel leaf: do not call it from other jitted code of fastgd).
    ``layout``: None for a dense X, else the :class:`RowLayout` of the X that
    ``rows`` takes (a CSR: :mod:`fastgd.losses.csr`).
    """
    cut = dense_layout(rows) if layout is None else layout
    return specialize(_pass, parallel=True, part=part_function(rows, layout), penalty=penalty,
                      partition=cut.partition, SUMS=False)


_SUMS = {}


def sums_kernel(rows, layout=None):
    """The parallel kernel ``sums(w, X, y, sw, hyper, out) -> loss_sum`` of ``rows``.

    Adds the float64 gradient sums over the rows of X to ``out`` and returns
    the sum of their weighted losses: no division by n, no penalty. For
    gradients summed over data that arrives in pieces (blocks of a memmap,
    the chunks of a Dask array), whose sums are then added in a fixed order.
    The rows are cut into parts and merged as in the loss kernels. One
    kernel per ``rows`` and layout, built once.
    """
    key = (id(rows), None if layout is None else id(layout.take_rows))
    if key not in _SUMS:
        cut = dense_layout(rows) if layout is None else layout
        _SUMS[key] = (rows, specialize(_pass, parallel=True, part=part_function(rows, layout),
                                       penalty=linear_penalty, partition=cut.partition,
                                       SUMS=True))
    return _SUMS[key][1]
