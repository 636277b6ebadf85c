"""The loop over epochs: when training stops, and what it says on the way.

One loop for every estimator, local (:class:`fastgd.models.GDEstimator`) or
on a cluster (:class:`fastgd.DataParallel`, whose "epochs" are rounds):

* each epoch is atomic (the caller's ``run_one`` completes it or leaves the
  model as it was: :meth:`fastgd.engine.Trainer.run_epoch` does);
* Ctrl-C during an epoch (or a KeyboardInterrupt raised by the callback)
  stops with a warning and keeps the last completed epoch;
* divergence (:class:`DivergenceError` from ``run_one``) is re-raised with
  the epoch, the learning rate and what to try;
* after each epoch: a ``ReduceLROnPlateau`` rate hears the training loss,
  a verbose line is printed, the callback is called (True stops);
* stopping rules: ``tol`` and ``patience`` on the training loss, or, with
  a validation score, on the score, keeping the parameters of the best
  epoch; otherwise ``max_epochs``, with a ``ConvergenceWarning`` when ``tol``
  was set and never met.

:meth:`EpochLoop.run` returns why it stopped, one of :data:`STOP_REASONS`.
"""

import math
import warnings
from dataclasses import dataclass

from sklearn.exceptions import ConvergenceWarning

from ..schedules import ReduceLROnPlateau
from .trainer import DivergenceError

CONVERGED = "converged"
NO_IMPROVEMENT = "no_improvement"
MAX_EPOCHS = "max_epochs"
CALLBACK = "callback"
INTERRUPTED = "interrupted"
DIVERGED = "diverged"

#: why a fit stopped, and how the command line says it
STOP_REASONS = {
    CONVERGED: "the training loss improved by less than tol for n_iter_no_change epochs",
    NO_IMPROVEMENT: "the validation score improved by less than tol for n_iter_no_change epochs "
                    "(the best epoch's parameters are kept)",
    MAX_EPOCHS: "max_epochs reached",
    CALLBACK: "the callback asked to stop",
    INTERRUPTED: "interrupted (the last completed epoch's parameters are kept)",
    DIVERGED: "diverged (fastgd.fit_many: the last finite epoch's parameters are kept)",
}


@dataclass
class Outcome:
    """What one epoch did, as the loop sees it."""

    loss: float
    seconds: float
    n_steps: int
    samples_per_second: float = math.inf


class EpochLoop:
    """Runs epochs until a stopping rule says stop (see the module docstring).

    ``name``: the estimator's name for messages; ``unit``: "epoch" or
    "round"; ``max_epochs``: epochs (units) to run at most; ``tol``,
    ``patience``: the stopping rule (``tol`` None: run ``max_epochs``);
    ``lr``: the optimizer's rate (a ``ReduceLROnPlateau`` is told each
    loss); ``rate``: the learning rate as the user gave it (for messages);
    ``verbose``, ``callback``: as the estimators take them; ``stacklevel``:
    where warnings point (the user's call of ``fit``).
    """

    def __init__(self, name, max_epochs, tol, patience, lr, rate, verbose=0, callback=None,
                 unit="epoch", stacklevel=4):
        self.name, self.unit = name, unit
        self.max_epochs, self.tol, self.patience = max_epochs, tol, patience
        self.lr, self.rate, self.verbose, self.callback = lr, rate, verbose, callback
        self.stacklevel = stacklevel

    def run(self, run_one, record, start=1, validate=None, snapshot=None, restore=None,
            info=None):
        """Run the epochs, numbered from ``start``; returns the stop reason.

        ``run_one()``: runs one epoch atomically and returns an
        :class:`Outcome`; may raise DivergenceError or KeyboardInterrupt.
        ``record(outcome)``: stores it in the estimator. ``validate()``: the
        validation score after an epoch (higher is better), or None for
        none; then ``snapshot()``/``restore(snap)`` keep the best epoch.
        ``info(number, outcome, score)``: what the callback receives.
        """
        steps = self.steps(record, start, validate, snapshot, restore, info, extra_level=1)
        while steps.wants_epoch():
            try:
                outcome = run_one()
            except KeyboardInterrupt:
                steps.interrupted()
                break
            except DivergenceError as exc:
                raise steps.diverged(exc) from None
            steps.after(outcome)
        return steps.finish()

    def steps(self, record, start=1, validate=None, snapshot=None, restore=None, info=None,
              extra_level=0):
        """The loop of :meth:`run` one epoch at a time, for a caller that runs the epochs
        of several loops together (:func:`fastgd.fit_many`): a :class:`LoopSteps`."""
        return LoopSteps(self, record, start, validate, snapshot, restore, info, extra_level)

    def _warn(self, what, level=0):
        warnings.warn(f"{self.name}.fit {what}", UserWarning,
                      stacklevel=self.stacklevel + 1 + level)


class LoopSteps:
    """An :class:`EpochLoop` run driven from outside, epoch by epoch.

    While :meth:`wants_epoch`, the caller runs an epoch and hands its
    :class:`Outcome` to :meth:`after` (or calls :meth:`interrupted` on
    Ctrl-C, :meth:`diverged` on a DivergenceError); :meth:`finish` returns
    the stop reason. The same rules as :meth:`EpochLoop.run`, which is
    written with it.
    """

    def __init__(self, loop, record, start, validate, snapshot, restore, info, extra_level=0):
        self.loop, self.record, self.validate = loop, record, validate
        self.snapshot, self.restore, self.info = snapshot, restore, info
        self.number, self.stop_at = start, start + loop.max_epochs
        self.best_metric, self.bad, self.best_snap, self.best_score = math.inf, 0, None, None
        self.reason, self.stopped = MAX_EPOCHS, False
        self.level = extra_level

    def wants_epoch(self):
        """True while another epoch is to run."""
        return not self.stopped and self.number < self.stop_at

    def interrupted(self, warn=True):
        """Ctrl-C during the current epoch: stop, keeping the last completed one (and warn)."""
        unit, number = self.loop.unit, self.number
        if warn:
            self.loop._warn(f"interrupted during {unit} {number}: keeping the parameters of "
                            f"{unit} {number - 1}", self.level)
        self.reason, self.stopped = INTERRUPTED, True

    def diverged(self, exc):
        """The DivergenceError to raise (or report) for ``exc`` in the current epoch; stops."""
        loop, unit, number = self.loop, self.loop.unit, self.number
        self.stopped = True
        return DivergenceError(
            f"{loop.name}: training diverged in {unit} {number} ({exc}). Try a smaller "
            f"learning rate (lr={loop.rate!r}) or scale the features (e.g. "
            f"sklearn.preprocessing.StandardScaler). The parameters of {unit} "
            f"{number - 1} are kept.")

    def after(self, outcome):
        """After a completed epoch: record, validate, report, and the stopping rules."""
        loop, unit, number = self.loop, self.loop.unit, self.number
        self.number += 1
        self.record(outcome)
        score = math.nan
        metric = outcome.loss
        if self.validate is not None:
            score = float(self.validate())
            metric = -score
            if self.best_score is None or score > self.best_score:
                self.best_score, self.best_snap = score, self.snapshot()
        if isinstance(loop.lr, ReduceLROnPlateau):
            loop.lr.report(outcome.loss)
        if loop.verbose:
            extra = "" if math.isnan(score) else f", validation score {score:.6g}"
            print(f"{unit} {number}: loss {outcome.loss:.6g}{extra}, {outcome.n_steps} "
                  f"steps, {outcome.samples_per_second:,.0f} samples/s, "
                  f"{outcome.seconds:.3g} s", flush=True)
        if loop.tol is not None:
            self.bad = self.bad + 1 if metric > self.best_metric - loop.tol else 0
            self.best_metric = min(self.best_metric, metric)
            if self.bad >= loop.patience:
                self.stopped = True
                self.reason = NO_IMPROVEMENT if self.validate is not None else CONVERGED
        if loop.callback is not None:
            try:
                if loop.callback(self.info(number, outcome, score)):
                    self.stopped, self.reason = True, CALLBACK
            except KeyboardInterrupt:
                loop._warn(f"interrupted after {unit} {number}: keeping its parameters",
                           self.level)
                self.stopped, self.reason = True, INTERRUPTED

    def finish(self):
        """The stop reason; warns when ``tol`` was never met, restores the best epoch."""
        loop = self.loop
        if not self.stopped and loop.tol is not None and loop.max_epochs > 0:
            warnings.warn(f"{loop.name}: maximum number of {loop.unit}s ({loop.max_epochs}) "
                          f"reached before convergence; raise max_{loop.unit}s or tol",
                          ConvergenceWarning, stacklevel=loop.stacklevel + self.level)
        if self.best_snap is not None:
            self.restore(self.best_snap)
        return self.reason


def run_together(steps, run_epoch, on_diverged, on_interrupt):
    """Run the epochs of several :class:`LoopSteps` together until none wants another.

    The one loop for models trained side by side (:func:`fastgd.fit_many`,
    :meth:`fastgd.DataParallel.fit_many`, and a lone DataParallel fit):
    ``run_epoch(live, epoch)`` runs epoch ``epoch`` (1-based, counted here)
    of the loops ``live`` (their indices) and returns, for each, an
    :class:`Outcome` or the :class:`DivergenceError` of a model it put back
    to where it was; ``on_diverged(k, error)`` reports the error loop k's
    :meth:`LoopSteps.diverged` made (warn, or raise to stop everything);
    a KeyboardInterrupt from ``run_epoch`` (every live model put back)
    calls ``on_interrupt(epoch, live)`` and stops them all. Models whose
    rules stop them leave; the others go on. Returns each loop's stop
    reason (:data:`DIVERGED` for those that diverged). Steps made for it
    take ``extra_level=1`` (this function is one more frame for warnings).
    """
    reasons = [None] * len(steps)
    epoch = 0
    while True:
        live = [k for k, s in enumerate(steps) if reasons[k] is None and s.wants_epoch()]
        if not live:
            break
        epoch += 1
        try:
            results = run_epoch(live, epoch)
        except KeyboardInterrupt:
            on_interrupt(epoch, live)
            for k in live:
                steps[k].interrupted(warn=False)
            break
        for k, result in zip(live, results):
            if isinstance(result, DivergenceError):
                on_diverged(k, steps[k].diverged(result))
                reasons[k] = DIVERGED
            else:
                steps[k].after(result)
    return [reasons[k] or s.finish() for k, s in enumerate(steps)]


__all__ = ["EpochLoop", "LoopSteps", "run_together", "DIVERGED", "Outcome", "STOP_REASONS", "CONVERGED", "NO_IMPROVEMENT", "MAX_EPOCHS",
           "CALLBACK", "INTERRUPTED"]
