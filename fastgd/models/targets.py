"""Multi-output regression: y of shape (n_samples, n_targets), all targets in one pass.

A regressor that mixes in :class:`MultiOutputMixin` takes y 1-D (one
target: ``coef_`` (d,), ``predict`` (n,)) or 2-D with k >= 1 columns (k
outputs trained together, in the same epochs: ``coef_`` (k, d) as
scikit-learn's linear models, ``predict`` (n, k)). The fitted attribute
``n_targets_`` is None for a 1-D y and k for a 2-D one; it fixes the
parameter vector's layout, so ``partial_fit`` and a warm start take a y of
the same shape only.
"""

import numpy as np

from sklearn.utils.validation import column_or_1d


class MultiOutputMixin:
    """``n_targets_`` from the y of the first fit call, and the number of outputs from it."""

    _multi_output = True
    #: True: a y of shape (n, 1) is taken as 1-D, with scikit-learn's DataConversionWarning
    #: (its MLPRegressor does so); False: it gives one output and 2-D results (its
    #: LinearRegression does so)
    _column_is_1d = False

    def _record_targets(self, y, first):
        """y as given (1-D or 2-D), checked against ``n_targets_``; sets it on the first call."""
        if y.ndim == 2 and y.shape[1] == 1 and self._column_is_1d:
            y = column_or_1d(y, warn=True)
        n_targets = None if y.ndim == 1 else int(y.shape[1])
        if first:
            self.n_targets_ = n_targets
        elif n_targets != self.n_targets_:
            def shape(k):
                return "(n_samples,)" if k is None else f"(n_samples, {k})"
            raise ValueError(f"y has shape {y.shape}, but {type(self).__name__} was fitted on y "
                             f"of shape {shape(self.n_targets_)}: partial_fit takes targets of "
                             f"the same shape (fit starts afresh)")
        return y

    def _n_outputs(self):
        k = getattr(self, "n_targets_", None)
        return 1 if k is None else k

    def _shaped_output(self, out):
        """(n, k) outputs as ``predict`` returns them: (n,) when y was 1-D."""
        return out.ravel() if getattr(self, "n_targets_", None) is None else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def check_n_targets(value, where):
    """A saved ``n_targets_``: None or an int >= 1 (ValueError otherwise)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ValueError(f"{where} must be null or an integer >= 1, got {value!r}")
    return int(value)
