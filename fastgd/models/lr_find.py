"""The learning-rate range test: ``fastgd.lr_find(estimator, X, y)``.

Smith (2017, "Cyclical learning rates for training neural networks",
section 3.3) trains for a few hundred mini-batch steps while the learning
rate grows exponentially from very small to very large, and records the
loss of every step. While the rate is too small the loss barely moves; as it
grows the loss falls faster and faster; past a point it turns up and
diverges. A good rate lies well inside the falling part: this module
suggests one tenth of the rate at which the smoothed loss was lowest (the
rule fastai calls ``lr_min``), and also reports the rate of steepest descent.

The test runs on a copy of the estimator (``sklearn.base.clone``), one
``partial_fit`` per mini-batch: the estimator passed in stays unfitted (or
as it was), and the data are only read.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .._validation import check_int, check_real


@dataclass
class LRFindResult:
    """What the range test saw. ``lrs[i]`` and ``losses[i]``: the rate of step i and
    the loss of its batch before its update; ``smoothed``: the losses smoothed
    exponentially (bias-corrected); ``suggestion``: the suggested rate, chosen by
    ``rule``; ``steepest``: where the smoothed loss fell fastest per decade of
    rate; ``stopped``: why the test ended before ``max_lr`` (or None)."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    steepest: float
    rule: str
    stopped: str = None

    def plot(self, path=None, ax=None):
        """Draw loss against rate (log scale) with the suggestion marked; needs matplotlib.

        With ``path`` the figure is saved there (PNG); returns the axes.
        """
        from ..cli.plot import require_matplotlib
        require_matplotlib()
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.losses, color="0.75", lw=1, label="loss of each step")
        ax.plot(self.lrs, self.smoothed, color="C0", lw=2, label="smoothed")
        ax.axvline(self.suggestion, color="C3", ls="--",
                   label=f"suggestion {self.suggestion:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("learning-rate range test")
        finite = self.smoothed[np.isfinite(self.smoothed)]
        if finite.size:
            low, high = finite.min(), finite[0]
            ax.set_ylim(low - 0.1 * (high - low + 1e-12), high + 0.5 * (high - low + 1e-12))
        ax.legend()
        if path is not None:
            ax.figure.savefig(path, dpi=120, bbox_inches="tight")
        return ax


def lr_find(estimator, X, y, sample_weight=None, *, min_lr=1e-6, max_lr=10.0, steps=100,
            smoothing=0.9, diverge=4.0, random_state=0):
    """Run the learning-rate range test on a copy of a fastgd estimator.

    Parameters
    ----------
    estimator : a fastgd estimator (LinearRegression, LogisticRegression, ...,
        MLPClassifier): its optimizer, batch size and other settings are used;
        its ``lr`` is replaced by the growing rate. It is not modified.
    X, y, sample_weight : the training data (as ``fit`` takes them); only read.
    min_lr, max_lr : the range of rates, 0 < min_lr < max_lr.
    steps : number of steps (>= 5), each on one mini-batch of
        ``estimator.batch_size`` rows drawn from X without replacement (and,
        if X has fewer rows than that, in several passes); with
        ``batch_size=None`` each step is a full-batch step.
    smoothing : the weight of the past in the smoothed loss, in [0, 1).
    diverge : stop when the smoothed loss exceeds ``diverge`` times its lowest
        value (or when the loss becomes NaN or inf).
    random_state : seeds the order of the batches.

    Returns
    -------
    :class:`LRFindResult`, whose ``suggestion`` is one tenth of the rate at
    which the smoothed loss was lowest.

    >>> import numpy as np, fastgd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((2000, 5)); y = X @ np.ones(5) + 0.1 * rng.standard_normal(2000)
    >>> result = fastgd.lr_find(fastgd.LinearRegression(optimizer="sgd", batch_size=32), X, y)
    >>> 1e-3 < result.suggestion < 1.0
    True
    """
    from sklearn.base import clone

    from ..engine import DivergenceError
    from ..schedules import Exponential
    from .base import GDEstimator

    if not isinstance(estimator, GDEstimator):
        raise TypeError(f"estimator must be a fastgd estimator, got {type(estimator).__name__}")
    min_lr = check_real("min_lr", min_lr, low=0.0, low_open=True)
    max_lr = check_real("max_lr", max_lr, low=0.0, low_open=True)
    if not min_lr < max_lr:
        raise ValueError(f"min_lr must be smaller than max_lr, got {min_lr} and {max_lr}")
    steps = check_int("steps", steps, low=5)
    smoothing = check_real("smoothing", smoothing, low=0.0, high=1.0, high_open=True)
    diverge = check_real("diverge", diverge, low=1.0, low_open=True)
    if not (random_state is None or (isinstance(random_state, numbers.Integral)
                                     and not isinstance(random_state, bool))):
        raise TypeError(f"random_state must be None or an int, got {random_state!r}")
    n = _n_rows(X)
    if np.shape(y)[:1] != (n,):
        raise ValueError(f"y must have {n} entries (one per row of X), got shape {np.shape(y)}")
    gamma = (max_lr / min_lr) ** (1.0 / (steps - 1))
    probe = clone(estimator).set_params(lr=Exponential(min_lr, gamma), callback=None, verbose=0,
                                        tol=None, early_stopping=False, warm_start=False)
    probe._checked_params()                     # the estimator's own checks, before any work
    batch = n if probe.batch_size is None else min(int(probe.batch_size), n)
    order = _batches(n, batch, steps, random_state)
    extra = {}
    if probe._is_classifier():
        extra["classes"] = np.unique(np.asarray(y))
    lrs, losses, stopped = [], [], None
    best = math.inf
    avg = 0.0
    for i, rows in enumerate(order):
        Xb = X[rows] if rows is not None else X
        yb = np.asarray(y)[rows] if rows is not None else y
        sw = None if sample_weight is None else np.asarray(sample_weight)[rows if rows is not None
                                                                          else slice(None)]
        lr = min_lr * gamma ** i
        try:
            probe.partial_fit(Xb, yb, sample_weight=sw, **(extra if i == 0 else {}))
        except DivergenceError:
            stopped = f"the loss became NaN or inf at lr={lr:.3g}"
            break
        loss = probe.loss_curve_[-1]
        lrs.append(lr)
        losses.append(loss)
        avg = smoothing * avg + (1.0 - smoothing) * loss
        smooth = avg / (1.0 - smoothing ** (i + 1))
        best = min(best, smooth)
        if not math.isfinite(loss) or (i >= 5 and smooth > diverge * best):
            stopped = (f"the smoothed loss exceeded {diverge:g} times its lowest value at "
                       f"lr={lr:.3g}")
            break
    return _result(np.array(lrs), np.array(losses), smoothing, stopped)


def _n_rows(X):
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got "
                         f"{'shape ' + str(shape) if shape is not None else type(X).__name__}")
    if shape[0] < 1:
        raise ValueError("X has no rows")
    return int(shape[0])


def _batches(n, batch, steps, seed):
    """Row indices of each step's batch (None: all rows), sorted within a batch."""
    if batch >= n:
        return [None] * steps
    rng = np.random.default_rng(seed)
    out, perm = [], rng.permutation(n)
    while len(out) < steps:
        for a in range(0, n - batch + 1, batch):
            out.append(np.sort(perm[a:a + batch]))
            if len(out) == steps:
                break
        perm = rng.permutation(n)
    return out


def _result(lrs, losses, smoothing, stopped):
    if lrs.size < 2:
        raise ValueError(f"the range test stopped after {lrs.size} step(s) ({stopped}): "
                         f"lower min_lr")
    smoothed = np.empty_like(losses)
    avg = 0.0
    for i, loss in enumerate(losses):
        avg = smoothing * avg + (1.0 - smoothing) * loss
        smoothed[i] = avg / (1.0 - smoothing ** (i + 1))
    lowest = int(np.argmin(smoothed))
    # the steepest fall, past the first steps (where the smoothing is still settling)
    start = min(int(1.0 / (1.0 - smoothing)), max(lowest - 1, 0))
    slope = np.gradient(smoothed, np.log10(lrs))
    steepest = float(lrs[start + int(np.argmin(slope[start:max(lowest, start + 1)]))])
    rule = "one tenth of the rate with the lowest smoothed loss, after Smith (2017)"
    if lowest == lrs.size - 1 and stopped is None:
        rule += "; the loss still fell at max_lr, so a larger max_lr may suggest more"
    return LRFindResult(lrs, losses, smoothed, float(lrs[lowest] / 10.0), steepest, rule,
                        stopped)


__all__ = ["lr_find", "LRFindResult"]
