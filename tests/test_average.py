"""``average=``: Polyak-Ruppert averaging of the iterates in the linear estimators.

The ground truth is a slow loop: the same update rule stepped from Python
with a NumPy gradient, batch by batch, and the mean of the iterates from the
step whose batch brings the samples seen to ``average`` (True: 1) on; and
scikit-learn's ``SGDRegressor(average=...)``, iterate for iterate, with
stochastic steps.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastgd
from fastgd.models.persist import load_model, save_model

from .registry import REPRESENTATIVE


def _data(n=150, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 1.0 + 0.5 * rng.standard_normal(n)
    return X, y


def reference_average(X, y, optimizer, lr, batch_size, epochs, average, alpha):
    """(averaged coef, averaged intercept, iterates averaged): the rule's own step, NumPy
    gradients, NumPy mean."""
    n, d = X.shape
    w = np.zeros(d + 1)
    opt = fastgd.OPTIMIZERS[optimizer](w, lr=lr)
    avg, count, seen = np.zeros(d + 1), 0, 0
    for _ in range(epochs):
        for a in range(0, n, batch_size):
            xb, yb = X[a:a + batch_size], y[a:a + batch_size]
            r = xb @ w[:d] + w[d] - yb
            g = np.append(xb.T @ r / len(yb) + alpha * w[:d], r.mean())
            opt.step(g)
            seen += len(yb)
            if seen >= max(1, int(average)):
                count += 1
                avg += (w - avg) / count
    if count == 0:
        return w[:d], w[d:], 0
    return avg[:d], avg[d:], count


# the wrapper is the same for every rule: the representative ones (tests/registry.py)
_AVERAGEABLE = [k for k in REPRESENTATIVE if fastgd.OPTIMIZERS[k].rule.eval_point is None]


@pytest.mark.parametrize("optimizer", _AVERAGEABLE)
@pytest.mark.parametrize("batch_size, average", [(1, True), (16, 100), (16, 1000), (7, 7)])
def test_averaged_iterates_equal_the_numpy_reference(optimizer, batch_size, average):
    X, y = _data()
    model = fastgd.LinearRegression(optimizer=optimizer, lr=0.01, batch_size=batch_size,
                                    max_epochs=3, tol=None, alpha=1e-3, shuffle=False,
                                    average=average).fit(X, y)
    coef, intercept, count = reference_average(X, y, optimizer, 0.01, batch_size, 3, average,
                                               1e-3)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.intercept_, intercept, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.predict(X), X @ coef + intercept, rtol=1e-10, atol=1e-12)
    opt = model.optimizer_
    assert opt.state["samples_seen"] == 3 * len(X)
    assert opt.state["n_averaged"] == count      # 0 for 1000: not reached, the iterate is used


@pytest.mark.parametrize("average", [True, 1, 40, 400])
def test_stochastic_steps_equal_sklearns_sgd_regressor(average):
    X, y = _data()
    ours = fastgd.LinearRegression(optimizer="sgd", lr=0.02, batch_size=1, max_epochs=4,
                                   tol=None, alpha=1e-4, shuffle=False, average=average).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = SGDRegressor(learning_rate="constant", eta0=0.02, alpha=1e-4, max_iter=4,
                              tol=None, shuffle=False, average=average).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-10, atol=1e-12)


def test_kept_exactly_across_partial_fit_and_model_files(tmp_path):
    X, y = _data()
    kw = dict(optimizer="adam", lr=0.01, batch_size=16, tol=None, shuffle=True, random_state=0)
    whole = fastgd.LinearRegression(max_epochs=5, average=400, **kw).fit(X, y)
    # 2 epochs (300 samples: averaging not started yet), saved, loaded, 3 more by partial_fit
    part = fastgd.LinearRegression(max_epochs=2, average=400, **kw).fit(X, y)
    assert part.optimizer_.state["n_averaged"] == 0
    loaded = load_model(save_model(part, tmp_path / "m.npz"))
    for _ in range(3):
        part.partial_fit(X, y)
        loaded.partial_fit(X, y)
    np.testing.assert_array_equal(part.coef_, whole.coef_)
    np.testing.assert_array_equal(loaded.coef_, whole.coef_)
    np.testing.assert_array_equal(loaded.predict(X), whole.predict(X))
    assert loaded.optimizer_.state["n_averaged"] == whole.optimizer_.state["n_averaged"] > 0
    # and a file saved while averaging
    again = load_model(save_model(whole, tmp_path / "w.npz"))
    np.testing.assert_array_equal(again.coef_, whole.coef_)
    whole.partial_fit(X, y)
    again.partial_fit(X, y)
    np.testing.assert_array_equal(again.coef_, whole.coef_)
    # the state dict carries the average too
    state = whole.optimizer_.state_dict()
    np.testing.assert_array_equal(state["state"]["average"][:4], whole.coef_)


def test_the_iterate_is_used_until_averaging_starts_and_classifiers_average_too():
    X, y = _data()
    late = fastgd.LinearRegression(max_epochs=1, tol=None, batch_size=16, shuffle=False,
                                   average=10_000).fit(X, y)
    plain = fastgd.LinearRegression(max_epochs=1, tol=None, batch_size=16,
                                    shuffle=False).fit(X, y)
    np.testing.assert_array_equal(late.coef_, plain.coef_)
    labels = y > np.median(y)
    for cls in (fastgd.LogisticRegression, fastgd.LinearSVC):
        clf = cls(average=True, max_epochs=10, tol=None, random_state=0).fit(X, labels)
        np.testing.assert_array_equal(clf.coef_.ravel(), clf.optimizer_.state["average"][:4])
        assert clf.score(X, labels) > 0.85
    counts = np.random.default_rng(0).poisson(np.exp(X @ [0.2, -0.1, 0.0, 0.1]))
    pois = fastgd.PoissonRegressor(average=True, max_epochs=5, random_state=0).fit(X, counts)
    np.testing.assert_array_equal(pois.coef_, pois.optimizer_.state["average"][:4])


def test_early_stopping_keeps_the_best_epochs_average():
    X, y = _data(n=400)
    model = fastgd.LinearRegression(average=True, early_stopping=True, lr=0.05,
                                    max_epochs=40, random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.coef_, model.optimizer_.state["average"][:4])
    assert model.best_validation_score_ > 0.8


@pytest.mark.parametrize("bad", [-1, 1.5, "yes", None])
def test_bad_average_is_a_value_error_naming_it(bad):
    X, y = _data()
    model = fastgd.LinearRegression(average=bad)
    with pytest.raises(ValueError, match="average must be"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_switching_average_after_fit_is_refused_by_partial_fit():
    X, y = _data()
    model = fastgd.LinearRegression(max_epochs=2, tol=None).fit(X, y)
    model.set_params(average=True)
    with pytest.raises(ValueError, match=r"average=True \(fit used 'off'\)"):
        model.partial_fit(X, y)
    model.fit(X, y)                                  # fit starts afresh with it
    assert model.optimizer_.state["n_averaged"] > 0
    model.set_params(average=500)                    # a new start: taken (already started)
    model.partial_fit(X, y)


@parametrize_with_checks([fastgd.LinearRegression(average=True),
                          fastgd.LogisticRegression(average=10)])
def test_sklearn_contract_with_averaging(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("optimizer", ["sgdschedulefree", "adamwschedulefree"])
def test_schedule_free_rules_refuse_average(optimizer):
    X, y = _data()
    model = fastgd.LinearRegression(optimizer=optimizer, average=True)
    with pytest.raises(ValueError, match="schedule-free"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_averaged_optimizer_steps_a_layout_and_averages_it():
    # the averaged rule's own (parallel) step kernel, with Adafactor's factored matrix step:
    # its constants are one flat tuple (a nested one did not compile under prange)
    from fastgd.models.averaging import averaged_optimizer_class
    rng = np.random.default_rng(0)
    shapes, x0 = [(3, 4), (4,)], rng.standard_normal(16)
    averaged = averaged_optimizer_class("adafactor")(x0.copy(), lr=0.05, shapes=shapes)
    plain = fastgd.Adafactor(x0.copy(), lr=0.05, shapes=shapes)
    mean = np.zeros(16)
    for n in range(1, 6):
        g = rng.standard_normal(16)
        averaged.step(g)
        plain.step(g)
        mean += (plain.params - mean) / n
    np.testing.assert_array_equal(averaged.params, plain.params)
    np.testing.assert_allclose(averaged.state["average"], mean, rtol=1e-14, atol=1e-15)
    assert averaged.state["n_averaged"] == 5
