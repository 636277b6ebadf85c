"""fastgd.PoissonRegressor: scikit-learn's optimum and score, targets, divergence, persistence."""

import numpy as np
import pytest

import fastgd
from fastgd import losses

from .reference_engine import ref_loss, ref_poisson_deviance


def _counts(n=2000, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = 0.5 * rng.standard_normal((n, d))
    y = rng.poisson(np.exp(X @ rng.standard_normal(d) + 0.5)).astype(float)
    return X, y, rng.uniform(0.5, 2.0, n)


BATCH = dict(optimizer="sgd", batch_size=None, lr=0.3, max_epochs=3000, tol=None, random_state=0)


@pytest.mark.parametrize("weighted", [False, True])
def test_reaches_sklearns_poisson_regressor_optimum_with_the_same_alpha(weighted):
    # scikit-learn minimises 1/(2 sum s) sum s_i d(y_i, mu_i) + alpha/2 ||w||^2, i.e. the mean
    # (weights normalised to mean 1) of half the deviance; half the deviance is fastgd's
    # e^z - y z plus y log y - y, constant in w: the same optimum with the same alpha
    from sklearn.linear_model import PoissonRegressor as SkPoisson
    X, y, sw = _counts()
    s = sw if weighted else None
    alpha = 1e-2
    ref = SkPoisson(alpha=alpha, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=s)
    ours = fastgd.PoissonRegressor(alpha=alpha, **BATCH).fit(X, y, sample_weight=s)
    s1 = None if s is None else s * (len(s) / s.sum())

    def objective(coef, intercept):       # the reference loss, not fastgd's kernel
        return ref_loss("poisson", np.r_[coef, intercept], X, y, s1, l2=alpha)[0]

    assert objective(ours.coef_, ours.intercept_) == pytest.approx(
        objective(ref.coef_, ref.intercept_), rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    # and the mean deviance itself, which is what scikit-learn reports and scores
    dev = ref_poisson_deviance(y, ours.predict(X), s)
    assert dev == pytest.approx(ref_poisson_deviance(y, ref.predict(X), s), rel=1e-8)
    assert ours.score(X, y, sample_weight=s) == pytest.approx(ref.score(X, y, sample_weight=s),
                                                              rel=1e-8)


def test_score_is_d2_and_predict_is_exp():
    from sklearn.metrics import d2_tweedie_score
    X, y, sw = _counts(n=500)
    model = fastgd.PoissonRegressor(max_epochs=5, tol=None, random_state=0).fit(X, y)
    z = X @ model.coef_ + model.intercept_
    np.testing.assert_allclose(model.predict(X), np.exp(z), rtol=1e-12)
    for s in (None, sw):
        mu = model.predict(X)
        mean = np.average(y, weights=s)
        want = 1 - ref_poisson_deviance(y, mu, s) / ref_poisson_deviance(y, np.full(y.size, mean), s)
        assert model.score(X, y, sample_weight=s) == pytest.approx(want, rel=1e-12)
        assert model.score(X, y, sample_weight=s) == pytest.approx(
            d2_tweedie_score(y, mu, power=1, sample_weight=s), rel=1e-10)
    assert model.score(X[:3], np.full(3, 2.0)) in (0.0, 1.0)     # constant y: null deviance 0


def test_intercept_starts_at_the_log_of_the_mean():
    X, y, sw = _counts(n=300)
    model = fastgd.PoissonRegressor(optimizer="sgd", lr=1e-300, max_epochs=1, tol=None)
    model.fit(X, y, sample_weight=sw)
    assert model.intercept_[0] == pytest.approx(np.log(np.average(y, weights=sw)), rel=1e-12)
    assert not hasattr(model, "_start_intercept")
    assert np.all(np.abs(model.coef_) < 1e-290)            # one step of 1e-300 from 0


def test_float32_stays_float32():
    X, y, _ = _counts(n=300)
    model = fastgd.PoissonRegressor(max_epochs=3, tol=None, random_state=0)
    model.fit(X.astype(np.float32), y.astype(np.float32))
    assert model.coef_.dtype == np.float32
    assert model.predict(X.astype(np.float32)).dtype == np.float32


def test_negative_targets_are_refused_and_change_nothing():
    X, y, _ = _counts(n=50)
    bad = y.copy()
    bad[3] = -1.0
    model = fastgd.PoissonRegressor()
    with pytest.raises(ValueError, match="y must be >= 0"):
        model.fit(X, bad)
    assert not hasattr(model, "coef_") and not hasattr(model, "n_features_in_")
    assert bad[3] == -1.0
    model.fit(X, y)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match="y must be >= 0"):
        model.partial_fit(X, bad)
    with pytest.raises(ValueError, match="y must be >= 0"):
        model.score(X, bad)
    assert np.array_equal(model.coef_, coef)


def test_divergence_is_reported_not_garbage():
    # a huge step sends z past exp's range: the loss is inf and the fit stops, keeping
    # the last finite parameters
    X, y, _ = _counts(n=200)
    model = fastgd.PoissonRegressor(optimizer="sgd", lr=1e3, batch_size=None, max_epochs=50,
                                    tol=None)
    with pytest.raises(fastgd.DivergenceError, match="diverged"):
        model.fit(X * 10, y)
    assert np.all(np.isfinite(model.coef_))


def test_save_and_load_continue_exactly(tmp_path):
    X, y, _ = _counts(n=300)
    model = fastgd.PoissonRegressor(max_epochs=3, tol=None, random_state=0).fit(X, y)
    path = fastgd.save_model(model, tmp_path / "poisson.npz")
    loaded = fastgd.load_model(path)
    assert type(loaded) is fastgd.PoissonRegressor
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)


def test_exported():
    from fastgd import models
    assert fastgd.PoissonRegressor is models.PoissonRegressor
    assert "PoissonRegressor" in fastgd.__all__ and "PoissonRegressor" in models.__all__
    assert losses.LOSSES["poisson"].targets == "count"
