"""Sparse (CSR) data for fastgd's compiled code.

* :data:`CSR` -- the named tuple ``(data, indices, indptr, n_cols)`` that
  jitted functions take as a sparse X, and :func:`as_csr`, which builds one
  from a ``scipy.sparse`` matrix or array without copying a CSR, and
  validates it (:mod:`fastgd.sparse.csr` has the rules; :func:`check_csr`
  validates a CSR built by hand);
* :mod:`fastgd.sparse.batch` -- shuffled rows gathered into a block
  (:func:`gather_rows`, sized by :func:`rows_nnz`; :func:`take_rows` from
  Python) and the distinct columns a batch touches (:func:`touched_columns`);
* :mod:`fastgd.sparse.mapped` -- a CSR in memory-mapped ``.npy`` files:
  :func:`save_csr` and :func:`load_csr` (no copy), which the estimators
  stream in blocks as they do a dense memmap.

The losses over CSR rows are in :mod:`fastgd.losses.csr`; the public loss
functions (``fastgd.losses.logistic(w, X, y)`` ...) accept sparse X directly.
"""

from .batch import gather_rows, rows_nnz, take_rows, touched_columns
from .csr import CSR, as_csr, check_csr, csr_n_rows, csr_take_rows, is_sparse
from .mapped import is_mapped, load_csr, save_csr

__all__ = ["CSR", "as_csr", "check_csr", "csr_n_rows", "csr_take_rows", "gather_rows",
           "is_mapped", "is_sparse", "load_csr", "rows_nnz", "save_csr", "take_rows",
           "touched_columns"]
