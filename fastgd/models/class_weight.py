"""``class_weight`` for fastgd's classifiers: per-class weights folded into the sample weights.

As in scikit-learn, a row's weight is its sample weight times the weight of
its class: a dict ``{label: weight}`` (labels it leaves out weigh 1), or
"balanced", n_samples / (n_classes * bincount(y)), computed on the y given
to ``fit`` (``sklearn.utils.class_weight.compute_class_weight``, as
``SGDClassifier`` does: the counts are not weighted by ``sample_weight``).
fastgd then rescales the product to mean 1, as it does any sample weights,
so the weights set the rows' relative importance, not the strength of the
penalty (scikit-learn's ``class_weight={0: 10, 1: 10}`` weakens its penalty
tenfold; here it changes nothing).

``partial_fit`` refuses "balanced", as ``SGDClassifier.partial_fit`` does:
one batch's class counts are not the data's. Compute the weights once with
``compute_class_weight("balanced", classes=classes, y=y_sample)`` and pass
them as a dict.
"""

import math
import numbers

import numpy as np
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, column_or_1d

BALANCED_IN_PARTIAL_FIT = (
    "class_weight='balanced' is not supported for partial_fit (one batch's class counts are "
    "not the data's). Compute the weights once with sklearn.utils.class_weight."
    "compute_class_weight('balanced', classes=classes, y=y), where y may be a large enough "
    "sample of the training targets, and pass the resulting weights as the class_weight dict.")


def check_class_weight(class_weight):
    """None, "balanced" or a dict label -> finite weight >= 0, returned unchanged; else an error."""
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or a dict label -> weight, "
                             f"got {class_weight!r}")
        return class_weight
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be None, 'balanced' or a dict label -> weight, got "
                        f"{type(class_weight).__name__} {class_weight!r}")
    for label, weight in class_weight.items():
        if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real):
            raise TypeError(f"class_weight[{label!r}] must be a real number, got {weight!r}")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"class_weight[{label!r}] must be finite and >= 0, got {weight!r}")
    return class_weight


def class_weights_of(class_weight, classes, y):
    """The weight of each entry of the sorted ``classes`` (float64), for "balanced" or a dict."""
    if class_weight == "balanced":
        return compute_class_weight("balanced", classes=classes, y=y)
    unknown = [label for label in class_weight if not any(label == c for c in classes)]
    if unknown:
        raise ValueError(f"class_weight has labels that are not classes: {unknown} "
                         f"(the classes are {list(classes)})")
    weights = np.ones(len(classes))
    for i, c in enumerate(classes):
        for label, weight in class_weight.items():
            if label == c:
                weights[i] = float(weight)
    return weights


def with_class_weight(class_weight, y, sample_weight, classes=None, partial=False):
    """``sample_weight`` times each row's class weight (float64), or ``sample_weight`` itself.

    ``classes``: every label (partial_fit), else the labels of y. Raises
    ValueError/TypeError for a bad ``class_weight``, a label of it that is
    not a class, or "balanced" with ``partial``. Nothing is modified.
    """
    class_weight = check_class_weight(class_weight)
    if class_weight is None or y is None:
        return sample_weight       # (a missing y is reported by the fit itself)
    if partial and class_weight == "balanced":
        raise ValueError(BALANCED_IN_PARTIAL_FIT)
    y = column_or_1d(np.asarray(y), warn=False)
    check_classification_targets(y)
    classes = np.unique(y) if classes is None else np.unique(np.asarray(classes))
    weights = class_weights_of(class_weight, classes, y)
    idx = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
    # a label outside ``classes`` weighs 1 here; the fit then reports it
    row = np.where(classes[idx] == y, weights[idx], 1.0)
    if sample_weight is not None:
        row = _check_sample_weight(sample_weight, y, dtype=np.float64,
                                   ensure_non_negative=True) * row
    if not np.any(row > 0):
        raise ValueError(f"class_weight={class_weight!r} gives every row a weight of 0"
                         + (" (times sample_weight)" if sample_weight is not None else ""))
    return row


class ClassWeightMixin:
    """``fit`` and ``partial_fit`` of a GDEstimator classifier with a ``class_weight`` parameter."""

    def fit(self, X, y, sample_weight=None):
        """Fit on (X, y) for up to ``max_epochs`` epochs; returns self.

        Each row weighs ``sample_weight`` times the ``class_weight`` of its
        class (see :mod:`fastgd.models.class_weight`).
        """
        sample_weight = with_class_weight(self.class_weight, y, sample_weight)
        return self._fit(X, y, sample_weight, incremental=False, classes=None)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing the optimizer, step count and schedule.

        ``classes`` (every label that will ever appear) is required on the
        first call. ``class_weight`` may be a dict, not "balanced".
        """
        first = not hasattr(self, "_optimizer")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        sample_weight = with_class_weight(self.class_weight, y, sample_weight,
                                          classes if first else self.classes_, partial=True)
        return self._partial_fit(X, y, sample_weight, classes)


__all__ = ["ClassWeightMixin", "check_class_weight", "class_weights_of", "with_class_weight",
           "BALANCED_IN_PARTIAL_FIT"]
