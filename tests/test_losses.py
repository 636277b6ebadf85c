"""The loss kernels against the NumPy reference, finite differences, and their promises."""

import numpy as np
import pytest

import fastgd
from fastgd import losses
from fastgd._numba import PARALLEL_THRESHOLD

from .reference_engine import ref_loss

LOSSES = ["squared_error", "huber", "logistic", "hinge", "softmax"]
K = 3  # classes for softmax


def _problem(name, n=300, d=5, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    if name == "softmax":
        y = rng.integers(0, K, n)
    elif name == "logistic":
        y = rng.integers(0, 2, n)
    elif name == "hinge":
        y = 2 * rng.integers(0, 2, n) - 1
    else:
        y = rng.standard_normal(n) * 3
    sw = rng.uniform(0.5, 2.0, n)
    return X, y.astype(dtype), sw.astype(dtype)


def _w(name, d, fit_intercept, dtype, seed=1):
    k = K if name == "softmax" else 1
    return np.random.default_rng(seed).standard_normal(k * (d + fit_intercept)).astype(dtype)


def _call(name, w, X, y, **kw):
    fn = getattr(losses, name)
    if name == "huber":
        kw.setdefault("delta", 0.8)
    return fn(w, X, y, **kw)


def _extra(name):
    return {"huber": 0.8, "softmax": float(K)}.get(name, 0.0)


def _numerical_gradient(f, x):
    try:  # the library's own, where it exists
        from fastgd.gradients import numerical_gradient
        return numerical_gradient(f, x, method="central")
    except ImportError:
        g = np.empty_like(x)
        for i in range(x.size):
            h = 1e-6 * max(1.0, abs(x[i]))
            e = np.zeros_like(x)
            e[i] = h
            g[i] = (f(x + e) - f(x - e)) / (2 * h)
        return g


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", LOSSES)
def test_matches_reference_float64(name, weighted, fit_intercept):
    X, y, sw = _problem(name)
    w = _w(name, X.shape[1], fit_intercept, np.float64)
    kw = dict(sample_weight=sw if weighted else None, l2=0.3, l1=0.05, fit_intercept=fit_intercept)
    f, g = _call(name, w, X, y, **kw)
    want_f, want_g = ref_loss(name, w, X, y, sw if weighted else None, 0.3, 0.05, fit_intercept,
                              _extra(name))
    assert f == pytest.approx(want_f, rel=1e-12)
    np.testing.assert_allclose(g, want_g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n, d", [(1, 1), (3, 7), (66, 100), (131, 33)])
@pytest.mark.parametrize("name", ["squared_error", "huber", "logistic", "hinge"])
def test_block_edges_match_reference(name, n, d):
    # linear_rows takes rows in blocks of 64 and four at a time: partial
    # blocks, leftover rows and short feature vectors go through other loops
    X, y, sw = _problem(name, n=n, d=d, seed=n)
    w = _w(name, d, True, np.float64)
    f, g = _call(name, w, X, y, sample_weight=sw)
    want_f, want_g = ref_loss(name, w, X, y, sw, 0.0, 0.0, True, _extra(name))
    assert f == pytest.approx(want_f, rel=1e-12)
    np.testing.assert_allclose(g, want_g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_gradient_matches_finite_differences(name):
    X, y, sw = _problem(name, n=200)
    w = _w(name, X.shape[1], True, np.float64)
    kw = dict(sample_weight=sw, l2=0.1)
    f = lambda v: _call(name, v, X, y, **kw)[0]  # noqa: E731
    _, g = _call(name, w, X, y, **kw)
    np.testing.assert_allclose(g, _numerical_gradient(f, w.copy()), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", LOSSES)
def test_float32_within_float32_accuracy_of_float64(name):
    X, y, sw = _problem(name, n=2000, dtype=np.float32)
    w = _w(name, X.shape[1], True, np.float32)
    f32, g32 = _call(name, w, X, y, sample_weight=sw, l2=0.1)
    f64, g64 = _call(name, w.astype(np.float64), X.astype(np.float64), y.astype(np.float64),
                     sample_weight=sw.astype(np.float64), l2=0.1)
    assert g32.dtype == np.float32
    assert f32 == pytest.approx(f64, rel=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5 * np.abs(g64).max())


def test_logistic_is_stable_at_large_logits():
    X = np.array([[1.0], [1.0], [-1.0], [-1.0]])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    for dtype in (np.float64, np.float32):
        w = np.array([1000.0, 0.0], dtype=dtype)
        f, g = losses.logistic(w, X.astype(dtype), y.astype(dtype))
        # rows: z=1000,y=1 -> 0; z=1000,y=0 -> 1000; z=-1000,y=1 -> 1000; z=-1000,y=0 -> 0
        assert np.isfinite(f) and np.isfinite(g).all()
        assert f == pytest.approx(500.0)
        np.testing.assert_allclose(g, [0.5, 0.0], atol=1e-12)


def test_softmax_is_stable_at_large_logits():
    X = np.array([[1.0], [-1.0]])
    w = np.array([1000.0, -1000.0, 0.0, 0.0, 0.0, 0.0])   # K=3, d=1, intercepts 0
    f, g = losses.softmax(w, X, np.array([0.0, 2.0]))
    assert np.isfinite(f) and np.isfinite(g).all()
    assert f == pytest.approx(0.5 * (0.0 + 1000.0))


@pytest.mark.parametrize("name", ["logistic", "softmax"])
def test_parallel_path_is_bit_identical_to_serial_and_thread_count(name):
    # above PARALLEL_THRESHOLD the parts run under prange; the same parts run
    # serially when numba has one thread: the bits must not move
    import numba
    d = 20
    n = PARALLEL_THRESHOLD // d * 4
    X, y, sw = _problem(name, n=n, d=d, dtype=np.float32)
    w = _w(name, d, True, np.float32)
    f2, g2 = _call(name, w, X, y, sample_weight=sw)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        f1, g1 = _call(name, w, X, y, sample_weight=sw)
    finally:
        numba.set_num_threads(before)
    assert f1 == f2
    assert np.array_equal(g1, g2)
    # and it agrees with the reference
    want_f, want_g = ref_loss(name, w, X, y, sw, extra=_extra(name))
    assert f2 == pytest.approx(want_f, rel=1e-5)


def test_out_and_make_objective():
    X, y, _ = _problem("squared_error")
    w = _w("squared_error", X.shape[1], True, np.float64)
    out = np.empty_like(w)
    f, g = losses.squared_error(w, X, y, out=out)
    assert g is out
    fun = losses.make_objective("squared_error", X, y)
    f2, g2 = fun(w)
    assert f2 == f and np.array_equal(g2, g)
    fun = losses.make_objective("softmax", X, np.arange(X.shape[0]) % 3, n_classes=3, l2=0.1)
    assert np.isfinite(fun(np.zeros(3 * (X.shape[1] + 1)))[0])


def test_minimize_with_a_loss_reaches_least_squares():
    try:
        minimize = fastgd.minimize
    except (AttributeError, ImportError):
        pytest.skip("fastgd.minimize is not available")
    X, y, _ = _problem("squared_error", n=100, d=3)
    fun = losses.make_objective("squared_error", X, y)
    res = minimize(lambda w: tuple(np.copy(v) for v in fun(w)), np.zeros(4), jac=True,
                   method="adam", lr=0.05, maxiter=5000)
    coef, *_ = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)
    np.testing.assert_allclose(res.x, coef, atol=1e-3)


BAD = [
    (dict(w=np.zeros(6, np.float32)), TypeError, "dtype"),
    (dict(w=np.zeros(5)), ValueError, "6 entries"),
    (dict(w=np.zeros((6, 1))), ValueError, "1-D"),
    (dict(X=np.zeros(10)), ValueError, "2-D"),
    (dict(X=[[1.0] * 5] * 10), TypeError, "numpy.ndarray"),
    (dict(X=np.zeros((10, 5), dtype=np.int64)), TypeError, "float32 or float64"),
    (dict(y=np.zeros(9)), ValueError, "10 entries"),
    (dict(y=np.array([np.nan] * 10)), ValueError, "NaN"),
    (dict(sample_weight=-np.ones(10)), ValueError, "non-negative"),
    (dict(sample_weight=np.ones(3)), ValueError, "shape"),
    (dict(l2=-1.0), ValueError, "l2"),
    (dict(l1="a"), TypeError, "l1"),
    (dict(fit_intercept=1), TypeError, "fit_intercept"),
]


@pytest.mark.parametrize("bad, exc, match", BAD, ids=[b[2] for b in BAD])
def test_bad_input(bad, exc, match):
    args = dict(w=np.zeros(6), X=np.zeros((10, 5)), y=np.zeros(10))
    args.update(bad)
    kw = {k: v for k, v in args.items() if k not in ("w", "X", "y")}
    with pytest.raises(exc, match=match):
        losses.squared_error(args["w"], args["X"], args["y"], **kw)


def test_bad_targets():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.logistic(np.zeros(3), X, [0, 1, 2, 1])
    with pytest.raises(ValueError, match="-1 or \\+1"):
        losses.hinge(np.zeros(3), X, [0, 1, 1, 0])
    with pytest.raises(ValueError, match="class indices"):
        losses.softmax(np.zeros(6), X, [0, 1, 2, 1])
    with pytest.raises(ValueError, match="K >= 2"):
        losses.softmax(np.zeros(3), X, [0, 0, 0, 0])
