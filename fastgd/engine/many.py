"""Many fits, one pass over the data: the epochs of several trainers over the same rows.

A linear epoch is bound by memory, not arithmetic. :class:`SharedPass` runs
one epoch of several :class:`~fastgd.engine.Trainer` objects that walk the
same row sequence (same rows, batch size, shuffle mode and random stream,
so the same batches): each block of X is gathered (or read from a memmap)
once, by the first trainer's block machinery, and then every model trains
on it, piece by piece, while it is in cache (on two threads when the
models' epochs are serial: every other model on the second one). Each
model runs its own compiled epoch (its objective, rule and
hyperparameters), with its own parameters, optimizer state and step
counter.

Bits: a model's batches, the compiled epoch it runs on each piece, and the
order its loss is summed in are those of ``Trainer.run_epoch`` alone (a
piece holds whole batches; the parts of a batch depend on its shape only),
so each model ends with the same bits as when fitted alone. Where a lone
fit runs one compiled call over the whole of X (an in-memory array in
order, or batch gradient descent over blocks), and for sparse X (whose
epochs gather their own batches: :mod:`fastgd.engine.sparse`), the models
run their own epochs one after the other instead: the same bits, without
the sharing.

:func:`train_together` is the loop over epochs for such a group: each
model keeps its own :class:`~fastgd.engine.loop.EpochLoop` rules (tol,
patience, early stopping, callback, max_epochs), driven one epoch at a time
through :class:`~fastgd.engine.loop.LoopSteps`; a model that stops leaves
the pass, the others go on. A model whose loss or parameters stop being
finite is put back to its last completed epoch and reported (a warning,
stop reason ``"diverged"``); Ctrl-C during an epoch puts every model back
to its last completed epoch.
"""

import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, nullcontext

import numpy as np
from numba import get_num_threads

from ..sparse.csr import CSR
from ._threads import guard
from .data import block_rows_for, is_direct, row_order
from .epoch import epoch_paths, make_epoch
from .fused import FusedRun, fusable_key
from .loop import Outcome, run_together
from .step import Data, pack, unpack
from .trainer import DivergenceError, EpochResult


class SharedPass:
    """One epoch of each of several trainers over the same rows, each block read once.

    The ``trainers`` of :meth:`run_epoch` share the batch size, the shuffle
    mode and (when it shuffles) the state of their random generators; the
    first one's blocks feed them all. It returns, per trainer, an
    :class:`~fastgd.engine.EpochResult` or the :class:`DivergenceError` of
    a model that was put back to where it was before the epoch.
    ``rows_alone`` (None or a number of rows): the rows of ``rows`` are cut
    into blocks as a lone fit on a copy of that many rows of X cuts them
    (GridSearchCV's folds: the same pieces, so the same loss sums, as
    scikit-learn's fit on the fold's copy, whose early stopping trains on
    some of the copy's rows).

    ``exact=False``: the trainers :func:`~fastgd.engine.fused.fusable_key` accepts train
    in fused calls (:mod:`fastgd.engine.fused`: equal to their solo fits to rounding,
    the same bits whatever the thread count), one per group and piece on the calling
    thread; the others as with ``exact=True``.
    """

    def __init__(self, rows_alone=None, exact=True):
        self.rows_alone = rows_alone
        self.exact = exact

    def run_epoch(self, trainers, X, y, sw, rows=None):
        """One epoch of ``trainers`` (some of the pass's) over rows ``rows`` of X."""
        lead = trainers[0]
        for tr in trainers:
            tr.warm_up(X, y, sw, rows)
        snaps = [tr.snapshot() for tr in trainers]
        shuffle = "none" if lead.batch_size is None else lead.shuffle
        direct = is_direct(X) and rows is None and shuffle == "none"
        if isinstance(X, CSR) or lead.batch_size is None or (
                direct and (self.exact or len(trainers) == 1)):
            try:
                return [self._alone(tr, X, y, sw, rows) for tr in trainers]
            except BaseException:  # Ctrl-C: the models done with this epoch go back too
                for tr, snap in zip(trainers, snaps):
                    tr.restore(snap)
                raise
        n = X.shape[0]
        m = n if rows is None else rows.size
        batch = min(lead.batch_size, m)
        shape = X if self.rows_alone is None else \
            np.broadcast_to(X[:1], (self.rows_alone, X.shape[1]))
        block_rows = block_rows_for(shape, batch, lead.block_bytes)
        t0 = time.perf_counter()
        try:
            order = row_order(rows, n, shuffle, lead.rng, block_rows)
            for tr in trainers[1:]:  # the same draws as each would have made alone
                tr.rng.bit_generator.state = lead.rng.bit_generator.state
            out = self._blocks(trainers, X, y, sw, order, block_rows, batch)
        except BaseException:
            for tr, snap in zip(trainers, snaps):
                tr.restore(snap)
            raise
        seconds = time.perf_counter() - t0
        for k, (tr, snap) in enumerate(zip(trainers, snaps)):
            if isinstance(out[k], EpochResult) and not np.all(np.isfinite(tr.params)):
                out[k] = DivergenceError("the parameters became NaN or inf")
            if isinstance(out[k], DivergenceError):
                tr.restore(snap)
            else:
                out[k].seconds = seconds
        return out

    @staticmethod
    def _alone(trainer, X, y, sw, rows):
        try:
            return trainer.run_epoch(X, y, sw, rows)
        except DivergenceError as exc:
            return exc

    def _blocks(self, trainers, X, y, sw, order, block_rows, batch):
        lead = trainers[0]
        runs = []
        for tr in trainers:
            epoch = make_epoch(tr.rows, tr.penalty, tr.optimizer.rule,
                               *epoch_paths(tr.rows, X, tr.params, batch))
            runs.append([epoch, pack(tr.optimizer), tr.optimizer.step_count, 0.0, 0, None])
        serial = not any(any(epoch_paths(tr.rows, X, tr.params, batch)) for tr in trainers)
        overlap = get_num_threads() > 1 and serial
        pairs = list(zip(trainers, runs))
        fused = [] if self.exact else _fused_groups(pairs, X)
        taken = {id(tr) for group in fused for tr, _ in group}
        alone = [pr for pr in pairs if id(pr[0]) not in taken]
        # the epochs are serial and release the GIL: a second thread trains every other model
        # of the exact path; a fused group is one call on this thread, whatever the thread
        # count (its bits depend on which models share a call: so not on the threads), while
        # the helper thread gathers the next block (cut in two halves, one per thread, the 16
        # models of `fastgd bench grid` took a quarter more CPU and wall time: two products of
        # 8 models cost more than one of 16, and the handoff of each piece stalls under load)
        halves = ([(None, FusedRun([t for t, _ in group], [r[1] for _, r in group]))
                   for group in fused], [])
        if overlap:
            halves[0].extend(alone[0::2])
            halves[1].extend(alone[1::2])
        else:
            halves[0].extend(alone)
        fused_runs = [run for h in halves for tr, run in h if tr is None]
        with ThreadPoolExecutor(1) if halves[1] else nullcontext() as pool, \
                closing(lead._filled_blocks(X, y, sw, order, block_rows, batch, overlap)) as blocks:
            for a, xb, yb, sb in blocks:
                data = Data(xb, yb, sb)
                if pool is None:
                    _train_piece(halves[0], data, a, batch)
                    continue
                other = pool.submit(_train_piece, halves[1], data, a, batch)
                try:
                    _train_piece(halves[0], data, a, batch)
                finally:  # the block's buffer is not refilled while the other thread reads it
                    other.result()
        m = X.shape[0] if order is None else order.size
        for run in fused_runs:
            for tr, (loss_sum, t, skipped, done) in zip(run.trainers, run.finish()):
                r = runs[trainers.index(tr)]
                r[2:5] = t, loss_sum, skipped
                if done >= 0:
                    r[5] = DivergenceError(f"the loss became NaN or inf after {done} rows")
        out = []
        for tr, (_, p, t, loss_sum, skipped, failed) in zip(trainers, runs):
            if failed is not None:
                out.append(failed)
                continue
            t_start = tr.optimizer.step_count
            unpack(tr.optimizer, p, t, skipped)
            out.append(EpochResult(loss_sum / m, t - t_start, m, 0.0, skipped))
        return out


def _train_piece(pairs, data, a, batch):
    """Each (trainer, run) of ``pairs`` trains on the piece ``data`` (rows from ``a`` on)."""
    size = data.X.shape[0]
    for tr, run in pairs:
        if tr is None:  # a fused group (fastgd.engine.fused)
            with guard():
                run.train(data, a, batch)
            continue
        epoch, p, t, _, _, failed = run
        if failed is not None:
            continue
        with guard():
            part, run[2], s, done = epoch(tr.params, data, tr.hyper, p, batch, t)
        if done != size:
            run[5] = DivergenceError(f"the loss became NaN or inf after {a + done} rows")
        run[3] += part
        run[4] += s


def _fused_groups(pairs, X):
    """The (trainer, run) pairs of ``pairs`` that can train fused, in groups of two or more
    with one :func:`~fastgd.engine.fused.fusable_key` (in the order of ``pairs``)."""
    groups = {}
    for tr, run in pairs:
        key = fusable_key(tr, X, run[1].s)
        if key is not None:
            groups.setdefault(key, []).append((tr, run))
    return [g for g in groups.values() if len(g) > 1]


def train_together(plans, verbose=0, names=None, stacklevel=3, rows_alone=None, exact=True):
    """Run the :class:`~fastgd.models.base.EpochPlan` s of a group in shared passes.

    The plans train on the same data (``plan.data``) with trainers that walk
    the same rows (see :class:`SharedPass`). Returns each plan's stop reason
    (:data:`fastgd.engine.loop.STOP_REASONS`, with ``"diverged"``).
    ``verbose``: a line per epoch across the models (2: a line per model
    too, named by ``names``). ``rows_alone``, ``exact``: see :class:`SharedPass`.
    """
    for plan in plans:
        plan.loop.verbose = 0  # one line across the models instead
    steps = [plan.loop.steps(extra_level=1, **plan.hooks) for plan in plans]
    X, y, sw, rows = plans[0].data
    shared = SharedPass(rows_alone, exact)
    lead = plans[0].trainer
    if lead.shuffle != "none" and lead.batch_size is not None:
        for plan in plans[1:]:  # unseeded models share the first one's stream
            plan.trainer.rng.bit_generator.state = lead.rng.bit_generator.state

    def run_epoch(live, epoch):
        results = shared.run_epoch([plans[k].trainer for k in live], X, y, sw, rows)
        losses = [r.loss for r in results if isinstance(r, EpochResult)]
        if verbose > 1:
            for k, result in zip(live, results):
                if isinstance(result, EpochResult):
                    name = names[k] if names is not None else k
                    print(f"  {name}: loss {result.loss:.6g}", flush=True)
        if verbose:
            seconds = next((r.seconds for r in results if isinstance(r, EpochResult)), math.nan)
            low = f", loss {min(losses):.6g} to {max(losses):.6g}" if losses else ""
            print(f"epoch {epoch}: {len(live)} of {len(plans)} models{low}, "
                  f"{len(live) - len(losses)} diverged, {seconds:.3g} s", flush=True)
        return [r if isinstance(r, DivergenceError) else
                Outcome(r.loss, r.seconds, r.n_steps, r.samples_per_second) for r in results]

    def on_diverged(k, error):
        warnings.warn(str(error), UserWarning, stacklevel=stacklevel + 2)

    def on_interrupt(epoch, live):
        warnings.warn(f"fit_many interrupted during epoch {epoch}: every model keeps the "
                      f"parameters of its last completed epoch", UserWarning,
                      stacklevel=stacklevel + 2)

    return run_together(steps, run_epoch, on_diverged, on_interrupt)


__all__ = ["SharedPass", "train_together"]
