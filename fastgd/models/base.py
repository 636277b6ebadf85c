"""The scikit-learn-style base class of fastgd's estimators, trained by :mod:`fastgd.engine`.

:class:`GDEstimator` implements ``fit``, ``partial_fit``, the epoch loop,
early stopping, the tolerance test, verbose output, callbacks, interrupts and
divergence once. A model subclasses it and provides five hooks:

``_objective(n_outputs)``
    the objective's serial ``rows`` function (see :mod:`fastgd.losses._rows`)
    and the values that follow ``[alpha_2, alpha_1, n_intercepts]`` in its
    ``hyper`` array (for the linear losses: Huber's delta or the number of
    classes, and the loss kind); the penalty is ``self._penalty(w, hyper, g)``
    (default :func:`fastgd.losses.linear_penalty`: L2/L1 on all but the
    intercepts);
``_n_outputs()``
    outputs of the model once the targets are known (1, or K classes);
``_encode_targets(y, first)``
    the targets as the objective wants them, in X's dtype (and, for a
    classifier, ``classes_`` on the first call);
``_init_params(n_features, n_outputs, dtype, rng)``
    the flat parameter vector to start from;
``_store_params(w)``
    set the public fitted attributes (``coef_``, ...) from the vector.

and, optionally, ``_validation_score(X, y, sample_weight)`` (default:
``self.score``), the metric early stopping maximises.

Conventions (scikit-learn's): the constructor only stores its arguments;
``fit`` validates every argument and the data before it changes anything;
fitted attributes end in ``_``; ``partial_fit`` runs one epoch and keeps the
step counter, the optimizer state and the schedule position between calls.

Large data: float32 stays float32 (no upcast copy). A ``numpy.memmap`` X is
never loaded whole: it is validated, trained on and predicted from block by
block (see :mod:`fastgd.engine.data`); with ``shuffle=True`` it is shuffled
by blocks. A ``scipy.sparse`` X (models with ``_accepts_sparse``: the linear
ones) is validated by :func:`fastgd.sparse.as_csr`, used as it is when it is
CSR and converted once otherwise, never densified; its epochs run in
:mod:`fastgd.engine.sparse`, early stopping's validation rows are a CSR copy
of those rows. A CSR of memory-mapped arrays (:func:`fastgd.sparse.load_csr`)
is streamed as a dense memmap is: validated, trained on (shuffled by blocks
with ``shuffle=True``) and predicted from piece by piece, its pages released.
The caller's arrays are never written to.
"""

import contextlib
import copy
import math
import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils.validation import (_check_sample_weight, check_consistent_length,
                                      check_is_fitted, column_or_1d, validate_data)

from .._validation import check_bool, check_int, check_real
from ..engine import DivergenceError, Trainer
from ..engine.loop import EpochLoop, Outcome
from ..engine.data import DEFAULT_BLOCK_BYTES, PageReleaser, _find_memmap
from ..losses import linear_penalty
from ..losses.standardize import from_data_units, standardized, standardized_hyper, to_data_units
from ..optim import OPTIMIZERS
from ..schedules import Schedule, as_schedule, schedule_config
from ..sparse import CSR, as_csr, is_mapped, is_sparse
from ..sparse.mapped import BLOCK_BYTES, CSRPages, copy_rows, row_blocks
from . import auto

FLOATS = [np.float64, np.float32]

# fitted attributes the validation of (X, y) sets before the estimator changes: put back
# when a later check of the same call fails
_SET_BY_VALIDATION = ("n_features_in_", "feature_names_in_", "classes_", "n_targets_")


@dataclass
class EpochInfo:
    """What a per-epoch ``callback(info)`` receives. Return True from it to stop."""

    epoch: int                   # 1-based, counted over fit and partial_fit calls
    loss: float                  # mean training objective over the epoch's batches
    validation_score: float      # with early_stopping, else nan
    seconds: float
    samples_per_second: float
    estimator: object


@dataclass
class EpochPlan:
    """A fit ready to run: ``loop.run(run_one, **hooks)``, or its epochs run by a caller
    that trains several models together on ``data`` = (X, y, sw, rows) with ``trainer``."""

    trainer: object
    loop: object
    run_one: object
    hooks: dict
    data: tuple


def _unit_mean(sw):
    """Sample weights scaled to mean 1: the loss is a weighted mean, batches stay unbiased.

    Weights whose sum overflows, or whose factor n / sum is not a normal
    number of their dtype, are first divided by the largest one, in float64,
    so they keep their ratios (the factor would give zeros or infinities).
    """
    with np.errstate(over="ignore"):
        total = float(np.sum(sw, dtype=np.float64))
    if not total > 0:
        raise ValueError("sample_weight must not be all zero")
    scale = sw.size / total
    info = np.finfo(sw.dtype)
    if math.isfinite(total) and float(info.tiny) <= scale <= float(info.max):
        return np.ascontiguousarray(sw * scale, dtype=sw.dtype)
    s = sw.astype(np.float64) / float(sw.max())
    return np.ascontiguousarray(s * (sw.size / float(np.sum(s))), dtype=sw.dtype)


def _schedule_args(lr):
    """What identifies a learning rate as given (a schedule's arguments, not its state)."""
    if not isinstance(lr, Schedule):
        return lr
    try:
        config = schedule_config(lr)
    except TypeError:  # your own Schedule subclass: its class and spec
        return type(lr), lr.spec.tolist()
    config.pop("state")
    return config


def is_memmap(X):
    """True for a numpy.memmap (or a view of one): data fastgd streams block by block."""
    return isinstance(X, np.ndarray) and _find_memmap(X) is not None


def all_finite_rows(X, block_bytes=DEFAULT_BLOCK_BYTES):
    """True when X (in memory or a memmap, read block by block) holds no NaN or inf."""
    return all(np.isfinite(block).all() for _, _, block in iter_row_blocks(X, block_bytes))


def iter_row_blocks(X, block_bytes=DEFAULT_BLOCK_BYTES):
    """Yield (start, stop, block) over the rows of X; memmap pages are released after use."""
    n = X.shape[0]
    rows = max(1, block_bytes // max(1, X.shape[1] * X.itemsize))
    release = PageReleaser(X)
    for a in range(0, n, rows):
        b = min(n, a + rows)
        yield a, b, X[a:b]
        release.release(a, b)


@dataclass
class _AutoStart:
    """Where ``lr="auto"`` starts: the standardized coordinates, the rate, the intercepts."""

    mean: np.ndarray
    scale: np.ndarray
    lr: float
    intercept: np.ndarray
    layout: object


class GDEstimator(BaseEstimator):
    """Base class: a model trained by mini-batch gradient descent on fastgd's engine.

    Subclasses define ``__init__`` with explicit keyword arguments (scikit-learn
    reads them for ``get_params``), including the common ones below, and the
    hooks listed in the module docstring.

    Common parameters
    -----------------
    optimizer : str, default "adam"
        An update rule of :data:`fastgd.OPTIMIZERS` ("sgd", "adam", "adamw", ...).
    optimizer_params : dict or None
        Its hyperparameters, e.g. ``{"betas": (0.9, 0.99)}`` or
        ``{"momentum": 0.9, "nesterov": True}`` (not ``lr``).
    lr : float, :class:`fastgd.schedules.Schedule` or "auto", default 0.01
        The learning rate, or a schedule of the step count. A
        ``ReduceLROnPlateau`` is told the training loss after each epoch.
        ``"auto"``: train in standardized coordinates from the best
        constant, at a rate from the rule's record and the data (see
        :mod:`fastgd.models.auto`); the statistics are ``x_mean_`` and
        ``x_scale_``, the rate ``optimizer_.lr``.
    batch_size : int or None, default 32
        None: batch gradient descent; 1: stochastic; k: mini-batch.
    max_epochs : int, default 200
    alpha : float, default 1e-4
        Regularisation strength; ``l1_ratio`` (default 0) mixes L1 into it:
        alpha * (l1_ratio ||W||_1 + (1 - l1_ratio) / 2 ||W||^2). L1 enters
        as a subgradient, so coefficients get small but not exactly zero.
    tol : float or None, default 1e-4
        Stop when the training loss (or, with early stopping, the validation
        score) has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    n_iter_no_change : int, default 5
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows (stratified for
        classifiers), score them after each epoch, stop as above and keep
        the parameters of the best epoch.
    validation_fraction : float, default 0.1
    shuffle : bool or {"none", "full", "blocks"}, default True
        True means "full" for in-memory data (dense or sparse) and "blocks" for memmaps
        (dense, or a CSR of memory-mapped arrays). "full" on a mapped CSR gathers each
        piece of 16,384 shuffled rows from anywhere in its files: random reads, fast
        while the files stay in the OS's page cache, slow from disk; resident memory
        still grows by about a piece (pages are released after each).
    random_state : None, int or RandomState
    warm_start : bool, default False
        Start ``fit`` from the current coefficients (with a fresh optimizer).
    verbose : int, default 0
        > 0: one line per epoch (epoch, loss, samples per second).
    callback : callable or None
        ``callback(EpochInfo)`` after every epoch; returning True stops the
        fit. Raising KeyboardInterrupt in it stops like Ctrl-C does.

    ``set_params`` after a fit: ``partial_fit`` raises ValueError for a changed
    argument that fixes the parameters' layout or update rule (fit_intercept,
    hidden_layer_sizes, activation, optimizer; ``fit`` starts afresh with it),
    and takes every other change into account (see ``_check_resumable``).

    Interrupts: Ctrl-C during ``fit`` keeps the parameters of the last
    completed epoch, warns, and returns a usable estimator. Divergence (the
    loss or parameters turn NaN/inf) raises :class:`fastgd.DivergenceError`
    naming the epoch; the estimator keeps the last finite parameters.
    """

    _COMMON = ("optimizer", "optimizer_params", "lr", "batch_size", "max_epochs", "alpha",
               "l1_ratio", "tol", "n_iter_no_change", "early_stopping", "validation_fraction",
               "shuffle", "random_state", "warm_start", "verbose", "callback")

    def _store_init_args(self, args):
        """``__init__``'s body: store every argument as an attribute of the same name, unchanged."""
        for name, value in args.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # -- hooks ------------------------------------------------------------------------

    _penalty = staticmethod(linear_penalty)

    def _objective(self, n_outputs):
        raise NotImplementedError

    def _n_outputs(self):
        return 1

    def _encode_targets(self, y, first, dtype, classes=None, sample_weight=None):
        return np.ascontiguousarray(y, dtype=dtype)

    def _init_params(self, n_features, n_outputs, dtype, rng):
        return np.zeros(self._n_params(n_features, n_outputs), dtype=dtype)

    def _n_params(self, n_features, n_outputs):
        """The size of the parameter vector ``_init_params`` makes."""
        return n_outputs * (n_features + int(self._fits_intercept()))

    def _shapes(self, n_features, n_outputs):
        """The layout of that vector for the optimizer (``shapes=``, see
        :mod:`fastgd.kernels.layout`); None: one segment. A linear model is one
        layer, its coefficients and intercepts together: as separate tensors,
        Adafactor's step relative to each tensor's RMS would move an intercept
        that starts at 0 by eps2 * rho = 1e-5 a step (``LogisticRegression(
        optimizer="adafactor", lr="auto")`` on the breast-cancer data scored
        0.942 after 50 epochs against 0.96 as one segment)."""
        return None

    def _layout_changes(self):
        """{argument: the value fit used} for the constructor arguments that fix the
        parameter vector's layout and were changed (set_params) since the fit."""
        return {}

    def _store_params(self, w):
        raise NotImplementedError

    def _fits_intercept(self):
        return bool(getattr(self, "fit_intercept", True))

    def _validation_score(self, X, y, sample_weight):
        return self.score(X, y, sample_weight=sample_weight)

    def _train_context(self):
        """The context ``fit`` trains in (an MLP: one BLAS thread, its numba threads)."""
        return contextlib.nullcontext()

    def _optimizer_class(self, params):
        """The optimizer class of a fit with the checked ``params``."""
        return OPTIMIZERS[params["optimizer"]]

    def _fitted_optimizer_name(self):
        """The ``optimizer`` argument the fitted optimizer was made for."""
        return type(self._optimizer).__name__.lower()

    def _before_epoch(self, n_rows, batch_size):
        """Called before each epoch over ``n_rows`` rows (the model's own optimizer settings)."""

    def _after_epoch(self, n_rows):
        """Called after each completed epoch over ``n_rows`` rows."""

    def _check_extra_params(self):
        """Validate the subclass's own constructor arguments (raise ValueError/TypeError)."""

    # -- validation ---------------------------------------------------------------------

    def _checked_params(self):
        """Every common argument, checked; returns normalised values. Changes nothing."""
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, "
                             f"got {self.optimizer!r}")
        opt_params = {} if self.optimizer_params is None else self.optimizer_params
        if not isinstance(opt_params, dict):
            raise TypeError(f"optimizer_params must be a dict or None, got {opt_params!r}")
        if "lr" in opt_params:
            raise ValueError("optimizer_params must not contain 'lr': pass the rate as lr=")
        if isinstance(self.lr, str):
            if self.lr != "auto":
                raise ValueError(f"lr must be a positive number, a Schedule or 'auto', "
                                 f"got {self.lr!r}")
            lr = "auto"
        else:
            lr = as_schedule(self.lr, "lr")
        batch = None if self.batch_size is None else check_int("batch_size", self.batch_size, low=1)
        shuffle = self.shuffle
        if isinstance(shuffle, (bool, np.bool_)):
            shuffle = "auto" if shuffle else "none"
        elif shuffle not in ("none", "full", "blocks"):
            raise ValueError(f"shuffle must be True, False, 'none', 'full' or 'blocks', "
                             f"got {shuffle!r}")
        tol = None if self.tol is None else check_real("tol", self.tol, low=0.0)
        verbose = self.verbose
        if isinstance(verbose, bool) or not isinstance(verbose, numbers.Integral) or verbose < 0:
            raise ValueError(f"verbose must be an integer >= 0, got {verbose!r}")
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable or None, got {self.callback!r}")
        p = dict(
            optimizer=self.optimizer.lower(), optimizer_params=dict(opt_params), lr=lr,
            batch_size=batch, max_epochs=check_int("max_epochs", self.max_epochs, low=1),
            alpha=check_real("alpha", self.alpha, low=0.0),
            l1_ratio=check_real("l1_ratio", self.l1_ratio, low=0.0, high=1.0),
            tol=tol, n_iter_no_change=check_int("n_iter_no_change", self.n_iter_no_change, low=1),
            early_stopping=check_bool("early_stopping", self.early_stopping),
            validation_fraction=check_real("validation_fraction", self.validation_fraction,
                                           low=0.0, high=1.0, low_open=True, high_open=True),
            shuffle=shuffle, random_state=check_random_state(self.random_state),
            warm_start=check_bool("warm_start", self.warm_start), verbose=int(verbose))
        self._check_extra_params()
        return p

    def _validate_X(self, X, reset, finite=True):
        """X as an array of float32/float64, without copying float data or memmaps.

        ``finite=False`` skips the scan for NaN and inf: for training models
        whose epoch finds them itself (``_finite_in_pass``).
        """
        if is_sparse(X):
            return self._validate_sparse(X, reset)
        if is_memmap(X):
            if X.dtype not in (np.float32, np.float64):
                raise TypeError(f"a memmap X must be float32 or float64 (converting it would load "
                                f"it into memory), got {X.dtype}")
            if X.ndim != 2:
                raise ValueError(f"Expected 2D array, got a memmap of shape {X.shape}")
            if X.shape[0] < 1 or X.shape[1] < 1:
                raise ValueError(f"Found array with shape {X.shape}: at least 1 sample and "
                                 f"1 feature are required")
            if finite and not all_finite_rows(X):
                raise ValueError("Input X contains NaN or infinity.")
            return self._check_n_features(X, reset)
        return validate_data(self, X, reset=reset, dtype=FLOATS, order=None, copy=False,
                             accept_sparse=False, ensure_all_finite=finite)

    def _validate_sparse(self, X, reset):
        """A scipy.sparse X, validated by :func:`fastgd.sparse.as_csr`, as a CSR scipy object.

        A CSR matrix or array with float32/float64 data and int32/int64
        indices comes back as it is (no copy); other formats are converted
        once. Only models whose objective takes a CSR accept one.
        """
        if not self._accepts_sparse:
            raise TypeError(f"{type(self).__name__} takes a dense X only; got a sparse "
                            f"{type(X).__name__}: pass X.toarray() if it fits in memory")
        C = as_csr(X)
        if not (X.format == "csr" and C.data is X.data and C.indices is X.indices
                and C.indptr is X.indptr):
            import scipy.sparse as sp
            X = sp.csr_matrix((C.data, C.indices, C.indptr), shape=X.shape, copy=False)
        return self._check_n_features(X, reset)

    def _check_n_features(self, X, reset):
        """Record n_features_in_ (reset) or check X against it, for X scikit-learn does not
        validate (memmaps, sparse); returns X."""
        if reset:
            self.__dict__.pop("feature_names_in_", None)
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return X

    #: True for models whose objective has a CSR kernel (the linear models)
    _accepts_sparse = False

    def _validate_Xy(self, X, y, sample_weight, reset):
        if y is None:
            raise ValueError(f"This {type(self).__name__} estimator requires y to be passed, "
                             f"but the target y is None.")
        finite = not self._finite_in_pass
        if is_memmap(X) or is_sparse(X):
            X = self._validate_X(X, reset, finite)
            y = np.asarray(y)
            if not (self._multi_output and y.ndim == 2):
                y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
        else:
            X, y = validate_data(self, X, y, reset=reset, dtype=FLOATS, order=None, copy=False,
                                 accept_sparse=False, y_numeric=not self._is_classifier(),
                                 multi_output=self._multi_output, ensure_all_finite=finite)
        if self._multi_output and y.ndim == 2 and y.shape[1] < 1:
            raise ValueError(f"y of shape {y.shape} has no target column: pass y of shape "
                             f"(n_samples,) or (n_samples, n_targets) with n_targets >= 1")
        if not self._is_classifier():
            y = np.asarray(y, dtype=X.dtype)
            if not np.isfinite(y).all():
                raise ValueError("Input y contains NaN or infinity.")
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
            sw = _unit_mean(sw)
        return X, y, sw

    def _is_classifier(self):
        return is_classifier(self)

    #: True when y may be 2-D (n_samples, n_targets): one output per column (the
    #: regressors; their ``_encode_targets`` checks the shape and records ``n_targets_``)
    _multi_output = False

    #: True when the model's epoch finds NaN and inf in X itself (the linear losses: a
    #: non-finite logit makes the epoch's loss NaN), so fit need not scan X first
    _finite_in_pass = False

    # -- fitting --------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit on (X, y) for up to ``max_epochs`` epochs; returns self."""
        return self._fit(X, y, sample_weight, incremental=False, classes=None)

    def _partial_fit(self, X, y, sample_weight=None, classes=None):
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_optimizer")

    def _fit(self, X, y, sample_weight, incremental, classes, run=True):
        """``fit``/``partial_fit``; ``run=False``: validate and start the fit as ``fit`` does,
        and return its :class:`EpochPlan` instead of running it (:func:`fastgd.fit_many`)."""
        params = self._checked_params()
        first = not (incremental and hasattr(self, "_optimizer"))
        if not first:
            self._check_resumable(params)
        # scikit-learn's validation records n_features_in_ (and classes_ is
        # set by the encoding): put them back if any later check fails
        saved = {k: self.__dict__[k] for k in _SET_BY_VALIDATION if k in self.__dict__}
        try:
            X, y, sw = self._validate_Xy(X, y, sample_weight, reset=first)
            if not first and X.dtype != self._optimizer.params.dtype:
                X = X.astype(self._optimizer.params.dtype)  # a later batch in another dtype
                if sw is not None:
                    sw = sw.astype(X.dtype)
            y_enc = self._encode_targets(y, first, X.dtype, classes=classes, sample_weight=sw)
            n_outputs = self._n_outputs()
            rng = params["random_state"]
            if first:
                start = self._auto_start(params, X, y_enc, sw, n_outputs, rng)
                optimizer, trainer_rng = self._new_optimizer(params, X, n_outputs, rng, start)
        except BaseException:
            for k in _SET_BY_VALIDATION:
                self.__dict__.pop(k, None)
            self.__dict__.update(saved)
            raise
        if first:
            state = dict(_optimizer=optimizer, _rng=trainer_rng, n_iter_=0, t_=0,
                         loss_curve_=[], _params=params,
                         x_mean_=None if start is None else start.mean,
                         x_scale_=None if start is None else start.scale)
        else:
            state = dict(_params=params)
        # -- from here on the estimator changes --
        before = dict(self.__dict__)
        self.__dict__.update(state)
        if first:
            self.validation_scores_ = [] if params["early_stopping"] and not incremental else None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf
        self._store_params(self._data_params())
        sw_arr = np.empty(0, dtype=X.dtype) if sw is None else sw
        if not run:
            return self._epoch_plan(X, y, y_enc, sw, sw_arr, params, incremental)
        try:
            self._run_epochs(X, y, y_enc, sw, sw_arr, params, incremental)
        except DivergenceError:
            # NaN or inf in X shows as a non-finite loss in the first epoch (see
            # _finite_in_pass): then it is bad input, and the estimator is put back
            if self._finite_in_pass and not is_sparse(X) and not all_finite_rows(X):
                self.__dict__.clear()
                self.__dict__.update(before)
                raise ValueError("Input X contains NaN or infinity.") from None
            raise
        return self

    def _check_resumable(self, params):
        """Before ``partial_fit`` continues a fit: arguments changed since (``set_params``).

        An argument that fixes the layout of the parameter vector (fit_intercept,
        hidden_layer_sizes, activation) or the update rule (optimizer) raises
        ValueError naming it: the fitted parameters cannot continue under it,
        ``fit`` starts afresh. A new ``lr`` or ``optimizer_params`` is given to
        the optimizer, which keeps its state and step count (a schedule then
        continues from the current step). Every other argument (alpha,
        batch_size, tol, loss, shuffle, ...) is read afresh by each call.
        """
        changed = self._coordinate_changes()
        rule = self._fitted_optimizer_name()
        if params["optimizer"] != rule:
            changed["optimizer"] = rule
        if changed:
            now = ", ".join(f"{k}={getattr(self, k)!r} (fit used {v!r})" for k, v in changed.items())
            raise ValueError(f"{type(self).__name__}: {now} changed since fit and changes the "
                             f"fitted parameters' layout or update rule: call fit() to start "
                             f"afresh (partial_fit continues the fitted model), or set "
                             f"{'it' if len(changed) == 1 else 'them'} back")
        opt = self._optimizer
        # the constructor validates the new settings (and fills in defaults) on a 1-element probe
        lr = opt.lr if params["lr"] == "auto" else params["lr"]   # "auto" keeps the fit's rate
        probe = type(opt)(opt.params[:1].copy(), lr=lr, **params["optimizer_params"])
        wanted = probe.state_dict()["hyperparams"]
        new_lr = _schedule_args(wanted["lr"]) != _schedule_args(opt.lr)
        if not new_lr and probe.skip_nonfinite == opt.skip_nonfinite \
                and all(wanted[k] == getattr(opt, k) for k in wanted if k != "lr"):
            return
        state = opt.state_dict()
        state["hyperparams"] = dict(wanted, lr=wanted["lr"] if new_lr else opt.lr)
        state["skip_nonfinite"] = probe.skip_nonfinite
        opt.load_state_dict(state)

    def _new_optimizer(self, params, X, n_outputs, rng, start=None):
        d = X.shape[1]
        w = None
        if params["warm_start"] and hasattr(self, "_optimizer"):
            old = self._data_params()
            if old.size == self._n_params(d, n_outputs):
                w = old.astype(X.dtype, copy=True)
                if start is not None:    # into the new fit's standardized coordinates
                    w = from_data_units(w, start.layout, start.mean, start.scale)
        if w is None:
            w = self._init_params(d, n_outputs, X.dtype, rng)
            if start is not None and start.intercept is not None:
                w[-n_outputs:] = start.intercept
        # a ReduceLROnPlateau is the fit's own
        lr = start.lr if start is not None else copy.deepcopy(params["lr"])
        optimizer = self._optimizer_class(params)(w, lr=lr, **params["optimizer_params"],
                                                  shapes=self._shapes(d, n_outputs))
        return optimizer, np.random.default_rng(rng.randint(2**32, dtype=np.uint64))

    def _shuffle_mode(self, params, X):
        mode = params["shuffle"]
        if mode == "auto" and is_sparse(X):
            return "blocks" if is_mapped(X) else "full"
        if mode == "auto":
            return "blocks" if is_memmap(X) else "full"
        return mode

    def _hyper(self, params, n_outputs):
        rows, tail = self._objective(n_outputs)
        a, r = params["alpha"], params["l1_ratio"]
        n_intercepts = n_outputs if self._fits_intercept() else 0
        return rows, np.array([a * (1.0 - r), a * r, n_intercepts, *tail], dtype=np.float64)

    def _training_objective(self, params, n_outputs):
        """(rows, hyper, penalty) the epochs minimise over the optimizer's parameters:
        the model's own, or its standardized form after ``lr="auto"``."""
        rows, hyper = self._hyper(params, n_outputs)
        if auto.is_identity(self.x_mean_, self.x_scale_):
            return rows, hyper, self._penalty
        layout = self._auto_layout(self.n_features_in_, n_outputs)
        rows, penalty = standardized(rows, self._penalty)
        return rows, standardized_hyper(hyper, layout, self.x_mean_, self.x_scale_), penalty

    # -- lr="auto" ------------------------------------------------------------------------

    def _auto_loss(self, n_outputs):
        """The name (a key of :data:`fastgd.models.auto.CURVATURE`) of the loss in the output."""
        raise NotImplementedError

    #: True when the objective is the loss of one affine map of X (a curvature bound exists)
    _auto_linear = True

    def _auto_layout(self, n_features, n_outputs):
        """Where the first affine map of X sits in the parameter vector (an AffineLayout)."""
        return auto.AffineLayout.linear(n_features, n_outputs, self._fits_intercept())

    def _auto_start(self, params, X, y_enc, sw, n_outputs, rng):
        """What ``lr="auto"`` starts a fit from (an :class:`_AutoStart`), or None."""
        if params["lr"] != "auto":
            return None
        return self._auto_start_from(auto.InMemory(X, y_enc, sw), params, n_outputs, rng)

    def _auto_start_from(self, data, params, n_outputs, rng):
        """:meth:`_auto_start` from ``data``, the questions lr="auto" asks of the training
        data (:class:`fastgd.models.auto.InMemory`, or the chunks of a Dask array)."""
        fits_b = self._fits_intercept()
        mu, s = data.statistics(fits_b)
        loss = self._auto_loss(n_outputs)
        rule = OPTIMIZERS[params["optimizer"]].rule
        spec = rule.auto_lr
        if spec is None:           # a rule that finds its own scale: its default rate
            lr = rule.lr
        elif spec == "curvature":
            momentum = float(params["optimizer_params"].get(
                "momentum", rule.defaults().get("momentum", 0.0)))
            lr = None
            if self._auto_linear:
                sample_rng = np.random.default_rng(rng.randint(2**32, dtype=np.uint64))
                l2 = params["alpha"] * (1.0 - params["l1_ratio"])
                lr = data.curvature_rate(mu, s, loss, fits_b, params["batch_size"], l2,
                                         momentum, sample_rng)
            if lr is None:
                lr = auto.MLP_SGD_STEP * (1.0 - momentum)
        else:
            lr = float(spec) * data.target_scale(loss in auto.REGRESSION)
        intercept = data.best_constant(loss, n_outputs) if fits_b else None
        layout = self._auto_layout(data.n_features, n_outputs)
        return _AutoStart(mu, s, lr, intercept, layout)

    def _model_vector(self):
        """The vector the model predicts with, in the coordinates it trains in: the
        optimizer's evaluation point (``eval_params``: its parameters, or schedule-free's
        average x), or a linear model's averaged iterate with ``average``."""
        return self._optimizer.eval_params()

    def _data_params(self):
        """The model's vector (``_model_vector``) in the data's units (a copy after
        ``lr="auto"``): what ``coef_``, ``predict`` and model files use."""
        w = self._model_vector()
        if auto.is_identity(getattr(self, "x_mean_", None), getattr(self, "x_scale_", None)):
            return w
        layout = self._auto_layout(self.n_features_in_, self._n_outputs())
        out = np.empty_like(w)
        to_data_units(w, standardized_hyper(np.zeros(0), layout, self.x_mean_, self.x_scale_),
                      out)
        return out

    def _coordinate_changes(self):
        """``_layout_changes``, and ``lr`` when it switched to or from "auto" since the fit
        (the fitted parameters are in the other coordinates)."""
        changed = self._layout_changes()
        fitted_auto = getattr(self, "x_scale_", None) is not None
        if (isinstance(self.lr, str) and self.lr == "auto") != fitted_auto:
            changed["lr"] = "auto" if fitted_auto else self._optimizer.lr
        return changed

    def _split(self, X, y_enc, params):
        n = X.shape[0]
        n_val = int(np.ceil(params["validation_fraction"] * n))
        if n_val < 1 or n - n_val < 1:
            raise ValueError(f"validation_fraction={params['validation_fraction']} leaves an empty "
                             f"training or validation set with {n} samples")
        from sklearn.model_selection import train_test_split
        stratify = None
        if self._is_classifier():
            _, counts = np.unique(y_enc, return_counts=True)
            if counts.min() >= 2 and min(n_val, n - n_val) >= counts.size:
                stratify = y_enc
        train, val = train_test_split(np.arange(n), test_size=n_val, stratify=stratify,
                                      random_state=params["random_state"])
        return np.sort(train).astype(np.int64), np.sort(val).astype(np.int64)

    def _run_epochs(self, X, y, y_enc, sw, sw_arr, params, incremental):
        plan = self._epoch_plan(X, y, y_enc, sw, sw_arr, params, incremental)
        self.stop_reason_ = plan.loop.run(plan.run_one, **plan.hooks)

    def _epoch_plan(self, X, y, y_enc, sw, sw_arr, params, incremental):
        """The fit's trainer, its loop and the loop's hooks: an :class:`EpochPlan`."""
        n_outputs = self._n_outputs()
        rows, hyper, penalty = self._training_objective(params, n_outputs)
        shuffle = self._shuffle_mode(params, X)
        trainer = Trainer(rows, hyper, self._optimizer, params["batch_size"], shuffle, self._rng,
                          penalty=penalty,
                          sparse_updates=getattr(self, "sparse_updates", "auto"))
        if params["verbose"]:
            trainer.on_compile = lambda message: print(message, flush=True)
        early = params["early_stopping"] and not incremental
        train_rows = validate = None
        if early:
            train_rows, val = self._split(X, y_enc, params)
            # GridSearchCV prepares a fold's fit on a stand-in of X[train] (search._fold_plan)
            source, fold = getattr(self, "_fold_source", (X, None))
            X_val = X[val] if is_sparse(X) else \
                np.take(source, val if fold is None else fold[val], axis=0)
            if is_sparse(X):
                CSRPages(X).release()   # the pages of a mapped CSR the copy read
            y_val = y[val]
            if not is_sparse(X) and not np.isfinite(X_val).all():  # rows the epochs never see
                raise DivergenceError("the validation rows of X hold NaN or inf")
            sw_val = None if sw is None else sw[val]

            def validate():
                score = float(self._validation_score(X_val, y_val, sw_val))
                self.validation_scores_.append(score)
                self.best_validation_score_ = max(score, self.best_validation_score_ or -np.inf)
                return score

        X_train = CSR(X.data, X.indices, X.indptr, X.shape[1]) if is_sparse(X) else X
        n_rows = X.shape[0] if train_rows is None else train_rows.size

        def run_one():
            self._before_epoch(n_rows, params["batch_size"])
            result = trainer.run_epoch(X_train, y_enc, sw_arr, train_rows)
            self._after_epoch(n_rows)
            return Outcome(result.loss, result.seconds, result.n_steps, result.samples_per_second)

        def record(outcome):
            self.n_iter_ += 1
            self.t_ = self._optimizer.step_count
            self.loss_curve_.append(outcome.loss)
            self.best_loss_ = min(self.best_loss_, outcome.loss)
            self._store_params(self._data_params())

        def restore(snap):
            trainer.restore(snap)
            self._store_params(self._data_params())

        loop = EpochLoop(type(self).__name__, 1 if incremental else params["max_epochs"],
                         None if incremental else params["tol"], params["n_iter_no_change"],
                         self._optimizer.lr, self.lr, params["verbose"], self.callback,
                         stacklevel=5)
        hooks = dict(record=record, start=self.n_iter_ + 1, validate=validate,
                     snapshot=trainer.snapshot, restore=restore,
                     info=lambda number, o, score: EpochInfo(number, o.loss, score, o.seconds,
                                                             o.samples_per_second, self))
        return EpochPlan(trainer, loop, run_one, hooks, (X_train, y_enc, sw_arr, train_rows))

    # -- prediction helpers -------------------------------------------------------------------

    def _linear_output(self, X):
        """X @ coef_.T + intercept_, in blocks for memmaps; validated X."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False) if not is_memmap(X) else self._check_memmap_predict(X)
        coef = self.coef_.astype(X.dtype, copy=False).reshape(-1, X.shape[1])
        b = self.intercept_.astype(X.dtype, copy=False)
        if is_sparse(X) and is_mapped(X):
            # validated in blocks already; product in blocks of rows, pages released
            out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
            pages = CSRPages(X)
            for lo, hi in row_blocks(X, BLOCK_BYTES):
                out[lo:hi] = copy_rows(X, lo, hi, X.shape[1]) @ coef.T + b
                pages.release()
            return out
        if not is_memmap(X):
            return X @ coef.T + b
        out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
        for a, e, block in iter_row_blocks(X):
            out[a:e] = np.asarray(block) @ coef.T + b
        if not np.isfinite(out).all():
            raise ValueError("Input X contains NaN or infinity.")
        return out

    def _check_memmap_predict(self, X):
        if X.dtype not in (np.float32, np.float64) or X.ndim != 2:
            raise ValueError(f"a memmap X must be a 2-D float32/float64 array, got {X.dtype} "
                             f"with shape {X.shape}")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return X

    @property
    def optimizer_(self):
        """The fitted :class:`fastgd.optim.Optimizer` (its ``state_dict()`` resumes a fit)."""
        check_is_fitted(self)
        return self._optimizer


__all__ = ["GDEstimator", "EpochInfo", "is_memmap", "iter_row_blocks", "DEFAULT_BLOCK_BYTES",
           "Schedule", "DivergenceError"]
