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

#: why a fit stopped, and how the command line says it
STOP_REASONS = {
    CONVERGED: "the training loss improved by less than tol for n_iter_no_change epochs",
    NO_IMPROVEMENT: "the validation score improved by less than tol for n_iter_no_change epochs "
                    "(the best epoch's parameters are kept)",
    MAX_EPOCHS: "max_epochs reached",
    CALLBACK: "the callback asked to stop",
    INTERRUPTED: "interrupted (the last completed epoch's parameters are kept)",
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
        unit = self.unit
        best_metric, bad, best_snap, best_score = math.inf, 0, None, None
        reason = MAX_EPOCHS
        for number in range(start, start + self.max_epochs):
            try:
                outcome = run_one()
            except KeyboardInterrupt:
                self._warn(f"interrupted during {unit} {number}: keeping the parameters of "
                           f"{unit} {number - 1}")
                reason = INTERRUPTED
                break
            except DivergenceError as exc:
                raise DivergenceError(
                    f"{self.name}: training diverged in {unit} {number} ({exc}). Try a smaller "
                    f"learning rate (lr={self.rate!r}) or scale the features (e.g. "
                    f"sklearn.preprocessing.StandardScaler). The parameters of {unit} "
                    f"{number - 1} are kept.") from None
            record(outcome)
            score = math.nan
            metric = outcome.loss
            if validate is not None:
                score = float(validate())
                metric = -score
                if best_score is None or score > best_score:
                    best_score, best_snap = score, snapshot()
            if isinstance(self.lr, ReduceLROnPlateau):
                self.lr.report(outcome.loss)
            if self.verbose:
                extra = "" if math.isnan(score) else f", validation score {score:.6g}"
                print(f"{unit} {number}: loss {outcome.loss:.6g}{extra}, {outcome.n_steps} "
                      f"steps, {outcome.samples_per_second:,.0f} samples/s, "
                      f"{outcome.seconds:.3g} s", flush=True)
            stop = False
            if self.tol is not None:
                bad = bad + 1 if metric > best_metric - self.tol else 0
                best_metric = min(best_metric, metric)
                if bad >= self.patience:
                    stop, reason = True, NO_IMPROVEMENT if validate is not None else CONVERGED
            if self.callback is not None:
                try:
                    if self.callback(info(number, outcome, score)):
                        stop, reason = True, CALLBACK
                except KeyboardInterrupt:
                    self._warn(f"interrupted after {unit} {number}: keeping its parameters")
                    reason = INTERRUPTED
                    break
            if stop:
                break
        else:
            if self.tol is not None and self.max_epochs > 0:
                warnings.warn(f"{self.name}: maximum number of {unit}s ({self.max_epochs}) "
                              f"reached before convergence; raise max_{unit}s or tol",
                              ConvergenceWarning, stacklevel=self.stacklevel)
        if best_snap is not None:
            restore(best_snap)
        return reason

    def _warn(self, what):
        warnings.warn(f"{self.name}.fit {what}", UserWarning, stacklevel=self.stacklevel + 1)


__all__ = ["EpochLoop", "Outcome", "STOP_REASONS", "CONVERGED", "NO_IMPROVEMENT", "MAX_EPOCHS",
           "CALLBACK", "INTERRUPTED"]
