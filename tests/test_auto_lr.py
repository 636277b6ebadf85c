"""lr="auto": standardized coordinates, the best-constant start and the rate from the record."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import fastgd
from fastgd.models import auto
from fastgd.models.persist import ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _unscaled_regression(n=2000, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5)) * np.array([1.0, 10.0, 100.0, 0.1, 1000.0]) + 50.0
    y = X @ np.array([1.0, -2.0, 0.05, 3.0, 0.001]) + 150.0 + 0.1 * rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype)


def _ridge_problem():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 3)) * np.array([1.0, 10.0, 0.5]) + 5.0
    return X, X @ np.array([1.0, -0.2, 3.0]) + 7.0 + rng.standard_normal(400)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_unscaled_classification_reaches_a_tuned_accuracy(optimizer):
    X, y = load_breast_cancer(return_X_y=True)
    model = fastgd.LogisticRegression(lr="auto", optimizer=optimizer, random_state=0).fit(X, y)
    assert model.score(X, y) >= 0.965
    assert model.stop_reason_ == "converged"
    assert model.x_mean_.shape == model.x_scale_.shape == (X.shape[1],)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "asgd"])
def test_unscaled_regression_learns_a_large_intercept(optimizer):
    X, y = _unscaled_regression()
    model = fastgd.LinearRegression(lr="auto", optimizer=optimizer, alpha=0.0,
                                    random_state=0).fit(X, y)
    # the intercept itself is ill-determined (means of 50 against deviations of 0.1):
    # the predictions are what is learnt
    assert model.score(X, y) > 0.9999


def test_batch_gradient_descent_reaches_the_least_squares_solution_in_data_units():
    X, y = _unscaled_regression(n=500)
    model = fastgd.LinearRegression(lr="auto", optimizer="sgd", batch_size=None, alpha=0.0,
                                    tol=None, max_epochs=3000).fit(X, y)
    ref = np.linalg.lstsq(np.hstack([X, np.ones((X.shape[0], 1))]), y, rcond=None)[0]
    np.testing.assert_allclose(model.coef_, ref[:-1], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.intercept_[0], ref[-1], rtol=1e-8)


def test_the_penalty_is_on_the_coefficients_in_the_data_units():
    # the optimum is the plain problem's (ridge in the data's units, intercept free),
    # not that of a ridge on standardized features
    X, y = _ridge_problem()
    alpha = 0.5
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    coef = np.linalg.solve(Xc.T @ Xc / 400 + alpha * np.eye(3), Xc.T @ yc / 400)
    model = fastgd.LinearRegression(lr="auto", optimizer="sgd", batch_size=None, alpha=alpha,
                                    tol=None, max_epochs=2000).fit(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-9)
    np.testing.assert_allclose(model.intercept_[0], y.mean() - X.mean(axis=0) @ coef, rtol=1e-9)


def test_the_curvature_rate_of_batch_gradient_descent_is_one_over_lambda_max():
    X, y = _unscaled_regression(n=300)
    mu, s = auto.statistics(X, True)
    rate = auto.curvature_rate(X, None, mu, s, "squared_error", True, None, 0.0, 0.0,
                               np.random.default_rng(0))
    Z = np.hstack([(X - mu) / s, np.ones((X.shape[0], 1))])
    lam = np.linalg.eigvalsh(Z.T @ Z / X.shape[0])[-1]
    assert rate == pytest.approx(1.0 / lam, rel=1e-6)
    # stochastic: 1 / (2 max ||z_i||^2); logistic: 4x the squared loss's; momentum: (1 - beta)
    one = auto.curvature_rate(X, None, mu, s, "squared_error", True, 1, 0.0, 0.0,
                              np.random.default_rng(0))
    assert one == pytest.approx(0.5 / np.max(np.sum(Z * Z, axis=1)), rel=1e-12)
    logistic = auto.curvature_rate(X, None, mu, s, "logistic", True, None, 0.0, 0.9,
                                   np.random.default_rng(0))
    assert logistic == pytest.approx(0.1 * 4.0 / lam, rel=1e-6)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_intercept_starts_at_the_best_constant():
    y = np.array([0.0, 1.0, 1.0, 1.0])
    assert auto.best_constant("logistic", y, None, 1)[0] == pytest.approx(np.log(3.0))
    assert auto.best_constant("squared_error", y, np.array([1.0, 1.0, 1.0, 5.0]), 1)[0] \
        == pytest.approx(7.0 / 8.0)
    logp = auto.best_constant("softmax", np.array([0.0, 1.0, 1.0, 2.0]), None, 3)
    np.testing.assert_allclose(np.exp(logp) / np.exp(logp).sum(), [0.25, 0.5, 0.25])
    assert auto.best_constant("poisson", np.array([0.0, 2.0]), None, 1)[0] == 0.0
    # in the standardized coordinates (centred features) the intercept's gradient at the
    # start is mean(y) - b = 0: a step of batch gradient descent keeps it
    X, y = _unscaled_regression(n=200)
    model = fastgd.LinearRegression(lr="auto", max_epochs=1, batch_size=None,
                                    optimizer="sgd").fit(X, y)
    assert model.optimizer_.params[-1] == pytest.approx(y.mean(), rel=1e-12)


def test_float32_stays_float32_and_the_data_is_untouched():
    X, y = _unscaled_regression(dtype=np.float32)
    X0, y0 = X.copy(), y.copy()
    model = fastgd.LinearRegression(lr="auto", random_state=0).fit(X, y)
    assert model.coef_.dtype == np.float32 and model.predict(X).dtype == np.float32
    assert model.optimizer_.params.dtype == np.float32
    assert model.score(X, y) > 0.999
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_partial_fit_continues_in_the_same_coordinates():
    X, y = _unscaled_regression()
    a = fastgd.LinearRegression(lr="auto", random_state=0, max_epochs=3, tol=None).fit(X, y)
    b = fastgd.LinearRegression(lr="auto", random_state=0, max_epochs=3, tol=None).fit(X, y)
    mean = a.x_mean_.copy()
    a.partial_fit(X[:100] * 2.0, y[:100])        # other statistics: the fit's are kept
    b.partial_fit(X[:100] * 2.0, y[:100])
    np.testing.assert_array_equal(a.x_mean_, mean)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.optimizer_.lr == b.optimizer_.lr


def test_warm_start_carries_the_coefficients_into_new_coordinates():
    # at the optimum of the shifted data (the same coefficients) a step keeps them
    X, y = _ridge_problem()
    model = fastgd.LinearRegression(lr="auto", optimizer="sgd", batch_size=None, alpha=0.0,
                                    tol=None, max_epochs=2000).fit(X, y)
    coef, b = model.coef_.copy(), model.intercept_[0]
    model.set_params(warm_start=True, max_epochs=1)
    model.fit(X + 1.0, y + coef.sum())
    assert not np.array_equal(model.x_mean_, X.mean(axis=0))
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-8)
    np.testing.assert_allclose(model.intercept_[0], b, rtol=1e-8)


def test_switching_lr_to_or_from_auto_after_a_fit_is_refused(tmp_path):
    X, y = _unscaled_regression(n=200)
    model = fastgd.LinearRegression(lr="auto", max_epochs=2).fit(X, y)
    model.set_params(lr=0.1)
    with pytest.raises(ValueError, match="lr="):
        model.partial_fit(X, y)
    with pytest.raises(ValueError, match="lr"):
        fastgd.save_model(model, tmp_path / "m.npz")
    plain = fastgd.LinearRegression(lr=0.001, max_epochs=2).fit(X, y)
    plain.set_params(lr="auto")
    with pytest.raises(ValueError, match="lr="):
        plain.partial_fit(X, y)


@pytest.mark.parametrize("cls", ["LinearRegression", "MLPRegressor"])
def test_a_saved_auto_model_predicts_and_continues_the_same(tmp_path, cls):
    X, y = _unscaled_regression(n=300)
    kw = {"hidden_layer_sizes": (8,)} if cls == "MLPRegressor" else {}
    model = getattr(fastgd, cls)(lr="auto", max_epochs=3, tol=None, random_state=0, **kw)
    model.fit(X, y)
    path = fastgd.save_model(model, tmp_path / "m.npz")
    loaded = fastgd.load_model(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.x_scale_, model.x_scale_)
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def _resealed(path, tmp_path, edit):
    import json
    from fastgd.models import persist
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.pop(persist.DIGEST_KEY)
    meta = json.loads(str(arrays.pop(persist.META_KEY)))
    edit(meta, arrays)
    out = str(tmp_path / "edited.npz")
    persist._write(out, json.dumps(meta), arrays)
    return out


def test_model_files_whose_statistics_do_not_fit_are_refused(tmp_path):
    X, y = _unscaled_regression(n=200)
    plain = fastgd.save_model(fastgd.LinearRegression(lr=0.001, max_epochs=2).fit(X, y),
                              tmp_path / "plain.npz")
    auto_path = fastgd.save_model(fastgd.LinearRegression(lr="auto", max_epochs=2).fit(X, y),
                                  tmp_path / "auto.npz")

    def to_auto(meta, arrays):
        meta["params"]["lr"] = "auto"

    with pytest.raises(ModelFileError, match="x_scale_"):
        fastgd.load_model(_resealed(plain, tmp_path, to_auto))

    def drop_scale(meta, arrays):
        del meta["fitted"]["x_scale_"]

    with pytest.raises(ModelFileError, match="x_scale_"):
        fastgd.load_model(_resealed(auto_path, tmp_path, drop_scale))

    def zero_scale(meta, arrays):
        key = next(k for k in arrays if "x_scale_" in k)
        arrays[key] = np.zeros_like(arrays[key])

    with pytest.raises(ModelFileError, match="x_scale_"):
        fastgd.load_model(_resealed(auto_path, tmp_path, zero_scale))


def test_networks_train_on_unscaled_data():
    X, y = load_breast_cancer(return_X_y=True)
    clf = fastgd.MLPClassifier(hidden_layer_sizes=(16,), lr="auto", random_state=0).fit(X, y)
    assert clf.score(X, y) >= 0.97
    Xr, yr = _unscaled_regression(n=1000)
    reg = fastgd.MLPRegressor(hidden_layer_sizes=(16,), lr="auto", random_state=0).fit(Xr, yr)
    assert reg.score(Xr, yr) > 0.99


def test_bad_lr_strings_are_refused_before_anything_changes():
    X, y = _unscaled_regression(n=50)
    model = fastgd.LinearRegression(lr="fast")
    with pytest.raises(ValueError, match="lr must be"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


# -- minimize(lr="auto") -----------------------------------------------------------------------

def _quadratic():
    A = np.diag(np.linspace(1.0, 100.0, 50))
    return lambda x: (0.5 * x @ A @ x, A @ x)


@pytest.mark.parametrize("method,momentum", [("gd", 0.0), ("momentum", 0.9), ("asgd", 0.0)])
def test_minimize_auto_steps_at_one_over_the_curvature(method, momentum):
    res = fastgd.minimize(_quadratic(), np.ones(50), jac=True, method=method, lr="auto",
                          maxiter=5000, gtol=1e-8)
    assert res.success
    assert res.lr * 100.0 / (1.0 - momentum) == pytest.approx(1.0, rel=0.05)
    assert res.nfev > res.nit + 1 and res.njev == res.nfev    # the probes are counted


def test_minimize_auto_for_adaptive_rules_scales_with_x0():
    res = fastgd.minimize(_quadratic(), np.full(50, 3.0), jac=True, method="adam", lr="auto",
                          maxiter=3000, gtol=1e-8)
    assert res.lr == pytest.approx(0.03) and res.success


def test_minimize_auto_with_a_numerical_gradient():
    f = lambda x: float(np.sum((x - 2.0) ** 2))          # noqa: E731
    res = fastgd.minimize(f, np.zeros(4), method="gd", lr="auto", maxiter=200, gtol=1e-6)
    assert res.lr == pytest.approx(0.5, rel=0.02) and res.success     # differences of differences
    np.testing.assert_allclose(res.x, 2.0, atol=1e-6)


def test_minimize_refuses_bad_lr_strings_and_auto_with_a_line_search():
    with pytest.raises(TypeError, match="lr must be"):
        fastgd.minimize(_quadratic(), np.ones(50), jac=True, lr="fast")
    with pytest.raises(ValueError, match="line_search"):
        fastgd.minimize(_quadratic(), np.ones(50), jac=True, method="gd", lr="auto",
                        line_search=True)


def test_sparse_x_keeps_its_coordinates_and_gets_the_start_and_the_rate():
    import scipy.sparse as sp
    X, y = load_breast_cancer(return_X_y=True)
    Xs = sp.csr_matrix(X / X.max(axis=0))
    model = fastgd.LogisticRegression(lr="auto", optimizer="sgd", random_state=0).fit(Xs, y)
    np.testing.assert_array_equal(model.x_scale_, 1.0)
    np.testing.assert_array_equal(model.x_mean_, 0.0)
    np.testing.assert_array_equal(model._data_params(), model.optimizer_.params)
    assert model.score(Xs, y) > 0.9
    assert model.optimizer_.lr > 0.01


def test_fit_many_takes_auto_among_the_rates():
    X, y = load_breast_cancer(return_X_y=True)
    est = fastgd.LogisticRegression(max_epochs=5, tol=None, random_state=0)
    models = fastgd.fit_many(est, {"lr": ["auto", 0.01], "optimizer": ["sgd"]}, X, y)
    alone = fastgd.LogisticRegression(max_epochs=5, tol=None, random_state=0, lr="auto",
                                      optimizer="sgd").fit(X, y)
    np.testing.assert_array_equal(models[0].coef_, alone.coef_)
    np.testing.assert_array_equal(models[0].x_scale_, alone.x_scale_)
    assert models[1].x_scale_ is None


# one rule whose record keeps its default rate (auto_lr None), one with a rate of its own
@pytest.mark.parametrize("optimizer", ["prodigy", "lion"])
def test_the_newer_rules_take_auto(optimizer):
    # rules that find their own scale keep their default rate; the others take their record's
    rule = fastgd.OPTIMIZERS[optimizer].rule
    X, y = load_breast_cancer(return_X_y=True)
    model = fastgd.LogisticRegression(lr="auto", optimizer=optimizer, max_epochs=50,
                                      random_state=0).fit(X, y)
    assert model.optimizer_.lr == (rule.lr if rule.auto_lr is None else rule.auto_lr)
    assert model.score(X, y) >= 0.96
