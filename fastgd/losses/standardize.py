r"""Training in standardized coordinates, with the coefficients in the data's units.

Gradient descent is slow on features of very different scales or far from 0
(the Hessian is ill-conditioned), which is why scikit-learn's documentation
asks for a ``StandardScaler`` first. An objective wrapped by
:func:`standardized` takes the *standardized* parameters v, as if it were
trained on Z = (X - mu) / s, while it reads the raw X: for the first affine
map of the model (a linear model's W and b, an MLP's first layer) the
parameters in the data's units are

    W_j = V_j / s_j,    b = b_v - sum_j mu_j V_j / s_j,

so z = Z V + b_v = X W + b for every row, and the objective's gradient in v
follows by the chain rule from the gradient in (W, b) that the wrapped
``rows`` computes:

    dL/dV_j = (dL/dW_j - mu_j dL/db) / s_j,     dL/db_v = dL/db.

No copy of X is made: each call maps v to (W, b) once (O(size of w)), runs
the model's own ``rows`` on the raw rows, and maps the gradient back. The
penalty is the model's own on (W, b): alpha is a penalty on the coefficients
in the data's units, so the optimum is exactly the unstandardized problem's
(only the path to it changes). Without an intercept only s is used (mu = 0).

Where the first affine map lives in ``w`` (the ``layout``): ``k`` outputs;
coefficient (output o, feature j) at ``o * out_stride + j * in_stride``;
bias o at ``bias_start + o`` (a linear model: W is k x d row-major,
``out_stride = d``, ``in_stride = 1``, biases after W; an MLP's first layer:
W_1 is d x k row-major, ``out_stride = 1``, ``in_stride = k``, b_1 follows).
``hyper`` gains a tail that the wrapped functions ignore:
``[k, out_stride, in_stride, bias_start, has_bias, mu (d), s (d), d]``.
"""

from dataclasses import dataclass

import numpy as np

from .._numba import jit
from .._specialize import specialize

_HEADER = 5  # k, out_stride, in_stride, bias_start, has_bias


@dataclass(frozen=True)
class AffineLayout:
    """Where the model's first affine map sits in its parameter vector (see the module doc)."""

    k: int
    out_stride: int
    in_stride: int
    bias_start: int
    has_bias: bool

    @classmethod
    def linear(cls, n_features, n_outputs, fit_intercept):
        return cls(n_outputs, n_features, 1, n_outputs * n_features, bool(fit_intercept))

    @classmethod
    def first_layer(cls, n_features, n_units):
        return cls(n_units, 1, n_units, n_features * n_units, True)


def feature_statistics(X, center, block_bytes=1 << 24):
    """(mu, s) of X's columns, float64, in one pass (a memmap block by block).

    With ``center``: the means and the standard deviations; else zeros and
    the root mean squares (scaling alone keeps a sparse structure). A
    constant (or all-zero) column gets s = 1.
    """
    n, d = X.shape
    shift = np.asarray(X[0], dtype=np.float64)      # sums about a row of X stay accurate
    total, squares = np.zeros(d), np.zeros(d)
    rows = max(1, block_bytes // max(1, d * X.itemsize))
    for a in range(0, n, rows):
        block_sums(X[a:a + rows], shift, total, squares)
    return statistics_of_sums(n, shift, total, squares, center)


def block_sums(X, shift, total, squares):
    """Add the column sums of (X - shift) and of its squares (float64) to total and squares."""
    block = np.asarray(X, dtype=np.float64) - shift
    total += block.sum(axis=0)
    squares += (block * block).sum(axis=0)


def statistics_of_sums(n, shift, total, squares, center):
    """:func:`feature_statistics` from n rows' sums about ``shift`` (:func:`block_sums`)."""
    mean = shift + total / n
    var = np.maximum(squares / n - (total / n) ** 2, 0.0)
    if center:
        mu, s = mean, np.sqrt(var)
        s[~(s > 1e-12 * np.maximum(np.abs(mean), 1.0))] = 1.0
    else:
        mu, s = np.zeros(mean.size), np.sqrt(var + mean * mean)
        s[~(s > 0.0)] = 1.0
    return mu, s


def standardized_hyper(hyper, layout, mu, s):
    """``hyper`` with the tail the wrapped objective reads (see the module doc)."""
    mu = np.zeros_like(s) if not layout.has_bias else np.asarray(mu, dtype=np.float64)
    head = [layout.k, layout.out_stride, layout.in_stride, layout.bias_start,
            float(layout.has_bias)]
    return np.concatenate([np.asarray(hyper, dtype=np.float64), head, mu,
                           np.asarray(s, dtype=np.float64), [float(s.size)]])


@jit
def _layout(hyper):
    """(d, k, out_stride, in_stride, bias_start, has_bias, mu, s) from ``hyper``'s tail."""
    d = int(hyper[-1])
    start = hyper.size - 1 - 2 * d - _HEADER
    mu = hyper[start + _HEADER:start + _HEADER + d]
    s = hyper[start + _HEADER + d:start + _HEADER + 2 * d]
    return (d, int(hyper[start]), int(hyper[start + 1]), int(hyper[start + 2]),
            int(hyper[start + 3]), hyper[start + 4] != 0.0, mu, s)


@jit
def to_data_units(v, hyper, out):
    """out = the parameters in the data's units for the standardized parameters v."""
    d, k, ostr, istr, b0, has_bias, mu, s = _layout(hyper)
    for i in range(v.size):
        out[i] = v[i]
    for o in range(k):
        shift = 0.0
        for j in range(d):
            c = o * ostr + j * istr
            wj = np.float64(v[c]) / s[j]
            out[c] = wj
            shift += mu[j] * wj
        if has_bias:
            out[b0 + o] = v[b0 + o] - shift


@jit
def pull_back(tmp, hyper, acc):
    """acc += the gradient in v of a gradient ``tmp`` in the data's units (float64 both)."""
    d, k, ostr, istr, b0, has_bias, mu, s = _layout(hyper)
    for o in range(k):
        gb = tmp[b0 + o] if has_bias else 0.0
        for j in range(d):
            c = o * ostr + j * istr
            tmp[c] = (tmp[c] - mu[j] * gb) / s[j]
    for i in range(acc.size):
        acc[i] += tmp[i]


def _rows(w, X, y, sw, hyper, acc):
    u = np.empty_like(w)
    to_data_units(w, hyper, u)
    tmp = np.zeros(acc.size)
    total = rows(u, X, y, sw, hyper, tmp)  # noqa: F821 (bound by specialize)
    pull_back(tmp, hyper, acc)
    return total


def _penalty(w, hyper, g):
    u = np.empty_like(w)
    to_data_units(w, hyper, u)
    tmp = np.zeros(g.size)
    value = penalty(u, hyper, tmp)  # noqa: F821 (bound by specialize)
    pull_back(tmp, hyper, g)
    return value


_WRAPPED = {}


def standardized(rows, penalty):
    """(rows, penalty) of the objective in standardized coordinates (see the module doc).

    One pair per wrapped pair, built once; an MLP's own ``work_per_row``
    carries over.
    """
    key = (id(rows), id(penalty))
    if key not in _WRAPPED:
        wrapped_rows = specialize(_rows, rows=rows)
        own = getattr(rows, "work_per_row", None)
        if own is not None:
            wrapped_rows.work_per_row = own
        _WRAPPED[key] = (rows, penalty, wrapped_rows, specialize(_penalty, penalty=penalty))
    return _WRAPPED[key][2:]


def from_data_units(w, layout, mu, s):
    """The standardized parameters of parameters ``w`` in the data's units (for warm starts)."""
    v = np.array(w, dtype=np.float64)
    d = s.size
    for o in range(layout.k):
        idx = o * layout.out_stride + np.arange(d) * layout.in_stride
        if layout.has_bias:
            v[layout.bias_start + o] = w[layout.bias_start + o] + np.dot(mu, w[idx])
        v[idx] = w[idx] * s
    return v.astype(w.dtype)


__all__ = ["AffineLayout", "feature_statistics", "standardized_hyper", "standardized",
           "to_data_units", "pull_back", "from_data_units"]
