"""CSR matrices in memory-mapped ``.npy`` files: saved, loaded without a copy, read in blocks.

A CSR whose ``data``, ``indices`` and ``indptr`` are ``numpy.memmap`` arrays
(``np.load(..., mmap_mode="r")``) is streamed by fastgd as a dense memmap is
(:mod:`fastgd.engine.data`): validated, trained on and predicted from in
blocks of rows or entries, the pages of each block handed back to the OS
once it is read (``madvise(MADV_DONTNEED)``), so resident memory grows by a
block or two, not by the files.

What scipy does with such arrays (scipy 1.17, checked by
``tests/test_sparse_estimators.py``): ``csr_matrix((data, indices, indptr),
shape=...)`` and ``csr_array(...)`` keep float data and int32 index arrays
as they are (views of the memmaps, nothing read). Two index arrays of
different dtypes are converted to one dtype (a copy in memory), and
``csr_matrix`` with int64 index arrays reads both in full (their minimum and
maximum) and copies them to int32 when the values fit. :func:`load_csr`
avoids every such case: it sets the memmaps on the matrix itself, reading
nothing but the shape, and :func:`save_csr` writes the two index arrays in
one dtype (int32 when the number of entries and of columns allow, else
int64), so that what it loads is never copied.

* :func:`save_csr` / :func:`load_csr` -- a CSR as a folder of four ``.npy``
  files (``data``, ``indices``, ``indptr``, ``shape``: the names of scipy's
  ``save_npz``, whose zip file cannot be memory-mapped);
* :func:`is_mapped` -- whether a CSR (scipy's or a :data:`CSR`) has a
  memory-mapped array;
* :class:`CSRPages` -- hands back the pages of a CSR's mapped arrays;
* :func:`row_blocks`, :func:`copy_rows` -- consecutive row ranges of about a
  given size, and one range copied into memory as a scipy CSR.
"""

import os

import numpy as np

#: the files of a saved CSR, without ".npy"
FILES = ("data", "indices", "indptr", "shape")
#: bytes of a block when a mapped CSR is validated or predicted from (as a dense memmap's)
BLOCK_BYTES = 4 * 2**20


def is_mapped(X):
    """True when one of the arrays of the CSR X (scipy's or a :data:`CSR`) is (a view of) a
    ``numpy.memmap``: fastgd then streams it in blocks."""
    from ..engine.data import _find_memmap
    return any(_find_memmap(a) is not None for a in (X.data, X.indices, X.indptr))


class CSRPages:
    """Hands the pages the memory-mapped arrays of a CSR were read from back to the OS.

    One :class:`fastgd.engine.data.PageReleaser` an array: arrays in memory
    (and copy-on-write mappings) are left alone.
    """

    def __init__(self, X):
        from ..engine.data import PageReleaser
        self.data, self.indices, self.indptr = (PageReleaser(a)
                                                for a in (X.data, X.indices, X.indptr))

    def release(self):
        """Release every page of the three arrays."""
        for part in (self.data, self.indices, self.indptr):
            part.release()

    def release_entries(self, a, b):
        """Release the pages of entries a..b-1 of ``data`` and ``indices``."""
        self.data.release(a, b)
        self.indices.release(a, b)


def row_blocks(X, block_bytes):
    """Yield (lo, hi): consecutive row ranges of X of about ``block_bytes`` of entries.

    The size is taken from X's mean number of entries a row (nothing of
    ``indptr`` is read beyond its size); at least one row a range.
    """
    n = X.indptr.size - 1
    per_row = max(1, (X.data.itemsize + X.indices.itemsize) * X.data.size // max(n, 1))
    rows = max(1, block_bytes // per_row)
    for lo in range(0, n, rows):
        yield lo, min(n, lo + rows)


def copy_rows(X, lo, hi, n_cols):
    """Rows lo..hi-1 of the CSR X copied into memory, as a ``scipy.sparse.csr_array``."""
    import scipy.sparse as sp
    indptr = np.array(X.indptr[lo:hi + 1])
    a, b = int(indptr[0]), int(indptr[-1])
    indptr -= indptr[0]
    return sp.csr_array((np.array(X.data[a:b]), np.array(X.indices[a:b]), indptr),
                        shape=(hi - lo, n_cols))


def _index_dtype(X):
    return np.int32 if max(X.data.size, X.shape[1], X.shape[0] + 1) < 2**31 else np.int64


def save_csr(folder, X):
    """Write the scipy.sparse matrix or array X to ``folder`` as four .npy files.

    ``data.npy`` (X's dtype), ``indices.npy`` and ``indptr.npy`` (one dtype:
    int32 when the entries and columns fit, else int64) and ``shape.npy``.
    The folder is created if needed; files of those names are replaced.
    Other formats than CSR are converted first (``X.tocsr()``, a copy in
    memory). Read it back with :func:`load_csr`. X is only read.

    >>> import numpy as np, scipy.sparse as sp, tempfile
    >>> X = sp.csr_array(np.array([[0.0, 2.0], [0.0, 0.0], [1.0, 0.0]]))
    >>> folder = tempfile.mkdtemp()
    >>> save_csr(folder, X)
    >>> Y = load_csr(folder)
    >>> Y.toarray().tolist(), type(Y.data).__name__
    ([[0.0, 2.0], [0.0, 0.0], [1.0, 0.0]], 'memmap')
    """
    import scipy.sparse as sp
    if not sp.issparse(X):
        raise TypeError(f"X must be a scipy.sparse matrix or array, got {type(X).__name__}")
    if len(X.shape) != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    if X.format != "csr":
        X = X.tocsr()
    index = _index_dtype(X)
    os.makedirs(folder, exist_ok=True)
    arrays = dict(data=X.data, indices=X.indices.astype(index, copy=False),
                  indptr=X.indptr.astype(index, copy=False),
                  shape=np.array(X.shape, dtype=np.int64))
    for name in FILES:
        np.save(os.path.join(folder, name + ".npy"), arrays[name])


def load_csr(folder, mmap_mode="r"):
    """The CSR saved by :func:`save_csr` in ``folder``: a ``scipy.sparse.csr_array`` of memmaps.

    ``data``, ``indices`` and ``indptr`` are ``np.load(..., mmap_mode=mmap_mode)``
    of the files, set on the array as they are: nothing is copied and
    nothing but the shape is read (see the module docstring for why
    ``csr_array((data, indices, indptr))`` may copy). fastgd's estimators
    then stream it (validation, fit, partial_fit, predict). ``mmap_mode``:
    "r" (read-only, the default) or "r+"; "c" (copy-on-write) works too, but
    its pages are never released. The structure is checked where it costs
    nothing (sizes and dtypes: a ValueError or TypeError naming the file);
    the entries are checked by the estimators, in blocks.
    """
    import scipy.sparse as sp
    if mmap_mode not in ("r", "r+", "c"):
        raise ValueError(f"mmap_mode must be 'r', 'r+' or 'c', got {mmap_mode!r}")
    paths = {name: os.path.join(folder, name + ".npy") for name in FILES}
    for name, path in paths.items():
        if not os.path.isfile(path):
            raise ValueError(f"folder {folder!r} has no {name}.npy: save the CSR with "
                             f"fastgd.sparse.save_csr(folder, X)")
    shape = np.load(paths["shape"])
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or (shape < 0).any():
        raise ValueError(f"{paths['shape']} must hold 2 non-negative integers, got {shape!r}")
    n, d = (int(k) for k in shape)
    data, indices, indptr = (np.load(paths[k], mmap_mode=mmap_mode)
                             for k in ("data", "indices", "indptr"))
    for name, arr in (("data", data), ("indices", indices), ("indptr", indptr)):
        if arr.ndim != 1:
            raise ValueError(f"{paths[name]} must be 1-D, got shape {arr.shape}")
    if data.dtype not in (np.float32, np.float64):
        raise TypeError(f"{paths['data']} must be float32 or float64, got {data.dtype}")
    if indices.dtype not in (np.int32, np.int64) or indptr.dtype != indices.dtype:
        raise TypeError(f"{paths['indices']} and {paths['indptr']} must share one dtype, int32 "
                        f"or int64 (a mix would be copied), got {indices.dtype} and "
                        f"{indptr.dtype}")
    if indptr.size != n + 1 or indices.size != data.size:
        raise ValueError(f"{folder!r}: indptr has {indptr.size} entries for {n} rows (needs "
                         f"{n + 1}), indices {indices.size} and data {data.size} (must match)")
    X = sp.csr_array((n, d), dtype=data.dtype)
    X.data, X.indices, X.indptr = data, indices, indptr
    return X


__all__ = ["CSRPages", "copy_rows", "is_mapped", "load_csr", "row_blocks", "save_csr"]
