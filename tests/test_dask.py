"""fastgd.dask on a real LocalCluster of 2 worker processes (one thread each).

Reference: the single-machine estimator on the same data (numpy). Tolerances:

* mode "sync", batch_size=None: the iterates of the single-machine batch fit,
  up to the order of floating-point additions: rtol 1e-9 in float64 (bit for
  bit with one chunk);
* mode "local" with plain SGD, batch_size=None, local_epochs=1: the same
  (a round is one exact batch step), rtol 1e-9;
* mode "local" with Adam mini-batches: the optimum of the regularised
  problem, objective within 1e-3 relative and coefficients within 0.05.

The cluster is started once for the module. The whole file takes well under
two minutes on the 2-core reference machine.
"""

import os
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import fastgd  # noqa: E402
from fastgd.dask import DaskFitError, DataParallel, RoundInfo, local_cluster, thread_plan  # noqa: E402
from fastgd.engine import DivergenceError  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with local_cluster(n_workers=2, threads_per_worker=1, memory_limit="2GiB") as cluster, \
            distributed.Client(cluster) as c:
        yield c


@pytest.fixture
def healthy(client):
    """The client, with both workers up (a test before may have killed one)."""
    client.wait_for_workers(2, timeout=240)  # a restarted worker imports everything again
    return client


def classification(n=1500, d=6, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, classes))
    if classes == 2:
        y = (X @ W[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
    else:
        y = np.argmax(X @ W + 0.5 * rng.standard_normal((n, classes)), axis=1)
    return X, y


def sparse_classification(n=600, d=8, seed=10):
    import scipy.sparse as sp
    X = sp.random(n, d, density=0.4, format="csr", random_state=seed)
    y = (X @ np.random.default_rng(seed).standard_normal(d) > 0.5).astype(np.float64)
    return X, y


def dask_rows(a, chunks):
    return da.from_array(a, chunks=(chunks,) + a.shape[1:])


UNEQUAL = (700, 1, 299, 500)  # unequal chunks, one of them a single row


def logistic(**kw):
    base = dict(optimizer="adam", lr=0.1, batch_size=None, max_epochs=25, tol=None, alpha=1e-3,
                random_state=0)
    base.update(kw)
    return fastgd.LogisticRegression(**base)


# -- the two modes against the single-machine fit -------------------------------------------------

def test_sync_full_batch_matches_single_machine(healthy):
    X, y = classification()
    ref = logistic().fit(X, y)
    dp = DataParallel(logistic(), mode="sync").fit(dask_rows(X, UNEQUAL), dask_rows(y, UNEQUAL))
    assert dp.n_chunks_ == 4 and dp.n_rounds_ == 25
    np.testing.assert_allclose(dp.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dp.intercept_, ref.intercept_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dp.loss_curve_, ref.loss_curve_, rtol=1e-9)
    assert dp.estimator_.t_ == ref.t_ == 25
    for key, value in ref.optimizer_.state_dict()["state"].items():
        np.testing.assert_allclose(dp.estimator_.optimizer_.state[key], value, rtol=1e-8)


def test_sync_one_chunk_is_bit_identical_float32(healthy):
    X, y = classification(n=800)
    X = X.astype(np.float32)
    ref = logistic(optimizer="sgd", optimizer_params={"momentum": 0.9}, lr=0.2).fit(X, y)
    est = logistic(optimizer="sgd", optimizer_params={"momentum": 0.9}, lr=0.2)
    dp = DataParallel(est, mode="sync").fit(dask_rows(X, 800), dask_rows(y, 800))
    assert dp.coef_.dtype == np.float32
    np.testing.assert_array_equal(dp.coef_, ref.coef_)
    np.testing.assert_array_equal(dp.intercept_, ref.intercept_)
    # the penalty's value is summed outside the fused epoch here: last-bit differences
    np.testing.assert_allclose(dp.loss_curve_, ref.loss_curve_, rtol=1e-14)


def test_local_sgd_full_batch_equals_batch_gradient_descent(healthy):
    X, y = classification()
    kw = dict(optimizer="sgd", lr=0.5)
    ref = logistic(**kw).fit(X, y)
    dp = DataParallel(logistic(**kw), mode="local", local_epochs=1).fit(
        dask_rows(X, UNEQUAL), dask_rows(y, UNEQUAL))
    np.testing.assert_allclose(dp.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dp.intercept_, ref.intercept_, rtol=1e-9, atol=1e-12)
    assert dp.estimator_.t_ == 25


def test_local_one_chunk_is_the_single_machine_fit(healthy):
    X, y = classification(n=600)
    kw = dict(optimizer="adam", lr=0.01, batch_size=32, shuffle=False, max_epochs=6)
    ref = logistic(**kw).fit(X, y)
    dp = DataParallel(logistic(**kw), mode="local", local_epochs=2, max_rounds=3).fit(
        dask_rows(X, 600), dask_rows(y, 600))
    np.testing.assert_array_equal(dp.coef_, ref.coef_)
    assert dp.estimator_.t_ == ref.t_ and dp.estimator_.n_iter_ == 6
    for key, value in ref.optimizer_.state_dict()["state"].items():
        np.testing.assert_array_equal(dp.estimator_.optimizer_.state[key], value)


def optimum(X, y, l2):
    """The regularised logistic objective (at coef, intercept) and its minimum, by L-BFGS."""
    from scipy.optimize import minimize

    def objective(w):
        f, g = fastgd.losses.logistic(w, X, y, l2=l2)
        return f, g.copy()

    best = minimize(objective, np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B", tol=1e-12)
    return (lambda dp: objective(np.r_[dp.coef_.ravel(), dp.intercept_])[0]), best


def test_local_minibatch_adam_reaches_the_optimum(healthy):
    X, y = classification(n=3000, seed=1)
    objective, best = optimum(X, y, 1e-2)
    # the rate annealed to 0 over the fit's steps (20 epochs x 19 steps of the largest chunk)
    est = logistic(alpha=1e-2, batch_size=64, lr=fastgd.schedules.CosineAnnealing(0.05, t_max=400))
    dp = DataParallel(est, mode="local", local_epochs=1, max_rounds=20).fit(
        dask_rows(X, (1000, 1200, 800)), dask_rows(y, (1000, 1200, 800)))
    assert objective(dp) <= best.fun * (1 + 1e-3)
    np.testing.assert_allclose(dp.coef_.ravel(), best.x[:6], atol=0.05)


def test_sync_minibatch_is_deterministic_and_converges(healthy):
    X, y = classification(n=2000, seed=2)
    objective, best = optimum(X, y, 1e-2)
    Xd, yd = dask_rows(X, (900, 600, 500)), dask_rows(y, (900, 600, 500))
    est = logistic(lr=0.1, max_epochs=15, alpha=1e-2)
    a = DataParallel(est, mode="sync", batch_size=250).fit(Xd, yd)
    b = DataParallel(est, mode="sync", batch_size=250).fit(Xd, yd)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.estimator_.t_ == 15 * 8  # ceil(2000 / 250) steps per epoch
    c = DataParallel(est.set_params(random_state=1), mode="sync", batch_size=250).fit(Xd, yd)
    assert not np.array_equal(a.coef_, c.coef_)
    assert objective(a) <= best.fun * (1 + 5e-3)
    np.testing.assert_allclose(a.coef_.ravel(), best.x[:6], atol=0.1)


def test_regression_multiclass_weights_and_svc(healthy):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((900, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 1.0 + 0.1 * rng.standard_normal(900)
    sw = rng.uniform(0.0, 2.0, 900)
    kw = dict(optimizer="adam", lr=0.1, batch_size=None, max_epochs=20, tol=None, random_state=0)
    ref = fastgd.LinearRegression(**kw).fit(X, y, sample_weight=sw)
    Xd, yd, swd = dask_rows(X, 400), dask_rows(y, 400), dask_rows(sw, 400)
    dp = DataParallel(fastgd.LinearRegression(**kw)).fit(Xd, yd, sample_weight=swd)
    np.testing.assert_allclose(dp.coef_, ref.coef_, rtol=1e-9)
    assert abs(dp.score(Xd, yd) - ref.score(X, y)) < 1e-9

    Xc, yc = classification(n=900, classes=3, seed=4)
    labels = np.array(["a", "b", "c"])[yc]
    ref = fastgd.LogisticRegression(**kw).fit(Xc, labels)
    dp = DataParallel(fastgd.LogisticRegression(**kw)).fit(dask_rows(Xc, 300), labels)
    assert list(dp.classes_) == ["a", "b", "c"]
    np.testing.assert_allclose(dp.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
    pred = dp.predict(dask_rows(Xc, 300))
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), ref.predict(Xc))
    np.testing.assert_allclose(dp.predict_proba(dask_rows(Xc, 300)).compute(),
                               ref.predict_proba(Xc), rtol=1e-9)

    yb = np.where(yc == 0, "no", "yes")
    ref = fastgd.LinearSVC(**kw).fit(Xc, yb)
    dp = DataParallel(fastgd.LinearSVC(**kw)).fit(dask_rows(Xc, 300), dask_rows(yb, 300))
    np.testing.assert_allclose(dp.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dp.decision_function(dask_rows(Xc, 300)).compute(),
                               ref.decision_function(Xc), rtol=1e-9)


def test_class_weight_as_on_one_machine(healthy):
    Xc, yc = classification(n=900, classes=3, seed=5)
    labels = np.array(["a", "b", "c"])[yc]
    sw = np.random.default_rng(6).uniform(0.0, 2.0, 900)
    kw = dict(optimizer="adam", lr=0.1, batch_size=None, max_epochs=15, tol=None, random_state=0)
    for class_weight, weights in [("balanced", None), ({"a": 3.0, "c": 0.5}, sw),
                                  ("balanced", sw)]:
        ref = fastgd.LogisticRegression(class_weight=class_weight, **kw).fit(
            Xc, labels, sample_weight=weights)
        dp = DataParallel(fastgd.LogisticRegression(class_weight=class_weight, **kw)).fit(
            dask_rows(Xc, 250), dask_rows(labels, 250),
            sample_weight=None if weights is None else dask_rows(weights, 250))
        # the weights' scale is summed per class here, row by row there: last bits differ
        np.testing.assert_allclose(dp.coef_, ref.coef_, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="not classes"):
        DataParallel(fastgd.LogisticRegression(class_weight={"z": 2.0}, **kw)).fit(
            dask_rows(Xc, 250), labels)


def test_poisson_regressor_as_on_one_machine(healthy):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((800, 3))
    y = rng.poisson(np.exp(X @ [0.3, -0.2, 0.1] + 1.0)).astype(np.float64)
    sw = rng.uniform(0.5, 1.5, 800)
    kw = dict(optimizer="adam", lr=0.05, batch_size=None, max_epochs=15, tol=None, alpha=1e-3,
              random_state=0)
    for weights in (None, sw):
        ref = fastgd.PoissonRegressor(**kw).fit(X, y, sample_weight=weights)
        dp = DataParallel(fastgd.PoissonRegressor(**kw)).fit(
            dask_rows(X, 300), dask_rows(y, 300),
            sample_weight=None if weights is None else dask_rows(weights, 300))
        np.testing.assert_allclose(dp.coef_, ref.coef_, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(dp.intercept_, ref.intercept_, rtol=1e-9)
        assert dp.score(dask_rows(X, 300), dask_rows(y, 300)) == pytest.approx(
            ref.score(X, y), rel=1e-9)
    with pytest.raises(ValueError, match="y must be >= 0"):
        DataParallel(fastgd.PoissonRegressor(**kw)).fit(dask_rows(X, 300), dask_rows(y - 5, 300))


def test_mlp_both_modes(healthy):
    X, y = classification(n=800, seed=9, classes=3)
    kw = dict(hidden_layer_sizes=(8,), lr=0.01, batch_size=None, max_epochs=15, tol=None,
              random_state=0)
    ref = fastgd.MLPClassifier(**kw).fit(X, y)
    dp = DataParallel(fastgd.MLPClassifier(**kw), mode="sync").fit(
        dask_rows(X, (300, 1, 499)), dask_rows(y, (300, 1, 499)))
    for got, want in zip(dp.estimator_.coefs_ + dp.estimator_.intercepts_,
                         ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(dp.predict_proba(dask_rows(X, 300)).compute(),
                               ref.predict_proba(X), rtol=1e-7)

    yr = X @ np.arange(1.0, 7.0)
    kw.update(batch_size=32, shuffle=False, max_epochs=4)
    ref = fastgd.MLPRegressor(**kw).fit(X, yr)
    dp = DataParallel(fastgd.MLPRegressor(**kw), mode="local", local_epochs=2, max_rounds=2).fit(
        dask_rows(X, 800), dask_rows(yr, 800))
    np.testing.assert_array_equal(dp.estimator_.optimizer_.params, ref.optimizer_.params)
    with pytest.raises(AttributeError, match="decision_function"):
        dp.decision_function(dask_rows(X, 300))


def test_lr_auto_picks_the_single_machine_start(healthy):
    from sklearn.base import clone
    rng = np.random.default_rng(11)
    n = 5000    # more than auto.SAMPLE_ROWS: the curvature sample is drawn from the 5000 rows
    X = rng.standard_normal((n, 4)) * [1.0, 10.0, 100.0, 0.1] + [5.0, -2.0, 50.0, 0.0]
    y = X @ [1.0, 0.2, 0.01, 30.0] + 7.0 + rng.standard_normal(n)
    sw = rng.uniform(0.5, 2.0, n)
    Xc, yc = classification(n=900, classes=3, seed=12)
    chunks = (1200, 1, 2000, 1799)
    kw = dict(lr="auto", batch_size=None, max_epochs=4, tol=None, random_state=0)
    cases = [(fastgd.LinearRegression(optimizer="sgd", **kw), X, y, sw),       # curvature rate
             # std of y; no intercept: s alone (Adam's first steps turn the rounding of a
             # zero gradient, the intercept's at the best constant, into steps of lr)
             (fastgd.LinearRegression(optimizer="adam", fit_intercept=False, **kw), X, y, None),
             (fastgd.LogisticRegression(optimizer="sgd", **kw), Xc, yc, None),  # softmax start
             # sparse: mu = 0, s = 1, the curvature sample gathered from CSR chunks
             (fastgd.LogisticRegression(optimizer="sgd", **kw), *sparse_classification(), None)]
    for est, A, b, weights in cases:
        ref = clone(est).fit(A, b, sample_weight=weights)
        c = chunks if A.shape[0] == n else 300
        Ad = (da.from_array(A, chunks=(c, A.shape[1]), asarray=False) if hasattr(A, "tocsr")
              else dask_rows(A, c))
        dp = DataParallel(est, mode="sync").fit(
            Ad, dask_rows(b, c),
            sample_weight=None if weights is None else dask_rows(weights, c))
        got = dp.estimator_
        assert got.optimizer_.lr == pytest.approx(ref.optimizer_.lr, rel=1e-10)
        np.testing.assert_allclose(got.x_mean_, ref.x_mean_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got.x_scale_, ref.x_scale_, rtol=1e-10)
        np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(got.loss_curve_, ref.loss_curve_, rtol=1e-9)


def test_fit_many_equals_each_configuration_alone(healthy):
    from sklearn.model_selection import ParameterGrid
    X, y = classification(n=900, seed=13)
    Xd, yd = dask_rows(X, (400, 1, 499)), dask_rows(y, (400, 1, 499))
    cases = [  # a diverging configuration leaves the rounds, the others go on
        ("sync", logistic(max_epochs=4), {"optimizer": ["sgd", "adam"], "lr": [0.05, 1e300]}),
        # configurations leave after 2 or 4 rounds; one pass of each chunk per round for all
        ("local", logistic(batch_size=32, shuffle=True), {"lr": [0.05, 0.01], "max_epochs": [2, 4]}),
    ]
    for mode, est, grid in cases:
        dp = DataParallel(est, mode=mode)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            many = fastgd.fit_many(dp, grid, Xd, yd) if mode == "sync" else \
                dp.fit_many(grid, Xd, yd)
        params = list(ParameterGrid(grid))
        assert len(many) == len(params) and not hasattr(dp, "estimator_")
        for p, got in zip(params, many):
            assert got.estimator.get_params()["lr"] == p["lr"]
            alone = DataParallel(logistic(**{**est.get_params(), **p}), mode=mode)
            if p["lr"] == 1e300:
                with pytest.raises(DivergenceError):
                    alone.fit(Xd, yd)
                assert got.estimator_.stop_reason_ == "diverged"
            else:
                alone.fit(Xd, yd)
                assert got.estimator_.stop_reason_ == alone.estimator_.stop_reason_
                assert got.estimator_.t_ == alone.estimator_.t_
                assert got.loss_curve_ == alone.loss_curve_
            assert got.n_rounds_ == alone.n_rounds_
            np.testing.assert_array_equal(got.coef_, alone.coef_)
        assert sum("diverged" in str(w.message) for w in caught) == (2 if mode == "sync" else 0)
    with pytest.raises(ValueError, match="class_weight may not vary"):
        DataParallel(logistic()).fit_many({"class_weight": [None, "balanced"]}, Xd, yd)


# -- chunks: unknown sizes, empty chunks ----------------------------------------------------------

def test_unknown_chunk_sizes_and_empty_chunks(healthy):
    X, y = classification(n=1200, seed=5)
    Xd, yd = dask_rows(X, 300), dask_rows(y, 300)
    keep = Xd[:, 0] > -0.3
    keep = keep & (da.arange(1200, chunks=300) // 300 != 2)  # chunk 2 left with no rows
    Xm, ym = Xd[keep], yd[keep]
    assert np.isnan(Xm.chunks[0][0])
    mask = keep.compute()
    ref = logistic().fit(X[mask], y[mask])
    dp = DataParallel(logistic()).fit(Xm, ym)
    assert dp.n_chunks_ == 3
    np.testing.assert_allclose(dp.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="unknown chunk sizes.*y"):
        DataParallel(logistic()).fit(Xm, y[mask])
    y_other = da.from_array(y, chunks=600)[da.from_array(mask, chunks=600)]  # 2 chunks, not 4
    with pytest.raises(ValueError, match="different numbers of row chunks"):
        DataParallel(logistic()).fit(Xm, y_other)
    with pytest.raises(ValueError, match="every chunk of X is empty"):
        DataParallel(logistic()).fit(Xd[Xd[:, 0] > 100], yd[Xd[:, 0] > 100])


def test_column_chunks_and_rechunked_y(healthy):
    X, y = classification(n=600, seed=6)
    ref = logistic().fit(X, y)
    Xd = da.from_array(X, chunks=(200, 3))            # two column chunks
    yd = da.from_array(y, chunks=250)                 # other row chunks than X
    dp = DataParallel(logistic()).fit(Xd, yd)
    np.testing.assert_allclose(dp.coef_, ref.coef_, rtol=1e-9, atol=1e-12)


# -- determinism, progress, failures ------------------------------------------------------------------

def test_progress_callback_verbose_and_stop(healthy, capsys):
    X, y = classification(n=500)
    seen = []

    def cb(info):
        assert isinstance(info, RoundInfo)
        seen.append((info.round, info.loss, info.n_steps))
        return info.round == 4

    dp = DataParallel(logistic(), verbose=1, callback=cb).fit(dask_rows(X, 200), dask_rows(y, 200))
    assert [s[0] for s in seen] == [1, 2, 3, 4] and dp.n_rounds_ == 4
    assert [s[1] for s in seen] == dp.loss_curve_
    assert capsys.readouterr().out.count("round ") == 4


def test_threads_per_worker_are_capped(healthy):
    k = max(1, len(os.sched_getaffinity(0)) // 2)
    assert thread_plan(healthy) == {"tcp://127.0.0.1": k}
    used = healthy.run(lambda: __import__("os").environ.get("NUMBA_NUM_THREADS"))
    assert set(used.values()) == {str(k)}  # in each worker's environment
    # and never in this process's: numba here would resize a launched pool
    assert "NUMBA_NUM_THREADS" not in os.environ


def _kill_worker_after(client, round_k, which=0):
    def cb(info):
        if info.round == round_k:
            addrs = sorted(client.nthreads())
            targets = addrs if which == "all" else [addrs[which]]
            try:
                client.run(os._exit, 1, workers=targets)
            except Exception:  # the worker is gone before it could answer
                pass
    return cb


@pytest.mark.parametrize("mode", ["sync", "local"])
def test_worker_killed_mid_fit_gives_the_same_result(healthy, mode):
    X, y = classification(n=1200, seed=7)
    Xd, yd = dask_rows(X, 300), dask_rows(y, 300)
    kw = dict(mode=mode, max_rounds=8)
    est = logistic(batch_size=None if mode == "sync" else 32, shuffle=True)
    clean = DataParallel(est, **kw).fit(Xd, yd)
    victim = sorted(healthy.nthreads())[0]
    hit = DataParallel(est, callback=_kill_worker_after(healthy, 3), **kw).fit(Xd, yd)
    assert victim not in healthy.nthreads()  # it is gone (its nanny starts a new one)
    assert hit.n_rounds_ == 8
    np.testing.assert_array_equal(hit.coef_, clean.coef_)  # recomputed chunks, same bits


def test_unrecoverable_failure_keeps_last_good_parameters(healthy, tmp_path):
    import dask
    X, y = classification(n=800, seed=8)
    paths = []
    for b in range(4):
        p = tmp_path / f"x{b}.npy"
        np.save(p, X[200 * b:200 * (b + 1)])
        paths.append(str(p))
    Xd = da.concatenate([da.from_delayed(dask.delayed(np.load)(p), (200, 6), np.float64)
                         for p in paths])
    yd = dask_rows(y, 200)
    done = DataParallel(logistic(), max_rounds=3).fit(Xd, yd)

    def cb(info):
        if info.round == 3:
            for p in paths:
                os.remove(p)
            _kill_worker_after(healthy, 3, which="all")(info)

    dp = DataParallel(logistic(), max_rounds=10, callback=cb)
    with pytest.raises(DaskFitError, match="round 4 failed.*parameters of round 3"):
        dp.fit(Xd, yd)
    assert dp.n_rounds_ == 3
    np.testing.assert_array_equal(dp.coef_, done.coef_)
    np.testing.assert_array_equal(dp.estimator_.optimizer_.params,
                                  done.estimator_.optimizer_.params)


def test_divergence_keeps_last_finite_parameters(healthy):
    X, y = classification(n=400)
    X = X * 1e200
    dp = DataParallel(logistic(optimizer="sgd", lr=1e300, alpha=0.0))
    with pytest.raises(DivergenceError, match="diverged in round"):
        dp.fit(dask_rows(X, 200), dask_rows(y, 200))
    assert np.isfinite(dp.coef_).all()


def test_warm_start_continues(healthy):
    X, y = classification(n=600)
    Xd, yd = dask_rows(X, 200), dask_rows(y, 200)
    ref = logistic(optimizer="sgd", lr=0.5, max_epochs=10).fit(X, y)
    dp = DataParallel(logistic(optimizer="sgd", lr=0.5, max_epochs=10, warm_start=True),
                      max_rounds=5)
    dp.fit(Xd, yd).fit(Xd, yd)  # plain SGD keeps no state: 5 + 5 rounds = 10 steps
    np.testing.assert_allclose(dp.coef_, ref.coef_, rtol=1e-9)


# -- bad input: clear errors, before anything changes ---------------------------------------------

class _NotLinear(fastgd.GDEstimator):
    def __init__(self, optimizer="adam", optimizer_params=None, lr=0.01, batch_size=32,
                 max_epochs=1, alpha=0.0, l1_ratio=0.0, tol=None, n_iter_no_change=5,
                 early_stopping=False, validation_fraction=0.1, shuffle=True, random_state=None,
                 warm_start=False, verbose=0, callback=None):
        self._store_init_args(locals())


BAD = [
    (dict(mode="async"), ValueError, "mode must be one of"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(mode="local", batch_size=100), ValueError, "batch_size is for mode='sync'"),
    (dict(local_epochs=3), ValueError, "local_epochs is for mode='local'"),
    (dict(max_rounds=0), ValueError, "max_rounds"),
    (dict(numba_threads=1.5), TypeError, "numba_threads"),
    (dict(verbose=-1), ValueError, "verbose"),
    (dict(callback=3), TypeError, "callback"),
    (dict(client="tcp://x"), TypeError, "client must be"),
    (dict(estimator=_NotLinear()), TypeError, "estimator must be one of fastgd's"),
    (dict(estimator=object()), TypeError, "estimator must be"),
    (dict(estimator=logistic(early_stopping=True)), ValueError, "early_stopping"),
    (dict(estimator=logistic(callback=print)), ValueError, "estimator.callback"),
    (dict(estimator=logistic(average=True)), ValueError, "estimator.average is not supported"),
    (dict(estimator=logistic(lr=-1.0)), ValueError, "lr"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD)
def test_bad_arguments(healthy, kwargs, error, match):
    X, y = classification(n=200)
    kwargs = dict(kwargs)
    est = kwargs.pop("estimator", logistic())
    with pytest.raises(error, match=match):
        DataParallel(est, **kwargs).fit(dask_rows(X, 100), dask_rows(y, 100))


def test_bad_data_changes_nothing(healthy):
    X, y = classification(n=400)
    Xd, yd = dask_rows(X, 100), dask_rows(y, 100)
    dp = DataParallel(logistic(max_epochs=3)).fit(Xd, yd)
    before = dp.coef_.copy()
    Xnan = X.copy()
    Xnan[250, 1] = np.nan
    y3 = y.copy()
    y3[:5] = 2.0
    cases = [
        ((X, y), TypeError, "X must be a dask.array.Array"),
        ((dask_rows(X[:, 0], 100), y), ValueError, "X must be 2-D"),
        ((Xd, y[:-1]), ValueError, "y must be 1-D with 400 entries"),
        ((Xd, dask_rows(y[:300], 100)), ValueError, "y has 300 rows but X has 400"),
        ((dask_rows(Xnan, 100), yd), ValueError, r"NaN or infinity \(chunk 2\)"),
        ((Xd, np.zeros(400)), ValueError, "at least 2 classes"),
        ((da.from_array(np.array([["a"]] * 400), chunks=100), yd), TypeError, "real numbers"),
        ((Xd, yd, -np.ones(400)), ValueError, "non-negative"),
        ((Xd, yd, np.zeros(400)), ValueError, "all zero"),
        ((Xd, None), ValueError, "y is required"),
    ]
    for args, error, match in cases:
        with pytest.raises(error, match=match):
            dp.fit(*args)
        np.testing.assert_array_equal(dp.coef_, before)
    with pytest.raises(ValueError, match="exactly 2 classes|Only binary"):
        DataParallel(fastgd.LinearSVC()).fit(Xd, dask_rows(y3, 100))
    with pytest.raises(ValueError, match="features"):
        dp.predict(dask_rows(X[:, :3], 100))


def test_local_cluster_arguments():
    with pytest.raises(ValueError, match="n_workers"):
        local_cluster(n_workers=0)
    with pytest.raises(ValueError, match="threading_layer"):
        local_cluster(threading_layer="gnu")
    with pytest.raises(ValueError, match="processes=False"):
        local_cluster(processes=False)


def test_no_warning_noise(healthy):
    X, y = classification(n=300)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        DataParallel(logistic(max_epochs=2)).fit(dask_rows(X, 100), dask_rows(y, 100))


# -- scipy.sparse chunks ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_chunks_fit_as_the_dense_chunks(healthy, dtype):
    import scipy.sparse as sp
    Xs, y = sparse_classification()
    Xs = Xs.astype(dtype)
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    chunks = (250, 1, 349)
    Xsd = da.from_array(Xs, chunks=(chunks, 8), asarray=False)   # CSR chunks
    Xdd = dask_rows(Xs.toarray(), chunks)
    yd = dask_rows(y, chunks)
    for mode, kw in [("sync", dict(batch_size=None)), ("local", dict(batch_size=32))]:
        est = logistic(max_epochs=4, **kw)
        a = DataParallel(est, mode=mode).fit(Xsd, yd)
        b = DataParallel(est, mode=mode).fit(Xdd, yd)
        assert a.coef_.dtype == dtype
        np.testing.assert_allclose(a.coef_, b.coef_, **tol)
        np.testing.assert_allclose(a.intercept_, b.intercept_, **tol)
        np.testing.assert_allclose(a.decision_function(Xsd).compute(),
                                   b.decision_function(Xdd).compute(), **tol)
        assert a.score(Xsd, yd) == b.score(Xdd, yd)
    if dtype == np.float32:
        return
    # CSC chunks, two column chunks, shuffled mini-batches of the synchronous mode
    Xcsc = dask_rows(Xs.toarray(), chunks).rechunk({1: 4}).map_blocks(
        sp.csc_matrix, meta=sp.csc_matrix((0, 0), dtype=dtype))
    est = logistic(max_epochs=3, shuffle=True)
    a = DataParallel(est, mode="sync", batch_size=100).fit(Xcsc, yd)
    b = DataParallel(est, mode="sync", batch_size=100).fit(Xdd, yd)
    np.testing.assert_allclose(a.coef_, b.coef_, **tol)
    np.testing.assert_array_equal(a.predict(Xcsc).compute(), b.predict(Xdd).compute())


def test_sparse_bad_chunks_are_named(healthy):
    import dask
    import scipy.sparse as sp
    Xs, y = sparse_classification(n=300)
    yd = dask_rows(y, 100)

    def broken(kind):
        X = Xs[100:200].copy()
        if kind == "nan":
            X.data[5] = np.nan
        else:
            X.indices[7] = 50
        return X

    for kind, match in [("nan", r"X.data\[5\] = nan is not finite .*X chunk 1"),
                        ("index", r"X.indices\[7\] = 50 is out of range for 8 columns .*"
                                  r"X chunk 1")]:
        bad = da.from_delayed(dask.delayed(broken)(kind), (100, 8), np.float64,
                              meta=sp.csr_matrix((0, 0)))
        Xd = da.concatenate([da.from_array(Xs[:100], chunks=(100, 8), asarray=False), bad,
                             da.from_array(Xs[200:], chunks=(100, 8), asarray=False)])
        with pytest.raises(ValueError, match=match):
            DataParallel(logistic()).fit(Xd, yd)
    assert np.isfinite(Xs.data).all() and Xs.indices.max() < 8   # the caller's X, unchanged
    with pytest.raises(TypeError, match="MLPClassifier takes a dense X only"):
        DataParallel(fastgd.MLPClassifier()).fit(
            da.from_array(Xs, chunks=(100, 8), asarray=False), yd)
