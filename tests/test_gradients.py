"""numerical_gradient and check_grad: against analytic gradients and a slow NumPy reference.

The njit path (parallel, nopython) and the Python path (the same kernel run
interpreted) must agree exactly; the njit path must not recompile on a second
call; the function-taking kernels must stay out of numba's on-disk cache.
"""

import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
from numba import njit

import fastgd
from fastgd.gradients import _kernels
from fastgd.gradients import check_grad, numerical_gradient

from .problems import rosen as rosenbrock


def rosenbrock_grad(x):
    g = np.zeros_like(x)
    t = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * t - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * t
    return g


@njit
def wavy(x, scale):
    s = 0.0
    for i in range(x.size):
        s += np.exp(np.sin(x[i])) * x[i] * x[i] * scale[i]
    return s


def wavy_grad(x, scale):
    return scale * np.exp(np.sin(x)) * (np.cos(x) * x * x + 2.0 * x)


_A = np.random.default_rng(7).standard_normal((6, 6))
_A = _A @ _A.T + np.eye(6)


def quadratic(x):
    return 0.5 * x @ _A @ x - x.sum()


def quadratic_grad(x):
    return _A @ x - 1.0


PROBLEMS = {  # name -> (f, grad, args, x)
    "rosenbrock": (rosenbrock, rosenbrock_grad, (), np.linspace(-1.2, 1.4, 9)),
    "wavy": (wavy, wavy_grad, (np.linspace(0.5, 2.0, 7),), np.linspace(-2.0, 3.0, 7)),
    "quadratic": (quadratic, quadratic_grad, (), np.linspace(-1.0, 1.0, 6)),
}
RTOL = {"forward": 1e-6, "central": 1e-8, "richardson": 1e-10, "complex": 1e-13}


def naive_central(f, x, args=()):
    """Slow reference: central differences with the documented default step."""
    g = np.empty_like(x)
    for i in range(x.size):
        h = np.finfo(x.dtype).eps ** (1 / 3) * max(1.0, abs(x[i]))
        h = (x[i] + h) - x[i]
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e, *args) - f(x - e, *args)) / (2 * h)
    return g


@pytest.mark.parametrize("method", list(RTOL))
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_matches_analytic_gradient(name, method):
    f, grad, args, x = PROBLEMS[name]
    if method == "complex" and name == "wavy":
        pytest.skip("covered by rosenbrock; saves a complex compile")
    want = grad(x, *args)
    got = numerical_gradient(f, x, method=method, args=args)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=RTOL[method], atol=RTOL[method] * np.abs(want).max())


@pytest.mark.parametrize("method", ["forward", "central", "richardson", "complex"])
def test_njit_path_equals_python_path(method):
    x = np.linspace(-1.2, 1.4, 9)
    fast = numerical_gradient(rosenbrock, x, method=method)
    slow = numerical_gradient(rosenbrock.py_func, x, method=method)
    np.testing.assert_array_equal(fast, slow)


def test_matches_naive_reference():
    for name in ("rosenbrock", "wavy"):
        f, _, args, x = PROBLEMS[name]
        np.testing.assert_allclose(numerical_gradient(f, x, args=args),
                                   naive_central(f.py_func, x, args), rtol=1e-12, atol=1e-12)


def test_result_does_not_depend_on_threads():
    x = np.random.default_rng(0).standard_normal(300)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = numerical_gradient(rosenbrock, x)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = numerical_gradient(rosenbrock, x)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


def test_njit_path_does_not_recompile():
    x = np.linspace(-1.0, 1.0, 5)
    numerical_gradient(rosenbrock, x)
    n_sigs = len(_kernels.fd_gradient.signatures)
    numerical_gradient(rosenbrock, x + 1.0)
    numerical_gradient(rosenbrock, x, method="forward")   # a runtime switch, not a new type
    assert len(_kernels.fd_gradient.signatures) == n_sigs


def test_float32_stays_float32_and_x_is_untouched():
    x = np.linspace(-1.0, 1.0, 8).astype(np.float32)
    keep = x.copy()
    g = numerical_gradient(rosenbrock, x)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(x, keep)
    np.testing.assert_allclose(g, rosenbrock_grad(x.astype(np.float64)), rtol=1e-3, atol=1e-3)


def test_integers_become_float64_and_user_steps_work():
    g = numerical_gradient(lambda x: float(x @ x), [1, 2, 3], h=1e-4)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, [2.0, 4.0, 6.0], rtol=1e-9)
    g = numerical_gradient(lambda x: float(x @ x), np.ones(3), h=np.array([1e-3, 1e-4, 1e-5]),
                           method="forward")
    np.testing.assert_allclose(g, [2.001, 2.0001, 2.00001], rtol=1e-6)


def test_strided_x_works():
    x = np.linspace(-1.0, 1.0, 10)[::2]
    np.testing.assert_allclose(numerical_gradient(rosenbrock, x), rosenbrock_grad(x), rtol=1e-7)


def _bad(x):
    return np.abs(x).sum()


BAD = [
    (dict(f=3), TypeError, "f must be callable"),
    (dict(x=np.ones((2, 2))), ValueError, "x must be 1-D"),
    (dict(x=np.ones(3, complex)), TypeError, "x must hold float32 or float64"),
    (dict(x=np.array([True, False])), TypeError, "dtype bool"),
    (dict(x=np.array([])), ValueError, "must not be empty"),
    (dict(x=["a", "b"]), TypeError, "x must hold"),
    (dict(method="backward"), ValueError, "method must be one of"),
    (dict(h=-1e-3), ValueError, "h must be positive"),
    (dict(h=float("nan")), ValueError, "h must be positive"),
    (dict(h=np.ones(2)), ValueError, "shape of x"),
    (dict(h="small"), TypeError, "h must be"),
    (dict(h=1e-30), ValueError, "h is too small"),
    (dict(f=lambda x: x), TypeError, "f must return a real scalar, got ndarray of shape (3,) at x"),
    (dict(f=lambda x: float("nan")), ValueError, "f returned nan at x"),
    (dict(f=_bad, method="complex"), TypeError, "imaginary part"),
    (dict(args=[1]), TypeError, "args must be a tuple"),
]


@pytest.mark.parametrize("kwargs, exc, match", BAD, ids=[b[2] for b in BAD])
def test_bad_input(kwargs, exc, match):
    call = dict(f=lambda x: float(x @ x), x=np.ones(3))
    call.update(kwargs)
    with pytest.raises(exc, match=match.replace("(", r"\(").replace(")", r"\)")):
        numerical_gradient(call.pop("f"), call.pop("x"), **call)


def test_check_grad_passes_a_correct_gradient():
    f, grad, args, x = PROBLEMS["wavy"]
    res = check_grad(f, grad, x, args=args)
    assert res.error < 1e-8
    assert res.abs_error == pytest.approx(np.linalg.norm(grad(x, *args) - res.numerical))
    assert "relative error" in str(res) and "worst coordinates" in str(res)


def test_check_grad_finds_the_wrong_coordinate():
    x = np.linspace(-1.2, 1.4, 9)

    def wrong(x):
        g = rosenbrock_grad(x)
        g[4] *= 1.01        # a 1% mistake in one partial derivative
        return g

    res = check_grad(rosenbrock, wrong, x, n_worst=3)
    assert res.worst[0].index == 4
    assert res.worst[0].rel_error == pytest.approx(0.01 / 1.01, rel=1e-4)
    assert all(c.rel_error < 1e-6 for c in res.worst[1:])
    assert len(res.worst) == 3
    assert "\n       4 " in str(res)


def test_check_grad_against_scipy():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    f, grad, _, x = PROBLEMS["quadratic"]
    eps = np.sqrt(np.finfo(float).eps)
    ours = check_grad(f, grad, x, method="forward", h=eps).abs_error
    theirs = scipy_optimize.check_grad(f, grad, x, epsilon=eps)
    assert ours == pytest.approx(theirs, rel=1e-2, abs=1e-9)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(grad=lambda x: np.ones(2)), ValueError, "grad(x) has shape (2,)"),
    (dict(grad=lambda x: np.ones(3, complex)), TypeError, "grad must return real"),
    (dict(grad=None), TypeError, "grad must be callable"),
    (dict(n_worst=0), ValueError, "n_worst"),
])
def test_check_grad_bad_input(kwargs, exc, match):
    call = dict(f=lambda x: float(x @ x), grad=lambda x: 2 * x, x=np.ones(3))
    call.update(kwargs)
    with pytest.raises(exc, match=match.replace("(", r"\(").replace(")", r"\)")):
        check_grad(call.pop("f"), call.pop("grad"), call.pop("x"), **call)


def test_public_names_are_lazy():
    assert fastgd.numerical_gradient is numerical_gradient
    assert fastgd.check_grad is check_grad


CACHE_SCRIPT = textwrap.dedent("""
    import numpy as np
    from numba import njit
    import fastgd

    @njit(cache=True)
    def f(x):
        return (x * x * np.arange(1.0, x.size + 1)).sum()

    x = np.linspace(-1.0, 1.0, 50)
    g = fastgd.numerical_gradient(f, x)
    res = fastgd.minimize(f, x, method="adam", lr=0.1, maxiter=200)
    print(repr(float(g.sum())), repr(float(res.fun)))
""")


def test_function_kernels_are_not_disk_cached():
    """A kernel that takes the user's function is typed by that dispatcher object, so
    with cache=True it would miss in every new process and write a new, dead entry
    each time. Ours are compiled per process instead; what they call stays cached."""
    from fastgd.kernels import ADAM
    from fastgd.minimizer import driver

    taking_functions = [_kernels.fd_gradient, _kernels.complex_step_gradient,
                        _kernels.central_gradient_into, driver.driver_for(ADAM),
                        driver.eval_separate, driver.eval_combined, driver.eval_numeric]
    for kernel in taking_functions:
        assert type(kernel._cache).__name__ == "NullCache", kernel
    # what they call stays cached: the update rule's step and the step sizes
    assert type(ADAM.apply._cache).__name__ != "NullCache"
    assert type(_kernels.fd_steps._cache).__name__ != "NullCache"


@pytest.mark.slow
def test_fresh_process_loads_from_cache_and_agrees(tmp_path):
    """A new process loads fastgd's cached kernels next to freshly compiled function-taking
    ones (numba's cache bugs show up on loading) and gets this process's numbers."""
    script = tmp_path / "user_code.py"
    script.write_text(CACHE_SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    namespace = {}
    exec(compile(CACHE_SCRIPT.replace("cache=True", "cache=False").replace("print(", "out = ("),
                 "cache_script", "exec"), namespace)
    assert proc.stdout.split() == list(namespace["out"])
