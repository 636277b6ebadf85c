"""Objectives in standardized coordinates (fastgd.losses.standardize) against the same
objective on explicitly standardized data, and their statistics against NumPy."""

import numpy as np
import pytest

from fastgd.losses import hyper_array, linear_penalty, linear_rows, softmax_rows
from fastgd.losses.standardize import (AffineLayout, feature_statistics, from_data_units,
                                       standardized, standardized_hyper, to_data_units)
from fastgd.nn import kernels as K


def _data(n=257, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)) * [1.0, 100.0, 0.01, 5.0] + [0.0, 1000.0, -3.0, 0.5]
    return X, rng


def _both(rows, penalty, X, y, h, layout, v, center=True):
    """(loss, gradient, penalty, its gradient) of the wrapped objective on X and of the
    plain objective on (X - mu) / s at the same v."""
    mu, s = feature_statistics(X, center=center and layout.has_bias)
    hs = standardized_hyper(h, layout, mu, s)
    srows, spen = standardized(rows, penalty)
    got_g, want_g = np.zeros(v.size), np.zeros(v.size)
    got = srows(v, X, y, y[:0], hs, got_g)
    want = rows(v, (X - mu) / s, y, y[:0], h, want_g)
    return got, got_g, want, want_g, hs, spen


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_rows_equal_the_plain_rows_on_standardized_data(fit_intercept):
    X, rng = _data()
    y = (rng.random(X.shape[0]) > 0.5).astype(float)
    h = hyper_array(0.1, 0.01, int(fit_intercept), 0.0, "logistic")
    layout = AffineLayout.linear(4, 1, fit_intercept)
    v = rng.standard_normal(4 + fit_intercept)
    got, got_g, want, want_g, _, _ = _both(linear_rows, linear_penalty, X, y, h, layout, v)
    assert got == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-10, atol=1e-10)


def test_softmax_layout():
    X, rng = _data()
    y = rng.integers(0, 3, X.shape[0]).astype(float)
    h = hyper_array(0.0, 0.0, 3, 3.0, "softmax")
    v = rng.standard_normal(3 * 5)
    got, got_g, want, want_g, _, _ = _both(softmax_rows, linear_penalty, X, y, h,
                                           AffineLayout.linear(4, 3, True), v)
    assert got == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-10, atol=1e-10)


def test_mlp_first_layer_layout():
    X, rng = _data()
    y = rng.standard_normal(X.shape[0])
    sizes = [4, 6, 1]
    h = K.mlp_hyper(sizes, "tanh", K.OUT_IDENTITY)
    v = 0.3 * rng.standard_normal(K.layer_offsets(sizes)[-1])
    got, got_g, want, want_g, _, _ = _both(K.mlp_rows, K.mlp_penalty, X, y, h,
                                           AffineLayout.first_layer(4, 6), v)
    assert got == pytest.approx(want, rel=1e-10)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-9, atol=1e-9)


def test_penalty_is_the_data_units_penalty():
    X, rng = _data()
    y = rng.standard_normal(X.shape[0])
    h = hyper_array(0.3, 0.05, 1, 0.0, "squared_error")
    layout = AffineLayout.linear(4, 1, True)
    v = rng.standard_normal(5)
    *_, hs, spen = _both(linear_rows, linear_penalty, X, y, h, layout, v)
    g = np.zeros(5)
    value = spen(v, hs, g)
    u = np.empty_like(v)
    to_data_units(v, hs, u)
    assert value == pytest.approx(0.5 * 0.3 * np.sum(u[:4] ** 2) + 0.05 * np.sum(np.abs(u[:4])))

    def P(vv):
        uu = np.empty_like(vv)
        to_data_units(vv, hs, uu)
        return linear_penalty(uu, h, np.zeros(5))
    eps = 1e-6
    numeric = [(P(v + eps * e) - P(v - eps * e)) / (2 * eps) for e in np.eye(5)]
    np.testing.assert_allclose(g, numeric, atol=1e-6)


def test_round_trip_and_statistics(tmp_path):
    X, rng = _data()
    X[:, 2] = 7.0                                   # a constant column: s = 1
    mu, s = feature_statistics(X, center=True)
    np.testing.assert_allclose(mu, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(s[[0, 1, 3]], X.std(axis=0)[[0, 1, 3]], rtol=1e-9)
    assert s[2] == 1.0
    path = tmp_path / "X.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    np.testing.assert_allclose(feature_statistics(mm, True, block_bytes=256)[0], mu, rtol=1e-12)
    mu0, rms = feature_statistics(X, center=False)
    np.testing.assert_allclose(rms, np.sqrt((X ** 2).mean(axis=0)), rtol=1e-12)
    assert not mu0.any()
    layout = AffineLayout.linear(4, 1, True)
    hs = standardized_hyper(hyper_array(), layout, mu, s)
    v = rng.standard_normal(5)
    u = np.empty_like(v)
    to_data_units(v, hs, u)
    np.testing.assert_allclose(from_data_units(u, layout, mu, s), v, atol=1e-12)
    # and the model in data units computes the same logits on X as v on (X - mu) / s
    np.testing.assert_allclose(X @ u[:4] + u[4], ((X - mu) / s) @ v[:4] + v[4], rtol=1e-9)
