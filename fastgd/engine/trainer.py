"""The epoch driver: Python loops over epochs (and blocks), compiled code does the rest."""

import contextlib
import contextvars
import time
from contextlib import closing
from dataclasses import dataclass

import numpy as np
from numba import get_num_threads

from ..losses._rows import linear_penalty, sums_kernel
from ..sparse import CSR
from . import sparse
from ._threads import guard
from .data import (DEFAULT_BLOCK_BYTES, BlockFill, FillAhead, PageReleaser, SHUFFLE_MODES,
                   block_rows_for, gather_rows, is_direct, iter_blocks, row_order)
from .epoch import epoch_paths, make_epoch
from .shuffle import shuffle_
from .step import Data, pack, unpack

FILL_PIECES = 4  # pieces per block, shared between the helper thread and the caller

_COMPILE_MESSAGES = contextvars.ContextVar("fastgd_compile_messages", default=None)


@contextlib.contextmanager
def compile_messages(say):
    """Within the block, trainers without their own ``on_compile`` report compiling to ``say``
    (the command line uses it to say why a first fit waits)."""
    token = _COMPILE_MESSAGES.set(say)
    try:
        yield
    finally:
        _COMPILE_MESSAGES.reset(token)


class DivergenceError(ValueError):
    """The loss or the parameters became NaN or inf: the learning rate is too large
    for the data's scale. The parameters are those of the last completed epoch."""


@dataclass
class EpochResult:
    """What one epoch did: mean objective over its batches, steps, rows, seconds."""

    loss: float
    n_steps: int
    n_samples: int
    seconds: float
    n_skipped: int = 0

    @property
    def samples_per_second(self):
        return self.n_samples / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class Snapshot:
    """A copy of the parameters and the optimizer's state, to go back to."""

    params: np.ndarray
    state: dict
    step_count: int
    n_skipped: int


class Trainer:
    """Runs epochs of gradient descent for one objective and one optimizer.

    Parameters
    ----------
    rows : serial jitted ``rows(w, X, y, sw, hyper, acc) -> float``
        The objective's per-row part: a ``*_rows`` function of
        :mod:`fastgd.losses` or your own with the same contract (sum of the
        weighted row losses; adds the summed row gradients to the float64
        ``acc``). See :mod:`fastgd.losses._rows`.
    hyper : float64 array passed to ``rows`` and ``penalty``.
    optimizer : :class:`fastgd.optim.Optimizer` over the flat parameter vector
        (``optimizer.params``, updated in place). Its rule, hyperparameters,
        schedule, clipping, guard, state and step counter are used and kept
        up to date, so ``optimizer.state_dict()`` resumes a fit.
    batch_size : None for batch gradient descent (every row, one step per
        epoch), 1 for stochastic, k for mini-batch gradient descent.
    shuffle : "none", "full" or "blocks" (see :mod:`fastgd.engine.data`).
    rng : numpy.random.Generator for the permutations.
    penalty : serial jitted ``penalty(w, hyper, g) -> float``, default
        :func:`fastgd.losses.linear_penalty` (L2/L1 from ``hyper[0]``/``hyper[1]``
        on all but the last ``hyper[2]`` entries).
    block_bytes : size of the blocks data are streamed in when it is not a
        plain in-memory C-contiguous array.
    sparse_updates : "auto", "dense" or "lazy": how a mini-batch step is applied
        when X is a :data:`fastgd.sparse.CSR` (see :mod:`fastgd.engine.sparse`).

    Each call of :meth:`run_epoch` is atomic: it completes, or (on
    KeyboardInterrupt, divergence or any error) puts the parameters and the
    optimizer back as they were before it and re-raises. Same seed, same
    inputs: the same result bit for bit, whatever the number of threads
    (loss kernels cut rows into parts that depend on the data shape only and
    merge them in order; update kernels are element-wise).
    """

    def __init__(self, rows, hyper, optimizer, batch_size=None, shuffle="full", rng=None,
                 penalty=linear_penalty, block_bytes=DEFAULT_BLOCK_BYTES, sparse_updates="auto"):
        if shuffle not in SHUFFLE_MODES:
            raise ValueError(f"shuffle must be one of {SHUFFLE_MODES}, got {shuffle!r}")
        self.rows = rows
        self.penalty = penalty
        self.hyper = np.asarray(hyper, dtype=np.float64)
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng() if rng is None else rng
        self.block_bytes = block_bytes
        self.sparse_updates = sparse_updates
        self.on_compile = None
        self._buffers = {}
        self._warm = set()

    @property
    def params(self):
        return self.optimizer.params

    # -- snapshots ---------------------------------------------------------------

    def snapshot(self):
        opt = self.optimizer
        state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state.items()}
        return Snapshot(opt.params.copy(), state, opt.step_count, opt.n_skipped)

    def restore(self, snap):
        opt = self.optimizer
        np.copyto(opt.params, snap.params)
        opt.state = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                     for k, v in snap.state.items()}
        opt.step_count = snap.step_count
        opt.n_skipped = snap.n_skipped

    # -- one epoch -----------------------------------------------------------------

    def run_epoch(self, X, y, sw, rows=None):
        """One pass over the rows ``rows`` (sorted int64 indices; None: all) of X.

        ``y`` and ``sw`` are in-memory C-contiguous arrays of X's dtype
        (``sw`` empty for unit weights). X may be a :data:`fastgd.sparse.CSR`
        (validated: :func:`fastgd.sparse.as_csr`): :mod:`fastgd.engine.sparse`
        runs it. Returns an :class:`EpochResult`;
        raises :class:`DivergenceError` (parameters restored) when the loss or
        the parameters stop being finite.
        """
        self.warm_up(X, y, sw, rows)
        snap = self.snapshot()
        t0 = time.perf_counter()
        try:
            result = self._run(X, y, sw, rows)
            if not np.all(np.isfinite(self.optimizer.params)):
                raise DivergenceError("the parameters became NaN or inf")
        except BaseException:
            self.restore(snap)
            raise
        result.seconds = time.perf_counter() - t0
        return result

    def warm_up(self, X, y, sw, rows=None):
        """Compile (or load from numba's cache) what an epoch over these arrays runs.

        :meth:`run_epoch` calls it before it starts its clock, so an epoch's
        ``seconds`` never include compile time. Runs the compiled epoch (and
        the row gather, for shuffled epochs) on zero rows: nothing changes.
        Returns the seconds it took (0.0 once warm). ``on_compile``, if set,
        is called with a message before anything is compiled or loaded, and
        again after (else the function given to :func:`compile_messages`).
        """
        if isinstance(X, CSR):
            return sparse.warm_up(self, X, y, sw, rows)
        opt = self.optimizer
        m = X.shape[0] if rows is None else rows.size
        batch = max(1, m if self.batch_size is None else min(self.batch_size, m))
        direct = is_direct(X)
        in_order = rows is None and (self.batch_size is None or self.shuffle == "none")
        if self.batch_size is None and not (direct and in_order):
            return 0.0                      # full batch over blocks: sums and one step
        paths = epoch_paths(self.rows, X, opt.params, batch)
        epoch = make_epoch(self.rows, self.penalty, opt.rule, *paths)
        key = (opt.rule.name, paths, X.dtype, direct, in_order, y.dtype, y.ndim,
               bool(y.flags.writeable), sw.size > 0, opt.params.dtype)
        if key in self._warm:
            return 0.0
        cold = not getattr(epoch, "signatures", True)
        t0 = time.perf_counter()
        say = self.on_compile or _COMPILE_MESSAGES.get()
        if cold and say is not None:
            say(f"preparing the compiled training loop ({opt.rule.class_name}, "
                f"{getattr(self.rows, '__name__', 'rows')}, {X.dtype}): compiling (once: numba "
                f"caches it on disk) or loading it ...")
        hits = sum(epoch.stats.cache_hits.values()) if cold else 0
        if direct and in_order:
            data = Data(X[:0], y[:0], sw[:0] if sw.size else sw)
        else:
            data = Data(np.empty((0, X.shape[1]), X.dtype),
                        y[:0] if rows is None and self.shuffle == "none"
                        else np.empty((0,) + y.shape[1:], y.dtype),
                        sw if not sw.size else np.empty(0, sw.dtype))
            if not in_order:
                shuffle_(np.empty(0, np.int32), 0)
                if direct:
                    gather_rows(X, y, sw, np.empty(0, np.int32), data.X, data.y, data.sw)
        with guard():
            epoch(opt.params, data, self.hyper, pack(opt), batch, opt.step_count)
        self._warm.add(key)
        seconds = time.perf_counter() - t0
        if cold and say is not None:
            how = "loaded from numba's cache" if sum(epoch.stats.cache_hits.values()) > hits \
                else "compiled"
            say(f"... {how} in {seconds:.1f} s")
        return seconds

    def _buffer(self, name, shape, dtype):
        buf = self._buffers.get(name)
        if (buf is None or buf.shape[0] < shape[0] or buf.shape[1:] != shape[1:]
                or buf.dtype != dtype):
            buf = self._buffers[name] = np.empty(shape, dtype=dtype)
        return buf

    def _run(self, X, y, sw, rows):
        if isinstance(X, CSR):
            return sparse.run(self, X, y, sw, rows)
        n, d = X.shape
        m = n if rows is None else rows.size
        opt = self.optimizer
        batch = m if self.batch_size is None else min(self.batch_size, m)
        direct = is_direct(X)
        block_rows = block_rows_for(X, batch, self.block_bytes)
        # batch gradient descent takes every row at once: order does not matter
        shuffle = "none" if self.batch_size is None else self.shuffle
        order = row_order(rows, n, shuffle, self.rng, block_rows)
        t_start = opt.step_count
        if self.batch_size is None and not (direct and order is None):
            block_rows = block_rows_for(X, 1, self.block_bytes)
            loss_sum, skipped = self._full_batch_blocks(X, y, sw, order, block_rows)
            return EpochResult(loss_sum / m, opt.step_count - t_start, m, 0.0, skipped)
        paths = epoch_paths(self.rows, X, opt.params, batch)
        epoch = make_epoch(self.rows, self.penalty, opt.rule, *paths)
        p = pack(opt)
        if direct and order is None:
            with guard():
                loss_sum, t, skipped, done = epoch(opt.params, Data(X, y, sw), self.hyper, p,
                                                   batch, t_start)
            if done != m:
                raise DivergenceError(f"the loss became NaN or inf after {done} of {m} rows")
        else:
            loss_sum, t, skipped = self._blocks(epoch, X, y, sw, order, block_rows, batch, p,
                                                t_start, self._overlap(X, batch))
        unpack(opt, p, t, skipped)
        return EpochResult(loss_sum / m, t - t_start, m, 0.0, skipped)

    def _overlap(self, X, batch):
        """Fill blocks on a helper thread while the compiled epoch trains?

        Yes when the epoch keeps to one thread (its serial path: see
        :func:`fastgd.engine.epoch.epoch_paths`). Then the other core is idle,
        and filling a block is the latency-bound part of a shuffled epoch.
        """
        return get_num_threads() > 1 and not any(epoch_paths(self.rows, X, self.params, batch))

    def _filled_blocks(self, X, y, sw, order, block_rows, batch=1, overlap=False):
        """Yield (start, xb, yb, sb): the pieces of the epoch's blocks, in order, copied.

        Each block is cut into ``FILL_PIECES`` pieces of whole batches, and
        the compiled epoch runs once per piece. With ``overlap`` a
        :class:`~fastgd.engine.data.FillAhead` helper thread fills the next
        block while the caller trains on this one, and a piece is yielded as
        soon as it is ready; without, each block is filled in line. The
        pieces are the same either way, so the epoch's loss, summed piece by
        piece, has the same bits too.
        """
        d = X.shape[1]
        spans = list(iter_blocks(X.shape[0], order, block_rows))
        buffers = [self._buffer(f"xblock{k}", (block_rows, d), X.dtype)
                   for k in range(2 if overlap else 1)]
        release = PageReleaser(X)

        def start(k):
            a, b = spans[k]
            return BlockFill(X, y, sw, order, a, b, buffers[k % len(buffers)], FILL_PIECES,
                             batch)

        def pieces(k, fill):
            a = spans[k][0]
            for i in range(fill.n_pieces):
                lo, hi = fill.wait_piece(i)
                sb = fill.sb[lo:hi] if sw.size else sw
                yield a + lo, fill.xb[lo:hi], fill.yb[lo:hi], sb

        def done(k):
            a, b = spans[k]
            if order is None:
                release.release(a, b)
            else:  # min and max of the rows only where there is a memmap to release
                release.release_rows(order[a:b])

        if not overlap:
            for k in range(len(spans)):
                fill = start(k)
                fill.run()
                done(k)
                yield from pieces(k, fill)
            return
        ahead = FillAhead(start, len(spans), len(buffers))
        try:
            for k in range(len(spans)):
                fill = ahead.block(k)
                fill.run(from_front=False)      # take what the helper has not started
                yield from pieces(k, fill)      # the front trains while the helper ends
                done(k)
                ahead.release(k)
        finally:  # on an error or Ctrl-C the helper stops before the buffers are reused
            ahead.close()

    def _blocks(self, epoch, X, y, sw, order, block_rows, batch, p, t, overlap=False):
        loss_sum = 0.0
        skipped = 0
        # closing: on an error or Ctrl-C the helper thread is joined before the buffers are reused
        with closing(self._filled_blocks(X, y, sw, order, block_rows, batch, overlap)) as blocks:
            for a, xb, yb, sb in blocks:
                m = xb.shape[0]
                with guard():
                    part, t, s, done = epoch(self.params, Data(xb, yb, sb), self.hyper, p, batch, t)
                if done != m:
                    raise DivergenceError(f"the loss became NaN or inf after {a + done} rows")
                loss_sum += part
                skipped += s
        return loss_sum, t, skipped

    def _full_batch_blocks(self, X, y, sw, order, block_rows):
        # batch gradient descent over streamed blocks: sum the data gradients of every
        # block, in block order, then the penalty and one step of the optimizer
        opt = self.optimizer
        m = X.shape[0] if order is None else order.size
        g64 = np.zeros(opt.params.size)
        sums = sums_kernel(self.rows)
        loss_sum = 0.0
        for _, xb, yb, sb in self._filled_blocks(X, y, sw, order, block_rows):
            with guard():
                loss_sum += sums(opt.params, xb, yb, sb, self.hyper, g64)
        return self._full_batch_step(g64, loss_sum, m)

    def _full_batch_step(self, g64, loss_sum, m):
        # the data gradient summed over m rows -> the mean, plus the penalty; one step
        opt = self.optimizer
        g64 *= 1.0 / m
        with guard():
            loss = loss_sum / m + self.penalty(opt.params, self.hyper, g64)
        if not np.isfinite(loss):
            raise DivergenceError("the loss became NaN or inf")
        applied = opt.step(g64.astype(opt.params.dtype))
        return loss * m, 0 if applied else 1
