"""CSR data as compiled code takes it, and the one function that makes and checks it.

:data:`CSR` is what every jitted function of fastgd that reads sparse rows
takes as ``X``: a named tuple of scipy's three arrays and the number of
columns. Row i has the nonzeros ``data[p]`` in columns ``indices[p]`` for
``indptr[i] <= p < indptr[i + 1]``. A block of rows ``lo..hi-1`` is
``CSR(data, indices, indptr[lo:hi + 1], n_cols)``: the same data and indices,
a view of indptr, offsets still absolute (no rebasing, nothing copied).

:func:`as_csr` turns a ``scipy.sparse`` matrix or array into a :data:`CSR`
and validates it. The rules:

* Formats. A CSR matrix or array (``csr_matrix``, ``csr_array``) is used as it
  is: ``data``, ``indices`` and ``indptr`` are its own arrays, not copies.
  Every other sparse format (CSC, COO, ...) is converted once with
  ``X.tocsr()``, which is a copy (and sums the duplicates of COO). Anything
  that is not ``scipy.sparse`` is a TypeError.
* dtypes. ``data`` float32 or float64 (anything else is a TypeError, not a
  silent conversion); ``indices`` and ``indptr`` int32 or int64, taken as
  they are. scipy keeps the two index arrays in one dtype; if they differ the
  narrower one is copied to the wider dtype, so that compiled code sees one
  of four combinations (fewer specialisations to compile). A strided array
  (possible only for one built by hand) is copied to a contiguous one.
* Structure. At least one row and one column; ``indptr`` has n + 1 entries,
  starts at 0, never decreases and ends at nnz = ``data.size`` =
  ``indices.size``; every index is in [0, n_cols); every value is finite.
  Each broken rule is a ValueError that names the argument, the position and
  the value (``X.indices[17] = 300 is out of range for 262144 columns (row 0)``).
* Empty rows are valid (a row with no nonzeros is the zero vector).
* Unsorted and duplicate column indices within a row are accepted as they
  are, with scipy's meaning: a row is the sum of its entries, so two entries
  in one column count as their sum. Everything fastgd computes from CSR is
  correct for both, with no canonical form needed: dot products and
  scatter-adds sum the entries in any order, gathered rows keep their
  entries, and :func:`fastgd.sparse.batch.touched_columns` lists each column
  once. (Only the order in which entries are summed, so the last bits of a
  float sum, depends on the order of the indices.)
* Nothing of the caller's is modified, and nothing is copied beyond the
  cases above. (``X.has_canonical_format`` and ``X.sum_duplicates()`` are not
  used: the latter rewrites X in place.)

The checks of the arrays run in compiled code that reads each of them once,
above ``PARALLEL_THRESHOLD`` elements in parallel over parts; each part
records its first bad position of each kind, and the records are merged in
part order, so the reported error does not depend on the number of threads.
A broken indptr is reported first, then an index out of range, then a
value that is not finite. A CSR with a memory-mapped array
(:mod:`fastgd.sparse.mapped`) is checked the same way block by block, each
block's pages released once read, so the check never holds the files in
memory (:func:`_check_streamed`); the same error comes out.
"""

from collections import namedtuple

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, jit, jit_parallel

CSR = namedtuple("CSR", ["data", "indices", "indptr", "n_cols"])
CSR.__doc__ = """Compressed sparse rows for jitted code: n = indptr.size - 1 rows of n_cols columns.

Row i holds ``data[p]`` in column ``indices[p]`` for ``indptr[i] <= p < indptr[i + 1]``
(offsets into data and indices; ``indptr[0]`` need not be 0 for a block of rows).
Build one from scipy with :func:`as_csr`.
"""

_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# per-part record of the first bad position of each kind (-1: none)
_PTR, _INDEX, _VALUE = 0, 1, 2
# elements scanned between two checks of a scan's running count of bad entries
_SCAN = 1024
_MAX_PARTS = 64


@jit
def csr_n_rows(X):
    """Number of rows of the CSR ``X``."""
    return X.indptr.size - 1


@jit
def csr_take_rows(X, lo, hi):
    """Rows lo..hi-1 of ``X`` as a CSR: the same data and indices, a view of indptr."""
    return CSR(X.data, X.indices, X.indptr[lo:hi + 1], X.n_cols)


@jit
def _first_bad_pointer(indptr, a, b, nnz):
    """First i in a..b-1 (a >= 1) with indptr[i] outside [indptr[i - 1], nnz], or -1.

    Counts the bad entries of each ``_SCAN`` positions in a loop without
    branches (it vectorises) and rescans only a piece that has one; so do
    the two scans below. Positions are unsigned: a signed index costs a
    test for negative values (Python's wrap-around) on every access, and
    the scan of 40M indices took 53 ms of CPU with it, 6 ms without.
    """
    one = np.uint64(1)
    for c in range(a, b, _SCAN):
        e = min(b, c + _SCAN)
        bad = 0
        for i in range(np.uint64(c), np.uint64(e)):
            bad += (indptr[i] < indptr[i - one]) | (indptr[i] > nnz)
        if bad:
            for i in range(c, e):
                if indptr[i] < indptr[i - 1] or indptr[i] > nnz:
                    return i
    return -1


@jit
def _first_bad_index(indices, a, b, n_cols):
    """First p in a..b-1 with indices[p] outside [0, n_cols), or -1.

    Read as unsigned, a negative index is a huge one: one comparison.
    """
    limit = np.uint64(n_cols)
    for c in range(a, b, _SCAN):
        e = min(b, c + _SCAN)
        bad = 0
        for p in range(np.uint64(c), np.uint64(e)):
            bad += np.uint64(indices[p]) >= limit
        if bad:
            for p in range(c, e):
                if indices[p] < 0 or indices[p] >= n_cols:
                    return p
    return -1


@jit
def _first_nonfinite(data, a, b):
    """First p in a..b-1 with data[p] NaN or +-inf, or -1."""
    for c in range(a, b, _SCAN):
        e = min(b, c + _SCAN)
        bad = 0
        for p in range(np.uint64(c), np.uint64(e)):
            bad += not np.isfinite(data[p])
        if bad:
            for p in range(c, e):
                if not np.isfinite(data[p]):
                    return p
    return -1


@jit
def _span(p, parts, size):
    """Part p of ``parts`` equal consecutive pieces of range(size)."""
    per = (size + parts - 1) // parts
    return min(size, p * per), min(size, (p + 1) * per)


@jit
def _check_part(data, indices, indptr, n_cols, nnz, p, parts, out):
    """out[:] = the first bad (pointer, index, value) positions of part p, -1 for none."""
    a, b = _span(p, parts, indptr.size - 1)
    out[_PTR] = _first_bad_pointer(indptr, a + 1, b + 1, nnz)
    a, b = _span(p, parts, data.size)
    out[_INDEX] = _first_bad_index(indices, a, b, n_cols)
    out[_VALUE] = _first_nonfinite(data, a, b)


@jit_parallel
def _check_structure(data, indices, indptr, n_cols, nnz):
    """The first bad (pointer, index, value) positions of a CSR, -1 where there is none.

    indptr[1:] (each entry in [previous entry, nnz]) and the entries are
    each cut into the same number of equal parts, a function of their sizes
    only, checked independently (in parallel above ``PARALLEL_THRESHOLD``
    elements); the parts are in order, so the first part with a bad position
    of a kind holds the first one. indptr[0] = 0 is the caller's check.
    :func:`_check_streamed` calls it on blocks of a memory-mapped CSR: a
    block of indptr with no entries, or a block of entries with an indptr
    of one element.
    """
    size = max(data.size, indptr.size)
    parts = max(1, min(_MAX_PARTS, size // CHUNK))
    found = np.empty((parts, 3), dtype=np.int64)
    if size > PARALLEL_THRESHOLD and parts > 1:
        for p in prange(parts):
            _check_part(data, indices, indptr, n_cols, nnz, p, parts, found[p])
    else:
        for p in range(parts):
            _check_part(data, indices, indptr, n_cols, nnz, p, parts, found[p])
    first = np.empty(3, dtype=np.int64)
    for kind in range(3):
        first[kind] = -1
        for p in range(parts):
            if found[p, kind] >= 0:
                first[kind] = found[p, kind]
                break
    return first


def _check_streamed(data, indices, indptr, n_cols, nnz):
    """:func:`_check_structure` of a memory-mapped CSR, read block by block.

    indptr, then the entries, in blocks of about
    ``fastgd.sparse.mapped.BLOCK_BYTES``, each copied into a buffer (the
    kernel then sees in-memory arrays: no other compiled version) and its
    pages released after it is checked; the scan stops at the first bad
    pointer, or at the first bad index. The same positions as
    :func:`_check_structure` of the whole arrays.
    """
    from . import mapped
    pages = mapped.CSRPages(CSR(data, indices, indptr, n_cols))
    first = np.full(3, -1, dtype=np.int64)
    n = indptr.size - 1
    step = max(2, mapped.BLOCK_BYTES // indptr.itemsize)
    buf = np.empty(min(step, n + 1), indptr.dtype)
    no_data, no_indices = np.empty(0, data.dtype), np.empty(0, indices.dtype)
    for lo in range(0, n, step - 1):      # indptr[lo:hi] checks positions lo + 1 .. hi - 1
        hi = min(n + 1, lo + step)
        np.copyto(buf[:hi - lo], indptr[lo:hi])
        found = _check_structure(no_data, no_indices, buf[:hi - lo], n_cols, nnz)[_PTR]
        pages.indptr.release(lo, hi)
        if found >= 0:
            first[_PTR] = lo + found
            return first
    step = max(1, mapped.BLOCK_BYTES // (data.itemsize + indices.itemsize))
    dbuf, ibuf = np.empty(min(step, nnz), data.dtype), np.empty(min(step, nnz), indices.dtype)
    one = np.zeros(1, indptr.dtype)
    for a in range(0, nnz, step):
        k = min(nnz, a + step) - a
        np.copyto(dbuf[:k], data[a:a + k])
        np.copyto(ibuf[:k], indices[a:a + k])
        found = _check_structure(dbuf[:k], ibuf[:k], one, n_cols, nnz)
        pages.release_entries(a, a + k)
        if found[_VALUE] >= 0 and first[_VALUE] < 0:
            first[_VALUE] = a + found[_VALUE]
        if found[_INDEX] >= 0:
            first[_INDEX] = a + found[_INDEX]
            break
    return first


def is_sparse(X):
    """True for a ``scipy.sparse`` matrix or array (any format)."""
    import scipy.sparse  # a dependency; imported here, on first use, not at import
    return scipy.sparse.issparse(X)


def _index_array(name, arr):
    if not isinstance(arr, np.ndarray) or arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got {type(arr).__name__} "
                         f"of shape {getattr(arr, 'shape', None)}")
    if arr.dtype not in _INDEX_DTYPES:
        raise TypeError(f"{name} must have dtype int32 or int64, got {arr.dtype}")
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def as_csr(X, name="X"):
    """The :data:`CSR` of a ``scipy.sparse`` matrix or array, validated (see the module doc).

    A CSR matrix or array with float32/float64 data and int32/int64 indices
    is used without copying; other sparse formats are converted once with
    ``X.tocsr()`` (a copy). Raises TypeError for anything that is not a
    scipy.sparse matrix or array or has another dtype, and ValueError, naming
    ``name``, the position and the value, for a broken structure or a
    non-finite value (:func:`check_csr`). X is only read.

    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.csr_array(np.array([[0.0, 2.0], [0.0, 0.0], [1.0, 0.0]]))
    >>> C = as_csr(X)
    >>> C.indptr.tolist(), C.indices.tolist(), C.n_cols, C.data is X.data
    ([0, 1, 1, 2], [1, 0], 2, True)
    """
    if not is_sparse(X):
        raise TypeError(f"{name} must be a scipy.sparse matrix or array, got {type(X).__name__}")
    if len(X.shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    n, d = X.shape
    if n < 1 or d < 1:
        raise ValueError(f"{name} must have at least 1 row and 1 column, got shape {X.shape}")
    if X.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {X.dtype} "
                        f"(convert it explicitly, e.g. {name}.astype(np.float32))")
    if X.format != "csr":
        X = X.tocsr()  # the one copy, documented
    indptr = _index_array(f"{name}.indptr", X.indptr)
    if indptr.size != n + 1:
        raise ValueError(f"{name}.indptr must have n_rows + 1 = {n + 1} entries, "
                         f"got {indptr.size}")
    return check_csr(CSR(X.data, X.indices, indptr, d), name)


def check_csr(X, name="X"):
    """A :data:`CSR` built by hand, validated by the rules of :func:`as_csr`; returns it.

    The same CSR comes back unless an array had to be made contiguous or the
    two index arrays brought to one dtype (copies, as in :func:`as_csr`).
    """
    data = X.data
    if not isinstance(data, np.ndarray) or data.ndim != 1 or data.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name}.data must be a 1-D float32 or float64 array, got "
                        f"{getattr(data, 'dtype', type(data).__name__)}")
    data = data if data.flags.c_contiguous else np.ascontiguousarray(data)
    indices = _index_array(f"{name}.indices", X.indices)
    indptr = _index_array(f"{name}.indptr", X.indptr)
    if indices.dtype != indptr.dtype:
        wide = np.promote_types(indices.dtype, indptr.dtype)
        indices, indptr = indices.astype(wide, copy=False), indptr.astype(wide, copy=False)
    d = X.n_cols
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"{name}.n_cols must be an integer, got {d!r}")
    d = int(d)
    n = indptr.size - 1
    if n < 1 or d < 1:
        raise ValueError(f"{name} must have at least 1 row and 1 column, got {max(n, 0)} rows "
                         f"and {d} columns")
    nnz = data.size
    if indices.size != nnz:
        raise ValueError(f"{name}.indices has {indices.size} entries but {name}.data has {nnz}: "
                         f"they must match")
    if indptr[0] != 0:
        raise ValueError(f"{name}.indptr[0] must be 0, got {indptr[0]}")
    if indptr[n] != nnz:
        raise ValueError(f"{name}.indptr[{n}] = {indptr[n]} must equal the number of stored "
                         f"entries, {nnz} (the size of {name}.data)")
    from .mapped import is_mapped
    check = _check_streamed if is_mapped(X) else _check_structure
    bad_ptr, bad_index, bad_value = check(data, indices, indptr, d, nnz)
    if bad_ptr >= 0:
        v = indptr[bad_ptr]
        if v < 0 or v > nnz:
            raise ValueError(f"{name}.indptr[{bad_ptr}] = {v} is outside [0, {nnz}] "
                             f"({nnz} stored entries)")
        raise ValueError(f"{name}.indptr decreases at {bad_ptr}: {name}.indptr[{bad_ptr}] = {v} "
                         f"< {name}.indptr[{bad_ptr - 1}] = {indptr[bad_ptr - 1]}")
    if bad_index >= 0:
        row = int(np.searchsorted(indptr, bad_index, side="right")) - 1
        raise ValueError(f"{name}.indices[{bad_index}] = {indices[bad_index]} is out of range "
                         f"for {d} columns (row {row})")
    if bad_value >= 0:
        row = int(np.searchsorted(indptr, bad_value, side="right")) - 1
        raise ValueError(f"{name}.data[{bad_value}] = {data[bad_value]} is not finite "
                         f"(row {row}, column {indices[bad_value]})")
    if data is X.data and indices is X.indices and indptr is X.indptr and d == X.n_cols:
        return X
    return CSR(data, indices, indptr, d)
