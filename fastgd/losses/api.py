"""The validated Python API of the loss kernels: ``loss, grad = losses.logistic(w, X, y)``."""

from dataclasses import dataclass

import numpy as np

from .._validation import check_bool, check_flat_float_array, check_float_ndarray, check_real
from ..sparse.csr import CSR, as_csr, check_csr, is_sparse
from .csr import csr_linear_kernel, csr_linear_rows, csr_softmax_kernel, csr_softmax_rows
from .linear import (EPSILON_INSENSITIVE, HINGE, HUBER, LOGISTIC, MODIFIED_HUBER, POISSON,
                     SQUARED, SQUARED_EPSILON_INSENSITIVE, SQUARED_HINGE, linear_kernel,
                     linear_rows_of)
from .multi_squared import multi_squared_kernel, multi_squared_rows
from .softmax import softmax_kernel, softmax_rows


@dataclass(frozen=True)
class Loss:
    """One loss: its kernel, serial ``rows`` function, ``kind``, and what its targets must be.

    ``kind`` goes in ``hyper[4]`` (the per-row loss of the generic ``linear_rows``, which
    the kernels run; ``rows`` is compiled for that one kind: :func:`linear_rows_of`).
    ``targets``: "real" (any finite value), "unit" (in [0, 1]), "sign"
    (-1 or +1), "count" (>= 0) or "class" (integers 0..K-1). ``multi``: the
    kernel has K outputs (K in ``hyper[3]``): one per class, or, with
    ``columns``, one per column of a 2-D y; otherwise one output. ``param``:
    the name of the hyperparameter that goes in ``hyper[3]`` ("delta",
    "epsilon"), if any, and ``default`` its default. ``csr_kernel`` and
    ``csr_rows``: the same for a CSR X (:mod:`fastgd.losses.csr`), if it
    takes one.
    """

    name: str
    kernel: object
    rows: object
    kind: int
    targets: str
    multi: bool = False
    columns: bool = False
    param: str = ""
    default: float = 0.0
    csr_kernel: object = None
    csr_rows: object = None

    def kernel_for(self, X):
        """The kernel that takes this X: :attr:`csr_kernel` for a CSR, else :attr:`kernel`."""
        return self.csr_kernel if isinstance(X, CSR) else self.kernel


def _linear(name, kind, targets, **options):
    """A one-output loss: the generic kernels, rows compiled for its kind, CSR kernels."""
    return Loss(name, linear_kernel, linear_rows_of(kind), kind, targets,
                csr_kernel=csr_linear_kernel, csr_rows=csr_linear_rows, **options)


LOSSES = {loss.name: loss for loss in (
    _linear("squared_error", SQUARED, "real"),
    _linear("huber", HUBER, "real", param="delta", default=1.35),
    _linear("epsilon_insensitive", EPSILON_INSENSITIVE, "real", param="epsilon", default=0.1),
    _linear("squared_epsilon_insensitive", SQUARED_EPSILON_INSENSITIVE, "real", param="epsilon",
            default=0.1),
    _linear("poisson", POISSON, "count"),
    _linear("logistic", LOGISTIC, "unit"),
    _linear("hinge", HINGE, "sign"),
    _linear("squared_hinge", SQUARED_HINGE, "sign"),
    _linear("modified_huber", MODIFIED_HUBER, "sign"),
    Loss("softmax", softmax_kernel, softmax_rows, 0, "class", multi=True,
         csr_kernel=csr_softmax_kernel, csr_rows=csr_softmax_rows),
    Loss("multi_squared_error", multi_squared_kernel, multi_squared_rows, 0, "real", multi=True,
         columns=True),
)}


def hyper_array(l2=0.0, l1=0.0, n_intercepts=1, extra=0.0, loss="squared_error"):
    """The float64 ``hyper`` array every loss kernel takes: [l2, l1, n_intercepts, extra, kind].

    ``n_intercepts``: 0 without intercepts, else the number of outputs (1, or
    K for softmax and multi_squared_error); ``extra``: Huber's delta, the
    epsilon of the epsilon-insensitive losses, or K for softmax and
    multi_squared_error; ``loss``: a name of :data:`LOSSES` (sets ``kind``).
    """
    return np.array([l2, l1, n_intercepts, extra, LOSSES[loss].kind], dtype=np.float64)


def n_params(n_features, n_outputs=1, fit_intercept=True):
    """Length of the flat parameter vector: coefficients, then intercepts."""
    return n_outputs * (n_features + (1 if fit_intercept else 0))


def _check_X(X):
    """(X, n rows, n columns, dtype): X a dense ndarray, or a validated CSR for sparse X."""
    if isinstance(X, CSR):
        X = check_csr(X)
    elif not isinstance(X, np.ndarray):
        if not is_sparse(X):
            raise TypeError(f"X must be a numpy.ndarray or a scipy.sparse matrix or array, "
                            f"got {type(X).__name__}")
        X = as_csr(X)
    if isinstance(X, CSR):
        return X, X.indptr.size - 1, X.n_cols, X.data.dtype
    check_float_ndarray("X", X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    return X, X.shape[0], X.shape[1], X.dtype


def _check_data(n, dtype, y, sample_weight, columns=False):
    y = np.asarray(y)
    if columns:
        if y.ndim != 2 or y.shape[0] != n or y.shape[1] < 1:
            raise ValueError(f"Y must be 2-D (n_samples, n_outputs) with {n} rows (one "
                             f"per row of X) and at least one column, got shape {y.shape}")
    elif y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must be 1-D with {n} entries (one per row of X), "
                         f"got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.number) or np.iscomplexobj(y):
        raise TypeError(f"y must be real numbers, got dtype {y.dtype}")
    y = np.ascontiguousarray(y, dtype=dtype)
    if sample_weight is None:
        sw = np.empty(0, dtype=dtype)
    else:
        sw = np.asarray(sample_weight)
        if sw.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
        sw = np.ascontiguousarray(sw, dtype=dtype)
        if not np.all(np.isfinite(sw)) or np.any(sw < 0):
            raise ValueError("sample_weight must be finite and non-negative")
    return y, sw


def _check_targets(loss, y, n_classes):
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or inf")
    if loss.targets == "unit" and np.any((y < 0) | (y > 1)):
        raise ValueError(f"{loss.name} loss: y must be in [0, 1] (labels 0/1)")
    if loss.targets == "sign" and np.any((y != 1) & (y != -1)):
        raise ValueError(f"{loss.name} loss: y must be -1 or +1")
    if loss.targets == "count" and np.any(y < 0):
        raise ValueError(f"{loss.name} loss: y must be >= 0 (counts or rates), got a minimum "
                         f"of {float(np.min(y))!r}")
    if loss.targets == "class" and np.any((y < 0) | (y >= n_classes) | (y != np.floor(y))):
        raise ValueError(f"{loss.name} loss: y must hold class indices 0..{n_classes - 1}")


def _prepare(name, w, checked_X, y, sample_weight, l2, l1, fit_intercept, extra):
    """(loss, w, X, y, sw, hyper), validated; ``checked_X`` is what :func:`_check_X` returned."""
    loss = LOSSES[name]
    w = check_flat_float_array("w", w)
    X, n, d, dtype = checked_X
    if isinstance(X, CSR) and loss.csr_kernel is None:
        raise TypeError(f"the {loss.name} loss takes a dense X, not a sparse one")
    y, sw = _check_data(n, dtype, y, sample_weight, loss.columns)
    if w.dtype != dtype:
        raise TypeError(f"w has dtype {w.dtype} but X has dtype {dtype}: convert one explicitly")
    l2 = check_real("l2", l2, low=0.0)
    l1 = check_real("l1", l1, low=0.0)
    fit_intercept = check_bool("fit_intercept", fit_intercept)
    per_output = d + (1 if fit_intercept else 0)
    if loss.columns:
        extra = float(y.shape[1])
        if w.size != y.shape[1] * per_output:
            raise ValueError(f"w must have K * {per_output} = {y.shape[1] * per_output} entries "
                             f"for the K = {y.shape[1]} columns of Y (coefficients then "
                             f"intercepts), got {w.size}")
    elif loss.multi:
        if per_output == 0 or w.size % per_output or w.size // per_output < 2:
            raise ValueError(f"w must have K * {per_output} entries for K >= 2 classes "
                             f"(coefficients then intercepts), got {w.size}")
        extra = float(w.size // per_output)
    elif w.size != per_output:
        raise ValueError(f"w must have {per_output} entries (coefficients then intercept), "
                         f"got {w.size}")
    _check_targets(loss, y, int(extra))
    n_out = int(extra) if loss.multi else 1
    return loss, w, X, y, sw, hyper_array(l2, l1, n_out if fit_intercept else 0, extra, name)


def _evaluate(name, w, X, y, sample_weight, l2, l1, fit_intercept, out, extra=0.0):
    loss, w, X, y, sw, hyper = _prepare(name, w, _check_X(X), y, sample_weight, l2, l1,
                                        fit_intercept, extra)
    if out is None:
        out = np.empty_like(w)
    else:
        out = check_flat_float_array("out", out, writeable=True)
        if out.shape != w.shape or out.dtype != w.dtype:
            raise ValueError(f"out must be a {w.dtype} array of shape {w.shape}")
    value = loss.kernel_for(X)(w, X, y, sw, hyper, out)
    return float(value), out


_ARGS_DOC = """
    Parameters
    ----------
    w : 1-D float32/float64 array, the coefficients then the intercept(s).
    X : 2-D array (n, d) of the same dtype (C-contiguous is the fast layout), or a
        scipy.sparse matrix or array (CSR used as it is, other formats converted
        once; validated by :func:`fastgd.sparse.as_csr`).
    y : 1-D array of n targets (converted to X's dtype).
    sample_weight : optional 1-D array of n non-negative weights; the weighted
        sum is divided by n, so weights with mean 1 give a weighted mean.
    l2, l1 : penalty strengths alpha_2 and alpha_1 (coefficients only).
    fit_intercept : whether ``w`` ends with intercept(s).
    out : optional array like ``w`` that receives the gradient.

    Returns
    -------
    (loss, grad) : a Python float and the gradient (``out`` if given).
"""


def _check_epsilon(epsilon):
    return check_real("epsilon", epsilon, low=0.0)


def squared_error(w, X, y, *, sample_weight=None, l2=0.0, l1=0.0, fit_intercept=True, out=None):
    return _evaluate("squared_error", w, X, y, sample_weight, l2, l1, fit_intercept, out)


def huber(w, X, y, *, delta=1.35, sample_weight=None, l2=0.0, l1=0.0, fit_intercept=True,
          out=None):
    delta = check_real("delta", delta, low=0.0, low_open=True)
    return _evaluate("huber", w, X, y, sample_weight, l2, l1, fit_intercept, out, delta)


def epsilon_insensitive(w, X, y, *, epsilon=0.1, sample_weight=None, l2=0.0, l1=0.0,
                        fit_intercept=True, out=None):
    epsilon = _check_epsilon(epsilon)
    return _evaluate("epsilon_insensitive", w, X, y, sample_weight, l2, l1, fit_intercept, out,
                     epsilon)


def squared_epsilon_insensitive(w, X, y, *, epsilon=0.1, sample_weight=None, l2=0.0, l1=0.0,
                                fit_intercept=True, out=None):
    epsilon = _check_epsilon(epsilon)
    return _evaluate("squared_epsilon_insensitive", w, X, y, sample_weight, l2, l1, fit_intercept,
                     out, epsilon)


def poisson(w, X, y, *, sample_weight=None, l2=0.0, l1=0.0, fit_intercept=True, out=None):
    return _evaluate("poisson", w, X, y, sample_weight, l2, l1, fit_intercept, out)


def logistic(w, X, y, *, sample_weight=None, l2=0.0, l1=0.0, fit_intercept=True, out=None):
    return _evaluate("logistic", w, X, y, sample_weight, l2, l1, fit_intercept, out)


def hinge(w, X, y, *, sample_weight=None, l2=0.0, l1=0.0, fit_intercept=True, out=None):
    return _evaluate("hinge", w, X, y, sample_weight, l2, l1, fit_intercept, out)


def squared_hinge(w, X, y, *, sample_weight=None, l2=0.0, l1=0.0, fit_intercept=True, out=None):
    return _evaluate("squared_hinge", w, X, y, sample_weight, l2, l1, fit_intercept, out)


def modified_huber(w, X, y, *, sample_weight=None, l2=0.0, l1=0.0, fit_intercept=True, out=None):
    return _evaluate("modified_huber", w, X, y, sample_weight, l2, l1, fit_intercept, out)


def softmax(w, X, y, *, sample_weight=None, l2=0.0, l1=0.0, fit_intercept=True, out=None):
    return _evaluate("softmax", w, X, y, sample_weight, l2, l1, fit_intercept, out)


def multi_squared_error(w, X, Y, *, sample_weight=None, l2=0.0, l1=0.0, fit_intercept=True,
                        out=None):
    return _evaluate("multi_squared_error", w, X, Y, sample_weight, l2, l1, fit_intercept, out)


_OUT_LINE = "    out : optional array like ``w`` that receives the gradient.\n"
_EPSILON_LINE = "    epsilon : float >= 0, default 0.1: the width of the band around y that costs nothing.\n"
_SKLEARN_SUM = ("scikit-learn's SGD estimators sum the per-sample loss over the samples they "
                "visit; fastgd averages it over the n rows.")

squared_error.__doc__ = ("Least-squares loss 1/n sum s_i (x_i.W + b - y_i)^2 / 2 + penalties, "
                         "and its gradient.\n" + _ARGS_DOC)
huber.__doc__ = ("Huber loss with threshold ``delta`` (quadratic for |r| <= delta, linear "
                 "beyond), and its gradient.\n" + _ARGS_DOC)
epsilon_insensitive.__doc__ = (
    "Epsilon-insensitive loss 1/n sum s_i max(0, |z_i - y_i| - epsilon) + penalties (linear "
    "support vector regression), and its subgradient (0 at |r| = epsilon). The loss of "
    "scikit-learn's SGDRegressor(loss='epsilon_insensitive'), whose default epsilon, 0.1, is "
    "this one's; " + _SKLEARN_SUM + "\n" + _ARGS_DOC
.replace(
        _OUT_LINE, _OUT_LINE + _EPSILON_LINE))
squared_epsilon_insensitive.__doc__ = (
    "Squared epsilon-insensitive loss 1/n sum s_i max(0, |z_i - y_i| - epsilon)^2 + penalties, "
    "and its gradient. As scikit-learn's SGDRegressor(loss='squared_epsilon_insensitive'): no "
    "factor 1/2, so epsilon = 0 gives twice squared_error; " + _SKLEARN_SUM + "\n" + _ARGS_DOC
.replace(
        _OUT_LINE, _OUT_LINE + _EPSILON_LINE))
poisson.__doc__ = (
    "Poisson loss with the log link, 1/n sum s_i [exp(z_i) - y_i z_i] + penalties, y >= 0, and "
    "its gradient 1/n sum s_i (exp(z_i) - y_i) (x_i, 1). This is half the Poisson deviance "
    "2 (y log(y / mu) - y + mu), mu = exp(z), up to y log y - y, which is constant in z: "
    "scikit-learn's HalfPoissonLoss, whose mean its PoissonRegressor minimises. For the "
    "deviance itself (scores) see poisson_deviance. exp(z) overflows to inf for z > 708: "
    "the loss is then inf, not a wrapped number.\n" + _ARGS_DOC)
logistic.__doc__ = ("Binary logistic loss 1/n sum s_i [log(1 + e^z_i) - y_i z_i] + penalties, "
                    "y in {0, 1}, stable at any |z|; and its gradient.\n" + _ARGS_DOC)
hinge.__doc__ = ("Hinge loss 1/n sum s_i max(0, 1 - y_i z_i) + penalties, y in {-1, +1}; and "
                 "its subgradient.\n" + _ARGS_DOC)
squared_hinge.__doc__ = (
    "Squared hinge loss 1/n sum s_i max(0, 1 - y_i z_i)^2 + penalties, y in {-1, +1}, and its "
    "gradient. As scikit-learn's SGDClassifier(loss='squared_hinge') and LinearSVC's default "
    "loss (no factor 1/2); " + _SKLEARN_SUM + "\n" + _ARGS_DOC)
modified_huber.__doc__ = (
    "Modified Huber loss (Zhang 2004), y in {-1, +1}, m = y z: max(0, 1 - m)^2 for m >= -1, "
    "-4 m below; 1/n sum s_i l_i + penalties and its gradient. As scikit-learn's "
    "SGDClassifier(loss='modified_huber'); " + _SKLEARN_SUM + "\n" + _ARGS_DOC)
softmax.__doc__ = ("Softmax cross-entropy for K classes (K = w.size / (d + fit_intercept)), "
                   "y the class index; and its gradient. w holds W (K x d, row-major) then "
                   "the K intercepts.\n" + _ARGS_DOC)
multi_squared_error.__doc__ = (
    "Multi-output least squares 1/n sum_i s_i sum_k (z_ik - Y_ik)^2 / 2 + penalties, "
    "z_ik = W_k . x_i + b_k, and its gradient, for Y of shape (n, K) (converted to X's dtype, "
    "C-contiguous). w holds W (K x d, row-major, as scikit-learn's coef_ for K targets) then "
    "the K intercepts.\n" + _ARGS_DOC.replace(
        "y : 1-D array of n targets", "Y : 2-D array (n, K) of targets"))


def make_objective(loss, X, y, *, sample_weight=None, l2=0.0, l1=0.0, fit_intercept=True,
                   n_classes=None, delta=1.35, epsilon=0.1):
    """``fun(w) -> (loss, grad)`` over fixed data, for ``fastgd.minimize(fun, w0, jac=True)``.

    ``loss`` is a name of :data:`LOSSES`; ``n_classes`` is required for
    "softmax", ``delta`` is Huber's threshold and ``epsilon`` the width of the
    epsilon-insensitive losses; for "multi_squared_error" y is the (n, K)
    target array. The data are validated and converted once, here; each call
    then runs the kernel only (the gradient array is reused: copy it to keep
    it). X may be sparse, as for the loss functions.

    >>> import numpy as np
    >>> X = np.array([[1.0], [2.0], [3.0]]); y = np.array([2.0, 4.0, 6.0])
    >>> fun = make_objective("squared_error", X, y)
    >>> f, g = fun(np.array([2.0, 0.0]))
    >>> f, g.tolist()
    (0.0, [0.0, 0.0])
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    spec = LOSSES[loss]
    checked = _check_X(X)
    d, dtype = checked[2], checked[3]
    k = 1
    extra = 0.0
    if spec.columns:
        shape = np.shape(y)
        k = shape[1] if len(shape) == 2 else 1    # a wrong shape is reported by _prepare
    elif spec.multi:
        if n_classes is None:
            raise ValueError("n_classes is required for the softmax loss")
        k = int(n_classes)
    if spec.param == "delta":
        extra = check_real("delta", delta, low=0.0, low_open=True)
    elif spec.param == "epsilon":
        extra = _check_epsilon(epsilon)
    w0 = np.zeros(n_params(d, k, fit_intercept), dtype=dtype)
    spec, _, X, y, sw, hyper = _prepare(loss, w0, checked, y, sample_weight, l2, l1,
                                        fit_intercept, extra)
    if isinstance(X, np.ndarray):
        X = np.ascontiguousarray(X)
    grad = np.empty_like(w0)
    kernel = spec.kernel_for(X)

    def fun(w):
        if not (isinstance(w, np.ndarray) and w.shape == grad.shape and w.dtype == grad.dtype):
            raise ValueError(f"w must be a {grad.dtype} array of shape {grad.shape}")
        return float(kernel(np.ascontiguousarray(w), X, y, sw, hyper, grad)), grad

    return fun
