"""Section "minimize": a whole Adam run, and numerical gradients.

* 10,000 Adam iterations on the chained Rosenbrock function in 1,000
  dimensions, f and gradient every iteration: ``fastgd.minimize`` on ``@njit``
  functions (one nopython call) against the same loop written with
  ``torch.optim.Adam`` (autograd, and an analytic gradient in torch ops), and a
  per-iteration Python loop around a NumPy gradient with ``fastgd.Adam``.
* ``fastgd.numerical_gradient`` of a 10,000-dimensional ``@njit`` function,
  central differences, with 1 and with all numba threads; forward differences
  against ``scipy.optimize.approx_fprime`` on the same function.

The problem functions live here so that the asv suite
(``benchmarks/bench_minimize.py``) times the very same code.
"""

import numpy as np

from .._numba import jit
from .harness import Row, best_of, optional, section, with_ratios

N_MIN = 1_000
N_ITER = 10_000
N_GRAD = 10_000
LR = 1e-3


@jit
def rosen(x):
    """Chained Rosenbrock: sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, minimum 0 at 1."""
    s = 0.0
    for i in range(x.size - 1):
        t = x[i + 1] - x[i] * x[i]
        u = 1.0 - x[i]
        s += 100.0 * t * t + u * u
    return s


@jit
def rosen_grad(x):
    # two independent loops rather than one with g[i + 1] += ...: they vectorise
    n = x.size
    g = np.empty_like(x)
    for i in range(n - 1):
        g[i] = -400.0 * x[i] * (x[i + 1] - x[i] * x[i]) - 2.0 * (1.0 - x[i])
    g[n - 1] = 0.0
    for i in range(1, n):
        g[i] += 200.0 * (x[i] - x[i - 1] * x[i - 1])
    return g


def rosen_numpy(x):
    t = x[1:] - x[:-1] ** 2
    return float(np.sum(100.0 * t * t + (1.0 - x[:-1]) ** 2))


def rosen_grad_numpy(x):
    t = x[1:] - x[:-1] ** 2
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * t - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * t
    return g


def start(n=N_MIN):
    """The classic start (-1.2, 1, -1.2, 1, ...)."""
    x0 = np.ones(n)
    x0[::2] = -1.2
    return x0


def run_minimize(x0, maxiter=N_ITER):
    import fastgd
    return fastgd.minimize(rosen, x0, jac=rosen_grad, method="adam", lr=LR, maxiter=maxiter,
                           gtol=0.0)


def run_python_loop(x0, maxiter=N_ITER):
    import fastgd
    x = x0.copy()
    opt = fastgd.Adam(x, lr=LR)
    f = rosen_numpy(x)
    for _ in range(maxiter):
        opt.step(rosen_grad_numpy(x))
        f = rosen_numpy(x)
    return f


def run_numpy_loop(x0, maxiter=N_ITER, beta1=0.9, beta2=0.999, eps=1e-8):
    """The loop as written without fastgd: NumPy gradient and NumPy Adam (PyTorch's form)."""
    x = x0.copy()
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    for t in range(1, maxiter + 1):
        g = rosen_grad_numpy(x)
        m += (1.0 - beta1) * (g - m)
        v *= beta2
        v += (1.0 - beta2) * g * g
        denom = np.sqrt(v) / np.sqrt(1.0 - beta2 ** t) + eps
        x -= LR / (1.0 - beta1 ** t) * m / denom
        f = rosen_numpy(x)
    return f


def run_torch(torch, x0, autograd, maxiter=N_ITER):
    x = torch.tensor(x0, requires_grad=autograd)
    opt = torch.optim.Adam([x], lr=LR)

    def f_torch(x):
        t = x[1:] - x[:-1] ** 2
        return (100.0 * t * t + (1.0 - x[:-1]) ** 2).sum()

    def grad_torch(x):
        t = x[1:] - x[:-1] ** 2
        g = torch.zeros_like(x)
        g[:-1] = -400.0 * x[:-1] * t - 2.0 * (1.0 - x[:-1])
        g[1:] += 200.0 * t
        return g

    for _ in range(maxiter):
        if autograd:
            opt.zero_grad()
            loss = f_torch(x)
            loss.backward()
        else:
            with torch.no_grad():
                loss = f_torch(x)
                x.grad = grad_torch(x)
        opt.step()
    with torch.no_grad():
        return float(f_torch(x))


def _measure(fn, repeat):
    """(the result of one call, best-of-``repeat`` seconds)."""
    return fn(), best_of(fn, repeat=repeat)


def _rel_error(g, want):
    return f"rel. error {np.abs(g - want).max() / np.abs(want).max():.1e}"


def adam_run_rows(repeat):
    x0 = start()
    task = f"Adam {N_ITER:,} it, Rosenbrock {N_MIN:,}-d"
    res, t = _measure(lambda: run_minimize(x0), repeat)
    rows = [Row("minimize", task, "fastgd", t, f"final f {res.fun:.6g}")]
    f, t = _measure(lambda: run_python_loop(x0), repeat)
    rows.append(Row("minimize", task, "python loop, numpy grad", t,
                    f"final f {f:.6g}; fastgd.Adam.step per iteration"))
    f, t = _measure(lambda: run_numpy_loop(x0), repeat)
    rows.append(Row("minimize", task, "python loop, numpy grad + Adam", t, f"final f {f:.6g}"))
    torch = optional("torch")
    if torch is None:
        return rows + [Row("minimize", task, "torch", float("nan"), "skipped: torch not installed")]
    for label, autograd in (("torch Adam, autograd", True), ("torch Adam, analytic grad", False)):
        f, t = _measure(lambda: run_torch(torch, x0, autograd), repeat)
        rows.append(Row("minimize", task, label, t,
                        f"final f {f:.6g}; {torch.get_num_threads()} torch threads"))
    return rows


def gradient_rows(repeat):
    import numba

    import fastgd

    x = start(N_GRAD)
    want = rosen_grad(x)
    rows = []
    task = f"numerical_gradient central, {N_GRAD:,}-d"
    threads = numba.get_num_threads()
    try:
        for label, n_threads in (("fastgd", threads), ("fastgd, 1 numba thread", 1)):
            numba.set_num_threads(n_threads)
            g, t = _measure(lambda: fastgd.numerical_gradient(rosen, x), repeat)
            rows.append(Row("minimize", task, label, t, f"{n_threads} numba threads; "
                            f"{2 * N_GRAD:,} evaluations; {_rel_error(g, want)}"))
    finally:
        numba.set_num_threads(threads)

    task = f"numerical_gradient forward, {N_GRAD:,}-d"
    g, t = _measure(lambda: fastgd.numerical_gradient(rosen, x, method="forward"), repeat)
    rows.append(Row("minimize", task, "fastgd", t, _rel_error(g, want)))
    scipy_optimize = optional("scipy.optimize")
    if scipy_optimize is None:
        return rows + [Row("minimize", task, "scipy", float("nan"), "skipped: scipy not installed")]
    eps = np.sqrt(np.finfo(float).eps)
    g, t = _measure(lambda: scipy_optimize.approx_fprime(x, rosen, eps), repeat)
    rows.append(Row("minimize", task, "scipy approx_fprime (njit f)", t, _rel_error(g, want)))
    return rows


@section("minimize")
def minimize_rows(repeat=3):
    return with_ratios(adam_run_rows(repeat) + gradient_rows(repeat))
