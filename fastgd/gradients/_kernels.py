"""Finite-difference kernels: a ``prange`` over blocks of coordinates.

Each block of coordinates works on its own copy of x, perturbs one
coordinate at a time and restores it exactly, so the result for coordinate i
depends on nothing but f, x and h_i: not on the block size, the number of
threads or the order of the blocks. The copies cost n / BLOCK copies of x,
less than 1 / (2 * BLOCK) of the 2n evaluations of f that central
differences make anyway.

Two numba settings differ from the rest of fastgd, on purpose:

* ``fastmath=False``: step sizes are made exactly representable with
  ``h = (x + h) - x``, and the ``reassoc`` flag would fold that to ``h``;
  differences of nearly equal values are what this module computes, so no
  reassociation or contraction is wanted anywhere in it.
* ``cache=False`` on every kernel that takes the user's function: a
  function argument's numba type is tied to that dispatcher object, so a
  cached entry never matches in a new process, and every process would add
  a new, never-used entry to the on-disk cache (tested in
  ``tests/test_gradients.py``). They compile once per function and dtype per
  process instead. Kernels without function arguments stay cached. (So
  ``central_gradient_into`` may call the parallel ``fd_gradient``: the crash
  that :mod:`fastgd._numba` warns of needs a *cached* caller.)

The kernels also run as plain Python (``kernel.py_func``) for functions that
numba cannot compile: ``prange`` is ``range`` there, so the Python path does
the same arithmetic.
"""

import numba
import numpy as np
from numba import prange

from .._numba import cast_like, jit, jit_parallel

FORWARD, CENTRAL, RICHARDSON, COMPLEX = 0, 1, 2, 3
METHODS = {"forward": FORWARD, "central": CENTRAL, "richardson": RICHARDSON, "complex": COMPLEX}

# the exponent p of the default step eps**p * max(1, |x_i|): the step that balances the
# truncation error (h, h**2, h**4) against the rounding error (eps / h) of each method
STEP_POWER = {FORWARD: 1.0 / 2.0, CENTRAL: 1.0 / 3.0, RICHARDSON: 1.0 / 5.0}
COMPLEX_STEP = 1e-20  # no subtraction, so no rounding error to balance: any tiny step
BLOCK = 64            # coordinates per block, at most


@jit(fastmath=False)
def step_base(x, method):
    """eps**p for the dtype of x and the method (see ``STEP_POWER``)."""
    eps = np.finfo(x.dtype).eps
    if method == FORWARD:
        return eps ** (1.0 / 2.0)
    if method == CENTRAL:
        return eps ** (1.0 / 3.0)
    return eps ** (1.0 / 5.0)


@jit(fastmath=False)
def fd_steps(x, h, base):
    """Per-coordinate steps in the dtype of x, exactly representable: (x_i + h_i) - x_i.

    h_i = ``h[i]``, or ``base * max(1, |x_i|)`` when ``h`` is empty.
    """
    out = np.empty_like(x)
    for i in range(x.size):
        if h.size:
            hi = cast_like(h[i], x)
        else:
            hi = cast_like(base * max(1.0, abs(np.float64(x[i]))), x)
        out[i] = (x[i] + hi) - x[i]
    return out


@jit(cache=False)  # get_num_threads is a dynamic global: not cacheable
def block_size(n):
    """Coordinates per block: about 8 blocks a thread, at most BLOCK."""
    per = (n + 8 * numba.get_num_threads() - 1) // (8 * numba.get_num_threads())
    return min(BLOCK, max(1, per))


@jit_parallel(cache=False, fastmath=False)
def fd_gradient(f, args, x, h, method, out):
    r"""Finite-difference gradient of ``f(x, *args)`` into ``out``.

    With e_i the i-th unit vector and h_i = ``h[i]``::

        forward     d_i = (f(x + h_i e_i) - f(x)) / h_i                      error O(h)
        central     d_i = (f(x + h_i e_i) - f(x - h_i e_i)) / (2 h_i)       error O(h**2)
        richardson  d_i = (4 D_i(h_i / 2) - D_i(h_i)) / 3, D_i the central  error O(h**4)

    Differences are taken in float64 whatever the dtype of x.
    """
    n = x.size
    f0 = np.float64(f(x, *args)) if method == FORWARD else 0.0
    blk = block_size(n)
    for b in prange((n + blk - 1) // blk):
        xc = x.copy()
        for i in range(b * blk, min(n, (b + 1) * blk)):
            xi = x[i]
            hi = h[i]
            xc[i] = xi + hi
            fp = np.float64(f(xc, *args))
            if method == FORWARD:
                d = (fp - f0) / np.float64(hi)
            else:
                xc[i] = xi - hi
                d = (fp - np.float64(f(xc, *args))) / (2.0 * np.float64(hi))
                if method == RICHARDSON:
                    half = hi / cast_like(2.0, x)
                    xc[i] = xi + half
                    fp = np.float64(f(xc, *args))
                    xc[i] = xi - half
                    d_half = (fp - np.float64(f(xc, *args))) / (2.0 * np.float64(half))
                    d = (4.0 * d_half - d) / 3.0
            xc[i] = xi
            out[i] = d


@jit_parallel(cache=False, fastmath=False)
def complex_step_gradient(f, args, x, h, out):
    r"""Complex-step gradient (Squire & Trapp, 1998) of ``f(x, *args)`` into ``out``.

    d_i = Im f(x + i h_i e_i) / h_i, with error O(h**2) and no subtraction, so
    h can be tiny and the result is exact to rounding for real-analytic f.
    f is evaluated on a complex128 copy of x.
    """
    n = x.size
    blk = block_size(n)
    for b in prange((n + blk - 1) // blk):
        xc = x.astype(np.complex128)
        for i in range(b * blk, min(n, (b + 1) * blk)):
            xc[i] = complex(np.float64(x[i]), h[i])
            out[i] = f(xc, *args).imag / h[i]
            xc[i] = np.float64(x[i])


# A Python int global is a literal to numba, and a literal argument compiles a separate
# specialisation of the callee: the int64 here reuses the one the Python path compiled.
_CENTRAL = np.int64(CENTRAL)


@jit(cache=False, fastmath=False)
def central_gradient_into(f, args, x, out):
    """Central differences with the default steps, for callers in nopython mode."""
    fd_gradient(f, args, x, fd_steps(x, x[:0], step_base(x, _CENTRAL)), _CENTRAL, out)


def central_gradient_into_python(f, args, x, out):
    """:func:`central_gradient_into` for a plain Python ``f`` (serial)."""
    fd_gradient.py_func(f, args, x, fd_steps(x, x[:0], step_base(x, CENTRAL)), CENTRAL, out)
