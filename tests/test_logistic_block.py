"""logistic_block, the logistic loss over a block of rows, against the textbook formula."""

import math

import numpy as np

from fastgd.losses.logistic import logistic_block


def _logistic_scalar(z, y):
    # the textbook stable form, with the C library's exp and log1p
    if z >= 0:
        e = math.exp(-z)
        return (1 - y) * z + math.log1p(e), 1 / (1 + e) - y
    e = math.exp(z)
    return math.log1p(e) - y * z, e / (1 + e) - y


def test_logistic_block_matches_scalar_formula():
    rng = np.random.default_rng(2)
    z = np.r_[rng.normal(0, 5, 2000), -1000.0, 1000.0, 0.0, 40.0, -40.0]
    y = (rng.random(z.size) < 0.5).astype(np.float64)
    loss, dz = np.empty_like(z), np.empty_like(z)
    logistic_block(z, y, 0, z.size, loss, dz)
    want = np.array([_logistic_scalar(a, b) for a, b in zip(z, y)])
    np.testing.assert_allclose(loss, want[:, 0], rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(dz, want[:, 1], rtol=1e-14, atol=1e-16)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(dz))


def test_logistic_block_nan_stays_nan():
    loss, dz = np.empty(2), np.empty(2)
    logistic_block(np.array([np.nan, 1.0]), np.array([1.0, 1.0]), 0, 2, loss, dz)
    assert np.isnan(loss[0]) and np.isnan(dz[0]) and np.isfinite(loss[1])
