"""Class labels: the distinct values of y and each row's code, in one compiled pass.

``numpy.unique`` sorts all of y; for a million rows that took longer than a
tenth of a LogisticRegression epoch, and scikit-learn's target checks call it
several times. Labels are almost always a handful of distinct numbers, so
:func:`distinct_labels` scans y once, keeping the values it has seen in a
small table (at most ``MAX_SCANNED`` of them; more, or labels that are not
numbers, take ``numpy.unique``'s path). It also tells whether every value is
an integer, which is scikit-learn's test for "classification targets", not
a continuous regression target.
"""

import contextlib
import contextvars

import numpy as np

from .._numba import jit

MAX_SCANNED = 64

_MEMO = contextvars.ContextVar("fastgd_label_memo", default=None)


@contextlib.contextmanager
def remembered_labels():
    """Within the block, :func:`distinct_labels` scans each array once (the fits of a
    :func:`fastgd.fit_many` grid all encode the same y, which fastgd only reads)."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


@jit
def _scan(y, table, codes):
    """Fill ``table`` with y's distinct values in first-seen order and ``codes`` with each
    row's index in it; returns (number found, all integral) or (-1, _) past the table's size."""
    found = 0
    integral = True
    for i in range(y.size):
        v = np.float64(y[i])
        k = 0
        while k < found and table[k] != v:
            k += 1
        if k == found:
            if found == table.size:
                return -1, integral
            table[k] = v
            found += 1
            integral = integral and v == np.floor(v)
        codes[i] = k
    return found, integral


def distinct_labels(y):
    """(sorted distinct values, codes into them, all integral) of a 1-D numeric y, or None.

    None when y is not numeric, holds NaN, or has more than ``MAX_SCANNED``
    distinct values: the caller then takes ``numpy.unique``'s path.
    """
    if y.ndim != 1 or y.dtype.kind not in "biuf" or y.size == 0:
        return None
    memo = _MEMO.get()
    if memo is None:
        return _distinct_labels(y)
    # validation hands each fit a new view of the same data: keyed by the data's address,
    # the view kept alive in the memo so that no other array can take that address
    key = (y.__array_interface__["data"][0], y.shape, y.strides, y.dtype.str)
    if key not in memo:
        memo[key] = (y, _distinct_labels(y))
    found = memo[key][1]
    return None if found is None else (found[0].copy(), found[1], found[2])


def _distinct_labels(y):
    table = np.empty(MAX_SCANNED, dtype=np.float64)
    codes = np.empty(y.size, dtype=np.int32)
    found, integral = _scan(np.ascontiguousarray(y), table, codes)
    seen = table[:max(found, 0)]
    # a float64 table is exact for integers below 2**53 only
    if found < 0 or np.isnan(seen).any() or (y.dtype.kind in "iu" and np.abs(seen).max() >= 2**53):
        return None
    order = np.argsort(seen, kind="stable")
    rank = np.empty(found, dtype=np.int32)
    rank[order] = np.arange(found, dtype=np.int32)
    return seen[order].astype(y.dtype), rank[codes], bool(integral)
