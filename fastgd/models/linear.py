"""Linear models trained by gradient descent: regression, Poisson regression, logistic
regression, linear SVM."""

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_consistent_length, column_or_1d

from .._validation import check_bool, check_real
from .averaging import averaged_optimizer_class, check_average, start_step
from ..losses import LOSSES, poisson_deviance
from ..engine.sparse import SPARSE_UPDATES
from ..optim import OPTIMIZERS
from .base import GDEstimator
from .class_weight import ClassWeightMixin, check_class_weight
from .labels import distinct_labels, encode_labels, label_codes
from .targets import MultiOutputMixin


def _linear_objective(name, extra=0.0):
    """(rows, hyper tail) of loss ``name`` of :data:`fastgd.losses.LOSSES`."""
    loss = LOSSES[name]
    return loss.rows, (extra, float(loss.kind))


def _check_loss(loss, allowed):
    if not isinstance(loss, str) or loss not in allowed:
        raise ValueError(f"loss must be one of {list(allowed)}, got {loss!r}")


class LinearModel(GDEstimator):
    """A GDEstimator whose parameter vector is coef_ (k x d) then intercept_ (k)."""

    _finite_in_pass = True  # a NaN or inf in X makes a logit, and so the epoch's loss, NaN
    _accepts_sparse = True

    def _model_vector(self):
        opt = self._optimizer
        if _averaging(opt) and opt.state["n_averaged"] > 0:
            return opt.state["average"]     # predict and coef_ use the averaged iterate
        return super()._model_vector()

    def _store_params(self, w):
        k = self._n_outputs()
        d = self.n_features_in_
        coef = w[:k * d].reshape(k, d).copy()
        intercept = w[k * d:].copy() if self.fit_intercept else np.zeros(k, dtype=w.dtype)
        if k == 1 and not self._is_classifier() and getattr(self, "n_targets_", None) is None:
            self.coef_, self.intercept_ = coef[0], intercept
        else:
            self.coef_, self.intercept_ = coef, intercept

    def _check_extra_params(self):
        check_bool("fit_intercept", self.fit_intercept)
        if self.sparse_updates not in SPARSE_UPDATES:
            raise ValueError(f"sparse_updates must be one of {list(SPARSE_UPDATES)}, got "
                             f"{self.sparse_updates!r}")
        if check_average(self.average) and isinstance(self.optimizer, str):
            rule = OPTIMIZERS.get(self.optimizer.lower())
            if rule is not None and rule.rule.eval_point is not None:
                raise ValueError(f"average={self.average!r} with optimizer={self.optimizer!r}: a "
                                 f"schedule-free rule averages its iterates itself (it predicts "
                                 f"at its average x); set average=False")

    def _layout_changes(self):
        k, d = self._n_outputs(), self.n_features_in_
        fitted = self._optimizer.params.size == k * (d + 1)
        changed = {} if fitted == bool(self.fit_intercept) else {"fit_intercept": fitted}
        if _averaging(self._optimizer) != (check_average(self.average) > 0):
            changed["average"] = "on" if _averaging(self._optimizer) else "off"
        return changed

    # -- averaging (see fastgd.models.averaging) --

    def _optimizer_class(self, params):
        if check_average(self.average) > 0:
            return averaged_optimizer_class(params["optimizer"])
        return super()._optimizer_class(params)

    def _fitted_optimizer_name(self):
        return self._optimizer.rule.name.removesuffix("_averaged")

    def _before_epoch(self, n_rows, batch_size):
        opt = self._optimizer
        if not _averaging(opt):
            return
        if opt.state["n_averaged"] > 0:
            opt.average_start = 1.0      # averaging goes on once started
        else:
            opt.average_start = start_step(check_average(self.average),
                                           opt.state["samples_seen"], opt.step_count, n_rows,
                                           batch_size)

    def _after_epoch(self, n_rows):
        if _averaging(self._optimizer):
            self._optimizer.state["samples_seen"] += n_rows

    def _auto_loss(self, n_outputs):
        return self.loss

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _raveled_output(self, X):
        out = self._linear_output(X)
        return out.ravel() if out.shape[1] == 1 else out


def _averaging(optimizer):
    return optimizer.rule.name.endswith("_averaged")


_SPARSE_DOC = """sparse_updates : {"auto", "dense", "lazy"}, default "auto"
        How a mini-batch step is applied when X is ``scipy.sparse`` (dense X
        ignores it; see :mod:`fastgd.engine.sparse`). "dense": the rule over
        every coefficient, exact for every optimizer but O(n_features) a
        step. "auto": plain SGD (``optimizer="sgd"`` without momentum, L2 and
        ``weight_decay`` only, no clipping) takes the scaling trick, which
        touches only the batch's columns and is exact; everything else is
        "dense". "lazy": the scaling trick where it is exact (plain SGD
        with L1 on a one-output model: plus scikit-learn's cumulative L1
        penalty, not exact), else the rule on the batch's columns and the
        intercepts only, with their state (torch ``SparseAdam`` semantics:
        not the dense rule; L1 then shrinks only touched coefficients).
        Prodigy, LAMB and Adafactor (sums over the whole vector) always run
        "dense".
    """

_COMMON_DOC = (GDEstimator.__doc__.split("Common parameters")[1].split("Interrupts:")[0]
               .split("-\n", 1)[1]) + "    " + _SPARSE_DOC


REGRESSION_LOSSES = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")


class LinearRegression(MultiOutputMixin, RegressorMixin, LinearModel):
    """Linear regression by gradient descent: least squares, Huber or epsilon-insensitive.

    Minimises, over w = (coef_, intercept_),

        (1/n) sum_i s_i l(x_i . coef_ + intercept_ - y_i) + alpha ((1 - l1_ratio)/2 ||coef_||^2
                                                              + l1_ratio ||coef_||_1)

    with l(r) = r^2 / 2 (``loss="squared_error"``), the Huber loss with
    threshold ``epsilon`` (``"huber"``, robust to outliers), max(0, |r| -
    epsilon) (``"epsilon_insensitive"``, linear support vector regression) or
    its square (``"squared_epsilon_insensitive"``): the losses of
    scikit-learn's ``SGDRegressor`` (see :mod:`fastgd.losses`). With
    ``alpha=0`` the squared loss has the least-squares solution as optimum.

    Multi-output: y of shape (n, k) fits the k targets together, in the same
    epochs over X (the squared loss, summed over the targets: each target's
    coefficients get the gradient of its own loss), with ``coef_`` of shape
    (k, d), ``intercept_`` (k,) and ``predict`` (n, k), as scikit-learn's
    ``LinearRegression`` (so y of shape (n, 1) gives (1, d) and (n, 1));
    ``score`` is R^2 averaged over the targets. ``loss="squared_error"``
    only. The fitted ``n_targets_`` is k, or None for a 1-D y.

    Parameters
    ----------
    loss : {"squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"}, \
default "squared_error"
    epsilon : float or None, default None
        Huber's threshold, or the width of the epsilon-insensitive band (in
        units of y), as scikit-learn's one ``epsilon`` for both. None: 1.35
        for Huber (scikit-learn's ``HuberRegressor`` default; ``SGDRegressor``
        uses 0.1 for all three, pass ``epsilon=0.1`` to match it) and 0.1 for
        the epsilon-insensitive losses (``SGDRegressor``'s).
    fit_intercept : bool, default True
    {average}
    {common}
    {regressor_attributes:R^2}

    Example
    -------
    >>> import numpy as np, fastgd
    >>> X = np.random.default_rng(0).standard_normal((200, 3)).astype(np.float32)
    >>> y = X @ np.array([1.0, -2.0, 0.5], dtype=np.float32) + 3
    >>> model = fastgd.LinearRegression(lr=0.05, alpha=0.0, random_state=0).fit(X, y)
    >>> np.round(model.coef_, 2), model.coef_.dtype
    (array([ 1. , -2. ,  0.5], dtype=float32), dtype('float32'))
    """

    def __init__(self, loss="squared_error", epsilon=None, fit_intercept=True, optimizer="adam",
                 optimizer_params=None, lr=0.01, batch_size=32, max_epochs=200, alpha=1e-4,
                 l1_ratio=0.0, tol=1e-4, n_iter_no_change=5, early_stopping=False,
                 validation_fraction=0.1, shuffle=True, random_state=None, warm_start=False,
                 average=False, verbose=0, callback=None, sparse_updates="auto"):
        self._store_init_args(locals())

    def _check_extra_params(self):
        super()._check_extra_params()
        _check_loss(self.loss, REGRESSION_LOSSES)
        self._epsilon()

    def _epsilon(self):
        """The loss's hyperparameter: ``epsilon``, checked, or the loss's default for None."""
        loss = LOSSES[self.loss]
        if self.epsilon is None:
            return loss.default
        # Huber's threshold must be positive; a band of width 0 is the absolute error
        return check_real("epsilon", self.epsilon, low=0.0, low_open=self.loss == "huber")

    def _objective(self, n_outputs):
        if getattr(self, "n_targets_", None) is not None:   # (DataParallel sets none)
            return _linear_objective("multi_squared_error", float(n_outputs))
        return _linear_objective(self.loss, self._epsilon() if LOSSES[self.loss].param else 0.0)

    def _encode_targets(self, y, first, dtype, classes=None, sample_weight=None):
        if y.ndim == 2 and self.loss != "squared_error":
            raise ValueError(f"y of shape {y.shape} (several targets) needs "
                             f"loss='squared_error', got loss={self.loss!r}")
        return np.ascontiguousarray(self._record_targets(y, first), dtype=dtype)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the optimizer, step count and schedule."""
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        """Predicted values X @ coef_.T + intercept_: (n,) for a 1-D y, (n, k) for k targets."""
        return self._shaped_output(self._linear_output(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class _LinearClassifier(ClassifierMixin, ClassWeightMixin, LinearModel):
    """Shared by the classifiers: label encoding, classes_, class_weight, predict."""

    def __init__(self, fit_intercept=True, class_weight=None, optimizer="adam",
                 optimizer_params=None, lr=0.01, batch_size=32, max_epochs=200, alpha=1e-4,
                 l1_ratio=0.0, tol=1e-4, n_iter_no_change=5, early_stopping=False,
                 validation_fraction=0.1, shuffle=True, random_state=None, warm_start=False,
                 average=False, verbose=0, callback=None, sparse_updates="auto"):
        self._store_init_args(locals())

    def _check_extra_params(self):
        super()._check_extra_params()
        check_class_weight(self.class_weight)

    def _encode_targets(self, y, first, dtype, classes=None, sample_weight=None):
        # one compiled pass over numeric labels (numpy.unique sorts all of y: slow for
        # millions of rows); other labels take numpy.unique
        scan = distinct_labels(y)
        if scan is None or not scan[1]:
            check_classification_targets(y)   # raises for continuous targets
            present, codes = np.unique(y, return_inverse=True)
        else:
            present, codes = scan[0], None
        if first:
            labels = present if classes is None else np.unique(np.asarray(classes))
            if classes is not None and not np.isin(present, labels).all():
                raise ValueError(f"y has classes not in classes={list(labels)}: "
                                 f"{sorted(set(present) - set(labels))}")
            if labels.size < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in "
                                 f"the data, but the data contains only one class: {labels[0]!r}")
            self._check_n_classes(labels)
            candidate = labels
        else:
            candidate = self.classes_
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes={list(np.unique(classes))} differs from the classes "
                                 f"of the first call, {list(self.classes_)}")
            unseen = present[~np.isin(present, candidate)]
            if unseen.size:
                raise ValueError(f"y contains classes not seen in the first call to partial_fit: "
                                 f"{list(unseen)} (classes_ is {list(candidate)})")
        if sample_weight is not None:
            if codes is None:
                codes = label_codes(y, present)
            weights = np.bincount(codes.ravel(), weights=sample_weight, minlength=present.size)
            if np.count_nonzero(weights > 0) < 2:
                raise ValueError("sample_weight leaves samples of only one class with a positive "
                                 "weight: at least 2 classes are needed")
        # each distinct value's target, then one pass over y (or y itself: see encode_labels)
        targets = self._targets_from_index(np.searchsorted(candidate, present)).astype(dtype)
        if first:
            self.classes_ = candidate
        if codes is None:
            return encode_labels(y, present, targets, dtype)
        return targets[codes.ravel()]

    def _check_n_classes(self, labels):
        pass

    def _n_outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def decision_function(self, X):
        """Confidence scores X @ coef_.T + intercept_: (n,) for two classes, else (n, K)."""
        return self._raveled_output(X)

    def predict(self, X):
        """The class with the largest decision value."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]


class LogisticRegression(_LinearClassifier):
    """Logistic regression by gradient descent: binary (sigmoid) or multinomial (softmax).

    Two classes: minimises the binary cross-entropy
    (1/n) sum_i s_i [log(1 + exp(z_i)) - y_i z_i] with z_i = x_i . coef_ + intercept_
    (y_i in {0, 1} for classes_[0], classes_[1]); K > 2 classes: the softmax
    cross-entropy (1/n) sum_i s_i [logsumexp_k z_ik - z_i,y_i], plus
    alpha ((1 - l1_ratio)/2 ||coef_||^2 + l1_ratio ||coef_||_1). Both are
    computed stably for any logit (see :mod:`fastgd.losses`). With
    ``alpha = 1 / (n C)`` the optimum is that of scikit-learn's
    ``LogisticRegression(C=C)``.

    Parameters
    ----------
    fit_intercept : bool, default True
    {average}
    {class_weight}
    {common}
    Attributes
    ----------
    classes_ : the labels; coef_ : (1, d) for two classes, (K, d) for K > 2; intercept_
    n_iter_, t_, loss_curve_, validation_scores_ (accuracy), n_features_in_, optimizer_

    Example
    -------
    >>> import numpy as np, fastgd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 2)); y = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    >>> clf = fastgd.LogisticRegression(max_epochs=20, tol=None, random_state=0).fit(X, y)
    >>> clf.classes_.tolist(), clf.score(X, y) > 0.95
    (['no', 'yes'], True)
    """

    def _objective(self, n_outputs):
        return _linear_objective(self._auto_loss(n_outputs),
                                 0.0 if n_outputs == 1 else float(n_outputs))

    def _auto_loss(self, n_outputs):
        return "logistic" if n_outputs == 1 else "softmax"

    def _targets_from_index(self, idx):
        return idx

    def predict_proba(self, X):
        """Class probabilities, one column per entry of ``classes_``."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1 - p, p])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """log of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))


def _is_modified_huber(est):
    return est.loss == "modified_huber"


SVC_LOSSES = ("hinge", "squared_hinge", "modified_huber")


class LinearSVC(_LinearClassifier):
    """Binary linear support vector machine by gradient descent: hinge, squared hinge or
    modified Huber loss.

    Minimises (1/n) sum_i s_i l(y_i z_i) + alpha/2 ||coef_||^2 (plus an L1
    share with ``l1_ratio``), z_i = x_i . coef_ + intercept_, y_i = -1 for
    classes_[0] and +1 for classes_[1], with l(m) = max(0, 1 - m)
    (``loss="hinge"``: the soft-margin SVM primal with C = 1 / (n alpha)),
    max(0, 1 - m)^2 (``"squared_hinge"``, the L2-SVM) or the modified Huber
    loss, max(0, 1 - m)^2 for m >= -1 and -4 m below (``"modified_huber"``,
    which gives probability estimates): scikit-learn's ``SGDClassifier``
    losses (see :mod:`fastgd.losses`). scikit-learn's ``LinearSVC`` defaults
    to the squared hinge; ``SGDClassifier``, and this class, to the hinge.
    Two classes only (use one-vs-rest from scikit-learn for more).

    Parameters
    ----------
    loss : {"hinge", "squared_hinge", "modified_huber"}, default "hinge"
    fit_intercept : bool, default True
    {average}
    {class_weight}
    {common}
    """

    def __init__(self, loss="hinge", fit_intercept=True, class_weight=None, optimizer="adam",
                 optimizer_params=None, lr=0.01, batch_size=32, max_epochs=200, alpha=1e-4,
                 l1_ratio=0.0, tol=1e-4, n_iter_no_change=5, early_stopping=False,
                 validation_fraction=0.1, shuffle=True, random_state=None, warm_start=False,
                 average=False, verbose=0, callback=None, sparse_updates="auto"):
        self._store_init_args(locals())

    def _check_extra_params(self):
        super()._check_extra_params()
        _check_loss(self.loss, SVC_LOSSES)

    def _check_n_classes(self, labels):
        if labels.size != 2:
            raise ValueError(f"Only binary classification is supported. LinearSVC got "
                             f"{labels.size} classes: {list(labels)[:5]}")

    def _objective(self, n_outputs):
        return _linear_objective(self.loss)

    def _targets_from_index(self, idx):
        return 2 * idx - 1

    @available_if(_is_modified_huber)
    def predict_proba(self, X):
        """Class probabilities from the modified Huber loss (``loss="modified_huber"`` only).

        P(classes_[1] | x) = (clip(z, -1, 1) + 1) / 2 for the decision value
        z, as scikit-learn's ``SGDClassifier(loss="modified_huber")`` (Zhang
        2004): the loss's minimiser is 2 P - 1 clipped to [-1, 1].
        """
        p = (np.clip(self.decision_function(X), -1.0, 1.0) + 1.0) / 2.0
        return np.column_stack([1.0 - p, p])

    @available_if(_is_modified_huber)
    def predict_log_proba(self, X):
        """log of :meth:`predict_proba` (``loss="modified_huber"`` only; -inf where it is 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


class PoissonRegressor(RegressorMixin, LinearModel):
    """Poisson regression with the log link by gradient descent, for counts and rates y >= 0.

    Predicts mu = exp(x . coef_ + intercept_) and minimises

        (1/n) sum_i s_i [exp(z_i) - y_i z_i] + alpha ((1 - l1_ratio)/2 ||coef_||^2
                                                      + l1_ratio ||coef_||_1)

    the mean half Poisson deviance up to terms constant in z (see
    :mod:`fastgd.losses.poisson`). This is the objective of scikit-learn's
    ``PoissonRegressor(alpha=a)``, (1/2n) sum_i s_i d(y_i, mu_i) + a/2
    ||coef_||^2 with weights normalised to mean 1, with the same ``alpha``
    (and ``l1_ratio=0``); scikit-learn's default is ``alpha=1``. The
    intercept starts at log of the weighted mean of y, as scikit-learn's
    does. ``score`` is D^2, the fraction of Poisson deviance explained.

    Parameters
    ----------
    fit_intercept : bool, default True
    {average}
    {common}
    {regressor_attributes:D^2}

    Example
    -------
    >>> import numpy as np, fastgd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((2000, 3))
    >>> y = rng.poisson(np.exp(X @ [0.3, -0.2, 0.1] + 1.0))
    >>> model = fastgd.PoissonRegressor(alpha=0.0, random_state=0).fit(X, y)
    >>> np.round(model.coef_, 1), model.score(X, y) > 0.1
    (array([ 0.3, -0.2,  0.1]), True)
    """

    def __init__(self, fit_intercept=True, optimizer="adam", optimizer_params=None, lr=0.01,
                 batch_size=32, max_epochs=200, alpha=1e-4, l1_ratio=0.0, tol=1e-4,
                 n_iter_no_change=5, early_stopping=False, validation_fraction=0.1, shuffle=True,
                 random_state=None, warm_start=False, average=False, verbose=0,
                 callback=None, sparse_updates="auto"):
        self._store_init_args(locals())

    def _objective(self, n_outputs):
        return _linear_objective("poisson")

    def _auto_loss(self, n_outputs):
        return "poisson"

    def _encode_targets(self, y, first, dtype, classes=None, sample_weight=None):
        y = np.ascontiguousarray(y, dtype=dtype)
        _check_counts(y)
        if first:
            # the log of the (weighted) mean starts the intercept; _init_params takes it
            mean = float(np.average(y, weights=sample_weight))
            self._start_intercept = np.log(mean) if mean > 0 else 0.0
        return y

    def _init_params(self, n_features, n_outputs, dtype, rng):
        w = super()._init_params(n_features, n_outputs, dtype, rng)
        start = self.__dict__.pop("_start_intercept", 0.0)
        if self._fits_intercept():
            w[-1] = start
        return w

    def _store_params(self, w):
        self.__dict__.pop("_start_intercept", None)   # a warm start does not take it
        super()._store_params(w)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the optimizer, step count and schedule."""
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        """Predicted means exp(X @ coef_ + intercept_)."""
        with np.errstate(over="ignore"):
            return np.exp(self._raveled_output(X))

    def score(self, X, y, sample_weight=None):
        """D^2 = 1 - D(y, predict(X)) / D(y, mean of y): the fraction of Poisson deviance explained.

        D is :func:`fastgd.losses.poisson_deviance`, the mean weighted by
        ``sample_weight``, as scikit-learn's ``PoissonRegressor.score``. 1 is
        a perfect fit, 0 no better than the mean, and it can be negative.
        (For a constant y, whose null deviance is 0: 1 for a perfect
        prediction, else 0, as ``r2_score`` does.)
        """
        mu = self.predict(X)
        y = column_or_1d(np.asarray(y), warn=True).astype(np.float64)
        check_consistent_length(mu, y)
        _check_counts(y)
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, mu,
                                                                     dtype=np.float64)
        dev = poisson_deviance(y, mu, sw)
        null = poisson_deviance(y, np.full(y.shape, np.average(y, weights=sw)), sw)
        if null == 0.0:
            return 1.0 if dev == 0.0 else 0.0
        return 1.0 - dev / null

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.positive_only = True
        return tags


def _check_counts(y):
    if np.any(y < 0):
        raise ValueError(f"PoissonRegressor: y must be >= 0 (counts or rates), got a minimum of "
                         f"{float(np.min(y))!r}")


_CLASS_WEIGHT_DOC = """class_weight : dict {label: weight}, "balanced" or None, default None
        Each row weighs its ``sample_weight`` times its class's weight (labels
        left out weigh 1); "balanced" is n_samples / (n_classes *
        bincount(y)), from the y given to ``fit`` (not allowed in
        ``partial_fit``). Weights are rescaled to mean 1 with the sample
        weights: see :mod:`fastgd.models.class_weight`."""

_REGRESSOR_ATTRIBUTES_DOC = """Attributes
    ----------
    coef_ : (n_features,) array, intercept_ : (1,) array
    n_iter_, t_ : epochs and update steps done; loss_curve_ : training loss per epoch
    validation_scores_ : {score} per epoch with early_stopping (else None)
    n_features_in_, optimizer_"""

_AVERAGE_DOC = """average : bool or int, default False
        Polyak-Ruppert averaging, as scikit-learn's SGD ``average``: True
        averages the iterates from the first sample on, an int k from the
        step whose batch brings the samples seen to k; ``coef_``,
        ``intercept_`` and ``predict`` then use the mean of the iterates
        (the plain iterate until averaging starts). The mean is optimizer
        state (``optimizer_.state["average"]``), kept by ``partial_fit``,
        early stopping, ``state_dict()`` and model files; ``warm_start``
        starts a fresh mean. See :mod:`fastgd.models.averaging`."""

for _cls in (LinearRegression, LogisticRegression, LinearSVC, PoissonRegressor):
    _cls.__doc__ = (_cls.__doc__.replace("{common}", _COMMON_DOC.strip())
                    .replace("{average}", _AVERAGE_DOC)
                    .replace("{class_weight}", _CLASS_WEIGHT_DOC))
    for _score in ("R^2", "D^2"):
        _cls.__doc__ = _cls.__doc__.replace("{regressor_attributes:%s}" % _score,
                                            _REGRESSOR_ATTRIBUTES_DOC.format(score=_score))
