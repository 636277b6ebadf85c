"""Section "auto": epochs to reach 1% of the optimum, ``lr="auto"`` against fixed rates.

Three problems with features of very different scales, as data come:
scikit-learn's breast-cancer table (binary logistic), its digits (pixels 0 to
16, softmax over 10 classes) and a generated regression (features with scales
from 0.1 to 1,000 and means of 50, intercept 150). Each is fitted by
``optimizer="adam"`` and ``"sgd"`` (mini-batches of 32, the default) for up
to ``MAX_EPOCHS`` epochs with

* ``lr="auto"``;
* the default ``lr=0.01``;
* the best of ``RATES`` tried one by one (the "tuned" rate: the fewest
  epochs, then the lowest objective).

After each epoch the whole objective (loss plus penalty, on the
coefficients in the data's units) is compared with its optimum f* (L-BFGS
on the same objective, :func:`scipy.optimize.minimize`) and with f0, its
value at the default start (all zeros): a row reports the first epoch within
1% of the way from f0 to f*, f - f* <= 0.01 (f0 - f*), or "not in 200"; and
f / f* after the last epoch.
``seconds`` is the whole fit; the ratio is epochs of the row / epochs of
``lr="auto"`` (above 1: auto needed fewer).
"""

import time

import numpy as np

from .harness import Row, section

MAX_EPOCHS = 200
RATES = (1e-3, 1e-2, 1e-1, 1.0)
ALPHA = 1e-4


def problems():
    """(name, estimator class, loss, X, y, n_classes) of the three problems."""
    from sklearn.datasets import load_breast_cancer, load_digits

    import fastgd
    Xc, yc = load_breast_cancer(return_X_y=True)
    Xd, yd = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    Xr = rng.standard_normal((5000, 8)) * np.array([0.1, 1, 10, 100, 1000, 1, 10, 0.5]) + 50.0
    yr = Xr @ np.array([3.0, -1.0, 0.2, 0.01, 0.002, 0.5, -0.1, 2.0]) + 150.0
    yr = yr + rng.standard_normal(yr.size)
    return [("breast cancer, logistic", fastgd.LogisticRegression, "logistic", Xc, yc, None),
            ("digits, softmax", fastgd.LogisticRegression, "softmax", Xd, yd, 10),
            ("unscaled regression", fastgd.LinearRegression, "squared_error", Xr, yr, None)]


def optimum(loss, X, y, n_classes):
    """(f*, objective(w_flat)) of the problem: L-BFGS to the end."""
    from scipy.optimize import minimize

    from ..losses import make_objective
    if n_classes:
        classes = np.unique(y)
        y = np.searchsorted(classes, y).astype(np.float64)
    fun = make_objective(loss, X, y, l2=ALPHA, n_classes=n_classes)
    k = n_classes or 1
    w0 = np.zeros(k * (X.shape[1] + 1))
    res = minimize(lambda w: tuple(np.copy(a) if isinstance(a, np.ndarray) else a
                                   for a in fun(w)), w0, jac=True, method="L-BFGS-B",
                   options={"maxiter": 100_000, "maxfun": 100_000, "ftol": 1e-15, "gtol": 1e-10})
    return float(res.fun), float(fun(w0)[0]), lambda w: fun(w)[0]


def epochs_to_target(cls, objective, target, X, y, **kw):
    """(first epoch with objective <= target or None, objective after it or the last
    epoch, seconds)."""
    hit = []

    def callback(info):
        m = info.estimator
        w = np.concatenate([np.ravel(m.coef_), np.ravel(m.intercept_)]).astype(np.float64)
        if not hit and objective(w) <= target:
            hit.append(info.epoch)
        return False

    est = cls(alpha=ALPHA, tol=None, max_epochs=MAX_EPOCHS, random_state=0, callback=callback,
              **kw)
    t0 = time.perf_counter()
    try:
        est.fit(X, y)
        w = np.concatenate([np.ravel(est.coef_), np.ravel(est.intercept_)]).astype(np.float64)
        final = objective(w)
    except Exception:     # a diverging rate
        final = float("inf")
    return (hit[0] if hit else None), final, time.perf_counter() - t0


@section("auto")
def bench_auto():
    rows = []
    for name, cls, loss, X, y, n_classes in problems():
        f_star, f0, objective = optimum(loss, X, y, n_classes)
        target = f_star + 0.01 * (f0 - f_star)
        for opt in ("adam", "sgd"):
            task = f"{name}, {opt}: epochs to 1% of f0 - f*"
            runs = {"auto": epochs_to_target(cls, objective, target, X, y, optimizer=opt,
                                             lr="auto"),
                    "lr=0.01 (default)": epochs_to_target(cls, objective, target, X, y,
                                                          optimizer=opt, lr=0.01)}
            tried = {lr: epochs_to_target(cls, objective, target, X, y, optimizer=opt, lr=lr)
                     for lr in RATES}
            best = min(tried, key=lambda lr: (tried[lr][0] or MAX_EPOCHS + 1, tried[lr][1]))
            runs[f"tuned lr={best:g}"] = tried[best]
            base = runs["auto"][0] or MAX_EPOCHS
            for impl, (epochs, final, seconds) in runs.items():
                reached = f"{epochs} epochs" if epochs else f"not in {MAX_EPOCHS}"
                row = Row("auto", task, "fastgd" if impl == "auto" else impl, seconds,
                          note=f"{reached}; f/f* = {final / f_star:.4g} after {MAX_EPOCHS}")
                if impl != "auto":
                    row.ratio = (epochs or MAX_EPOCHS) / base
                rows.append(row)
    return rows
