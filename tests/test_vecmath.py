"""The vectorisable exp and log1p of fastgd.losses._vecmath against the C library."""

import math

import numpy as np

from fastgd._numba import FASTMATH_ORDERED, jit
from fastgd.losses._vecmath import exp_nonpositive, log1p_unit

# compiled as their user, fastgd.losses.logistic.logistic_block, is
_ordered = jit(fastmath=set(FASTMATH_ORDERED))


@_ordered
def _exp_all(x, out):
    for i in range(x.size):
        out[i] = exp_nonpositive(x[i])


@_ordered
def _log1p_all(x, out):
    for i in range(x.size):
        out[i] = log1p_unit(x[i])


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_exp_within_two_ulps():
    rng = np.random.default_rng(0)
    x = np.r_[-rng.exponential(5.0, 100_000), -rng.uniform(0, 708, 100_000), 0.0,
              -0.5 * math.log(2), -math.log(2), -1e-300, -5e-324, -707.9, -708.0]
    got = np.empty_like(x)
    _exp_all(x, got)
    assert _ulps(got, np.exp(x)).max() <= 2.0
    assert got[x == 0.0][0] == 1.0


def test_exp_underflow_and_specials():
    x = np.array([-708.5, -745.2, -1e4, -np.inf, np.nan])
    got = np.empty_like(x)
    _exp_all(x, got)
    assert np.array_equal(got[:4], np.zeros(4))     # e^x < 3e-308 there: flushed to 0
    assert np.isnan(got[4])


def test_log1p_within_four_ulps():
    rng = np.random.default_rng(1)
    e = np.r_[rng.uniform(0, 1, 100_000), np.exp(-rng.uniform(0, 700, 100_000)), 0.0, 1.0,
              5e-324, 1e-300, 1e-16, 0.5]
    got = np.empty_like(e)
    _log1p_all(e, got)
    want = np.log1p(e)
    nonzero = want > 0
    assert _ulps(got[nonzero], want[nonzero]).max() <= 4.0
    assert got[e == 0.0][0] == 0.0
    nan = np.empty(1)
    _log1p_all(np.array([np.nan]), nan)
    assert np.isnan(nan[0])
