"""The loss kernels against the NumPy reference, finite differences, and their promises."""

import numpy as np
import pytest

import fastgd
from fastgd import losses
from fastgd._numba import PARALLEL_THRESHOLD

from .reference_engine import ref_loss

# every one-output loss shares linear_rows (the kernels compile it once, the estimators once
# per loss: LOSSES[name].rows); softmax and multi_squared_error have K outputs
ONE_OUTPUT = ["squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive",
              "poisson", "logistic", "hinge", "squared_hinge", "modified_huber"]
LOSSES = [*ONE_OUTPUT, "softmax", "multi_squared_error"]
K = 3  # classes for softmax, columns of Y for multi_squared_error
SIGN = ("hinge", "squared_hinge", "modified_huber")
EPSILON = 0.5   # of the epsilon-insensitive losses: residuals fall on both sides of it


def _problem(name, n=300, d=5, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    if name == "softmax":
        y = rng.integers(0, K, n)
    elif name == "logistic":
        y = rng.integers(0, 2, n)
    elif name in SIGN:
        y = 2 * rng.integers(0, 2, n) - 1
    elif name == "poisson":
        y = rng.poisson(rng.uniform(0.1, 4.0, n))      # counts, zeros among them
    elif name == "multi_squared_error":
        y = rng.standard_normal((n, K)) * 3
    else:
        y = rng.standard_normal(n) * 3
    sw = rng.uniform(0.5, 2.0, n)
    return X, y.astype(dtype), sw.astype(dtype)


def _w(name, d, fit_intercept, dtype, seed=1):
    k = K if name in ("softmax", "multi_squared_error") else 1
    w = np.random.default_rng(seed).standard_normal(k * (d + fit_intercept))
    if name == "poisson":
        w *= 0.4        # exp(z) within a few hundred
    return w.astype(dtype)


def _call(name, w, X, y, **kw):
    fn = getattr(losses, name)
    if name == "huber":
        kw.setdefault("delta", 0.8)
    if "epsilon_insensitive" in name:
        kw.setdefault("epsilon", EPSILON)
    return fn(w, X, y, **kw)


def _extra(name):
    if "epsilon_insensitive" in name:
        return EPSILON
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
@pytest.mark.parametrize("name", [*ONE_OUTPUT, "multi_squared_error"])
def test_block_edges_match_reference(name, n, d):
    # linear_rows takes rows in blocks of 64 and four at a time: partial
    # blocks, leftover rows and short feature vectors go through other loops
    X, y, sw = _problem(name, n=n, d=d, seed=n)
    w = _w(name, d, True, np.float64)
    f, g = _call(name, w, X, y, sample_weight=sw)
    want_f, want_g = ref_loss(name, w, X, y, sw, 0.0, 0.0, True, _extra(name))
    assert f == pytest.approx(want_f, rel=1e-12)
    np.testing.assert_allclose(g, want_g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ONE_OUTPUT)
def test_rows_compiled_for_one_loss_equal_the_generic_rows(name):
    # the estimators train with linear_rows compiled for their loss alone: the same bits
    X, y, sw = _problem(name, n=131, d=7)
    w = _w(name, X.shape[1], True, np.float64)
    hyper = losses.hyper_array(0.2, 0.0, 1, extra=_extra(name), loss=name)
    rows = losses.LOSSES[name].rows
    assert rows is not losses.linear_rows and losses.linear.is_linear_rows(rows)
    want_g, got_g = np.zeros(w.size), np.zeros(w.size)
    want = losses.linear_rows(w, X, y, sw, hyper, want_g)
    got = rows(w, X, y, sw, hyper, got_g)
    assert got == want
    np.testing.assert_array_equal(got_g, want_g)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", LOSSES)
def test_gradient_matches_finite_differences(name, seed):
    # a few points w; at random points no row sits within h of a kink
    X, y, sw = _problem(name, n=200)
    w = _w(name, X.shape[1], True, np.float64, seed=seed)
    kw = dict(sample_weight=sw, l2=0.1)
    f = lambda v: _call(name, v, X, y, **kw)[0]  # noqa: E731
    _, g = _call(name, w, X, y, **kw)
    np.testing.assert_allclose(g, _numerical_gradient(f, w.copy()), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", LOSSES)
def test_float32_matches_reference_to_float32_accuracy(name):
    X, y, sw = _problem(name, n=2000, dtype=np.float32)
    w = _w(name, X.shape[1], True, np.float32)
    f32, g32 = _call(name, w, X, y, sample_weight=sw, l2=0.1, l1=0.02)
    want_f, want_g = ref_loss(name, w, X, y, sw, 0.1, 0.02, True, _extra(name))
    assert g32.dtype == np.float32
    assert f32 == pytest.approx(want_f, rel=1e-5)
    np.testing.assert_allclose(g32, want_g, rtol=1e-4, atol=1e-5 * np.abs(want_g).max())


# the per-row losses against scikit-learn's own (sklearn/linear_model/_sgd_fast.pyx.tp and
# sklearn/_loss/loss.py), at random points and on the kinks
def _sklearn_pointwise(name, epsilon):
    from sklearn.linear_model import _sgd_fast
    cls = {"hinge": "Hinge", "squared_hinge": "SquaredHinge", "modified_huber": "ModifiedHuber",
           "epsilon_insensitive": "EpsilonInsensitive",
           "squared_epsilon_insensitive": "SquaredEpsilonInsensitive"}[name]
    loss = getattr(_sgd_fast, cls)(epsilon) if "epsilon" in name else getattr(_sgd_fast, cls)()
    return lambda z, y: (loss.py_loss(z, y), loss.py_dloss(z, y))


@pytest.mark.parametrize("name", ["hinge", "squared_hinge", "modified_huber", "epsilon_insensitive",
                                  "squared_epsilon_insensitive"])
def test_pointwise_losses_are_sklearns(name):
    from fastgd.losses import linear
    pointwise = {"hinge": linear.hinge_pointwise, "squared_hinge": linear.squared_hinge_pointwise,
                 "modified_huber": linear.modified_huber_pointwise,
                 "epsilon_insensitive": linear.epsilon_insensitive_pointwise,
                 "squared_epsilon_insensitive": linear.squared_epsilon_insensitive_pointwise}[name]
    sk = _sklearn_pointwise(name, EPSILON)
    z = np.r_[np.random.default_rng(0).normal(0, 3, 200), -1.0, 1.0, -3.0, 3.0, 0.0,
              EPSILON, -EPSILON, 1.0 + EPSILON, 1.0 - EPSILON]
    for y in (-1.0, 1.0):
        for zk in z:
            if name == "hinge" and y * zk == 1.0:
                continue   # the kink: fastgd's subgradient is 0, scikit-learn's -y
            assert pointwise(zk, y, EPSILON) == pytest.approx(sk(zk, y), rel=1e-14, abs=1e-14)


def test_poisson_is_sklearns_half_poisson_loss():
    from sklearn._loss.loss import HalfPoissonLoss

    from fastgd.losses.poisson import poisson_pointwise
    rng = np.random.default_rng(0)
    z = np.r_[rng.normal(0, 4, 300), -700.0, 0.0, 700.0]
    y = np.r_[rng.poisson(3.0, 300), 0.0, 2.0, 5.0].astype(np.float64)
    got = np.array([poisson_pointwise(a, b, 0.0) for a, b in zip(z, y)])
    sk = HalfPoissonLoss()
    # exp(z) within a few ulps of the C library's; the differences e^z - y z and e^z - y
    # lose relative accuracy where their terms nearly cancel, so the bound is on the terms
    scale = np.exp(z) + np.abs(y * z)
    assert np.all(np.abs(got[:, 0] - sk.loss(y_true=y, raw_prediction=z)) <= 1e-15 * scale)
    assert np.all(np.abs(got[:, 1] - sk.gradient(y_true=y, raw_prediction=z))
                  <= 1e-15 * (np.exp(z) + y))


def test_poisson_overflows_to_inf_not_garbage():
    # exp(z) past float64's range: the loss is inf (the engine then reports divergence);
    # far below, exp underflows to 0 and the loss is -y z, finite
    X = np.array([[1.0], [1.0]])
    for dtype in (np.float64, np.float32):
        f, g = losses.poisson(np.array([800.0, 0.0], dtype=dtype), X.astype(dtype),
                              np.array([1.0, 2.0], dtype=dtype))
        assert f == np.inf and np.all(g == np.inf)
        f, g = losses.poisson(np.array([-800.0, 0.0], dtype=dtype), X.astype(dtype),
                              np.array([1.0, 2.0], dtype=dtype))
        assert f == pytest.approx(0.5 * (800.0 + 1600.0)) and np.all(np.isfinite(g))
        np.testing.assert_allclose(g, [-1.5, -1.5])
    # where float64's exp is finite but float32's gradient is not, the float32 gradient is inf
    f, g = losses.poisson(np.array([100.0, 0.0], np.float32), np.ones((1, 1), np.float32),
                          np.zeros(1, np.float32))
    assert np.isfinite(f) and np.all(g == np.inf)


def test_poisson_deviance_matches_reference():
    from .reference_engine import ref_poisson_deviance
    rng = np.random.default_rng(0)
    y = rng.poisson(2.0, 400).astype(float)
    mu = rng.uniform(0.1, 5.0, 400)
    sw = rng.uniform(0.5, 2.0, 400)
    assert losses.poisson_deviance(y, mu) == pytest.approx(ref_poisson_deviance(y, mu), rel=1e-12)
    assert losses.poisson_deviance(y, mu, sw) == pytest.approx(ref_poisson_deviance(y, mu, sw),
                                                               rel=1e-12)
    from sklearn.metrics import mean_poisson_deviance
    assert losses.poisson_deviance(y, mu) == pytest.approx(mean_poisson_deviance(y, mu), rel=1e-12)
    assert losses.poisson_deviance([0.0, 1.0], [1.0, 0.0]) == np.inf
    # the loss is half the deviance, up to y log y - y
    X = rng.standard_normal((400, 2))
    w = np.array([0.3, -0.2, 0.5])
    loss, _ = losses.poisson(w, X, y)
    ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
    half_dev = 0.5 * losses.poisson_deviance(y, np.exp(X @ w[:2] + w[2]))
    assert loss + np.mean(ylogy - y) == pytest.approx(half_dev, rel=1e-12)
    with pytest.raises(ValueError, match="y must be finite and >= 0"):
        losses.poisson_deviance([-1.0], [1.0])
    with pytest.raises(ValueError, match="mu must be"):
        losses.poisson_deviance([1.0], [-1.0])
    with pytest.raises(ValueError, match="same shape"):
        losses.poisson_deviance([1.0, 2.0], [1.0])


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


@pytest.mark.parametrize("name", ["logistic", "softmax", "multi_squared_error"])
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
    # the hyperparameter of each loss reaches its kernel; multi_squared_error takes K from Y
    for name, kw in [("huber", dict(delta=0.8)), ("epsilon_insensitive", dict(epsilon=EPSILON)),
                     ("squared_epsilon_insensitive", dict(epsilon=EPSILON)), ("poisson", {}),
                     ("multi_squared_error", {})]:
        Xn, yn, sw = _problem(name)
        wn = _w(name, Xn.shape[1], True, np.float64)
        fun = losses.make_objective(name, Xn, yn, sample_weight=sw, l2=0.1, **kw)
        f, g = fun(wn)
        want_f, want_g = _call(name, wn, Xn, yn, sample_weight=sw, l2=0.1)
        assert f == want_f and np.array_equal(g, want_g), name


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
    for name in SIGN:
        with pytest.raises(ValueError, match=f"{name} loss: y must be -1 or \\+1"):
            getattr(losses, name)(np.zeros(3), X, [0, 1, 1, 0])
    with pytest.raises(ValueError, match="poisson loss: y must be >= 0"):
        losses.poisson(np.zeros(3), X, [0, 1, -1, 0])
    for name in ("epsilon_insensitive", "squared_epsilon_insensitive"):
        with pytest.raises(ValueError, match="epsilon"):
            getattr(losses, name)(np.zeros(3), X, np.zeros(4), epsilon=-0.1)
    with pytest.raises(ValueError, match="Y must be 2-D"):
        losses.multi_squared_error(np.zeros(3), X, np.zeros(4))
    with pytest.raises(ValueError, match="Y must be 2-D"):
        losses.multi_squared_error(np.zeros(3), X, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="K = 2 columns"):
        losses.multi_squared_error(np.zeros(3), X, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="Y must be 2-D"):
        losses.make_objective("multi_squared_error", X, np.zeros(4))
    with pytest.raises(ValueError, match="class indices"):
        losses.softmax(np.zeros(6), X, [0, 1, 2, 1])
    with pytest.raises(ValueError, match="K >= 2"):
        losses.softmax(np.zeros(3), X, [0, 0, 0, 0])


@pytest.mark.parametrize("name, y", [("squared_hinge", [0.0, 1.0, 1.0, -1.0]),
                                     ("poisson", [0.0, 1.0, -2.0, 3.0]),
                                     ("multi_squared_error", np.zeros((4, 3)))])
def test_bad_targets_modify_nothing(name, y):
    X = np.ones((4, 2))
    w = np.full(3, 0.5)
    out = np.full(3, 7.0)
    y = np.asarray(y)
    before = (X.copy(), w.copy(), y.copy())
    with pytest.raises(ValueError, match="y must|Y must|K = "):
        getattr(losses, name)(w, X, y, out=out)
    assert np.all(out == 7.0)
    for got, want in zip((X, w, y), before):
        assert np.array_equal(got, want)
