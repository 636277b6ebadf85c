"""Section "dask": fastgd.dask against dask-ml on one LocalCluster, same data, one run.

Data: 1,000,000 x 100 float32 (standard normal features, labels drawn from a
logistic model), in 10 chunks of 100,000 rows, generated on and persisted in
2 worker processes (one dask thread and one numba thread each). Nothing is
gathered to the client.

Tasks:

1. **One full-gradient iteration.** fastgd: ``DataParallel(mode="sync",
   batch_size=None)``, one round = one exact gradient over all rows + one
   update. dask-ml: ``LogisticRegression(solver="gradient_descent")``
   (dask-glm), one iteration = gradient + backtracking line search. Both are
   timed as a marginal cost, (fit with k2 iterations - fit with k1) / (k2 - k1),
   so set-up and compilation are excluded on both sides.
2. **Fit to the same loss.** dask-ml ``solver="lbfgs"`` (its defaults:
   C=1, tol=1e-4, max_iter=100), total fit time; then fastgd, total fit time
   (set-up included) until its training objective is at or below the
   objective of lbfgs's model, to 9 significant digits (fastgd's kernels
   compute the dot products in float32, dask-glm in float64, so the two
   minima differ in the 11th digit): exact full-batch gradient descent
   (``mode="sync"``, SGD without momentum) with the textbook step 1/L, where
   L = lambda_max(X^T X / n) / 4 bounds the logistic loss's curvature; for
   standardised features lambda_max is about 1, so lr = 4. Both models are
   then scored with one objective, fastgd's ``mean logistic loss + alpha/2
   ||coef||^2`` with ``alpha = 1/(n C)``, in float64 on the workers
   (dask-glm's objective is n times that, with the intercept also penalised:
   a difference far below the digits shown).
3. **Throughput of mode "local".** One round: an epoch of mini-batch Adam
   (batch 256) on every chunk, then averaging. No peer: dask-ml has no
   mini-batch solver for dask arrays.
4. **A grid.** ``DataParallel.fit_many`` of 8 configurations (4 rates x 2
   penalties, 5 exact full-batch rounds each) against the same 8 fitted one
   by one (the same models, bit for bit; checked), set-up included on both
   sides: the ratio is what sharing the set-up and the rounds saves.

dask-ml is optional (``pip install dask-ml``): without it its rows say so.
"""

import math
import time

import numpy as np

from .harness import Row, optional, section

N, D, CHUNK_ROWS = 1_000_000, 100, 100_000
N_WORKERS = 2


def make_data(client, n=N, d=D, chunk_rows=CHUNK_ROWS, seed=0):
    """(X, y, coef_true) as persisted dask arrays on the cluster; y in {0, 1} float32."""
    import dask.array as da
    rs = da.random.RandomState(seed)
    X = rs.standard_normal((n, d), chunks=(chunk_rows, d)).astype(np.float32)
    coef = np.random.default_rng(seed).standard_normal(d) / math.sqrt(d) * 2.0
    z = X @ coef.astype(np.float32) + np.float32(0.3)
    u = rs.random_sample(n, chunks=chunk_rows).astype(np.float32)
    y = (u < 1.0 / (1.0 + da.exp(-z))).astype(np.float32)
    X, y = client.persist([X, y])
    from distributed import wait
    wait([X, y])
    return X, y, coef


def objective(X, y, coef, intercept, alpha):
    """fastgd's logistic objective at (coef, intercept), reduced on the workers."""
    import dask.array as da
    z = X.astype(np.float64) @ np.asarray(coef, dtype=np.float64).ravel() + float(intercept)
    loss = (da.logaddexp(0.0, z) - y * z).mean()
    return float(loss.compute()) + 0.5 * alpha * float(np.sum(np.square(coef)))


def _fastgd_estimator(alpha, **kw):
    import fastgd
    return fastgd.LogisticRegression(alpha=alpha, tol=None, random_state=0, **kw)


def _marginal(fit, k1, k2):
    """(seconds per iteration from fits of k1 and k2 iterations, the k2 fit's result)."""
    times = []
    for k in (k1, k2):
        t0 = time.perf_counter()
        out = fit(k)
        times.append(time.perf_counter() - t0)
    return (times[1] - times[0]) / (k2 - k1), out


def fastgd_iteration(client, X, y, alpha, k1=5, k2=25):
    """Marginal seconds per exact full-gradient round (SGD, lr 4), and the k2 fit."""
    from ..dask import DataParallel

    def fit(k):
        return DataParallel(_fastgd_estimator(alpha, optimizer="sgd", lr=4.0, batch_size=None),
                            mode="sync", max_rounds=k, client=client).fit(X, y)

    fit(2)  # warm-up: compile on the workers, fill numba's cache
    return _marginal(fit, k1, k2)


def daskml_iteration(X, y, k1=5, k2=25):
    """Marginal seconds per dask-glm gradient-descent iteration (tol=0: no early stop)."""
    from dask_ml.linear_model import LogisticRegression
    return _marginal(lambda k: LogisticRegression(solver="gradient_descent", max_iter=k,
                                                  tol=0.0).fit(X, y), k1, k2)


SAME = 1e-9  # "the same objective": equal to 9 significant digits


def fastgd_to_target(client, X, y, alpha, target, max_rounds=200):
    """(seconds, fit) for exact gradient descent to reach a training objective <= target."""
    from ..dask import DataParallel

    def stop(info):
        return info.loss <= target * (1 + SAME)

    t0 = time.perf_counter()
    dp = DataParallel(_fastgd_estimator(alpha, optimizer="sgd", lr=4.0, batch_size=None),
                      mode="sync", max_rounds=max_rounds, client=client, callback=stop).fit(X, y)
    return time.perf_counter() - t0, dp


def fastgd_local_round(client, X, y, alpha, rounds=3):
    """Median seconds of a local round (one epoch of batch-256 Adam per chunk + averaging)."""
    from ..dask import DataParallel
    seconds = []
    dp = DataParallel(_fastgd_estimator(alpha, optimizer="adam", lr=1e-3, batch_size=256),
                      mode="local", max_rounds=rounds, client=client,
                      callback=lambda info: seconds.append(info.seconds)).fit(X, y)
    return float(np.median(seconds)), dp


GRID = {"lr": [0.5, 1.0, 2.0, 4.0], "alpha": [1e-6, 1e-4]}


def fastgd_grid(client, X, y, rounds=5):
    """(seconds of fit_many over GRID, seconds one by one, all models bit for bit equal)."""
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    from ..dask import DataParallel
    est = _fastgd_estimator(1e-6, optimizer="sgd", batch_size=None)
    dp = DataParallel(est, mode="sync", max_rounds=rounds, client=client)
    dp.fit_many({"lr": [1.0]}, X, y)  # warm-up
    t0 = time.perf_counter()
    many = dp.fit_many(GRID, X, y)
    t_many = time.perf_counter() - t0
    t0 = time.perf_counter()
    alone = [DataParallel(clone(est).set_params(**p), mode="sync", max_rounds=rounds,
                          client=client).fit(X, y)
             for p in ParameterGrid(GRID)]
    t_alone = time.perf_counter() - t0
    return t_many, t_alone, all(np.array_equal(a.coef_, m.coef_) for a, m in zip(alone, many))


@section("dask")
def dask_rows(n=N, d=D, chunk_rows=CHUNK_ROWS):
    if optional("distributed") is None or optional("dask.array") is None:
        return [Row("dask", "fastgd.dask", "fastgd", float("nan"),
                    "skipped: dask[array] and distributed not installed")]
    import warnings

    from distributed import Client

    from ..dask import local_cluster
    rows = []
    shape = f"{n / 1e6:g}M x {d} f32"
    with local_cluster(N_WORKERS, threads_per_worker=1) as cluster, Client(cluster) as client, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # dask-ml's use of old dask config keys
        X, y, _ = make_data(client, n, d, chunk_rows)
        alpha = 1.0 / n  # dask-ml's default C = 1
        task = f"1 full-gradient iteration, {shape}"
        t_fast, dp = fastgd_iteration(client, X, y, alpha)
        rows.append(Row("dask", task, "fastgd sync (GD)", t_fast,
                        f"marginal of 25 vs 5 rounds; loss {dp.loss_curve_[-1]:.8f}"))
        have_daskml = optional("dask_ml.linear_model") is not None
        if have_daskml:
            t_gd, _ = daskml_iteration(X, y)
            rows.append(Row("dask", task, "dask-ml gradient_descent", t_gd,
                            "dask-glm, incl. line search; marginal of 25 vs 5", ratio=t_gd / t_fast))
        else:
            rows.append(Row("dask", task, "dask-ml gradient_descent", float("nan"),
                            "skipped: dask-ml not installed"))
        task = f"fit to lbfgs's objective, {shape}"
        if have_daskml:
            from dask_ml.linear_model import LogisticRegression
            t0 = time.perf_counter()
            m = LogisticRegression(solver="lbfgs").fit(X, y)
            t_lbfgs = time.perf_counter() - t0
            target = objective(X, y, m.coef_, m.intercept_, alpha)
            t_ours, dp = fastgd_to_target(client, X, y, alpha, target)
            final = objective(X, y, dp.coef_, dp.intercept_[0], alpha)
            verdict = "reached" if final <= target * (1 + SAME) else "NOT reached"
            rows.append(Row("dask", task, "fastgd sync (GD, lr 1/L)", t_ours,
                            f"objective {final:.10f} ({final - target:+.1e}), {dp.n_rounds_} "
                            f"rounds: {verdict}"))
            rows.append(Row("dask", task, "dask-ml lbfgs", t_lbfgs, f"objective {target:.10f}",
                            ratio=t_lbfgs / t_ours))
        else:
            rows.append(Row("dask", task, "dask-ml lbfgs", float("nan"),
                            "skipped: dask-ml not installed"))
        t_local, dp = fastgd_local_round(client, X, y, alpha)
        rows.append(Row("dask", f"local round (Adam epoch), {shape}", "fastgd local",
                        t_local, f"{n / t_local:,.0f} rows/s; loss {dp.loss_curve_[-1]:.6f}"))
        t_many, t_alone, same = fastgd_grid(client, X, y)
        task = f"grid of 8, 5 sync rounds each, {shape}"
        rows.append(Row("dask", task, "fastgd fit_many", t_many,
                        f"set-up included; {'the same' if same else 'NOT the same'} models as "
                        f"one by one"))
        rows.append(Row("dask", task, "fastgd fit one by one", t_alone, "set-up included",
                        ratio=t_alone / t_many))
    return rows
