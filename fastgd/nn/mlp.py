"""MLPClassifier and MLPRegressor: multi-layer perceptrons trained by fastgd's engine.

Both are :class:`fastgd.models.GDEstimator` subclasses, so they share the
linear estimators' conventions: the fused epoch of :mod:`fastgd.engine`
(batch, stochastic and mini-batch; every update rule and schedule; shuffling;
thread-independent results), ``partial_fit``, early stopping, verbose lines,
callbacks, Ctrl-C and divergence handling, float32 kept float32, memmaps
streamed. What is the MLP's own: the objective (:mod:`fastgd.nn.kernels`),
the initialisation, and the fitted attributes.
"""

import contextlib
import math
import numbers
import threading

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .._numba import PARALLEL_THRESHOLD
from ..engine.data import is_direct
from ..losses.standardize import AffineLayout
from ..models.base import GDEstimator, is_memmap, iter_row_blocks
from ..models.class_weight import ClassWeightMixin, check_class_weight
from ..models.linear import _CLASS_WEIGHT_DOC, _LinearClassifier
from ..models.targets import MultiOutputMixin
from .kernels import (ACTIVATIONS, OUT_IDENTITY, OUT_LOGISTIC, OUT_SOFTMAX, forward,
                      forward_serial, WORK_PER_ROW, layer_offsets, mlp_penalty, mlp_rows, mlp_tail)

_OUT_NAMES = {OUT_IDENTITY: "identity", OUT_LOGISTIC: "logistic", OUT_SOFTMAX: "softmax"}

# rows x parameters above which predictions run in parallel: about 2 * 2**24 flops, a few ms
PARALLEL_FORWARD = 2**24


class _OneBlasThread:
    """Hold BLAS to one thread while compiled MLP code runs (re-entrant, thread-safe).

    The parallelism of a fit is over parts of a batch (numba threads); an
    OpenBLAS that also starts its own threads inside them oversubscribes the
    cores, and on a busy 2-core machine a 256 x 100 x 64 product then took
    13 ms instead of 35 us. The first holder sets the limit, the last one
    restores what was there before.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = 0
        self._controller = None
        self._limit = None

    def __enter__(self):
        with self._lock:
            if self._holders == 0:
                if self._controller is None:
                    # load the BLAS numba's np.dot calls before threadpoolctl looks
                    import scipy.linalg.cython_blas  # noqa: F401
                    from threadpoolctl import ThreadpoolController
                    self._controller = ThreadpoolController()
                self._limit = self._controller.limit(limits=1, user_api="blas")
            self._holders += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                self._limit.restore_original_limits()
                self._limit = None
        return False


one_blas_thread = _OneBlasThread()


@contextlib.contextmanager
def _numba_threads(n):
    """Run compiled code of this Python thread on ``n`` numba threads (None: unchanged)."""
    if n is None:
        yield
        return
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(min(n, before))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _check_hidden_layer_sizes(value):
    """A tuple of positive ints (an int is one layer; () is no hidden layer)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = (value,)
    try:
        sizes = tuple(value)
    except TypeError:
        raise TypeError(f"hidden_layer_sizes must be a sequence of positive integers, "
                        f"got {value!r}") from None
    for i, s in enumerate(sizes):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral):
            raise TypeError(f"hidden_layer_sizes[{i}] must be an integer, got {s!r}")
        if s < 1:
            raise ValueError(f"hidden_layer_sizes[{i}] must be >= 1, got {s}")
    return tuple(int(s) for s in sizes)


_MLP_DOC = """
    hidden_layer_sizes : int or sequence of int, default (100,)
        Units of each hidden layer; () gives a linear model.
    activation : {"relu", "tanh", "logistic", "identity"}, default "relu"
        The hidden layers' activation.
    init : {"glorot", "he"}, default "glorot"
        Weights are drawn (from ``random_state``) uniform in +-b with
        b = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010), or, with
        "he" and relu, b = sqrt(6 / fan_in) for the hidden layers (He et al.,
        2015); biases start at 0. Glorot is scikit-learn's choice; on the
        200,000 x 100 benchmark (``fastgd/bench/mlp.py``) a 3 x 256 ReLU net
        reached 0.889 / 0.888 held-out accuracy after 2 epochs with it against
        0.884 / 0.881 with He (seeds 0 / 1).
    optimizer : str, default "adam"
        An update rule of :data:`fastgd.OPTIMIZERS`; ``optimizer_params`` its
        hyperparameters (not ``lr``).
    lr : float or :class:`fastgd.schedules.Schedule`, default 1e-3
    batch_size : int or None, default 200
        None: batch gradient descent; 1: stochastic; k: mini-batch.
    max_epochs : int, default 200
    alpha : float, default 1e-4
        L2 strength on the weights (not the biases): the loss is the mean over
        the rows plus alpha/2 sum ||W_l||^2. scikit-learn's MLP divides its
        alpha by the batch size instead, so its ``alpha=a`` with batch size B
        is ``alpha=a / B`` here. ``l1_ratio`` mixes in L1 as for the linear
        models.
    tol, n_iter_no_change : default 1e-4, 10
        Stop when the training loss (or, with ``early_stopping``, the
        validation score) has not improved by ``tol`` for ``n_iter_no_change``
        epochs.
    early_stopping, validation_fraction, shuffle, random_state, warm_start,
    verbose, callback
        As for :class:`fastgd.LinearRegression`.

    Attributes
    ----------
    coefs_, intercepts_ : lists of arrays
        W_l (fan_in x fan_out) and b_l, as in scikit-learn: views into the
        one flat parameter vector ``optimizer_.params`` (a copy after pickling).
    n_layers_, n_outputs_, out_activation_, n_features_in_
    n_iter_, t_ : epochs and update steps done
    loss_curve_ : mean training loss of each epoch (penalty included)
    validation_scores_, best_validation_score_ : with early_stopping
    optimizer_ : the :class:`fastgd.optim.Optimizer` (its state_dict resumes a fit)
"""


class _MLP(GDEstimator):
    """What MLPClassifier and MLPRegressor share: architecture, objective, parameters."""

    _penalty = staticmethod(mlp_penalty)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", init="glorot",
                 optimizer="adam", optimizer_params=None, lr=1e-3, batch_size=200,
                 max_epochs=200, alpha=1e-4, l1_ratio=0.0, tol=1e-4, n_iter_no_change=10,
                 early_stopping=False, validation_fraction=0.1, shuffle=True, random_state=None,
                 warm_start=False, verbose=0, callback=None):
        self._store_init_args(locals())

    # -- hooks of GDEstimator ------------------------------------------------------

    def _check_extra_params(self):
        _check_hidden_layer_sizes(self.hidden_layer_sizes)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if self.init not in ("glorot", "he"):
            raise ValueError(f"init must be 'glorot' or 'he', got {self.init!r}")

    def _sizes(self, n_features, n_outputs):
        return [n_features, *_check_hidden_layer_sizes(self.hidden_layer_sizes), n_outputs]

    def _out_kind(self, n_outputs):
        return OUT_IDENTITY

    _auto_linear = False    # lr="auto": no curvature bound for a network

    def _auto_layout(self, n_features, n_outputs):
        return AffineLayout.first_layer(n_features, self._sizes(n_features, n_outputs)[1])

    def _auto_loss(self, n_outputs):
        return {OUT_IDENTITY: "squared_error", OUT_LOGISTIC: "logistic",
                OUT_SOFTMAX: "softmax"}[self._out_kind(n_outputs)]

    def _objective(self, n_outputs):
        sizes = self._sizes(self.n_features_in_, n_outputs)
        return mlp_rows, mlp_tail(sizes, self.activation, self._out_kind(n_outputs))

    def _n_params(self, n_features, n_outputs):
        return int(layer_offsets(self._sizes(n_features, n_outputs))[-1])

    def _shapes(self, n_features, n_outputs):
        """Each layer's W_l (fan_in x fan_out) and b_l, in the vector's order."""
        sizes = self._sizes(n_features, n_outputs)
        return [shape for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
                for shape in ((fan_in, fan_out), (fan_out,))]

    def _layout_changes(self):
        changed = {}
        hidden = tuple(self._sizes_[1:-1])
        if _check_hidden_layer_sizes(self.hidden_layer_sizes) != hidden:
            changed["hidden_layer_sizes"] = hidden
        if self.activation != self._activation_:
            changed["activation"] = self._activation_
        return changed

    def _init_params(self, n_features, n_outputs, dtype, rng):
        sizes = self._sizes(n_features, n_outputs)
        offs = layer_offsets(sizes)
        old = getattr(self, "_optimizer", None)
        if self.warm_start and old is not None and getattr(self, "_sizes_", None) == sizes:
            return old.params.astype(dtype, copy=True)
        w = np.zeros(int(offs[-1]), dtype=dtype)
        for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            he = self.init == "he" and self.activation == "relu" and l < len(sizes) - 2
            bound = math.sqrt(6.0 / (fan_in if he else fan_in + fan_out))
            w[offs[l]:offs[l] + fan_in * fan_out] = rng.uniform(-bound, bound, fan_in * fan_out)
        return w

    def _store_params(self, w):
        n_outputs = self._n_outputs()
        sizes = self._sizes(self.n_features_in_, n_outputs)
        offs = layer_offsets(sizes)
        self.coefs_, self.intercepts_ = [], []
        for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            start = offs[l] + fan_in * fan_out
            self.coefs_.append(w[offs[l]:start].reshape(fan_in, fan_out))
            self.intercepts_.append(w[start:start + fan_out])
        self._sizes_ = sizes
        self._activation_ = self.activation   # what predict uses, whatever set_params does later
        self.n_layers_ = len(sizes)
        self.n_outputs_ = n_outputs
        self.out_activation_ = _OUT_NAMES[self._out_kind(n_outputs)]

    def _fit(self, X, y, sample_weight, incremental, classes, run=True):
        with self._train_context():
            return super()._fit(X, y, sample_weight, incremental, classes, run)

    @contextlib.contextmanager
    def _train_context(self):
        with one_blas_thread, _numba_threads(1 if self._serial_batches() else None):
            yield

    def _serial_batches(self):
        """True when the engine runs each batch's parts serially (batches of <= 512 rows).

        The fit then runs on one numba thread, so that the only parallel work
        left, the element-wise update of a network of more than
        ``PARALLEL_THRESHOLD`` parameters, does not open a parallel region
        per batch: for the 100-256-256-256-1 net (158k parameters), batch 256,
        float32, it saves about 25 us of a 3 ms batch on an idle machine, and
        with other processes running a region per batch cost 11.4 ms per
        batch against 3.2 ms (best of 40).
        """
        b = self.batch_size
        return (isinstance(b, numbers.Integral) and not isinstance(b, (bool, np.bool_))
                and 0 < b * WORK_PER_ROW <= PARALLEL_THRESHOLD)

    # -- prediction ------------------------------------------------------------------

    def _forward(self, X):
        """The network's output (probabilities for classifiers), in X's dtype.

        A plain writeable C-ordered X goes to the compiled kernel as is; any
        other (memmap, read-only, Fortran-ordered) is copied block by block,
        so memory stays bounded and the kernel compiles for one array type.
        """
        check_is_fitted(self)
        X = self._check_memmap_predict(X) if is_memmap(X) else self._validate_X(X, reset=False)
        w = self._data_params().astype(X.dtype, copy=False)
        hyper = np.array([0.0, 0.0, 0.0, *mlp_tail(self._sizes_, self._activation_,
                                                  self._out_kind(self.n_outputs_))])
        out = np.empty((X.shape[0], self.n_outputs_), dtype=X.dtype)
        # the parallel loop only where its few seconds of first compile pay off
        run = forward if X.shape[0] * w.size > PARALLEL_FORWARD else forward_serial
        with one_blas_thread:
            if is_direct(X):
                run(w, hyper, X, out)
            else:
                for a, e, block in iter_row_blocks(X):
                    run(w, hyper, np.array(block, order="C"), out[a:e])
        if is_memmap(X) and not np.isfinite(out).all():
            # a memmap is not scanned up front (that would read it twice); NaN in X shows here
            raise ValueError("Input X contains NaN or infinity.")
        return out


class MLPRegressor(MultiOutputMixin, RegressorMixin, _MLP):
    """Multi-layer perceptron regressor trained by backpropagation on fastgd's engine.

    Minimises (1/n) sum_i s_i ||f(x_i) - y_i||^2 / 2 + alpha/2 sum_l ||W_l||^2
    with f the network (identity outputs); the forward and backward equations
    are in :mod:`fastgd.nn.kernels`. y is 1-D (one target) or of shape
    (n, k) with k > 1: k outputs trained together, ``predict`` returns (n, k)
    and ``score`` is R^2 averaged over the targets. As scikit-learn's
    ``MLPRegressor``, y of shape (n, 1) is taken as 1-D (with a
    DataConversionWarning).

    Parameters
    ----------
    {mlp}
    Example
    -------
    >>> import numpy as np, fastgd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, (1000, 2)).astype(np.float32)
    >>> y = np.sin(X[:, 0]) * X[:, 1]
    >>> reg = fastgd.MLPRegressor((32, 32), lr=0.01, batch_size=32, max_epochs=60, tol=None,
    ...                           random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.95, reg.predict(X).dtype
    (True, dtype('float32'))
    """

    _column_is_1d = True

    def _encode_targets(self, y, first, dtype, classes=None, sample_weight=None):
        return np.ascontiguousarray(self._record_targets(y, first), dtype=dtype)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the optimizer, step count and schedule."""
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        """The network's output for each row of X: shape (n_samples,), or (n_samples, k)."""
        return self._shaped_output(self._forward(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class MLPClassifier(ClassifierMixin, ClassWeightMixin, _MLP):
    """Multi-layer perceptron classifier trained by backpropagation on fastgd's engine.

    Two classes: one sigmoid output and the binary cross-entropy; K > 2
    classes: K softmax outputs and the softmax cross-entropy; plus
    alpha/2 sum_l ||W_l||^2. The forward and backward equations are in
    :mod:`fastgd.nn.kernels`. Labels may be any sortable values (``classes_``).

    Parameters
    ----------
    {mlp_classifier}
    Example
    -------
    >>> import numpy as np, fastgd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((600, 2))
    >>> y = np.where(X[:, 0] * X[:, 1] > 0, "same", "opposite")    # XOR: not linear
    >>> clf = fastgd.MLPClassifier((16,), lr=0.01, batch_size=32, max_epochs=100, tol=None,
    ...                            random_state=0).fit(X, y)
    >>> clf.classes_.tolist(), clf.score(X, y) > 0.95
    (['opposite', 'same'], True)
    """

    # label handling is the linear classifiers': classes_, partial_fit(classes=...) (from
    # ClassWeightMixin, with class_weight), unseen labels, a single class, sample weights
    # that leave one class
    _encode_targets = _LinearClassifier._encode_targets
    _n_outputs = _LinearClassifier._n_outputs

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", init="glorot",
                 optimizer="adam", optimizer_params=None, lr=1e-3, batch_size=200,
                 max_epochs=200, alpha=1e-4, l1_ratio=0.0, tol=1e-4, n_iter_no_change=10,
                 early_stopping=False, validation_fraction=0.1, shuffle=True, random_state=None,
                 warm_start=False, verbose=0, callback=None, class_weight=None):
        self._store_init_args(locals())

    def _check_extra_params(self):
        super()._check_extra_params()
        check_class_weight(self.class_weight)

    def _check_n_classes(self, labels):
        pass

    def _targets_from_index(self, idx):
        return idx

    def _out_kind(self, n_outputs):
        return OUT_LOGISTIC if n_outputs == 1 else OUT_SOFTMAX

    def predict_proba(self, X):
        """Class probabilities, one column per entry of ``classes_``."""
        p = self._forward(X)
        if p.shape[1] == 1:
            return np.column_stack([1 - p[:, 0], p[:, 0]])
        return p

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row."""
        p = self._forward(X)
        if p.shape[1] == 1:
            return self.classes_[(p[:, 0] > 0.5).astype(np.intp)]
        return self.classes_[np.argmax(p, axis=1)]


MLPRegressor.__doc__ = MLPRegressor.__doc__.replace("{mlp}", _MLP_DOC.strip())
MLPClassifier.__doc__ = MLPClassifier.__doc__.replace("{mlp_classifier}", _MLP_DOC.strip().replace(
    "\n    Attributes\n", f"    {_CLASS_WEIGHT_DOC}\n\n    Attributes\n"))

__all__ = ["MLPClassifier", "MLPRegressor"]
