"""set_params after fit, for every estimator: what partial_fit then does.

An argument that fixes the layout of the parameter vector (fit_intercept,
hidden_layer_sizes, activation) or the update rule (optimizer) makes partial_fit
raise a ValueError naming it, and leaves the model as it was; fit starts afresh
and works. Every other argument takes effect on the next call. The effect is
checked against the update rule's equation: with SGD and batch_size=None,
partial_fit is one step w <- w - lr * (grad + alpha * w on the weights), so a
change of lr, alpha or weight_decay moves w by a known amount.
"""

import copy
import math

import numpy as np
import pytest

import fastgd
from fastgd import schedules as S

N = 40


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, 3))
    return {"reg": (X, X @ np.array([1.0, -2.0, 0.5]) + 0.3),
            "bin": (X, np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")),
            "multi": (X, np.digitize(X[:, 0], [-0.5, 0.5]))}


COMMON = dict(optimizer="sgd", lr=0.1, alpha=0.01, batch_size=None, max_epochs=2, tol=None,
              random_state=0)
ESTIMATORS = {
    "LinearRegression": (lambda: fastgd.LinearRegression(**COMMON), "reg"),
    "LogisticRegression-binary": (lambda: fastgd.LogisticRegression(**COMMON), "bin"),
    "LogisticRegression-multiclass": (lambda: fastgd.LogisticRegression(**COMMON), "multi"),
    "LinearSVC": (lambda: fastgd.LinearSVC(**COMMON), "bin"),
    "MLPClassifier": (lambda: fastgd.MLPClassifier((4,), **COMMON), "multi"),
    "MLPRegressor": (lambda: fastgd.MLPRegressor((4,), **COMMON), "reg"),
}
LINEAR = [k for k in ESTIMATORS if not k.startswith("MLP")]
MLP = [k for k in ESTIMATORS if k.startswith("MLP")]


@pytest.fixture(scope="module")
def fitted():
    data = _data()
    return {name: (make().fit(*data[kind]), *data[kind])
            for name, (make, kind) in ESTIMATORS.items()}


def _copy(fitted, name):
    est, X, y = fitted[name]
    return copy.deepcopy(est), X, y


def _one_step_each(fitted, name, a_params, b_params):
    """(w0, a, b, X, y): two copies of the fitted model, each given other arguments, after
    one partial_fit from the same parameters w0."""
    a, X, y = _copy(fitted, name)
    b = copy.deepcopy(a)
    w0 = a.optimizer_.params.copy()
    a.set_params(**a_params)
    b.set_params(**b_params)
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    return w0, a, b, X, y


def _is_weight(est):
    """1 where the parameter vector holds a weight (penalised), 0 for an intercept/bias."""
    if hasattr(est, "coefs_"):
        return np.concatenate([np.r_[np.ones(W.size), np.zeros(b.size)]
                               for W, b in zip(est.coefs_, est.intercepts_)])
    k, d = (1, est.coef_.size) if est.coef_.ndim == 1 else est.coef_.shape
    return np.r_[np.ones(k * d), np.zeros(k)]


LAYOUT = [(name, "optimizer", "adam") for name in ESTIMATORS] + \
         [(name, "fit_intercept", False) for name in LINEAR] + \
         [(name, "hidden_layer_sizes", (5,)) for name in MLP] + \
         [(name, "hidden_layer_sizes", [4, 2]) for name in MLP] + \
         [(name, "activation", "tanh") for name in MLP]


@pytest.mark.parametrize("name,param,value", LAYOUT, ids=[f"{n}-{p}" for n, p, _ in LAYOUT])
def test_a_layout_change_needs_a_fresh_fit(fitted, name, param, value):
    est, X, y = _copy(fitted, name)
    w, t, pred = est.optimizer_.params.copy(), est.t_, est.predict(X)
    est.set_params(**{param: value})
    with pytest.raises(ValueError, match=f"{param}=.*fit\\(\\)"):
        est.partial_fit(X, y)
    # unchanged: parameters, step count, and what it predicts (with its fitted layout)
    np.testing.assert_array_equal(est.optimizer_.params, w)
    assert est.t_ == t
    np.testing.assert_array_equal(est.predict(X), pred)
    # fit starts afresh with the new setting, and partial_fit continues it
    est.fit(X, y)
    assert est.t_ == 2
    est.partial_fit(X, y)
    assert est.t_ == 3


def test_setting_a_layout_back_resumes(fitted):
    est, X, y = _copy(fitted, "LinearRegression")
    est.set_params(fit_intercept=False)
    est.set_params(fit_intercept=True)
    est.partial_fit(X, y)
    assert est.t_ == 3


@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_new_learning_rate_takes_effect(fitted, name):
    w0, a, b, _, _ = _one_step_each(fitted, name, dict(lr=0.05), dict(lr=S.Constant(0.2)))
    np.testing.assert_allclose(b.optimizer_.params - w0, 4 * (a.optimizer_.params - w0),
                               rtol=1e-9, atol=1e-14)
    assert b.optimizer_.current_lr == 0.2 and a.t_ == b.t_ == 3


@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_new_alpha_takes_effect(fitted, name):
    w0, a, b, _, _ = _one_step_each(fitted, name, dict(alpha=0.0), dict(alpha=0.5))
    want = -0.1 * 0.5 * w0 * _is_weight(a)        # - lr * alpha * w, weights only
    np.testing.assert_allclose(b.optimizer_.params - a.optimizer_.params, want,
                               rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_new_optimizer_params_take_effect(fitted, name):
    w0, a, b, X, y = _one_step_each(fitted, name, {}, dict(optimizer_params={"weight_decay": 0.5}))
    assert b.optimizer_.weight_decay == 0.5
    np.testing.assert_allclose(b.optimizer_.params - a.optimizer_.params, -0.1 * 0.5 * w0,
                               rtol=1e-9, atol=1e-14)
    b.set_params(optimizer_params=None)               # back to the rule's default
    b.partial_fit(X, y)
    assert b.optimizer_.weight_decay == 0.0
    c = copy.deepcopy(b)
    c.set_params(optimizer_params={"momentum": -1.0})
    with pytest.raises(ValueError, match="momentum"):
        c.partial_fit(X, y)
    np.testing.assert_array_equal(c.optimizer_.params, b.optimizer_.params)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_new_batch_size_takes_effect(fitted, name):
    est, X, y = _copy(fitted, name)
    est.set_params(batch_size=7)
    est.partial_fit(X, y)
    assert est.t_ == 2 + math.ceil(N / 7)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_arguments_partial_fit_does_not_use_change_nothing(fitted, name):
    _, a, b, _, _ = _one_step_each(fitted, name, {}, dict(
        tol=0.5, n_iter_no_change=1, max_epochs=1, shuffle=False, early_stopping=True,
        validation_fraction=0.5, warm_start=True, random_state=7, verbose=0))
    np.testing.assert_array_equal(a.optimizer_.params, b.optimizer_.params)


def test_a_new_loss_takes_effect(fitted):
    a, X, y = _copy(fitted, "LinearRegression")
    b, c = copy.deepcopy(a), copy.deepcopy(a)
    b.set_params(loss="huber", epsilon=1e6)        # Huber with a huge threshold is squared
    c.set_params(loss="huber", epsilon=0.01)
    for est in (a, b, c):
        est.partial_fit(X, y)
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-12)
    assert np.abs(c.coef_ - a.coef_).max() > 1e-3


def test_a_plateau_schedule_keeps_its_state_unless_replaced(fitted):
    X, y = _data()["reg"]
    est = fastgd.LinearRegression(**dict(COMMON, lr=S.ReduceLROnPlateau(0.1, patience=0,
                                                                      factor=0.5)))
    est.fit(X, y)
    plateau = est.optimizer_.lr
    est.set_params(alpha=0.02)
    est.partial_fit(X, y)
    assert est.optimizer_.lr is plateau          # the fit's own schedule, with its state
    est.set_params(lr=S.ReduceLROnPlateau(0.3))
    est.partial_fit(X, y)
    assert est.optimizer_.lr is not plateau and est.optimizer_.lr.initial_lr == 0.3
