"""Class labels: the distinct values of y, then each row's target, in compiled passes.

``numpy.unique`` sorts all of y; for a million rows that took longer than a
tenth of a LogisticRegression epoch, and scikit-learn's target checks call it
several times. Labels are almost always a handful of distinct numbers, so
:func:`distinct_labels` scans y once, keeping the values it has seen in a
small table (at most ``MAX_SCANNED`` of them; more, or labels that are not
numbers, take ``numpy.unique``'s path). It also tells whether every value is
an integer, which is scikit-learn's test for "classification targets", not
a continuous regression target. :func:`encode_labels` then writes each row's
target in one more pass, or hands back y itself when y already holds its
targets in the training dtype (a float32 y of 0s and 1s for a logistic fit):
fastgd only reads it.

On 1M rows of float32 0/1 labels the two used to take 19 ms (a scan that
wrote first-seen codes, then two fancy-indexing passes and a cast) against a
65 ms epoch; the scan alone now reads y in blocks compared against the table
four entries at a time.
"""

import contextlib
import contextvars

import numpy as np

from .._numba import jit

MAX_SCANNED = 64
#: rows the scan checks at once against a table of at most 4 values (a loop that vectorises)
SCAN_BLOCK = 4096

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
def _known(y, lo, hi, t0, t1, t2, t3):
    """True when every y[lo:hi] is one of t0..t3 (no branch in the loop: it vectorises)."""
    unknown = 0
    for i in range(lo, hi):
        v = np.float64(y[i])
        unknown += not ((v == t0) | (v == t1) | (v == t2) | (v == t3))
    return unknown == 0


@jit
def _scan(y, table):
    """Fill ``table`` with y's distinct values in first-seen order; returns (number found,
    all integral), or (-1, _) past the table's size. NaN never equals an entry: a NaN
    fills the table entry by entry (the caller refuses tables that hold one)."""
    found = 0
    integral = True
    n = y.size
    for lo in range(0, n, SCAN_BLOCK):
        hi = min(n, lo + SCAN_BLOCK)
        if 0 < found <= 4:
            t = table[:found]
            if _known(y, lo, hi, t[0], t[min(1, found - 1)], t[min(2, found - 1)],
                      t[min(3, found - 1)]):
                continue
        for i in range(lo, hi):
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
    return found, integral


@jit
def _encode(y, table, targets, out):
    """out[i] = targets[k] for the k with table[k] == y[i] (every y[i] is in the table)."""
    if table.size == 2:
        t1 = table[1]
        a, b = targets[0], targets[1]
        for i in range(y.size):
            out[i] = b if np.float64(y[i]) == t1 else a
        return
    for i in range(y.size):
        v = np.float64(y[i])
        k = 0
        while table[k] != v:
            k += 1
        out[i] = targets[k]


def distinct_labels(y):
    """(sorted distinct values, all integral) of a 1-D numeric y, or None.

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
    return None if found is None else (found[0].copy(), found[1])


def _distinct_labels(y):
    table = np.empty(MAX_SCANNED, dtype=np.float64)
    found, integral = _scan(np.ascontiguousarray(y), table)
    seen = table[:max(found, 0)]
    # a float64 table is exact for integers below 2**53 only
    if found < 0 or np.isnan(seen).any() or (y.dtype.kind in "iu" and np.abs(seen).max() >= 2**53):
        return None
    return np.sort(seen).astype(y.dtype), bool(integral)


def encode_labels(y, values, targets, dtype):
    """Each row's target: ``targets[k]`` where y equals ``values[k]`` (a result of
    :func:`distinct_labels`), as a contiguous array of ``dtype``.

    y itself (not a copy) when it already holds its targets in ``dtype``.
    """
    targets = np.asarray(targets)
    if y.dtype == dtype and np.array_equal(values, targets) and y.flags.c_contiguous:
        return y
    out = np.empty(y.size, dtype=dtype)
    _encode(np.ascontiguousarray(y), values.astype(np.float64), targets.astype(out.dtype), out)
    return out


def label_codes(y, values):
    """Each row's index into ``values`` (int32): the class of each sample weight."""
    return encode_labels(y, values, np.arange(values.size, dtype=np.int32), np.int32)
