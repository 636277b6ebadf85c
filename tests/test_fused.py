"""fit_many(exact=False): the fused kernel (fastgd/engine/fused.py) against solo fits."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

import fastgd
from fastgd.engine import fused
from .grid_cases import classification, diverging
from .threads import numba_threads

TOL = {np.float64: 1e-10, np.float32: 1e-5}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _alone(est, params, X, y, sw=None):
    return _quiet(clone(est).set_params(**params).fit, X, y, sample_weight=sw)


def _assert_close(models, est, grid, X, y, sw=None):
    tol = TOL[X.dtype.type]
    for model, params in zip(models, ParameterGrid(grid)):
        alone = _alone(est, params, X, y, sw)
        scale = max(np.abs(alone.coef_).max(), np.abs(alone.intercept_).max())
        assert np.abs(model.coef_ - alone.coef_).max() <= tol * scale, params
        assert np.abs(model.intercept_ - alone.intercept_).max() <= tol * scale, params
        assert model.coef_.dtype == alone.coef_.dtype
        assert model.t_ == alone.t_ and model.n_iter_ == alone.n_iter_, params
        np.testing.assert_allclose(model.loss_curve_, alone.loss_curve_, rtol=tol)


@pytest.fixture
def spy(monkeypatch):
    """The sizes of the fused calls' groups."""
    sizes = []
    real = fused.FusedRun.__init__

    def init(self, trainers, updates):
        sizes.append(len(trainers))
        real(self, trainers, updates)

    monkeypatch.setattr(fused.FusedRun, "__init__", init)
    return sizes


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logistic_and_squared_match_solo_fits(dtype, spy):
    X, y = classification(300, 7, seed=1)
    X = X.astype(dtype)
    sw = np.random.default_rng(2).uniform(0.5, 1.5, 300)
    grid = {"lr": [0.05, 0.01], "alpha": [1e-4, 1e-2], "optimizer": ["adam", "sgd"]}
    est = fastgd.LogisticRegression(batch_size=32, max_epochs=3, tol=None, random_state=0)
    models = _quiet(fastgd.fit_many, est, grid, X, y, sw, exact=False)
    assert spy == [4] * 6  # 3 epochs: Adam's 4 and SGD's 4, each group in one call
    _assert_close(models, est, grid, X, y, sw)
    target = X[:, 0] - 2 * X[:, 1]
    reg = fastgd.LinearRegression(batch_size=32, max_epochs=3, tol=None, random_state=0,
                                  shuffle=False)
    grid = {"lr": [0.05, 0.01], "alpha": [0.0, 1e-3], "l1_ratio": [0.0, 0.5]}
    _assert_close(_quiet(fastgd.fit_many, reg, grid, X, target, exact=False),
                  reg, grid, X, target)


def test_same_bits_whatever_the_threads_and_run():
    X, y = classification(300, 7, seed=3)
    est = fastgd.LogisticRegression(batch_size=32, max_epochs=2, tol=None, random_state=0)
    grid = {"lr": [0.1, 0.03, 0.01], "alpha": [1e-4, 1e-3]}
    runs = []
    for k in (1, 2, 2):
        with numba_threads(k):
            runs.append(_quiet(fastgd.fit_many, est, grid, X, y, exact=False))
    kernel = fused.make_fused(fused.LOGISTIC, fused.linear_penalty, fastgd.OPTIMIZERS["adam"].rule)
    compiled = len(kernel.signatures)
    _quiet(fastgd.fit_many, est, {"lr": [0.1, 0.01]}, X, y, exact=False)  # K = 1 a call
    assert len(kernel.signatures) == compiled  # K is a shape, not a type: no recompile
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)
            assert a.loss_curve_ == b.loss_curve_


def test_diverging_configuration_reported_others_unaffected(spy):
    est, grid, X, y = diverging(400, 8, 4)
    grid = {"lr": [1e-9, 10.0, 2e-9]}
    with pytest.warns(UserWarning, match="diverged in epoch 1"):
        good, bad, good2 = fastgd.fit_many(est, grid, X, y, exact=False)
    assert spy
    assert bad.stop_reason_ == "diverged" and bad.n_iter_ == 0
    assert np.all(np.isfinite(bad.coef_))
    assert good.stop_reason_ == good2.stop_reason_ == "max_epochs" and good.n_iter_ == 4
    _assert_close([good, good2], est, {"lr": [1e-9, 2e-9]}, X, y)


def test_ineligible_configurations_keep_the_exact_path(spy):
    X, y = classification(300, 5, seed=4)
    mlp = fastgd.MLPClassifier(hidden_layer_sizes=(4,), max_epochs=2, batch_size=32,
                               random_state=0)
    grid = {"lr": [0.01, 0.003]}
    est = fastgd.LogisticRegression(batch_size=32, max_epochs=2, tol=None, random_state=0,
                                    optimizer="prodigy")
    cases = [(mlp, _quiet(fastgd.fit_many, mlp, grid, X, y, exact=False)),
             (est, _quiet(fastgd.fit_many, est, {"lr": [1.0, 0.5]}, X, y, exact=False))]
    assert spy == []
    for base, models in cases:
        g = grid if base is mlp else {"lr": [1.0, 0.5]}
        for model, params in zip(models, ParameterGrid(g)):
            alone = _alone(base, params, X, y)
            coefs = model.coefs_ if base is mlp else [model.coef_]
            for a, b in zip(coefs, alone.coefs_ if base is mlp else [alone.coef_]):
                assert np.array_equal(a, b), params


def test_grid_search_cv_fused_and_bad_exact():
    X, y = classification(300, 5, seed=5)
    est = fastgd.LogisticRegression(batch_size=32, max_epochs=2, tol=None, random_state=0)
    grid = {"lr": [0.05, 0.01], "alpha": [1e-4, 1e-2]}
    exact = fastgd.GridSearchCV(est, grid, cv=3, refit=False).fit(X, y)
    close = fastgd.GridSearchCV(est, grid, cv=3, refit=False, exact=False).fit(X, y)
    np.testing.assert_allclose(close.cv_results_["mean_test_score"],
                               exact.cv_results_["mean_test_score"], atol=1 / 100)
    for bad in ("yes", 1, None):
        with pytest.raises(TypeError, match="exact"):
            fastgd.fit_many(est, grid, X, y, exact=bad)
        with pytest.raises(TypeError, match="exact"):
            fastgd.GridSearchCV(est, grid, cv=3, exact=bad).fit(X, y)
