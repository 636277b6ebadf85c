"""The fused epoch: mini-batches, gradient and update in one compiled call.

:func:`make_epoch` builds one jitted loop per objective, update rule and
path (serial or parallel gradient, serial or parallel update)

``epoch(w, data, hyper, update, batch_size, t) -> (loss_sum, t, skipped, done)``

that runs the batches of the rows of ``data`` (an :class:`~fastgd.engine.step.Data`:
X, y, sample weights) in order, ``t`` updates having been made before.
For each batch (a view of the rows: the :class:`~fastgd.engine.Trainer`
copies shuffled or streamed rows into contiguous blocks first):

1. The gradient: the objective's serial ``rows`` function over parts of the
   batch (:func:`fastgd.losses.row_partition`: fixed by the batch's shape),
   each part into its own float64 buffer; the parts merged in order,
   divided by the batch size, plus the ``penalty``. On the parallel path
   the parts of a large enough batch run under ``prange``; the arithmetic
   is the same, so results do not depend on the path or the number of
   threads.
2. The update, from the :class:`~fastgd.engine.step.Update` record:
   :func:`fastgd.engine.step.prepare_grad` (guard, clipping), the learning
   rate ``schedule_value(spec, t)``, the rule's ``constants``, its
   reduction stage if it has one (``reduce`` per chunk, ``combine``, per
   segment of the layout for a layered rule: see :mod:`fastgd.kernels.rule`),
   then its element-wise ``loop``, over ``CHUNK``-sized views under
   ``prange`` on the parallel path when the parameter vector (or the
   segment) is larger than ``PARALLEL_THRESHOLD``.

``loss_sum`` is the sum over batches of (batch objective * rows); ``done``
the rows processed: less than the rows of ``data`` when a batch's loss came
out NaN or inf (the loop stops there; the caller restores the parameters).

A fit compiles only what it runs: its objective, its rule, and the serial
epoch unless its batches or its parameter vector are large enough for the
parallel one (a parallel function costs several seconds more to compile).

An objective is the pair (``rows``, ``penalty``) of serial jitted functions
described in :mod:`fastgd.losses._rows`. A model (an MLP, say) plugs in by
writing its own pair.
"""

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, jit, n_chunks, views
from .._specialize import specialize
from ..losses._rows import MAX_PARTS, merge_parts, part_function, row_partition, scale, store, \
    work_per_row
from ..kernels.layout import COLS, SIZE, START, segment_views
from ..kernels.rule import pieces
from ..schedules import schedule_value
from .step import prepare_grad


@jit
def max_parts(batch, work):
    """An upper bound of ``row_partition(m, work)[0]`` for every m <= batch."""
    min_rows = max(1, CHUNK // max(work, 1))
    return max(1, min(MAX_PARTS, (batch + min_rows - 1) // min_rows))


def _epoch(w, data, hyper, update, batch_size, t):
    X, y, sw = data
    s, sc, h, spec, clip, seg = update  # a prange body may capture arrays and tuples, not records
    n = X.shape[0]
    size = w.size
    weighted = sw.size > 0
    work = work_per_row(X, w)  # noqa: F821 (bound by specialize)
    alloc = max_parts(min(batch_size, max(n, 1)), work)
    acc = np.empty((alloc, size))
    lsum = np.empty(alloc)  # not zeros: in a parallel function that is a parallel region
    g64 = np.empty(size)
    grad = np.empty_like(w)
    total = 0.0
    skipped = 0
    a = 0
    while a < n:
        e = min(n, a + batch_size)
        m = e - a
        xb = X[a:e]
        yb = y[a:e]
        sb = sw[a:e] if weighted else sw
        parts, per = row_partition(m, work)
        if PARALLEL_GRAD and m * work > PARALLEL_THRESHOLD and parts > 1:  # noqa: F821
            for p in prange(parts):
                part(p, per, w, xb, yb, sb, hyper, acc, lsum)  # noqa: F821
        else:
            for p in range(parts):
                part(p, per, w, xb, yb, sb, hyper, acc, lsum)  # noqa: F821
        loss_sum = merge_parts(acc, lsum, parts, g64)
        f = scale(g64, loss_sum, m) + penalty(w, hyper, g64)  # noqa: F821
        if not np.isfinite(f):
            return total, t, skipped, a
        total += f * m
        store(g64, grad)
        a = e
        if not prepare_grad(grad, clip):
            skipped += 1
            continue
        lr = schedule_value(spec, t)
        t += 1
        k = constants(w, t, lr, h, sc)  # noqa: F821
        if N_SUMS > 0:  # noqa: F821 (the rule's reduction stage per segment: fastgd.kernels.rule)
            for j in range(seg.shape[0]):
                row = seg[j]
                n_seg = row[SIZE]
                if not PARALLEL_UPDATE or n_seg <= PARALLEL_THRESHOLD \
                        or (row[COLS] > 0 and HAS_MATRIX):  # noqa: F821
                    segment_step(w, grad, s, k, sc, row)  # noqa: F821
                    continue
                lo = row[START]      # as in fastgd.kernels.rule's step: prange over the chunks
                ws = w[lo:lo + n_seg]
                gs = grad[lo:lo + n_seg]
                sj = segment_views(s, row)
                partial = np.empty((n_chunks(n_seg), N_SUMS))  # noqa: F821
                for c in prange(n_chunks(n_seg)):
                    a0 = c * CHUNK
                    e0 = min(n_seg, a0 + CHUNK)
                    reduce(ws[a0:e0], gs[a0:e0], views(sj, a0, e0), k, partial[c])  # noqa: F821
                kj = combine(ws, k, partial, sc)  # noqa: F821
                for c in prange(n_chunks(n_seg)):
                    a0 = c * CHUNK
                    e0 = min(n_seg, a0 + CHUNK)
                    loop(ws[a0:e0], gs[a0:e0], views(sj, a0, e0), kj)  # noqa: F821
        elif PARALLEL_UPDATE and size > PARALLEL_THRESHOLD:  # noqa: F821
            for c in prange(n_chunks(size)):
                lo = c * CHUNK
                hi = min(size, lo + CHUNK)
                loop(w[lo:hi], grad[lo:hi], views(s, lo, hi), k)  # noqa: F821
        else:
            loop(w, grad, s, k)  # noqa: F821
    return total, t, skipped, n


_CACHE = {}


def make_epoch(rows, penalty, rule, parallel_grad=False, parallel_update=False):
    """The fused epoch for objective (rows, penalty) and a :class:`fastgd.kernels.Rule`.

    Built once per process and cached on disk. ``parallel_grad``: the
    parts of a batch may run in parallel; ``parallel_update``: the update
    may run over chunks in parallel. With neither the loop is compiled
    serial. An objective whose rows cost much more than :func:`work_per_row`
    assumes (an MLP: forward, backward, and a whole-gradient merge per part)
    carries its own jitted estimate as ``rows.work_per_row``; it sets the
    size of the parts and when they run in parallel.
    """
    key = (id(rows), id(penalty), rule.name, bool(parallel_grad), bool(parallel_update))
    if key not in _CACHE:
        own = getattr(rows, "work_per_row", None)
        kernel = specialize(
            _epoch, parallel=parallel_grad or parallel_update, part=part_function(rows),
            penalty=penalty, **pieces(rule),
            work_per_row=work_per_row if own is None else own,
            PARALLEL_GRAD=bool(parallel_grad), PARALLEL_UPDATE=bool(parallel_update))
        _CACHE[key] = (rows, penalty, kernel)  # keeps rows and penalty alive: ids stay unique
    return _CACHE[key][2]


def epoch_paths(rows, X, w, batch):
    """(parallel_grad, parallel_update): the paths an epoch over X with batches of
    ``batch`` rows and parameters ``w`` can take (see :func:`make_epoch`)."""
    work = getattr(rows, "work_per_row", work_per_row)(np.empty((0, X.shape[1]), dtype=X.dtype), w)
    parallel_grad = batch * work > PARALLEL_THRESHOLD and row_partition(batch, work)[0] > 1
    return parallel_grad, w.size > PARALLEL_THRESHOLD
