"""The linear estimators: scikit-learn's contract, accuracy against known optima,
the three modes of gradient descent, reproducibility, interrupts, bad input,
threads, large and unusual inputs."""

import os
import re
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastgd
from fastgd import losses, schedules

ESTIMATORS = [fastgd.LinearRegression(), fastgd.LogisticRegression(), fastgd.LinearSVC(),
              fastgd.LinearSVC(loss="modified_huber"), fastgd.PoissonRegressor()]

# Expected failures of scikit-learn's checks, with the reason: none at the
# moment. (The sample-weight equivalence checks, which scikit-learn's own SGD
# estimators fail, pass here: seeded, converged fits give the same optimum.)
EXPECTED_FAILURES = {}


def _expected_failures(est):
    return EXPECTED_FAILURES.get(type(est).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_contract(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# -- accuracy ----------------------------------------------------------------------------

def _regression(n=2000, d=8, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (X @ rng.standard_normal(d) + 2.0 + 0.5 * rng.standard_normal(n)).astype(dtype)
    return X, y


def _lstsq_loss(X, y):
    A = np.c_[X, np.ones(len(X))]
    coef, *_ = np.linalg.lstsq(A.astype(np.float64), y.astype(np.float64), rcond=None)
    return 0.5 * np.mean((A @ coef - y) ** 2), coef


def _fitted_loss(model, X, y):
    w = np.r_[model.coef_.ravel(), model.intercept_].astype(np.float64)
    return losses.squared_error(w, X.astype(np.float64), y.astype(np.float64))[0]


MODES = {
    "batch": dict(batch_size=None, lr=0.1, max_epochs=3000),
    "stochastic": dict(batch_size=1, optimizer="sgd", lr=schedules.InverseScaling(0.02, power=0.5),
                       max_epochs=20),
    "minibatch": dict(batch_size=32, lr=schedules.CosineAnnealing(0.05, t_max=63 * 40),
                      max_epochs=40),
}


@pytest.mark.parametrize("mode", MODES)
def test_least_squares_optimum_in_every_mode(mode):
    X, y = _regression()
    best, coef = _lstsq_loss(X, y)
    model = fastgd.LinearRegression(alpha=0.0, tol=None, random_state=0, **MODES[mode]).fit(X, y)
    assert _fitted_loss(model, X, y) == pytest.approx(best, rel=1e-3)
    np.testing.assert_allclose(model.coef_, coef[:-1], atol=0.02)


def test_logistic_optimum_matches_sklearn_lbfgs():
    from sklearn.linear_model import LogisticRegression as SkLogistic
    rng = np.random.default_rng(1)
    n, d, alpha = 3000, 6, 1e-3
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal(d) + rng.standard_normal(n) > 0).astype(int)
    ref = SkLogistic(C=1 / (n * alpha), tol=1e-10, max_iter=10_000).fit(X, y)
    ours = fastgd.LogisticRegression(alpha=alpha, batch_size=None, lr=0.1, max_epochs=3000,
                                     tol=None, random_state=0).fit(X, y)

    def objective(coef, intercept):
        return losses.logistic(np.r_[coef.ravel(), intercept], X, y, l2=alpha)[0]

    best = objective(ref.coef_, ref.intercept_)
    assert objective(ours.coef_, ours.intercept_) == pytest.approx(best, rel=1e-3)


def test_multinomial_optimum_matches_sklearn_lbfgs():
    from sklearn.linear_model import LogisticRegression as SkLogistic
    rng = np.random.default_rng(2)
    n, d, k, alpha = 2000, 5, 3, 1e-2
    X = rng.standard_normal((n, d))
    y = np.argmax(X @ rng.standard_normal((d, k)) + rng.standard_normal((n, k)), axis=1)
    ref = SkLogistic(C=1 / (n * alpha), tol=1e-10, max_iter=10_000).fit(X, y)
    ours = fastgd.LogisticRegression(alpha=alpha, batch_size=None, lr=0.1, max_epochs=2000,
                                     tol=None, random_state=0).fit(X, y)
    assert ours.coef_.shape == (k, d)

    def objective(coef, intercept):
        return losses.softmax(np.r_[coef.ravel(), intercept], X, y, l2=alpha)[0]

    assert objective(ours.coef_, ours.intercept_) == pytest.approx(
        objective(ref.coef_, ref.intercept_), rel=1e-3)
    np.testing.assert_allclose(ours.predict_proba(X).sum(axis=1), 1.0)
    assert np.mean(ours.predict(X) == ref.predict(X)) > 0.99


def test_huber_resists_outliers_and_svm_separates():
    X, y = _regression(n=1000)
    y_bad = y.copy()
    y_bad[:50] += 100.0
    huber = fastgd.LinearRegression(loss="huber", epsilon=1.0, random_state=0).fit(X, y_bad)
    squared = fastgd.LinearRegression(random_state=0).fit(X, y_bad)
    clean = fastgd.LinearRegression(random_state=0).fit(X, y)
    assert np.abs(huber.coef_ - clean.coef_).max() < 0.5 * np.abs(squared.coef_ - clean.coef_).max()
    labels = np.where(X[:, 0] - X[:, 1] > 0, "a", "b")
    svm = fastgd.LinearSVC(random_state=0).fit(X, labels)
    assert svm.score(X, labels) > 0.97


def _scipy_optimum(name, X, y, alpha, **kw):
    # L-BFGS on fastgd's loss (tested against the NumPy reference): the optimum of a smooth loss
    from scipy.optimize import minimize as scipy_minimize
    fun = losses.make_objective(name, X, y, l2=alpha, **kw)
    res = scipy_minimize(lambda w: tuple(np.copy(v) for v in fun(w)), np.zeros(X.shape[1] + 1),
                         jac=True, method="L-BFGS-B", options=dict(gtol=1e-12, maxiter=10_000))
    return res.fun, fun


BATCH = dict(batch_size=None, lr=0.05, max_epochs=3000, tol=None, random_state=0)


@pytest.mark.parametrize("loss", ["squared_hinge", "modified_huber"])
def test_svc_losses_reach_their_optimum(loss):
    X, y = _regression(n=1000)
    labels = np.where(X[:, 0] - X[:, 1] + 0.5 * np.random.default_rng(0).standard_normal(1000) > 0,
                      "a", "b")
    alpha = 1e-3
    svm = fastgd.LinearSVC(loss=loss, alpha=alpha, **BATCH).fit(X, labels)
    best, fun = _scipy_optimum(loss, X, np.where(labels == "b", 1.0, -1.0), alpha)
    assert fun(np.r_[svm.coef_.ravel(), svm.intercept_])[0] == pytest.approx(best, rel=1e-4)
    assert svm.score(X, labels) > 0.85          # the noise caps it near 0.89


def test_modified_huber_probabilities_and_only_there():
    X, y = _regression(n=400)
    labels = y > 2
    svm = fastgd.LinearSVC(loss="modified_huber", max_epochs=5, tol=None,
                           random_state=0).fit(X, labels)
    z = svm.decision_function(X)
    p = svm.predict_proba(X)
    np.testing.assert_allclose(p[:, 1], (np.clip(z, -1, 1) + 1) / 2, rtol=1e-15)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.array_equal(svm.classes_[np.argmax(p, axis=1)][np.abs(z) > 1e-9],
                          svm.predict(X)[np.abs(z) > 1e-9])
    assert np.all(np.log(p[p > 0]) == svm.predict_log_proba(X)[p > 0])
    for loss in ("hinge", "squared_hinge"):
        assert not hasattr(fastgd.LinearSVC(loss=loss), "predict_proba")
        assert not hasattr(fastgd.LinearSVC(loss=loss).fit(X, labels), "predict_log_proba")


def test_squared_epsilon_insensitive_reaches_its_optimum_and_epsilon_matters():
    X, y = _regression(n=1000)
    alpha = 1e-3
    for eps in (0.0, 0.5):
        model = fastgd.LinearRegression(loss="squared_epsilon_insensitive", epsilon=eps,
                                        alpha=alpha, **BATCH).fit(X, y)
        best, fun = _scipy_optimum("squared_epsilon_insensitive", X, y, alpha, epsilon=eps)
        assert fun(np.r_[model.coef_, model.intercept_])[0] == pytest.approx(best, rel=1e-4)
    # epsilon = 0: twice the squared error, the least-squares fit up to the penalty
    zero = fastgd.LinearRegression(loss="squared_epsilon_insensitive", epsilon=0.0, alpha=0.0,
                                   **BATCH).fit(X, y)
    np.testing.assert_allclose(zero.coef_, _lstsq_loss(X, y)[1][:-1], atol=1e-3)


def test_epsilon_insensitive_resists_outliers_and_defaults():
    X, y = _regression(n=1000)
    y_bad = y.copy()
    y_bad[:50] += 100.0
    clean = fastgd.LinearRegression(random_state=0).fit(X, y)
    squared = fastgd.LinearRegression(random_state=0).fit(X, y_bad)
    svr = fastgd.LinearRegression(loss="epsilon_insensitive", random_state=0).fit(X, y_bad)
    assert np.abs(svr.coef_ - clean.coef_).max() < 0.5 * np.abs(squared.coef_ - clean.coef_).max()
    # epsilon=None is each loss's default: 1.35 for Huber, 0.1 for the epsilon-insensitive pair
    kw = dict(max_epochs=2, tol=None, random_state=0)
    for loss, default in [("huber", 1.35), ("epsilon_insensitive", 0.1),
                          ("squared_epsilon_insensitive", 0.1)]:
        a = fastgd.LinearRegression(loss=loss, **kw).fit(X, y)
        b = fastgd.LinearRegression(loss=loss, epsilon=default, **kw).fit(X, y)
        assert np.array_equal(a.coef_, b.coef_), loss
    assert fastgd.LinearRegression().get_params()["epsilon"] is None


def test_loss_options_are_checked():
    for cls, bad in [(fastgd.LinearRegression, "hinge"), (fastgd.LinearSVC, "log_loss"),
                     (fastgd.LinearSVC, None)]:
        model = cls(loss=bad)
        with pytest.raises(ValueError, match="loss must be one of"):
            model.fit(_X, _y)
        assert not hasattr(model, "coef_")
    with pytest.raises(ValueError, match="epsilon"):
        fastgd.LinearRegression(loss="huber", epsilon=0.0).fit(_X, _y)
    with pytest.raises(ValueError, match="epsilon"):
        fastgd.LinearRegression(loss="epsilon_insensitive", epsilon=-0.1).fit(_X, _y)
    with pytest.raises(TypeError, match="epsilon"):
        fastgd.LinearRegression(loss="epsilon_insensitive", epsilon="0.1").fit(_X, _y)
    fastgd.LinearRegression(loss="epsilon_insensitive", epsilon=0.0, max_epochs=1,
                            tol=None).fit(_X, _y)     # a band of width 0: the absolute error


def test_sample_weights_match_repeated_rows_at_the_optimum():
    X, y = _regression(n=300)
    w = np.random.default_rng(0).integers(1, 4, 300)
    kw = dict(batch_size=None, lr=0.1, max_epochs=2000, tol=None, alpha=0.0, random_state=0)
    weighted = fastgd.LinearRegression(**kw).fit(X, y, sample_weight=w)
    repeated = fastgd.LinearRegression(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_weights_of_any_scale_give_the_same_model(dtype):
    """Only the ratios of the weights count: weights whose sum overflows (or whose mean is
    subnormal) once gave all-zero coefficients without a warning."""
    X, y = _regression(n=200, d=3, dtype=dtype)
    kw = dict(batch_size=None, lr=0.1, max_epochs=3, tol=None, random_state=0)
    ratios = np.where(np.arange(200) % 3 == 0, 2.0, 1.0)
    ref = fastgd.LinearRegression(**kw).fit(X, y, sample_weight=ratios)
    big = 1e307 if dtype == np.float64 else 3e38 / 2
    tiny = 1e-320 if dtype == np.float64 else 1e-44
    for scale in (big, tiny):
        model = fastgd.LinearRegression(**kw).fit(X, y, sample_weight=ratios * scale)
        np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-5 if scale == tiny else 1e-6)
        assert np.abs(model.coef_).max() > 0.1
    with pytest.raises(ValueError, match="non-zero|all zero"):
        fastgd.LinearRegression(**kw).fit(X, y, sample_weight=np.zeros(200))


# -- the estimator's own promises ---------------------------------------------------------

def test_fitted_attributes_and_verbose(capsys):
    X, y = _regression(n=500, dtype=np.float32)
    model = fastgd.LinearRegression(max_epochs=3, tol=None, verbose=1, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1: loss ") and "samples/s" in lines[0]
    assert model.coef_.dtype == np.float32 and model.coef_.shape == (8,)
    assert model.intercept_.shape == (1,)
    assert model.n_iter_ == 3 and model.t_ == 3 * 16 and len(model.loss_curve_) == 3
    assert model.n_features_in_ == 8 and model.validation_scores_ is None
    assert model.predict(X).dtype == np.float32
    assert model.optimizer_.state_dict()["step_count"] == model.t_


def test_early_stopping_keeps_the_best_epoch():
    X, y = _regression(n=1000)
    model = fastgd.LinearRegression(early_stopping=True, n_iter_no_change=3, random_state=0,
                                    max_epochs=100).fit(X, y)
    assert len(model.validation_scores_) == model.n_iter_ < 100
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_same_seed_same_model():
    X, y = _regression(n=400)
    a = fastgd.LogisticRegression(random_state=3, max_epochs=5, tol=None).fit(X, y > 2)
    b = fastgd.LogisticRegression(random_state=3, max_epochs=5, tol=None).fit(X, y > 2)
    c = fastgd.LogisticRegression(random_state=4, max_epochs=5, tol=None).fit(X, y > 2)
    assert np.array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)


def test_partial_fit_continues_like_fit():
    X, y = _regression(n=300)
    sched = schedules.StepDecay(0.05, step_size=20, gamma=0.5)
    kw = dict(lr=sched, optimizer="sgd", optimizer_params={"momentum": 0.9}, random_state=0)
    full = fastgd.LinearRegression(max_epochs=3, tol=None, **kw).fit(X, y)
    inc = fastgd.LinearRegression(**kw)
    for _ in range(3):
        inc.partial_fit(X, y)
    assert inc.t_ == full.t_ == 3 * 10 and inc.n_iter_ == 3
    assert np.array_equal(inc.coef_, full.coef_)
    assert sched(0) == 0.05  # the caller's schedule object is not consumed


def test_reduce_lr_on_plateau_is_told_the_loss():
    X, y = _regression(n=200)
    plateau = schedules.ReduceLROnPlateau(0.5, patience=0, factor=0.5)
    model = fastgd.LinearRegression(lr=plateau, optimizer="sgd", max_epochs=30, tol=None,
                                    random_state=0).fit(X, y)
    assert model.optimizer_.lr.n_reductions > 0
    assert plateau.n_reductions == 0   # fit worked on its own copy


def test_warm_start_starts_from_the_coefficients():
    X, y = _regression(n=300)
    model = fastgd.LinearRegression(max_epochs=2, tol=None, random_state=0).fit(X, y)
    first = model.coef_.copy()
    model.set_params(warm_start=True, max_epochs=1, optimizer="sgd", lr=1e-12)
    model.fit(X, y)
    np.testing.assert_allclose(model.coef_, first, atol=1e-9)
    assert model.n_iter_ == 1 and model.t_ == 10     # a fresh optimizer
    model.set_params(warm_start=False)
    assert np.abs(model.fit(X, y).coef_).max() < 1e-9


def test_interrupt_from_the_callback_keeps_that_epoch():
    X, y = _regression(n=300)

    def stop_at_3(info):
        if info.epoch == 3:
            raise KeyboardInterrupt

    with pytest.warns(UserWarning, match="interrupted after epoch 3"):
        model = fastgd.LinearRegression(callback=stop_at_3, lr=0.1, tol=None,
                                        random_state=0).fit(X, y)
    same = fastgd.LinearRegression(max_epochs=3, lr=0.1, tol=None, random_state=0).fit(X, y)
    assert model.n_iter_ == 3
    assert np.array_equal(model.coef_, same.coef_)
    assert model.score(X, y) > 0.5


def test_interrupt_inside_an_epoch_keeps_the_previous_epoch(monkeypatch):
    from fastgd.engine import Trainer
    X, y = _regression(n=300)
    real = Trainer.run_epoch
    calls = []

    def run_epoch(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            self.params[:] = np.nan        # a half-done epoch...
            raise KeyboardInterrupt        # ...then Ctrl-C
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "run_epoch", run_epoch)
    with pytest.warns(UserWarning, match="interrupted during epoch 3"):
        model = fastgd.LinearRegression(tol=None, random_state=0).fit(X, y)
    monkeypatch.undo()
    same = fastgd.LinearRegression(max_epochs=2, tol=None, random_state=0).fit(X, y)
    assert model.n_iter_ == 2
    np.testing.assert_array_equal(model.coef_, same.coef_)
    assert np.isfinite(model.predict(X)).all()


def test_callback_returning_true_stops():
    X, y = _regression(n=100)
    model = fastgd.LinearRegression(callback=lambda info: info.epoch >= 2, random_state=0).fit(X, y)
    assert model.n_iter_ == 2


def test_divergence_names_the_epoch_and_keeps_finite_parameters():
    X, y = _regression(n=500)
    X = X * 1e4
    model = fastgd.LinearRegression(optimizer="sgd", lr=1.0, random_state=0)
    with pytest.raises(fastgd.DivergenceError,
                       match=r"epoch (\d+) .*smaller learning rate.*scale") as info:
        model.fit(X, y)
    assert np.isfinite(model.coef_).all() and np.isfinite(model.predict(X)).all()
    bad_epoch = int(re.search(r"epoch (\d+)", str(info.value)).group(1))
    assert model.n_iter_ == bad_epoch - 1
    if bad_epoch > 1:
        kept = fastgd.LinearRegression(optimizer="sgd", lr=1.0, random_state=0, tol=None,
                                       max_epochs=bad_epoch - 1).fit(X, y)
        assert np.array_equal(kept.coef_, model.coef_)
    assert isinstance(fastgd.DivergenceError("x"), ValueError)


def test_two_threads_fit_at_once():
    X, y = _regression(n=3000, dtype=np.float32)
    kw = dict(max_epochs=5, tol=None, random_state=0, batch_size=64)
    want = fastgd.LinearRegression(**kw).fit(X, y).coef_
    got = {}

    def fit(i):
        got[i] = fastgd.LinearRegression(**kw).fit(X, y).coef_

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.array_equal(got[0], want) and np.array_equal(got[1], want)


def test_second_fit_does_not_compile():
    from .compiled import signatures
    X, y = _regression(n=200, dtype=np.float32)
    fastgd.LogisticRegression(max_epochs=2, random_state=0).fit(X, y > 2)
    fastgd.LogisticRegression(max_epochs=2, random_state=0, batch_size=None).fit(X, y > 2)
    before = signatures()
    fastgd.LogisticRegression(max_epochs=3, random_state=1, batch_size=7, lr=0.1,
                              alpha=0.01).fit(X[:100], y[:100] > 2)
    fastgd.LogisticRegression(max_epochs=2, random_state=1, batch_size=None).fit(X[:50],
                                                                              y[:50] > 2)
    assert signatures() == before


def test_float32_is_not_copied_up():
    X, y = _regression(n=100_000, d=50, dtype=np.float32)     # X: 20 MB
    fastgd.LinearRegression(max_epochs=1, random_state=0).fit(X[:100], y[:100])  # compile first
    tracemalloc.start()
    model = fastgd.LinearRegression(max_epochs=1, tol=None, random_state=0).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.25 * X.nbytes
    assert model.coef_.dtype == np.float32


def test_readonly_and_fortran_inputs_are_not_modified():
    X, y = _regression(n=500, dtype=np.float32)
    sw = np.linspace(0.5, 1.5, 500)
    kw = dict(max_epochs=3, tol=None, random_state=0, shuffle="blocks")
    want = fastgd.LinearRegression(**kw).fit(X, y, sample_weight=sw).coef_
    ro, yr, swr = X.copy(), y.copy(), sw.copy()
    for a in (ro, yr, swr):
        a.flags.writeable = False
    F = np.asfortranarray(X)
    F_before = F.copy()
    assert np.array_equal(fastgd.LinearRegression(**kw).fit(ro, yr, sample_weight=swr).coef_, want)
    assert np.array_equal(fastgd.LinearRegression(**kw).fit(F, y, sample_weight=sw).coef_, want)
    assert np.array_equal(F, F_before) and np.array_equal(sw, np.linspace(0.5, 1.5, 500))


# -- bad input ---------------------------------------------------------------------------

_X = np.random.default_rng(0).standard_normal((20, 3))
_y = np.r_[np.zeros(10), np.ones(10)]
BAD_FIT = [
    ("nan X", dict(X=np.where(_X > 1.5, np.nan, _X)), ValueError, "NaN"),
    ("inf y", dict(y=np.r_[np.inf, _y[1:]]), ValueError, "infinity|NaN"),
    ("0 samples", dict(X=_X[:0], y=_y[:0]), ValueError, "0 sample"),
    ("0 features", dict(X=_X[:, :0]), ValueError, "0 feature"),
    ("1-D X", dict(X=_X[:, 0]), ValueError, "2D array"),
    ("lengths", dict(y=_y[:-1]), ValueError, "inconsistent numbers of samples"),
    ("complex", dict(X=_X + 1j), ValueError, "Complex data not supported"),
    ("strings", dict(X=np.full((20, 3), "a")), ValueError, "could not convert|string"),
    ("sparse ints", dict(X=sparse.csr_matrix(_X.astype(np.int64))), TypeError,
     "float32 or float64"),
    ("sparse nan", dict(X=sparse.csr_matrix(np.where(_X > 1.5, np.nan, _X))), ValueError,
     "not finite"),
    ("lr", dict(params=dict(lr=-1.0)), ValueError, "lr"),
    ("optimizer", dict(params=dict(optimizer="lbfgs")), ValueError, "optimizer must be one of"),
    ("optimizer_params", dict(params=dict(optimizer_params={"betas": (1.5, 0.9)})), ValueError,
     "beta"),
    ("lr in optimizer_params", dict(params=dict(optimizer_params={"lr": 0.1})), ValueError, "lr="),
    ("batch_size", dict(params=dict(batch_size=0)), ValueError, "batch_size"),
    ("max_epochs", dict(params=dict(max_epochs=1.5)), TypeError, "max_epochs"),
    ("alpha", dict(params=dict(alpha=-1)), ValueError, "alpha"),
    ("l1_ratio", dict(params=dict(l1_ratio=2)), ValueError, "l1_ratio"),
    ("shuffle", dict(params=dict(shuffle="sometimes")), ValueError, "shuffle"),
    ("validation_fraction", dict(params=dict(validation_fraction=1.0, early_stopping=True)),
     ValueError, "validation_fraction"),
    ("callback", dict(params=dict(callback=3)), TypeError, "callback"),
    ("weights", dict(sample_weight=-np.ones(20)), ValueError, "(?i)negative"),
]


@pytest.mark.parametrize("what, bad, exc, match", BAD_FIT, ids=[b[0] for b in BAD_FIT])
@pytest.mark.parametrize("cls", [fastgd.LinearRegression, fastgd.LogisticRegression])
def test_bad_fit_input(cls, what, bad, exc, match):
    model = cls(**bad.get("params", {}))
    with pytest.raises(exc, match=match):
        model.fit(bad.get("X", _X), bad.get("y", _y), sample_weight=bad.get("sample_weight"))
    assert not hasattr(model, "coef_")   # nothing was changed


def test_classifier_specific_faults():
    clf = fastgd.LogisticRegression()
    with pytest.raises(ValueError, match="one class"):
        clf.fit(_X, np.zeros(20))
    with pytest.raises(NotFittedError):
        clf.predict(_X)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(_X, _y)
    clf.partial_fit(_X, _y, classes=[0, 1])
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(_X, np.r_[_y[:-1], 2.0])
    with pytest.raises(ValueError, match="3 features"):
        clf.partial_fit(_X[:, :2], _y)
    with pytest.raises(ValueError, match="3 features"):
        clf.predict(_X[:, :2])
    with pytest.raises(ValueError, match="Only binary"):
        fastgd.LinearSVC().fit(_X, np.arange(20) % 3)
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(_X, _X[:, 0])


# -- large data ---------------------------------------------------------------------------

MEMMAP_FIT = textwrap.dedent("""
    import sys, numpy as np, fastgd
    path, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    def rss(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    y = np.load(path + ".y.npy")
    kw = dict(batch_size=256, max_epochs=1, tol=None, random_state=0, lr=0.01)
    fastgd.LinearRegression(**kw).fit(np.ones((300, d), np.float32), np.ones(300, np.float32))
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n, d))
    base = rss("VmRSS:")
    model = fastgd.LinearRegression(**kw).fit(X, y)
    pred = model.predict(X)
    print(rss("VmHWM:") - base, model.coef_[0], model.coef_[-1], model.score(X[:1000], y[:1000]))
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_memmap_fit_streams_with_bounded_memory(tmp_path):
    # A 400 MB float32 file; the fit (validation, one shuffled epoch, predict)
    # may grow the resident set by at most 100 MB (a quarter of the file).
    # Peak RSS (VmHWM) of a subprocess is measured rather than imposed with
    # RLIMIT_AS: numba/LLVM and the mapping itself need address space, and a
    # memory cgroup needs privileges. Mapped file pages count in RSS until
    # released, so this checks the page release too.
    n, d = 1_000_000, 100
    path = str(tmp_path / "X.f32")
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, d))
    rng = np.random.default_rng(0)
    coef = np.linspace(-1, 1, d).astype(np.float32)
    y = np.empty(n, dtype=np.float32)
    for a in range(0, n, 100_000):
        block = rng.standard_normal((100_000, d), dtype=np.float32)
        X[a:a + 100_000] = block
        y[a:a + 100_000] = block @ coef + 0.5
    X.flush()
    del X
    np.save(path + ".y.npy", y)
    proc = subprocess.run([sys.executable, "-c", MEMMAP_FIT, path, str(n), str(d)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    grew, first, last, score = map(float, proc.stdout.split())
    file_bytes = n * d * 4
    assert grew < file_bytes / 4, f"resident memory grew by {grew / 2**20:.0f} MB"
    assert first == pytest.approx(-1, abs=0.05) and last == pytest.approx(1, abs=0.05)
    assert score > 0.99


def test_label_encoding_against_numpy_unique():
    # the compiled scan and encoding give numpy.unique's classes and codes, for labels that
    # are all known after the first block, new values late in y, and more than 4 classes
    from fastgd.models import labels
    rng = np.random.default_rng(3)
    for y in (rng.integers(0, 2, 10_000).astype(np.float32),
              np.r_[np.zeros(9_000), rng.integers(0, 3, 1_000) * 2.5],
              rng.integers(-3, 4, 9_000).astype(np.int64)):
        values, integral = labels.distinct_labels(y)
        present, codes = np.unique(y, return_inverse=True)
        assert np.array_equal(values, present) and values.dtype == y.dtype
        assert integral == bool(np.all(y == np.floor(y)))
        assert np.array_equal(labels.label_codes(y, values), codes)
        targets = np.linspace(-1, 1, values.size).astype(np.float32)
        assert np.array_equal(labels.encode_labels(y, values, targets, np.float32), targets[codes])
    y = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    assert labels.encode_labels(y, np.array([0.0, 1.0], np.float32), [0.0, 1.0], np.float32) is y
    assert labels.distinct_labels(np.array([0.0, np.nan, 1.0])) is None
    assert labels.distinct_labels(np.arange(65.0)) is None
