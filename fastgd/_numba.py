"""Every numba setting of fastgd, in one place.

* ``FASTMATH``: LLVM fast-math flags that allow vectorised reductions and
  fused multiply-adds but keep NaN and inf meaningful: no ``nnan``, no
  ``ninf`` (with them ``np.isnan`` can be optimised away, numba issue 9383).
  ``FASTMATH_ORDERED`` also drops ``reassoc``, for arithmetic written in a
  deliberate order; ``FASTMATH_UNFUSED`` drops ``contract`` (no fused
  multiply-adds), for a sign taken of a computed value.
* In a ``parallel=True`` function numba turns ``np.zeros``, ``np.ones``,
  array expressions and reductions such as ``a.sum()`` into parallel loops of
  their own, so the function opens a parallel region on every call, even when
  none of its ``prange`` loops runs. Allocate with ``np.empty`` and write
  serial loops (``tests/test_parallel_regions.py`` checks every kernel).
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

Processes that share numba's cache compile each kernel once: ``jit``'s
dispatcher (:class:`_CompileOnce`) holds a lock file next to the kernel's
cache index while it compiles, so a process that meets the same kernel at
the same time waits and loads it (dask workers of a local cluster, ``pytest
-n``: a cold run of the test suite took 664 s of CPU with it, 714 s without).

Numba compiles lazily: nothing here (or anywhere in fastgd) compiles at import.
Because of ``cache=True``, the two constants are frozen into the cached
machine code; change them here and delete ``__pycache__`` to re-measure.
"""

import contextlib
import os
import time

from llvmlite import ir
from numba import types
from numba.core import cgutils, config, sigutils
from numba.core.compiler_lock import global_compiler_lock
from numba.core.registry import CPUDispatcher
from numba.extending import intrinsic, overload

try:
    import fcntl
except ImportError:  # not POSIX: no lock, each process compiles (see _CompileOnce)
    fcntl = None

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

# Without "reassoc": for arithmetic whose rounding must happen in the order
# written (fastgd.losses._vecmath: (x + 1.5 * 2**52) - 1.5 * 2**52 rounds x
# to an integer, which reassociation folds back to x). Loops without
# reductions still vectorise.
FASTMATH_ORDERED = FASTMATH - {"reassoc"}

# Without "contract": no fused multiply-adds, every product and sum rounds as
# written (as NumPy's and PyTorch's element-wise ops do). For rules that take
# the sign of a computed value (Lion): a fused a*b + c*d rounds differently
# near 0, and the sign turns that one rounding step into a full step of lr.
FASTMATH_UNFUSED = FASTMATH - {"contract"}

PARALLEL_THRESHOLD = 131072
CHUNK = 32768


def jit(func=None, **options):
    """``numba.njit`` with fastgd's flags: cached, safe fast-math, serial; compiled once
    across processes (:class:`_CompileOnce`)."""
    opts = {"cache": True, "fastmath": set(FASTMATH), "nogil": True,
            "error_model": "numpy"}
    opts.update(options)
    if func is None:
        return lambda f: _dispatcher(f, opts)
    return _dispatcher(func, opts)


def _dispatcher(func, opts):
    # what numba.njit(**opts)(func) builds, as a _CompileOnce
    if config.DISABLE_JIT:
        return func
    opts = dict(opts)
    cache = opts.pop("cache", False)
    opts.update(nopython=True, boundscheck=opts.get("boundscheck"))
    disp = _CompileOnce(py_func=func, locals={}, targetoptions=opts)
    if cache:
        disp.enable_caching()
    return disp


class _CompileOnce(CPUDispatcher):
    """numba's dispatcher, whose compile waits for another process compiling the same function.

    Processes that share numba's cache (the workers of a
    ``fastgd.dask.local_cluster``, the test processes of ``pytest -n``, two
    scripts started together) each compiled a kernel they met at the same
    time: the same seconds of compilation on every core. Here a compile
    takes an exclusive ``flock`` on a lock file next to the function's cache
    index first (after numba's in-process compiler lock: one lock order), then
    numba looks in its on-disk cache as usual: a process that waited loads
    what the other one saved. A kernel's compile takes the locks of the
    kernels it calls inside its own; calls form no cycle, so neither do the
    waits. Without ``fcntl`` (Windows), without a cache or a writable cache
    folder, or after ``LOCK_WAIT`` seconds, a process compiles on its own,
    as numba does.
    """

    def compile(self, sig):
        args, _ = sigutils.normalize_signature(sig)
        if tuple(args) in self.overloads:
            return super().compile(sig)
        with global_compiler_lock, _compile_lock(_lock_path(self)):
            return super().compile(sig)


LOCK_WAIT = 300.0
_HELD = set()  # lock files this process holds (a kernel that calls another signature of itself)


def _lock_path(disp):
    cache_file = getattr(getattr(disp, "_cache", None), "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    return None if fcntl is None or index is None else index + ".lock"


@contextlib.contextmanager
def _compile_lock(path):
    if path is None or path in _HELD:
        yield
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            except OSError:  # a file system without flock
                break
        _HELD.add(path)
        yield
    finally:
        _HELD.discard(path)
        os.close(fd)  # releases the lock


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


@intrinsic
def _prefetch(typingctx, arr, i, offset):
    """Hint the CPU to load the cache line ``offset`` bytes past ``arr[i, 0]`` (``llvm.prefetch``).

    ``arr`` is 2-D (a row) or 1-D (``offset`` bytes past ``arr[i]``). A no-op
    for the program's meaning: a prefetch never faults and nothing is
    dereferenced, so no bounds check is needed and rows past the end of the
    array may be named.
    """
    if (not isinstance(arr, types.Array) or arr.ndim not in (1, 2)
            or not isinstance(i, types.Integer) or not isinstance(offset, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        array = context.make_array(aryty)(context, builder, args[0])
        row = context.cast(builder, args[1], signature.args[1], types.intp)
        zero = context.get_constant(types.intp, 0)
        pointer = cgutils.get_item_pointer(context, builder, aryty, array,
                                           [row] + [zero] * (aryty.ndim - 1), wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        skip = context.cast(builder, args[2], signature.args[2], types.intp)
        address = builder.gep(builder.bitcast(pointer, i8p), [skip])
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p], fnty)
        # read (0), locality 2 (prefetcht1: into L2, not L1), data cache (1)
        builder.call(fn, [address, ir.Constant(i32, 0), ir.Constant(i32, 2), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, i, offset), codegen


@jit(inline="always")
def prefetch_row(X, i):
    """Hint the CPU to load every cache line of row i of X (2-D, C-contiguous rows) into L2.

    For loads the hardware prefetcher cannot predict (rows picked at random).
    Into L2, not L1 (``prefetcht1``): a prefetch into L1 holds one of the
    core's few L1 miss buffers until its line arrives, so fewer loads are in
    flight. Gathering shuffled 400-byte rows took 48 ns a row this way
    against 64 ns into L1 (2026-11-25, Zen 4).
    """
    nbytes = X.shape[1] * X.itemsize
    for offset in range(0, nbytes, 64):
        _prefetch(X, i, offset)
    if nbytes > 0:
        _prefetch(X, i, nbytes - 1)


@jit(inline="always")
def prefetch_span(arr, lo, hi):
    """Hint the CPU to load every cache line of ``arr[lo:hi]`` (1-D, contiguous) into L2.

    The 1-D companion of :func:`prefetch_row`, for a row of CSR data or
    indices picked at random.
    """
    nbytes = (hi - lo) * arr.itemsize
    for offset in range(0, nbytes, 64):
        _prefetch(arr, lo, offset)
    if nbytes > 0:
        _prefetch(arr, lo, nbytes - 1)


@intrinsic
def bits_of(typingctx, x):
    """The IEEE 754 bits of a float64, as an int64 (a bit cast, no conversion)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(x), codegen


@intrinsic
def float_of_bits(typingctx, bits):
    """The float64 whose IEEE 754 bits are the int64 ``bits`` (a bit cast)."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(bits), codegen


def views(arrays, lo, hi):
    """The tuple ``(a[lo:hi] for a in arrays)`` of a tuple of 1-D arrays, in compiled code.

    Loops over views vectorise where loops over indices into arrays captured
    by a parallel region do not (see the module docstring); the update rules'
    state arrays travel as such tuples.
    """
    return tuple(a[lo:hi] for a in arrays)


@overload(views, jit_options={"cache": True})
def _views_impl(arrays, lo, hi):
    if not isinstance(arrays, types.BaseTuple):
        return None
    n = len(arrays)
    if n == 0:
        return lambda arrays, lo, hi: ()
    if n == 1:
        return lambda arrays, lo, hi: (arrays[0][lo:hi],)
    if n == 2:
        return lambda arrays, lo, hi: (arrays[0][lo:hi], arrays[1][lo:hi])
    if n == 3:
        return lambda arrays, lo, hi: (arrays[0][lo:hi], arrays[1][lo:hi], arrays[2][lo:hi])
    if n == 4:
        return lambda arrays, lo, hi: (arrays[0][lo:hi], arrays[1][lo:hi], arrays[2][lo:hi],
                                       arrays[3][lo:hi])
    if n == 5:
        return lambda arrays, lo, hi: (arrays[0][lo:hi], arrays[1][lo:hi], arrays[2][lo:hi],
                                       arrays[3][lo:hi], arrays[4][lo:hi])
    if n == 6:
        return lambda arrays, lo, hi: (arrays[0][lo:hi], arrays[1][lo:hi], arrays[2][lo:hi],
                                       arrays[3][lo:hi], arrays[4][lo:hi], arrays[5][lo:hi])
    raise TypeError(f"views: at most 6 arrays, got {n}")
