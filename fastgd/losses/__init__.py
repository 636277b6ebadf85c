"""Loss kernels: loss and gradient of linear models in one pass over X, dense or sparse.

Each loss exists twice:

* a jitted kernel, ``kernel(w, X, y, sw, hyper, grad) -> loss``, that trusts
  its inputs (float32 or float64), parallel over rows: :data:`linear_kernel`
  (squared error, Huber, logistic and hinge, chosen by ``hyper[4]``) and
  :data:`softmax_kernel`; their serial pieces ``linear_rows``,
  ``softmax_rows`` and :func:`linear_penalty` are what :mod:`fastgd.engine`
  runs on every mini-batch and what your own ``@numba.njit`` code may call;
* a validated Python function, ``loss, grad = fastgd.losses.logistic(w, X, y, ...)``,
  and :func:`make_objective` for ``fastgd.minimize(fun, w0, jac=True)``.

For a sparse X (``scipy.sparse``, validated and taken as a
:data:`fastgd.sparse.CSR` by :func:`fastgd.sparse.as_csr`) the same losses
have kernels of their own, :data:`csr_linear_kernel` and
:data:`csr_softmax_kernel`, with serial pieces ``csr_linear_rows`` and
``csr_softmax_rows`` (:mod:`fastgd.losses.csr`); the Python functions pick
them for a sparse X.

Every loss is

    L(w) = (1/n) sum_i s_i l(y_i, z_i) + alpha_2/2 ||W||^2 + alpha_1 ||W||_1,   z_i = W x_i + b

with ``w`` = coefficients (W, k x d row-major) then the k intercepts. The
per-row losses l, the parallel/deterministic row loop and the ``hyper``
layout ``[alpha_2, alpha_1, n_intercepts, extra, kind]`` are documented in
:mod:`fastgd.losses._rows` and in each kernel's docstring.

==================  ===================================  =========  ==========
loss                l(y, z)                              y          extra
==================  ===================================  =========  ==========
``squared_error``   (z - y)^2 / 2                        real       --
``huber``           r^2/2 or delta(|r| - delta/2)        real       delta
``logistic``        log(1 + e^z) - y z                   {0, 1}     --
``hinge``           max(0, 1 - y z)                      {-1, +1}   --
``softmax``         logsumexp(z) - z_y                   0..K-1     K
==================  ===================================  =========  ==========
"""

from ._rows import linear_penalty, objective_kernel, row_partition
from .api import (LOSSES, Loss, hinge, huber, hyper_array, logistic, make_objective, n_params,
                  softmax, squared_error)
from .csr import csr_linear_kernel, csr_linear_rows, csr_softmax_kernel, csr_softmax_rows
from .linear import linear_kernel, linear_rows
from .softmax import softmax_kernel, softmax_rows

__all__ = [
    "LOSSES", "Loss", "hinge", "huber", "hyper_array", "logistic", "make_objective", "n_params",
    "softmax", "squared_error", "linear_kernel", "linear_rows", "softmax_kernel", "softmax_rows",
    "linear_penalty", "objective_kernel", "row_partition", "csr_linear_kernel", "csr_linear_rows",
    "csr_softmax_kernel", "csr_softmax_rows",
]
