"""The evaluation point of rules that take the gradient elsewhere (schedule-free's x).

``Rule.eval_point`` names the state array the model is evaluated at;
``Optimizer.eval_params()`` gives it, and the estimators' fitted attributes,
predictions, warm starts and model files use it, while ``params`` (y, where
the gradient is taken) carries the training on.
"""

import numpy as np
import pytest

import fastgd
from fastgd.kernels import RULES

from . import reference_mlp

EVAL_RULES = sorted(name for name, rule in RULES.items() if rule.eval_point is not None)


def test_schedule_free_rules_evaluate_at_their_average():
    assert {"sgdschedulefree", "adamwschedulefree"} <= set(EVAL_RULES)


def test_eval_params_is_params_for_the_other_rules():
    x = np.ones(5)
    opt = fastgd.Adam(x)
    opt.step(np.ones(5))
    assert opt.eval_params() is x


@pytest.mark.parametrize("name", EVAL_RULES)
def test_eval_params_is_the_average_once_a_step_is_made(name):
    x = np.array([3.0, -2.0, 1.0])
    opt = fastgd.OPTIMIZERS[name](x, lr=0.1)
    assert opt.eval_params() is x                    # before any step: the starting point
    for _ in range(20):
        opt.step(2 * x)
    point = opt.eval_params()
    assert point is opt.state[opt.rule.eval_point]
    assert not np.array_equal(point, x)              # y (params) and x differ
    # the average converges to the minimum of |x|^2 too
    for _ in range(2000):
        opt.step(2 * x)
    assert np.abs(opt.eval_params()).max() < 0.05


def _regression(n=400, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.7 + 0.1 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("name", EVAL_RULES)
def test_linear_model_predicts_with_the_average(name):
    X, y = _regression()
    model = fastgd.LinearRegression(optimizer=name, lr=0.05, max_epochs=30, tol=None,
                                    random_state=0).fit(X, y)
    opt = model.optimizer_
    point = opt.eval_params()
    assert point is not opt.params and not np.array_equal(point, opt.params)
    np.testing.assert_array_equal(model.coef_, point[:4])
    np.testing.assert_array_equal(model.intercept_, point[4:])
    np.testing.assert_allclose(model.predict(X), X @ point[:4] + point[4], rtol=1e-12)
    assert model.score(X, y) > 0.99
    # partial_fit continues from y (params), not from x
    y_before, z_before = opt.params.copy(), opt.state["z"].copy()
    model.partial_fit(X, y)
    assert opt.step_count > 0 and not np.array_equal(opt.params, y_before)
    assert not np.array_equal(opt.state["z"], z_before)
    np.testing.assert_array_equal(model.coef_, opt.eval_params()[:4])


def test_mlp_predicts_with_the_average():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 3))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    clf = fastgd.MLPClassifier((8,), optimizer="adamwschedulefree", lr=0.02, max_epochs=20,
                               tol=None, random_state=0).fit(X, y)
    point = clf.optimizer_.eval_params()
    assert not np.array_equal(point, clf.optimizer_.params)
    sizes = [3, 8, 1]
    for l, (W, b) in enumerate(reference_mlp.unflatten(point, sizes)):
        np.testing.assert_array_equal(clf.coefs_[l], W)
        np.testing.assert_array_equal(clf.intercepts_[l], b)
    want = reference_mlp.predict(point, sizes, X, clf.activation, "logistic").ravel()
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], want, rtol=1e-10)


def test_model_file_round_trip_keeps_both_points(tmp_path):
    X, y = _regression()
    model = fastgd.LinearRegression(optimizer="sgdschedulefree", lr=0.05, max_epochs=5,
                                    tol=None, random_state=0).fit(X, y)
    path = tmp_path / "m.fastgd"
    fastgd.save_model(model, path)
    back = fastgd.load_model(path)
    np.testing.assert_array_equal(back.coef_, model.coef_)
    np.testing.assert_array_equal(back.optimizer_.params, model.optimizer_.params)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
