"""fastgd.minimize: convergence on the classic test functions, the stopping rules,
divergence, multi-start, the njit path against the Python path, every method
against a slow NumPy reference loop, and bad input.

Compilation is the cost here: the njit tests share a few functions, so the
driver compiles once per (function, method family).
"""

import numpy as np
import pytest
from numba import njit

import fastgd
from fastgd import schedules
from fastgd.minimizer import OptimizeResult, driver
from fastgd.minimizer.rules import RULES

from .problems import rosen, rosen_grad
from .reference import REFERENCES


@njit
def himmelblau_and_grad(x):
    a = x[0] * x[0] + x[1] - 11.0
    b = x[0] + x[1] * x[1] - 7.0
    return a * a + b * b, np.array([4.0 * a * x[0] + 2.0 * b, 2.0 * a + 4.0 * b * x[1]])


HIMMELBLAU_MINIMA = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186],
                              [3.584428, -1.848126]])


def beale(x):
    a, b, c = (1.5 - x[0] + x[0] * x[1], 2.25 - x[0] + x[0] * x[1] ** 2,
               2.625 - x[0] + x[0] * x[1] ** 3)
    return a * a + b * b + c * c


def beale_grad(x):
    X, Y = x
    a, b, c = 1.5 - X + X * Y, 2.25 - X + X * Y ** 2, 2.625 - X + X * Y ** 3
    return np.array([2 * a * (Y - 1) + 2 * b * (Y ** 2 - 1) + 2 * c * (Y ** 3 - 1),
                     2 * a * X + 4 * b * X * Y + 6 * c * X * Y ** 2])


D = np.logspace(0, 3, 20)          # an ill-conditioned quadratic: condition number 1000


def quad(x):
    return 0.5 * float(np.dot(D * x, x))


def quad_grad(x):
    return D * x


X0 = np.array([-1.2, 1.0])


# -- convergence ------------------------------------------------------------------

@pytest.mark.parametrize("method, kwargs", [
    ("gd", dict(line_search=True)),
    ("adam", dict(lr=0.01)),
])
def test_rosenbrock_njit(method, kwargs):
    x0 = X0.copy()
    res = fastgd.minimize(rosen, x0, jac=rosen_grad, method=method, gtol=1e-6, maxiter=50_000,
                          **kwargs)
    assert res.success and res.status == 0, res.message
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-4)
    np.testing.assert_array_equal(x0, X0)                     # the caller's x0 is untouched
    assert res.fun_history.shape == (res.nit + 1,)
    assert res.fun_history[0] == pytest.approx(24.2) and res.fun_history[-1] == res.fun
    assert res.njev == res.nit + 1
    assert isinstance(res, OptimizeResult) and res["x"] is res.x


def test_njit_and_python_paths_agree():
    kw = dict(jac=rosen_grad, method="adam", lr=0.01, maxiter=3000, gtol=0.0)
    fast = fastgd.minimize(rosen, X0, **kw)
    kw["jac"] = rosen_grad.py_func
    slow = fastgd.minimize(rosen.py_func, X0, **kw)
    np.testing.assert_array_equal(fast.x, slow.x)
    np.testing.assert_array_equal(fast.fun_history, slow.fun_history)
    assert (fast.nit, fast.nfev, fast.njev, fast.status) == (slow.nit, slow.nfev, slow.njev,
                                                             slow.status)


def test_second_call_does_not_recompile():
    from fastgd.kernels import ADAM
    fastgd.minimize(rosen, X0, jac=rosen_grad, method="adam", lr=0.01, maxiter=10)
    drive = driver.driver_for(ADAM)
    n_sigs = len(drive.signatures)
    # other method of the same rule, options, tolerances, schedule, start: runtime values
    fastgd.minimize(rosen, X0 + 0.5, jac=rosen_grad, method="amsgrad", maxiter=20, gtol=1e-3,
                    lr=schedules.CosineAnnealing(0.01, t_max=20), options=dict(betas=(0.8, 0.9)))
    assert len(drive.signatures) == n_sigs


@pytest.mark.parametrize("method, kwargs", [("gd", dict(line_search=True)),
                                            ("adam", dict(lr=0.05)),
                                            ("nadam", dict(lr=0.05))])
def test_ill_conditioned_quadratic(method, kwargs):
    res = fastgd.minimize(quad, np.ones(20), jac=quad_grad, method=method, gtol=1e-8,
                          maxiter=50_000, **kwargs)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, 0.0, atol=1e-8)


@pytest.mark.parametrize("method, kwargs", [("gd", dict(line_search=True)),
                                            ("adam", dict(lr=0.01))])
def test_beale(method, kwargs):
    res = fastgd.minimize(beale, [1, 1], jac=beale_grad, method=method, gtol=1e-7,
                          maxiter=20_000, **kwargs)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [3.0, 0.5], atol=1e-5)


def test_himmelblau_multistart_finds_all_four_minima():
    res = fastgd.minimize(himmelblau_and_grad, np.zeros(2), jac=True, method="adam", lr=0.05,
                          gtol=1e-8, maxiter=20_000, n_starts=12, random_state=0,
                          start_bounds=[(-5, 5), (-5, 5)])
    assert len(res.all_results) == 12 and all(r.success for r in res.all_results)
    found = np.array([r.x for r in res.all_results])
    for m in HIMMELBLAU_MINIMA:
        assert np.abs(found - m).max(axis=1).min() < 1e-5, m
    assert res.fun == min(r.fun for r in res.all_results)
    assert res.all_results[res.best_start].fun == res.fun
    # the same seed gives the same starts
    again = fastgd.minimize(himmelblau_and_grad, np.zeros(2), jac=True, method="adam", lr=0.05,
                            gtol=1e-8, maxiter=20_000, n_starts=12, random_state=0,
                            start_bounds=[(-5, 5), (-5, 5)])
    np.testing.assert_array_equal(again.x, res.x)


def test_multistart_gaussian_starts_keep_x0_first():
    x0 = np.array([0.5, -0.5])
    res = fastgd.minimize(lambda x: float(x @ x), x0, jac=lambda x: 2 * x, method="gd",
                          lr=0.5, n_starts=3,
                          random_state=np.random.default_rng(1), start_scale=2.0, maxiter=5)
    assert res.all_results[0].fun_history[0] == pytest.approx(0.5)
    assert all(r.success for r in res.all_results)


def test_numerical_gradient_njit_path():
    res = fastgd.minimize(rosen, X0, method="adam", lr=0.01, gtol=1e-5, maxiter=20_000)
    assert res.success, res.message
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-4)
    assert res.nfev == (res.nit + 1) * (1 + 2 * X0.size)      # f, plus 2n for each gradient


def test_jac_true_python_path_and_counts():
    def fg(x):
        return quad(x), quad_grad(x)
    res = fastgd.minimize(fg, np.ones(20), jac=True, method="gd", line_search=True, gtol=1e-6,
                          maxiter=50_000)
    assert res.success
    assert res.njev == res.nit + 1 and res.nfev >= res.nit + 1


def test_args_and_list_gradients_python_path():
    scale = np.array([1.0, 4.0])

    def f(x, s):
        return float(np.sum(s * (x - 1.0) ** 2))

    res = fastgd.minimize(f, np.zeros(2), jac=lambda x, s: list(2 * s * (x - 1.0)), args=(scale,),
                          method="gd", lr=0.1, gtol=1e-10)
    assert res.success
    np.testing.assert_allclose(res.x, 1.0, atol=1e-10)
    res = fastgd.minimize(f, np.zeros(2), args=(scale,), method="adam", lr=0.05, gtol=1e-6)
    assert res.success and res.njev == res.nit + 1 and res.nfev == 5 * (res.nit + 1)
    np.testing.assert_allclose(res.x, 1.0, atol=1e-6)


def test_float32_stays_float32():
    x0 = np.array([-1.2, 1.0], dtype=np.float32)
    res = fastgd.minimize(rosen.py_func, x0, jac=rosen_grad.py_func, method="adam", lr=0.01,
                          gtol=1e-3, maxiter=20_000)
    assert res.x.dtype == np.float32 and res.jac.dtype == np.float32
    assert res.success
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-2)


def test_integer_x0_becomes_float64():
    res = fastgd.minimize(lambda x: float(x @ x), [3, -2], jac=lambda x: 2 * x, method="gd",
                          lr=0.25, maxiter=100)
    assert res.x.dtype == np.float64 and res.success


# -- every method against a slow NumPy reference loop ----------------------------------

def _reference_run(method, x0, lr, options, steps, lr_at=None):
    rule = RULES[method]
    kwargs = {**rule.defaults, **options}
    ref = REFERENCES[rule.rule.name]
    x, state = x0.copy(), {}
    for t in range(1, steps + 1):
        x = ref(x, quad_grad(x), state, t, lr if lr_at is None else lr_at(t - 1), **kwargs)
    return x


METHOD_CASES = [
    ("gd", 1e-3, {}), ("gd", 1e-3, dict(weight_decay=0.01)),
    ("momentum", 1e-3, {}), ("nesterov", 1e-3, dict(momentum=0.5)),
    ("adagrad", 0.1, dict(lr_decay=0.01, initial_accumulator_value=0.1)),
    ("rmsprop", 0.01, dict(momentum=0.5, centered=True)),
    ("adam", 0.05, {}), ("amsgrad", 0.05, {}), ("adamw", 0.05, dict(weight_decay=0.1)),
    ("adamax", 0.05, {}), ("nadam", 0.05, dict(decoupled_weight_decay=True, weight_decay=0.01)),
    ("radam", 1e-3, {}), ("asgd", 1e-3, dict(t0=5, lambd=1e-3)),
]
# and every other method a rule's record declares, with its rule's first example rate
METHOD_CASES += [(name, m.rule.examples[0].get("lr", m.rule.lr), {}) for name, m in RULES.items()
                 if name not in {case[0] for case in METHOD_CASES}]


@pytest.mark.parametrize("method, lr, options", METHOD_CASES,
                         ids=[f"{m}-{o}" for m, _, o in METHOD_CASES])
def test_every_method_matches_reference_loop(method, lr, options):
    x0 = np.linspace(-1.0, 1.0, 20)
    res = fastgd.minimize(quad, x0, jac=quad_grad, method=method, lr=lr, options=options,
                          maxiter=40, gtol=0.0, max_growth=None)
    assert res.nit == 40
    np.testing.assert_allclose(res.x, _reference_run(method, x0, lr, options, 40),
                               rtol=1e-10, atol=1e-10)


def test_schedule_matches_reference_loop():
    sched = schedules.warmup(schedules.CosineAnnealing(0.05, t_max=30), steps=5)
    x0 = np.linspace(-1.0, 1.0, 20)
    res = fastgd.minimize(quad, x0, jac=quad_grad, method="adam", lr=sched, maxiter=40, gtol=0.0)
    np.testing.assert_allclose(res.x, _reference_run("adam", x0, None, {}, 40, lr_at=sched),
                               rtol=1e-10, atol=1e-12)


def test_line_search_matches_reference_loop():
    x0 = np.linspace(-1.0, 1.0, 20)
    res = fastgd.minimize(quad, x0, jac=quad_grad, method="gd", line_search=True, maxiter=30,
                          gtol=0.0)
    x = x0.copy()
    for _ in range(30):                      # Armijo backtracking, written out
        f, g = quad(x), quad_grad(x)
        a = 1.0
        while quad(x - a * g) > f - 1e-4 * a * (g @ g):
            a /= 2
        x = x - a * g
    np.testing.assert_allclose(res.x, x, rtol=1e-12, atol=1e-14)


# -- stopping rules, divergence, callbacks -------------------------------------------

def test_maxiter_and_ftol():
    res = fastgd.minimize(quad, np.ones(20), jac=quad_grad, method="adam", lr=0.01, maxiter=7)
    assert (res.status, res.success, res.nit) == (1, False, 7)
    assert "Maximum number of iterations (7)" in res.message
    res = fastgd.minimize(quad, np.ones(20), jac=quad_grad, method="adam", lr=0.01, ftol=1e-3)
    assert (res.status, res.success) == (2, True)
    f = res.fun_history
    assert abs(f[-2] - f[-1]) <= 1e-3 * max(abs(f[-2]), abs(f[-1]), 1.0)
    assert abs(f[-3] - f[-2]) > 1e-3 * max(abs(f[-3]), abs(f[-2]), 1.0)


def test_gtol_at_x0_makes_no_step():
    res = fastgd.minimize(quad, np.zeros(20), jac=quad_grad)
    assert (res.nit, res.status, res.success) == (0, 0, True)


def test_divergence_is_detected_and_explained():
    res = fastgd.minimize(rosen.py_func, X0, jac=rosen_grad.py_func, method="gd", lr=0.1)
    assert res.status == 3 and not res.success
    assert "Diverged" in res.message and "smaller lr" in res.message and "lr=0.01" in res.message
    assert "line_search=True" in res.message
    assert np.all(np.isfinite(res.x)) and np.isfinite(res.fun)
    assert res.fun_history.size == res.nit + 2            # ends with the value that stopped it
    assert res.fun_history[-1] > 1e6 * res.fun_history[0]
    assert res.fun == res.fun_history[-2] == rosen.py_func(res.x)


def test_divergence_to_nan():
    def f(x):
        with np.errstate(invalid="ignore"):
            return float(x @ x + np.log1p(x[0]))   # NaN once x[0] < -1
    res = fastgd.minimize(f, np.array([0.5, 0.5]), jac=lambda x: 2 * x + [1 / (1 + x[0]), 0],
                          method="momentum", lr=0.8)
    assert res.status == 3 and "f became nan" in res.message
    assert np.all(np.isfinite(res.x)) and res.x[0] > -1


def test_line_search_failure_suggests_check_grad():
    res = fastgd.minimize(quad, np.ones(20), jac=lambda x: -quad_grad(x), method="gd",
                          line_search=True)
    assert res.status == 4 and not res.success and "check_grad" in res.message
    np.testing.assert_array_equal(res.x, np.ones(20))


def test_callback_new_style_stops_and_sees_every_iterate():
    seen = []

    def callback(intermediate_result):
        seen.append((intermediate_result.nit, intermediate_result.fun))
        if intermediate_result.nit == 5:
            raise StopIteration
    res = fastgd.minimize(rosen, X0, jac=rosen_grad, method="adam", lr=0.01, callback=callback)
    assert (res.status, res.success, res.nit) == (99, False, 5)
    assert "StopIteration" in res.message
    assert [k for k, _ in seen] == [1, 2, 3, 4, 5]
    assert [f for _, f in seen] == list(res.fun_history[1:])
    # the same run without a callback goes through the same iterates
    plain = fastgd.minimize(rosen, X0, jac=rosen_grad, method="adam", lr=0.01, maxiter=5)
    np.testing.assert_array_equal(plain.x, res.x)


def test_callback_old_style_and_return_true():
    xs = []
    res = fastgd.minimize(quad, np.ones(20), jac=quad_grad, method="adam", lr=0.01,
                          callback=lambda xk: xs.append(xk) or len(xs) == 3)
    assert (res.status, res.nit) == (99, 3) and "returned True" in res.message
    assert all(isinstance(x, np.ndarray) and x.shape == (20,) for x in xs)
    assert not np.shares_memory(xs[-1], res.x)


def test_public_names():
    assert fastgd.minimize is fastgd.minimizer.minimize
    assert fastgd.OptimizeResult is OptimizeResult
    assert set(fastgd.minimizer.METHODS) == {"gd", "momentum", "nesterov", "adagrad", "rmsprop",
                                             "adam", "adamw", "amsgrad", "adamax", "nadam",
                                             "radam", "asgd", "adadelta", "rprop", "lion",
                                             "sgd_schedulefree", "adamw_schedulefree",
                                             "prodigy", "lamb", "adafactor"}


# -- bad input ----------------------------------------------------------------------

def _f(x):
    return float(x @ x)


def _g(x):
    return 2 * x


BAD = [
    (dict(fun=None), TypeError, "fun must be callable"),
    (dict(x0=np.ones((2, 2))), ValueError, "x0 must be 1-D"),
    (dict(x0=np.ones(2, complex)), TypeError, "x0 must hold float32 or float64"),
    (dict(x0=np.array([True, False])), TypeError, "x0 must hold"),
    (dict(x0=[]), ValueError, "x0 must not be empty"),
    (dict(x0=[1.0, np.nan]), ValueError, "x0 must be finite"),
    (dict(jac=lambda x: np.ones(3)), ValueError, "jac has shape (3,)"),
    (dict(jac=lambda x: np.ones((2, 1))), ValueError, "jac has shape (2, 1)"),
    (dict(jac=lambda x: np.array([np.nan, 1.0])), ValueError, "jac contains NaN"),
    (dict(jac="2-point"), TypeError, "jac must be a callable, True or None"),
    (dict(jac=True), TypeError, "fun must return a pair"),
    (dict(fun=lambda x: x), TypeError, "fun must return a real scalar, got ndarray of shape (2,) at x0"),
    (dict(fun=lambda x: np.nan), ValueError, "fun returned nan at x0"),
    (dict(method="bfgs"), ValueError, "method must be one of"),
    (dict(gtol=-1.0), ValueError, "gtol"),
    (dict(gtol=np.nan), ValueError, "gtol must be finite"),
    (dict(ftol=-1e-3), ValueError, "ftol"),
    (dict(maxiter=-1), ValueError, "maxiter"),
    (dict(maxiter=1.5), TypeError, "maxiter must be an integer"),
    (dict(max_growth=0.0), ValueError, "max_growth"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(lr=-0.1), ValueError, "lr"),
    (dict(lr=np.inf), ValueError, "lr must be finite"),
    (dict(lr="fast"), TypeError, "lr must be a real number"),
    (dict(lr=schedules.ReduceLROnPlateau(0.1)), TypeError, "ReduceLROnPlateau"),
    (dict(options=dict(beta=0.9)), TypeError, "unknown option"),
    (dict(options=dict(betas=(1.0, 0.9))), ValueError, "index 0"),
    (dict(options=dict(clip_norm=1.0)), TypeError, "unknown option"),
    (dict(options=[("eps", 1.0)]), TypeError, "options must be a dict"),
    (dict(method="adam", line_search=True), ValueError, "line_search=True needs method='gd'"),
    (dict(method="gd", line_search=True, options=dict(momentum=0.9)), ValueError, "line_search"),
    (dict(line_search="yes"), TypeError, "line_search must be True or False"),
    (dict(callback=3), TypeError, "callback must be callable"),
    (dict(args=3), TypeError, "args must be a tuple"),
    (dict(n_starts=0), ValueError, "n_starts"),
    (dict(n_starts=2, start_bounds=[(0, 1)]), ValueError, "start_bounds must have shape (2, 2)"),
    (dict(n_starts=2, start_bounds=[(0, 1), (1, 0)]), ValueError, "low < high"),
    (dict(n_starts=2, random_state="seed"), TypeError, "random_state"),
    (dict(n_starts=2, start_scale=-1.0), ValueError, "start_scale"),
]


@pytest.mark.parametrize("kwargs, exc, match", BAD, ids=[b[2] for b in BAD])
def test_bad_input(kwargs, exc, match):
    call = dict(fun=_f, x0=np.ones(2), jac=_g)
    call.update(kwargs)
    pattern = match.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(exc, match=pattern):
        fastgd.minimize(call.pop("fun"), call.pop("x0"), **call)
