"""Linear models trained by gradient descent: regression, logistic regression, linear SVM."""

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets

from .._validation import check_bool, check_real
from ..losses import LOSSES
from .base import GDEstimator


def _linear_objective(name, extra=0.0):
    """(rows, hyper tail) of loss ``name`` of :data:`fastgd.losses.LOSSES`."""
    loss = LOSSES[name]
    return loss.rows, (extra, float(loss.kind))


class LinearModel(GDEstimator):
    """A GDEstimator whose parameter vector is coef_ (k x d) then intercept_ (k)."""

    def _store_params(self, w):
        k = self._n_outputs()
        d = self.n_features_in_
        coef = w[:k * d].reshape(k, d).copy()
        intercept = w[k * d:].copy() if self.fit_intercept else np.zeros(k, dtype=w.dtype)
        if k == 1 and not self._is_classifier():
            self.coef_, self.intercept_ = coef[0], intercept
        else:
            self.coef_, self.intercept_ = coef, intercept

    def _check_extra_params(self):
        check_bool("fit_intercept", self.fit_intercept)

    def _layout_changes(self):
        k, d = self._n_outputs(), self.n_features_in_
        fitted = self._optimizer.params.size == k * (d + 1)
        return {} if fitted == bool(self.fit_intercept) else {"fit_intercept": fitted}

    def _raveled_output(self, X):
        out = self._linear_output(X)
        return out.ravel() if out.shape[1] == 1 else out


_COMMON_DOC = (GDEstimator.__doc__.split("Common parameters")[1].split("Interrupts:")[0]
               .split("-\n", 1)[1])


class LinearRegression(RegressorMixin, LinearModel):
    """Linear regression by gradient descent: least squares or Huber, with L2/L1/elastic net.

    Minimises, over w = (coef_, intercept_),

        (1/n) sum_i s_i l(x_i . coef_ + intercept_ - y_i) + alpha ((1 - l1_ratio)/2 ||coef_||^2
                                                              + l1_ratio ||coef_||_1)

    with l(r) = r^2 / 2 (``loss="squared_error"``) or the Huber loss with
    threshold ``epsilon`` (``loss="huber"``, robust to outliers). With
    ``alpha=0`` the squared loss has the least-squares solution as optimum.

    Parameters
    ----------
    loss : {"squared_error", "huber"}, default "squared_error"
    epsilon : float, default 1.35
        The Huber threshold (in units of y).
    fit_intercept : bool, default True
    {common}
    Attributes
    ----------
    coef_ : (n_features,) array, intercept_ : (1,) array
    n_iter_, t_ : epochs and update steps done; loss_curve_ : training loss per epoch
    validation_scores_ : R^2 per epoch with early_stopping (else None)
    n_features_in_, optimizer_

    Example
    -------
    >>> import numpy as np, fastgd
    >>> X = np.random.default_rng(0).standard_normal((200, 3)).astype(np.float32)
    >>> y = X @ np.array([1.0, -2.0, 0.5], dtype=np.float32) + 3
    >>> model = fastgd.LinearRegression(lr=0.05, alpha=0.0, random_state=0).fit(X, y)
    >>> np.round(model.coef_, 2), model.coef_.dtype
    (array([ 1. , -2. ,  0.5], dtype=float32), dtype('float32'))
    """

    def __init__(self, loss="squared_error", epsilon=1.35, fit_intercept=True, optimizer="adam",
                 optimizer_params=None, lr=0.01, batch_size=32, max_epochs=200, alpha=1e-4,
                 l1_ratio=0.0, tol=1e-4, n_iter_no_change=5, early_stopping=False,
                 validation_fraction=0.1, shuffle=True, random_state=None, warm_start=False,
                 verbose=0, callback=None):
        self._store_init_args(locals())

    def _check_extra_params(self):
        super()._check_extra_params()
        if self.loss not in ("squared_error", "huber"):
            raise ValueError(f"loss must be 'squared_error' or 'huber', got {self.loss!r}")
        check_real("epsilon", self.epsilon, low=0.0, low_open=True)

    def _objective(self, n_outputs):
        return _linear_objective(self.loss, float(self.epsilon) if self.loss == "huber" else 0.0)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing the optimizer, step count and schedule."""
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        """Predicted values X @ coef_ + intercept_."""
        return self._raveled_output(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class _LinearClassifier(ClassifierMixin, LinearModel):
    """Shared by the classifiers: label encoding, classes_, predict."""

    def __init__(self, fit_intercept=True, optimizer="adam", optimizer_params=None, lr=0.01,
                 batch_size=32, max_epochs=200, alpha=1e-4, l1_ratio=0.0, tol=1e-4,
                 n_iter_no_change=5, early_stopping=False, validation_fraction=0.1, shuffle=True,
                 random_state=None, warm_start=False, verbose=0, callback=None):
        self._store_init_args(locals())

    def _encode_targets(self, y, first, dtype, classes=None, sample_weight=None):
        check_classification_targets(y)
        if first:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if classes is not None and not np.isin(np.unique(y), labels).all():
                raise ValueError(f"y has classes not in classes={list(labels)}: "
                                 f"{sorted(set(np.unique(y)) - set(labels))}")
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
            unseen = np.setdiff1d(np.unique(y), candidate)
            if unseen.size:
                raise ValueError(f"y contains classes not seen in the first call to partial_fit: "
                                 f"{list(unseen)} (classes_ is {list(candidate)})")
        if sample_weight is not None:
            present = np.unique(np.asarray(y)[sample_weight > 0])
            if present.size < 2:
                raise ValueError("sample_weight leaves samples of only one class with a positive "
                                 "weight: at least 2 classes are needed")
        idx = np.searchsorted(candidate, y)
        if first:
            self.classes_ = candidate
        return self._targets_from_index(idx).astype(dtype)

    def _check_n_classes(self, labels):
        pass

    def _n_outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing the optimizer, step count and schedule.

        ``classes`` (every label that will ever appear) is required on the first call.
        """
        first = not hasattr(self, "_optimizer")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._partial_fit(X, y, sample_weight, classes)

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
        if n_outputs == 1:
            return _linear_objective("logistic")
        return _linear_objective("softmax", float(n_outputs))

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


class LinearSVC(_LinearClassifier):
    """Binary linear support vector machine by gradient descent (hinge loss).

    Minimises (1/n) sum_i s_i max(0, 1 - y_i z_i) + alpha/2 ||coef_||^2 (plus
    an L1 share with ``l1_ratio``), with y_i = -1 for classes_[0] and +1 for
    classes_[1]: the soft-margin SVM primal with C = 1 / (n alpha).
    Two classes only (use one-vs-rest from scikit-learn for more).

    Parameters
    ----------
    fit_intercept : bool, default True
    {common}
    """

    def _check_n_classes(self, labels):
        if labels.size != 2:
            raise ValueError(f"Only binary classification is supported. LinearSVC got "
                             f"{labels.size} classes: {list(labels)[:5]}")

    def _objective(self, n_outputs):
        return _linear_objective("hinge")

    def _targets_from_index(self, idx):
        return 2 * idx - 1

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


for _cls in (LinearRegression, LogisticRegression, LinearSVC):
    _cls.__doc__ = _cls.__doc__.replace("{common}", _COMMON_DOC.strip())
