"""Section "grid": 16 configurations of LogisticRegression (Adam, batch 256, one epoch) at once.

The grid is 4 learning rates x 4 penalties (``LRS`` x ``ALPHAS``) on the
float32 data of the "linear" section. Rows:

* fastgd, one fit of one configuration (the baseline);
* ``fastgd.fit_many`` over the 16, in shared passes (each block gathered
  once, then all 16 train on it), against the one fit (the issue's target:
  at most 3x) and against fastgd fitting them one by one;
* ``fastgd.GridSearchCV`` (5 folds, the 16 configurations of a fold in
  shared passes over the fold's rows, by index) against scikit-learn's
  ``GridSearchCV`` over ``SGDClassifier(loss="log_loss")`` with the same
  grid (its ``eta0`` constant rates for the rates, its ``alpha`` for the
  penalties, one epoch, ``n_jobs=2``), best cross-validated accuracy of
  each in the note;
* the same two with ``exact=False`` (:mod:`fastgd.engine.fused`: the
  eligible models in one multi-model kernel per piece, equal to their solo
  fits to rounding), the largest relative coefficient difference from the
  exact fits in the note;
* the traced peak memory (``tracemalloc``) of the fastgd grid fits next to
  the size of X: no copy of X per model or per fold. (scikit-learn's
  workers each copy a fold's rows, in float64, per fit: in the note.)

``n`` defaults to ``N`` rows (1,000,000); ``FASTGD_BENCH_GRID_N`` sets
another (scikit-learn's 80 fits take minutes at full size).
"""

import os
import time
import tracemalloc
import warnings

import numpy as np

from .harness import Row, section
from .linear import BATCH, D, N, data, log_loss

LRS = (3e-4, 1e-3, 3e-3, 1e-2)
ALPHAS = (1e-6, 1e-5, 1e-4, 1e-3)
FOLDS = 5


def _estimator():
    import fastgd
    return fastgd.LogisticRegression(optimizer="adam", batch_size=BATCH, max_epochs=1, tol=None,
                                     random_state=0)


def _grid():
    return {"lr": list(LRS), "alpha": list(ALPHAS)}


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _traced(fn):
    """(seconds, peak traced bytes, result) of fn()."""
    tracemalloc.start()
    try:
        seconds, out = _timed(fn)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return seconds, peak, out


def _best_loss(models, X, y):
    return min(log_loss(m.coef_, m.intercept_, X, y) for m in models)


@section("grid")
def grid_rows(n=None):
    import fastgd
    from sklearn.base import clone
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import GridSearchCV as SklearnGridSearchCV
    from sklearn.model_selection import ParameterGrid
    n = int(os.environ.get("FASTGD_BENCH_GRID_N", N)) if n is None else n
    X, y = data(n)
    mb = X.nbytes / 2**20
    grid = _grid()
    k = len(ParameterGrid(grid))
    est = _estimator()
    fastgd.fit_many(est, grid, X[:2000], y[:2000])            # compile outside the timings
    fastgd.GridSearchCV(est, grid, cv=2, refit=False).fit(X[:2000], y[:2000])
    fastgd.fit_many(est, grid, X[:2000], y[:2000], exact=False)
    task = f"{k} configs LogReg Adam b{BATCH}, 1 epoch, {n:,} x {D} f32"
    t_one, one = _timed(lambda: clone(est).set_params(lr=LRS[1], alpha=ALPHAS[0]).fit(X, y))
    rows = [Row("grid", task, "fastgd one fit (1 config)", t_one,
                f"loss {log_loss(one.coef_, one.intercept_, X, y):.5f}")]
    t_many, peak, models = _traced(lambda: fastgd.fit_many(est, grid, X, y))
    rows.append(Row("grid", task, "fastgd fit_many", t_many,
                    f"{t_many / t_one:.2f}x one fit (target <= 3x); best loss "
                    f"{_best_loss(models, X, y):.5f}; traced peak {peak / 2**20:.0f} MiB next "
                    f"to X's {mb:.0f} MiB"))
    t_fused, fused = _timed(lambda: fastgd.fit_many(est, grid, X, y, exact=False))
    gap = max(float(np.abs(a.coef_ - b.coef_).max() / np.abs(b.coef_).max())
              for a, b in zip(fused, models))
    rows.append(Row("grid", task, "fastgd fit_many exact=False", t_fused,
                    f"{t_fused / t_one:.2f}x one fit; coefficients within {gap:.1e} "
                    f"(relative) of the exact fits"))
    t_each, alone = _timed(lambda: [clone(est).set_params(**p).fit(X, y)
                                    for p in ParameterGrid(grid)])
    same = all(np.array_equal(a.coef_, m.coef_) for a, m in zip(alone, models))
    rows.append(Row("grid", task, "fastgd one by one", t_each,
                    f"{t_each / t_many:.1f}x fit_many; the same models bit for bit: {same}"))
    cv_task = f"{k} configs x {FOLDS} folds GridSearchCV, 1 epoch, {n:,} x {D} f32"
    t_cv, peak_cv, ours = _traced(
        lambda: fastgd.GridSearchCV(est, grid, cv=FOLDS, refit=False).fit(X, y))
    rows.append(Row("grid", cv_task, "fastgd", t_cv,
                    f"best accuracy {ours.best_score_:.4f} ({ours.best_params_}); traced peak "
                    f"{peak_cv / 2**20:.0f} MiB next to X's {mb:.0f} MiB"))
    t_cvf, fast = _timed(
        lambda: fastgd.GridSearchCV(est, grid, cv=FOLDS, refit=False, exact=False).fit(X, y))
    fused_cv = Row("grid", cv_task, "fastgd exact=False", t_cvf,
                   f"best accuracy {fast.best_score_:.4f} ({fast.best_params_})")
    rows.append(fused_cv)
    sgd = SGDClassifier(loss="log_loss", learning_rate="constant", max_iter=1, tol=None,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # one epoch: ConvergenceWarning
        t_sk, theirs = _timed(lambda: SklearnGridSearchCV(
            sgd, {"eta0": list(LRS), "alpha": list(ALPHAS)}, cv=FOLDS, n_jobs=2,
            refit=False).fit(X, y))
    copy_mb = (FOLDS - 1) / FOLDS * n * D * 8 / 2**20
    rows.append(Row("grid", cv_task, "sklearn GridSearchCV(SGDClassifier), n_jobs=2", t_sk,
                    f"best accuracy {theirs.best_score_:.4f} ({theirs.best_params_}); each "
                    f"worker copies a fold's rows in float64 per fit ({copy_mb:.0f} MiB)",
                    ratio=t_sk / t_cv))
    fused_cv.ratio = t_sk / t_cvf  # the exact=False search against scikit-learn's too
    for r in rows:
        if r.task == task and r.impl not in ("fastgd fit_many", "fastgd fit_many exact=False"):
            r.ratio = r.seconds / t_many
    return rows
