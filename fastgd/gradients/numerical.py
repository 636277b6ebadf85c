"""numerical_gradient: the finite-difference gradient of a scalar function."""

import numbers

import numpy as np
from numba.core.registry import CPUDispatcher

from .._validation import as_float_vector, check_args, check_callable, real_scalar
from ._kernels import (COMPLEX, COMPLEX_STEP, METHODS, complex_step_gradient, fd_gradient, fd_steps,
                       step_base)


def is_njit(f):
    """True when ``f`` is a numba ``@njit`` function (a CPU dispatcher)."""
    return isinstance(f, CPUDispatcher)


def check_method(method):
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    return METHODS[method]


def _user_steps(h, x):
    """h (a positive scalar or an array like x) as a float64 array of size n."""
    if isinstance(h, numbers.Real) and not isinstance(h, (bool, np.bool_)):
        h = np.full(x.size, float(h))
    else:
        try:
            h = np.asarray(h, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"h must be None, a positive number or an array of them, "
                            f"got {type(h).__name__}") from None
        if h.shape != x.shape:
            raise ValueError(f"h must be a scalar or have the shape of x {x.shape}, got {h.shape}")
    if not np.all(np.isfinite(h) & (h > 0)):
        raise ValueError(f"h must be positive and finite, got min {h.min()!r}")
    return h


def numerical_gradient(f, x, method="central", h=None, args=()):
    r"""The gradient of a scalar function by finite differences.

    With e_i the i-th unit vector and h_i the step of coordinate i::

        "forward"     g_i = (f(x + h_i e_i) - f(x)) / h_i                   error O(h)
        "central"     g_i = (f(x + h_i e_i) - f(x - h_i e_i)) / (2 h_i)    error O(h**2)
        "richardson"  g_i = (4 C_i(h_i / 2) - C_i(h_i)) / 3, C the central  error O(h**4)
        "complex"     g_i = Im f(x + i h_i e_i) / h_i                       error O(h**2)

    The default step balances truncation against rounding (eps is the machine
    epsilon of x's dtype): h_i = eps**(1/2) max(1, |x_i|) forward,
    eps**(1/3) max(1, |x_i|) central, eps**(1/5) max(1, |x_i|) Richardson,
    and 1e-20 for the complex step, which subtracts nothing and so is exact to
    rounding, but only for f that is real-analytic and written so it keeps
    the imaginary part (no ``abs``, comparisons or ``.real`` on x). Every
    real step is rounded so that x_i + h_i is exact. Expect about 1e-7
    relative accuracy in float64 with "central", 1e-10 with "richardson".

    Parameters
    ----------
    f : callable ``f(x, *args) -> float``
        A numba ``@njit`` function is evaluated in nopython mode, the
        coordinates in parallel (``prange`` over blocks of coordinates, each
        with its own copy of x; the result does not depend on the number of
        threads). Any other callable is evaluated in a serial Python loop.
        f must not keep or modify the array it is given.
    x : 1-D array of float32 or float64 (integers are converted to float64)
        The point. It is not modified.
    method : "central" (default), "forward", "richardson" or "complex"
    h : None, positive float or array like x
        Absolute steps, instead of the default relative ones.
    args : tuple
        Extra arguments for f.

    Returns
    -------
    ndarray of x's dtype: cost n + 1 evaluations of f (forward), 2n (central),
    4n (Richardson) or n (complex), plus one at x to check f.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd import numerical_gradient
    >>> f = lambda x: x[0] ** 2 + 3.0 * x[0] * x[1]
    >>> numerical_gradient(f, np.array([1.0, 2.0])).round(6)     # exact: (8, 3)
    array([8., 3.])
    """
    check_callable("f", f)
    x = np.ascontiguousarray(as_float_vector("x", x))
    code = check_method(method)
    args = check_args("args", args)
    if h is None:
        steps = None
    else:
        steps = _user_steps(h, x)
    real_scalar("f", f(x, *args), " at x")
    out = np.empty_like(x)
    if code == COMPLEX:
        _complex_step(f, args, x, np.full(x.size, COMPLEX_STEP) if steps is None else steps, out)
        return out
    if steps is None:
        steps = fd_steps(x, x[:0], step_base(x, code))
    else:
        steps = fd_steps(x, steps, 0.0)
        if not np.all(steps > 0):
            i = int(np.argmin(steps))
            raise ValueError(f"h is too small for x: x[{i}] + h[{i}] rounds to x[{i}] "
                             f"in {x.dtype}")
    kernel = fd_gradient if is_njit(f) else fd_gradient.py_func
    kernel(f, args, x, steps, code, out)
    return out


def _complex_step(f, args, x, steps, out):
    probe = x.astype(np.complex128)
    probe[0] += 1j * steps[0]
    try:
        value = f(probe, *args)
    except Exception as exc:
        raise TypeError(f"method='complex' evaluates f at complex x, which f refused: {exc}") from exc
    if not np.iscomplexobj(value):
        raise TypeError("method='complex' needs f to carry the imaginary part through: f returned "
                        f"{type(value).__name__} for complex x (abs, comparisons or .real in f "
                        "break the complex step)")
    kernel = complex_step_gradient if is_njit(f) else complex_step_gradient.py_func
    kernel(f, args, x, steps, out)
