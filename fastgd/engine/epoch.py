"""The fused epoch: mini-batches, gradient and update in one compiled call.

:func:`make_epoch` builds, once per objective, one parallel jitted loop

``epoch(w, X, y, sw, hyper, order, start, stop, batch_size, xbuf, ybuf, sbuf, grad,
rule, h, s0, s1, s2, sc, kc, spec, t, acc_out) -> (loss_sum, t, skipped, done)``

that runs the batches of rows ``order[start:stop]`` (or rows ``start:stop``
when ``order`` is empty). For each batch:

1. Shuffled batches are first copied into the contiguous buffers
   ``xbuf``/``ybuf``/``sbuf`` (``batch_size`` rows) by
   :func:`fastgd.engine.data.gather_rows`, which prefetches rows ahead.
   Unshuffled batches are views of X (no copy). (The :class:`Trainer`
   gathers shuffled rows itself, a block ahead on a helper thread, and
   passes contiguous blocks; :mod:`fastgd.dask` uses this path.)
2. The gradient: the objective's serial ``rows`` function over parts of the
   batch (:func:`fastgd.losses.row_partition`: fixed by the batch's shape),
   under ``prange`` when the batch is large enough, each part into its own
   float64 buffer; the parts merged in order, divided by the batch size, plus
   the ``penalty``. Same arithmetic serial or parallel: results do not depend
   on the number of threads.
3. The update: :func:`fastgd.engine.rules.prepare_grad` (guard, clipping),
   the learning rate ``schedule_value(spec, t)``, the rule's constants, then
   its element-wise loop, over ``CHUNK``-sized views under ``prange`` when
   the parameter vector is larger than ``PARALLEL_THRESHOLD``.

``loss_sum`` is the sum over batches of (batch objective * rows); ``done``
the rows processed: less than ``stop - start`` when a batch's loss came out
NaN or inf (the loop stops there; the caller restores the parameters).

With a non-empty float64 ``acc_out`` (size of w) the loop only accumulates:
every batch adds its unnormalised gradient sums to ``acc_out`` and its loss
sum to ``loss_sum``, without penalty or update (batch gradient descent over
data streamed in blocks; the caller finishes the step).

An objective is the pair (``rows``, ``penalty``) of serial jitted functions
described in :mod:`fastgd.losses._rows`. A model (an MLP, say) plugs in by
writing its own pair.
"""

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, jit, n_chunks
from .._specialize import specialize
from ..losses._rows import (MAX_PARTS, merge_parts, part_function, row_partition, scale, store,
                            work_per_row)
from ..schedules import schedule_value
from .data import gather_rows
from .rules import prepare_grad, rule_constants, rule_loop


@jit
def max_parts(batch, work):
    """An upper bound of ``row_partition(m, work)[0]`` for every m <= batch."""
    min_rows = max(1, CHUNK // max(work, 1))
    return max(1, min(MAX_PARTS, (batch + min_rows - 1) // min_rows))


def _epoch(w, X, y, sw, hyper, order, start, stop, batch_size, xbuf, ybuf, sbuf, grad,
           rule, h, s0, s1, s2, sc, kc, spec, t, acc_out):
    size = w.size
    gather = order.size > 0
    weighted = sw.size > 0
    accumulate = acc_out.size > 0
    work = work_per_row(X, w)
    alloc = max_parts(min(batch_size, max(stop - start, 1)), work)
    acc = np.empty((alloc, size))
    lsum = np.empty(alloc)  # not zeros: in a parallel function that is a parallel region
    g64 = np.empty(size)
    total = 0.0
    skipped = 0
    a = start
    while a < stop:
        e = min(stop, a + batch_size)
        m = e - a
        if gather:
            gather_rows(X, y, sw, order[a:e], xbuf, ybuf, sbuf)
            xb = xbuf[:m]
            yb = ybuf[:m]
            sb = sbuf[:m] if weighted else sbuf[:0]
        else:
            xb = X[a:e]
            yb = y[a:e]
            sb = sw[a:e] if weighted else sw
        parts, per = row_partition(m, work)
        if m * work > PARALLEL_THRESHOLD and parts > 1:
            for p in prange(parts):
                part(p, per, w, xb, yb, sb, hyper, acc, lsum)  # noqa: F821
        else:
            for p in range(parts):
                part(p, per, w, xb, yb, sb, hyper, acc, lsum)  # noqa: F821
        loss_sum = merge_parts(acc, lsum, parts, g64)
        if accumulate:
            for j in range(size):
                acc_out[j] += g64[j]
            total += loss_sum
            a = e
            continue
        f = scale(g64, loss_sum, m) + penalty(w, hyper, g64)  # noqa: F821
        if not np.isfinite(f):
            return total, t, skipped, a - start
        total += f * m
        store(g64, grad)
        a = e
        if not prepare_grad(grad, h):
            skipped += 1
            continue
        lr = schedule_value(spec, t)
        t += 1
        rule_constants(rule, w, t, lr, h, sc, kc)
        if size <= PARALLEL_THRESHOLD:
            rule_loop(rule, w, grad, s0, s1, s2, kc)
        else:
            for c in prange(n_chunks(size)):
                lo = c * CHUNK
                hi = min(size, lo + CHUNK)
                rule_loop(rule, w[lo:hi], grad[lo:hi], s0[lo:hi], s1[lo:hi], s2[lo:hi], kc)
    return total, t, skipped, stop - start


_CACHE = {}


def make_epoch(rows, penalty):
    """The fused epoch loop for the objective (rows, penalty), built once and cached on disk.

    An objective whose rows cost much more than :func:`work_per_row` assumes
    (an MLP: forward, backward, and a whole-gradient merge per part) carries
    its own jitted estimate as ``rows.work_per_row``; it sets the size of the
    parts and when they run in parallel.
    """
    key = (id(rows), id(penalty))
    if key not in _CACHE:
        own = getattr(rows, "work_per_row", None)
        extra = {} if own is None else {"work_per_row": own}
        _CACHE[key] = (rows, penalty, specialize(_epoch, parallel=True, part=part_function(rows),
                                                 penalty=penalty, **extra))
    return _CACHE[key][2]
