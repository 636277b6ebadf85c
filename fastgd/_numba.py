"""Every numba setting of fastgd, in one place.

* ``FASTMATH``: LLVM fast-math flags that allow vectorised reductions and
  fused multiply-adds but keep NaN and inf meaningful: no ``nnan``, no
  ``ninf`` (with them ``np.isnan`` can be optimised away, numba issue 9383).
* ``jit`` / ``jit_parallel``: the two decorators every kernel uses, with
  ``cache=True`` so a second Python process loads machine code from disk, and
  ``error_model="numpy"``: a float division by zero gives inf or NaN as IEEE
  says instead of raising, which also lets LLVM vectorise the loops (the
  Python error model's zero checks made Adam 10x slower).
* Kernels never mix a Python int literal with a float32 value (``1 - beta2``
  would promote the loop to float64): such constants are precomputed with
  :func:`cast_like`.
* ``PARALLEL_THRESHOLD`` and ``CHUNK``: element-wise kernels run a plain serial
  loop up to ``PARALLEL_THRESHOLD`` elements and a ``prange`` over chunks of
  ``CHUNK`` elements above it. Inside the ``prange`` body each chunk is passed
  to the serial loop as *views* (``params[lo:hi]``): a loop that indexes the
  arrays captured by the parallel region is not vectorised (LLVM must reload
  their data pointers after every store), and ran 4-8x slower than the same
  loop over views (10M float32 Adam: 20 ms against 2.4 ms). Entering a parallel region costs about 1.6 us
  on the 2-core reference machine; a serial call costs 0.26 us. The
  threshold comes from ``benchmarks/measure_threshold.py``.
  Reductions always cut the data into the same ``CHUNK``-sized pieces and
  combine their partial results in chunk order, so results do not depend on
  the number of threads or on scheduling.

Never call a ``jit_parallel`` function from another jitted function of
fastgd: with ``cache=True`` a parallel callee shared by two cached callers
segfaults when loaded back from the cache (numba 0.68; reproduced in
``tests/test_cache.py``). Parallel kernels are leaves; serial helpers may be
shared freely.

Numba compiles lazily: nothing here (or anywhere in fastgd) compiles at import.
Because of ``cache=True``, the two constants are frozen into the cached
machine code; change them here and delete ``__pycache__`` to re-measure.
"""

from numba import njit
from numba.extending import overload

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

PARALLEL_THRESHOLD = 131072
CHUNK = 32768


def jit(func=None, **options):
    """``numba.njit`` with fastgd's flags: cached, safe fast-math, serial."""
    opts = {"cache": True, "fastmath": set(FASTMATH), "nogil": True,
            "error_model": "numpy"}
    opts.update(options)
    if func is None:
        return lambda f: njit(**opts)(f)
    return njit(**opts)(func)


def jit_parallel(func=None, **options):
    """Like :func:`jit` but compiled with ``parallel=True`` (``prange``)."""
    return jit(func, parallel=True, **options)


def cast_like(x, arr):
    """Return scalar ``x`` converted to the dtype of ``arr``.

    Used inside kernels so float32 arrays are updated with float32
    arithmetic (a float64 scalar would silently promote the whole loop).
    """
    return arr.dtype.type(x)


@overload(cast_like, jit_options={"cache": True})
def _cast_like_impl(x, arr):
    dtype = arr.dtype

    def impl(x, arr):
        return dtype(x)

    return impl


@jit
def n_chunks(n):
    """Number of ``CHUNK``-sized pieces that cover ``n`` elements."""
    return (n + CHUNK - 1) // CHUNK
