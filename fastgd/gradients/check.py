"""check_grad: compare an analytic gradient with a numerical one, coordinate by coordinate."""

from typing import NamedTuple

import numpy as np

from .._validation import as_float_vector, check_args, check_callable, check_int
from .numerical import numerical_gradient


class Coordinate(NamedTuple):
    """One coordinate of a gradient check."""

    index: int
    analytic: float
    numerical: float
    abs_error: float
    rel_error: float


class GradCheck:
    """The result of :func:`check_grad`.

    Attributes
    ----------
    error : float
        Relative error ``|a - d| / max(|a|, |d|)`` of the analytic gradient a
        against the numerical d (2-norms; 0 when both are 0).
    abs_error : float
        ``|a - d|``, the number ``scipy.optimize.check_grad`` returns.
    analytic, numerical : ndarray
        The two gradients.
    worst : list of :class:`Coordinate`
        The coordinates with the largest relative error, worst first.
    """

    def __init__(self, analytic, numerical, method, n_worst):
        a = analytic.astype(np.float64)
        d = numerical.astype(np.float64)
        diff = np.abs(a - d)
        self.analytic = analytic
        self.numerical = numerical
        self.method = method
        self.abs_error = float(np.linalg.norm(a - d))
        scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(d)))
        self.error = self.abs_error / scale if scale > 0 else self.abs_error
        # a partial derivative that is 0 has no relative error of its own: below
        # sqrt(eps) * the largest partial, the error is measured against that floor
        floor = np.sqrt(np.finfo(numerical.dtype).eps) * max(np.abs(a).max(), np.abs(d).max())
        rel = diff / np.maximum(np.maximum(np.abs(a), np.abs(d)), max(floor, np.finfo(float).tiny))
        order = np.lexsort((-diff, -rel))[:n_worst]
        self.worst = [Coordinate(int(i), float(a[i]), float(d[i]), float(diff[i]), float(rel[i]))
                      for i in order]

    def __repr__(self):
        return (f"GradCheck(error={self.error:.3e}, abs_error={self.abs_error:.3e}, "
                f"n={self.analytic.size}, method={self.method!r})")

    def __str__(self):
        lines = [f"check_grad ({self.method} differences, {self.analytic.size} coordinates): "
                 f"relative error {self.error:.3e}, absolute error {self.abs_error:.3e}",
                 "worst coordinates:",
                 f"{'index':>8} {'analytic':>14} {'numerical':>14} {'abs error':>11} {'rel error':>11}"]
        for c in self.worst:
            lines.append(f"{c.index:>8} {c.analytic:>14.6e} {c.numerical:>14.6e} "
                         f"{c.abs_error:>11.3e} {c.rel_error:>11.3e}")
        return "\n".join(lines)


def check_grad(f, grad, x, *, method="central", h=None, args=(), n_worst=5):
    r"""Compare ``grad(x)`` with the finite-difference gradient of ``f`` at x.

    The summary is the relative error ``|a - d|_2 / max(|a|_2, |d|_2)``, a
    the analytic and d the numerical gradient (:func:`numerical_gradient`
    with ``method`` and ``h``). With central differences a correct float64
    gradient gives about 1e-8 to 1e-6; a wrong partial derivative gives
    something near its share of the gradient's norm. To find it, each
    coordinate gets a relative error ``|a_i - d_i| / max(|a_i|, |d_i|, s)``,
    with the floor s = sqrt(eps) max_j max(|a_j|, |d_j|) so that partials
    that are zero do not drown the list in rounding noise, and ``worst``
    lists the ``n_worst`` largest.

    Parameters
    ----------
    f : callable ``f(x, *args) -> float`` (``@njit`` ones run in parallel)
    grad : callable ``grad(x, *args) -> array of shape (n,)``
    x : 1-D float array (not modified)
    method, h : as in :func:`numerical_gradient`
    args : tuple, extra arguments for f and grad
    n_worst : int, how many coordinates to report

    Returns
    -------
    :class:`GradCheck`, whose ``str`` is a small table.

    Examples
    --------
    >>> import numpy as np
    >>> from fastgd import check_grad
    >>> f = lambda x: x[0] ** 2 + x[0] * x[1] ** 3
    >>> wrong = lambda x: np.array([2 * x[0] + x[1] ** 3, 3 * x[0] * x[1]])  # should be x[1]**2
    >>> res = check_grad(f, wrong, np.array([1.0, 2.0]))
    >>> res.worst[0].index, round(res.worst[0].analytic, 6), round(res.worst[0].numerical, 6)
    (1, 6.0, 12.0)
    """
    check_callable("f", f)
    check_callable("grad", grad)
    x = as_float_vector("x", x)
    args = check_args("args", args)
    n_worst = check_int("n_worst", n_worst, low=1)
    analytic = np.asarray(grad(x, *args))
    if analytic.dtype.kind not in "fiu":
        raise TypeError(f"grad must return real numbers, got dtype {analytic.dtype}")
    if analytic.shape != x.shape:
        raise ValueError(f"grad(x) has shape {analytic.shape}, but x has shape {x.shape}")
    numerical = numerical_gradient(f, x, method=method, h=h, args=args)
    return GradCheck(analytic, numerical, method, n_worst)
