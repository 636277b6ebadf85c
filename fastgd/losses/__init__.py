"""Loss kernels: loss and gradient of linear models in one pass over X, dense or sparse.

Each loss exists twice:

* a jitted kernel, ``kernel(w, X, y, sw, hyper, grad) -> loss``, that trusts
  its inputs (float32 or float64), parallel over rows: :data:`linear_kernel`
  (every one-output loss, chosen by ``hyper[4]``), :data:`softmax_kernel`
  and :data:`multi_squared_kernel`; their serial pieces ``linear_rows``,
  ``softmax_rows``, ``multi_squared_rows`` and :func:`linear_penalty` are
  what :mod:`fastgd.engine` runs on every mini-batch and what your own
  ``@numba.njit`` code may call;
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

=================================  ===================================  =========  =======
loss                               l(y, z), r = z - y, m = y z          y          extra
=================================  ===================================  =========  =======
``squared_error``                  r^2 / 2                              real       --
``huber``                          r^2/2 or delta(|r| - delta/2)        real       delta
``epsilon_insensitive``            max(0, |r| - epsilon)                real       epsilon
``squared_epsilon_insensitive``    max(0, |r| - epsilon)^2              real       epsilon
``poisson``                        e^z - y z (log link)                 >= 0       --
``logistic``                       log(1 + e^z) - y z                   {0, 1}     --
``hinge``                          max(0, 1 - m)                        {-1, +1}   --
``squared_hinge``                  max(0, 1 - m)^2                      {-1, +1}   --
``modified_huber``                 max(0, 1 - m)^2, or -4 m if m < -1   {-1, +1}   --
``softmax``                        logsumexp(z) - z_y                   0..K-1     K
``multi_squared_error``            sum_k (z_k - y_k)^2 / 2              (n, K)     K
=================================  ===================================  =========  =======

:func:`poisson_deviance` is the Poisson deviance itself, for scores.
"""

from ._rows import linear_penalty, objective_kernel, row_partition
from .api import (LOSSES, Loss, epsilon_insensitive, hinge, huber, hyper_array, logistic,
                  make_objective, modified_huber, multi_squared_error, n_params, poisson, softmax,
                  squared_epsilon_insensitive, squared_error, squared_hinge)
from .csr import csr_linear_kernel, csr_linear_rows, csr_softmax_kernel, csr_softmax_rows
from .linear import linear_kernel, linear_rows
from .multi_squared import multi_squared_kernel, multi_squared_rows
from .poisson import poisson_deviance
from .softmax import softmax_kernel, softmax_rows

__all__ = [
    "LOSSES", "Loss", "hinge", "squared_hinge", "modified_huber", "huber", "epsilon_insensitive",
    "squared_epsilon_insensitive", "poisson", "poisson_deviance", "hyper_array", "logistic",
    "make_objective", "n_params", "softmax", "squared_error", "multi_squared_error",
    "linear_kernel", "linear_rows", "softmax_kernel", "softmax_rows", "multi_squared_kernel",
    "multi_squared_rows", "linear_penalty", "objective_kernel", "row_partition",
    "csr_linear_kernel", "csr_linear_rows", "csr_softmax_kernel", "csr_softmax_rows",
]
