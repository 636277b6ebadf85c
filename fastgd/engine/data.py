"""How an epoch walks the data: row orders, shuffle modes, blocks, released pages.

Two ways to feed the compiled epoch:

* **direct**: X is an in-memory, C-contiguous, writeable array and the rows
  go in order: one compiled call per epoch, batches are views of X.
* **blocks**: everything else: shuffled rows, a ``numpy.memmap`` larger than
  memory, read-only or Fortran-ordered arrays. Rows are copied block by
  block (``block_rows`` rows, a multiple of the batch size, so no batch
  straddles two blocks) into a reused C-contiguous buffer
  (:class:`BlockFill`). Blocks are cut into pieces of whole batches, and
  the compiled epoch runs once per piece. Shuffled rows of an in-memory X
  are gathered by the compiled :func:`gather_rows`; when the epoch itself
  runs on one thread, a helper thread fills the next block while this one
  trains (:class:`FillAhead`). The pieces are the same with or without the
  helper, so the epoch's loss is summed in the same order either way.
  After a block is filled, the pages it read from a memmap are handed back
  to the OS (``madvise(MADV_DONTNEED)``), so resident memory stays about a
  block or two, not the file. The caller's array is only read.

Shuffle modes (what an epoch's sequence of rows is, statistically):

``"none"``
    Rows in their stored order every epoch. Mini-batches are then fixed sets;
    fine for data known to be in random order, and the fastest (no gather).
``"full"``
    A new uniform random permutation of all rows every epoch (sampling
    without replacement): every batch is a uniform random subset, as in
    textbook SGD. Gathering rows at random is bound by memory latency, not
    bandwidth; on a memmap it means random reads from the file.
``"blocks"``
    The rows are cut into consecutive blocks; each epoch visits the blocks in
    a random order and the rows of a block in a random order. Every row is
    still seen once per epoch, but a batch draws from a single block, so
    batches are only as random as the file's order within ``block_rows``
    rows. Reads are sequential (one block at a time): the mode for memmaps.
    Shuffle such a file once beforehand if it is sorted (by label, by time).

Both ways give the same batches, bit for bit, for the same seed and mode.
"""

import mmap
import threading

import numpy as np

from .._numba import jit, prefetch_row, prefetch_span
from .shuffle import draw_seed, shuffle_

SHUFFLE_MODES = ("none", "full", "blocks")
DEFAULT_BLOCK_BYTES = 4 * 2**20


def is_direct(X):
    """True when X can be handed to the compiled epoch as is."""
    return (type(X) is np.ndarray and X.flags.c_contiguous and X.flags.writeable
            and _find_memmap(X) is None)


def block_rows_for(X, batch_size, block_bytes=DEFAULT_BLOCK_BYTES):
    """Rows per block: about ``block_bytes`` of X, a positive multiple of ``batch_size``.

    At most a sixteenth of X: an overlapped epoch holds two blocks, and they
    should stay small next to X itself.
    """
    row_bytes = max(1, X.shape[1] * X.dtype.itemsize)
    rows = max(1, min(block_bytes // row_bytes, X.shape[0] // 16))
    return max(batch_size, rows // batch_size * batch_size)


def row_order(rows, n, shuffle, rng, block_rows):
    """The epoch's sequence of row indices, or None for "all rows in order".

    ``rows``: the row indices to train on (sorted int64 array) or None for all
    n rows. The indices are int32 below 2**31 rows (half the memory traffic
    of int64 while shuffling), else int64.
    """
    if shuffle == "none":
        return rows
    # a fresh array: shuffle_ works in place, and rows is the caller's
    dtype = np.int32 if n < 2**31 else np.int64
    out = np.arange(n, dtype=dtype) if rows is None else rows.astype(dtype)
    if shuffle == "full":
        shuffle_(out, draw_seed(rng))
        return out
    # "blocks": random block order, random order within each block
    blocks = [out[s:s + block_rows] for s in range(0, out.size, block_rows)]
    for block in blocks:
        shuffle_(block, draw_seed(rng))
    if not blocks:
        return out
    return np.concatenate([blocks[b] for b in rng.permutation(len(blocks))])


def iter_blocks(n, order, block_rows):
    """Yield (start, stop) positions of consecutive blocks over the epoch's sequence."""
    total = n if order is None else order.size
    for a in range(0, total, block_rows):
        yield a, min(total, a + block_rows)


def _helper_failed():
    """The error the caller sees when filling a block failed on the helper thread."""
    return RuntimeError("filling a block failed on the helper thread")


class BlockFill:
    """Copies positions a..b of the epoch's row sequence into a block, piece by piece.

    ``xb`` is ``out[:b - a]``; ``yb`` and ``sb`` are views of y and sw when the
    rows are in order, else new arrays (``sb`` is ``sw`` itself for unit
    weights). The block is cut into ``pieces`` pieces of whole multiples of
    ``align`` rows (a batch never straddles two pieces). :meth:`run` copies
    pieces until none is left, and two threads may run it at once: a helper
    thread takes pieces from the front, the caller from the back, so neither
    waits while the other still has work. :meth:`wait_piece` waits for one
    piece, so the caller can train on the front of the block while the
    helper finishes a later piece. Shuffled rows of an in-memory X go through
    the compiled :func:`gather_rows` (it releases the GIL), others through
    NumPy.
    """

    def __init__(self, X, y, sw, order, a, b, out, pieces=1, align=1):
        m = b - a
        self.X, self.y, self.sw, self.a = X, y, sw, a
        self.xb = out[:m]
        if order is None:
            self.idx = None
            self.yb = y[a:b]
            self.sb = sw[a:b] if sw.size else sw
        else:
            self.idx = order[a:b]
            self.yb = np.empty((m,) + y.shape[1:], dtype=y.dtype)  # y may be (n, k)
            self.sb = np.empty(m, dtype=sw.dtype) if sw.size else sw
        self.direct = is_direct(X)
        step = max(1, -(-m // max(1, pieces)))
        step = -(-step // align) * align
        self.cuts = list(range(0, m, step)) + [m]
        self.front, self.back = 0, len(self.cuts) - 1
        self.done = [False] * (len(self.cuts) - 1)
        self.cond = threading.Condition()
        self.cancelled = False
        self.error = None

    def run(self, from_front=True):
        """Copy pieces (from the front or the back) until none is left."""
        while True:
            with self.cond:
                if self.front >= self.back or self.cancelled:
                    return
                if from_front:
                    i = self.front
                    self.front += 1
                else:
                    self.back -= 1
                    i = self.back
            try:
                self._copy(self.cuts[i], self.cuts[i + 1])
            except BaseException as exc:
                with self.cond:
                    self.error = exc
                    self.cond.notify_all()
                raise
            with self.cond:
                self.done[i] = True
                self.cond.notify_all()

    @property
    def n_pieces(self):
        return len(self.done)

    def wait_piece(self, i):
        """Wait until piece i is copied; return its (start, stop) positions in the block."""
        with self.cond:
            while not self.done[i]:
                if self.error is not None:
                    raise _helper_failed() from self.error
                self.cond.wait()
        return self.cuts[i], self.cuts[i + 1]

    def cancel(self):
        """Claim no more pieces (pieces already being copied finish)."""
        with self.cond:
            self.cancelled = True

    def _copy(self, lo, hi):
        X, y, sw, xb, yb, sb = self.X, self.y, self.sw, self.xb, self.yb, self.sb
        if self.idx is None:
            np.copyto(xb[lo:hi], X[self.a + lo:self.a + hi])
            return
        idx = self.idx[lo:hi]
        weights = sb[lo:hi] if sw.size else sw
        if self.direct:
            gather_rows(X, y, sw, idx, xb[lo:hi], yb[lo:hi], weights)
            return
        np.take(X, idx, axis=0, out=xb[lo:hi])
        np.take(y, idx, axis=0, out=yb[lo:hi])
        if sw.size:
            np.take(sw, idx, out=weights)


class FillAhead:
    """A helper thread that fills an epoch's blocks ahead of the caller.

    ``make_fill(k)`` returns the :class:`BlockFill` of block k, into buffer
    ``k % n_buffers``. The helper starts block k as soon as the caller has
    released block ``k - n_buffers`` (the previous user of that buffer) and
    copies pieces of it from the front; it never waits for the caller
    otherwise. The caller takes :meth:`block` k, copies what is left of it
    from the back, trains on it piece by piece (:meth:`BlockFill.wait_piece`),
    and then :meth:`release` it. One thread for the whole epoch: handing each
    block to a thread pool cost about 60 us of wake-up a block, and the
    caller waited for the helper's last piece of every block.
    """

    def __init__(self, make_fill, n_blocks, n_buffers=2):
        self.make_fill = make_fill
        self.fills = [None] * n_blocks
        self.n_buffers = n_buffers
        self.released = 0
        self.stopped = False
        self.error = None
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._work, name="fastgd-fill", daemon=True)
        self.thread.start()

    def _work(self):
        try:
            for k in range(len(self.fills)):
                with self.cond:
                    while k >= self.released + self.n_buffers and not self.stopped:
                        self.cond.wait()
                    if self.stopped:
                        return
                    fill = self.fills[k] = self.make_fill(k)
                    self.cond.notify_all()
                fill.run()
        except BaseException as exc:  # handed to the caller by block() and wait_piece()
            with self.cond:
                self.error = exc
                self.cond.notify_all()

    def block(self, k):
        """The BlockFill of block k, once the helper has started it."""
        with self.cond:
            while self.fills[k] is None:
                if self.error is not None:
                    raise _helper_failed() from self.error
                self.cond.wait()
            return self.fills[k]

    def release(self, k):
        """The caller is done with block k: its buffer may be filled again."""
        with self.cond:
            self.released = k + 1
            self.fills[k] = None
            self.cond.notify_all()

    def close(self):
        """Stop the helper after the piece it is copying, and join it."""
        with self.cond:
            self.stopped = True
            for fill in self.fills:
                if fill is not None:
                    fill.cancel()
            self.cond.notify_all()
        self.thread.join()


ROWS_AHEAD = 16  # how far ahead gather_rows prefetches (8 to 24 rows all did the same)


@jit
def gather_rows(X, y, sw, order, xout, yout, sout):
    """Copy row ``order[r]`` of X, y (and sw, unless empty) to row r of xout, yout (sout).

    X is a 2-D array. Rows picked at random are bound by memory latency, not
    bandwidth. So while row r is copied, every cache line of row
    ``order[r + ROWS_AHEAD]`` is prefetched into L2
    (:func:`fastgd._numba.prefetch_row`), and more loads are in flight at
    once. A full permutation of 1M x 100 float32 rows took 43-48 ns a row,
    against 64 ns prefetching into L1 and 85 ns without prefetching
    (2026-11-25, Zen 4). The row's y (and sw) are prefetched with it: a
    random read as well, and three shuffled Adam epochs of that X as a
    LogisticRegression fit took 0.084-0.096 s with it against 0.090-0.100 s
    without (A/B in one session, 2026-12-04).
    """
    n = order.size
    d = X.shape[1]
    weighted = sw.size > 0
    for r in range(n):
        if r + ROWS_AHEAD < n:
            q = order[r + ROWS_AHEAD]
            prefetch_row(X, q)
            prefetch_span(y, q, q + 1)
            if weighted:
                prefetch_span(sw, q, q + 1)
        i = order[r]
        src = X[i]
        dst = xout[r]
        for j in range(d):
            dst[j] = src[j]
        yout[r] = y[i]
        if weighted:
            sout[r] = sw[i]


def _find_memmap(X):
    obj = X
    while obj is not None:
        if isinstance(obj, np.memmap) or isinstance(obj, mmap.mmap):
            return obj
        obj = getattr(obj, "base", None)
    return None


class PageReleaser:
    """Hands the pages of a memmap back to the OS after they were read.

    A file-backed page that was read counts in the process's resident memory
    until the kernel reclaims it; ``MADV_DONTNEED`` drops it at once (it stays
    in the page cache, so re-reading is cheap). Only done for memmaps opened
    "r", "r+" or "w+" (shared mappings); never for copy-on-write ("c")
    mappings, where it would discard the caller's private changes. X is 2-D
    (rows) or 1-D (a memory-mapped CSR's arrays: a "row" is then one element).
    """

    def __init__(self, X):
        self.mm = None
        top = _find_memmap(X)
        holder = top
        while holder is not None and not isinstance(holder, np.memmap):
            holder = getattr(holder, "base", None)
        mm = getattr(holder, "_mmap", None)
        if (mm is None or getattr(holder, "mode", "c") == "c"
                or not hasattr(mmap, "MADV_DONTNEED")):
            return
        base = np.frombuffer(mm, dtype=np.uint8, count=1).ctypes.data
        lo = X.__array_interface__["data"][0]
        span = sum((k - 1) * abs(s) for k, s in zip(X.shape, X.strides)) + X.itemsize \
            if X.size else 0
        self.mm, self.base, self.lo, self.span = mm, base, lo, span
        self.row_bytes = X.strides[0] if X.flags.c_contiguous else 0

    def release_rows(self, rows):
        """Release the span of the rows ``rows`` (an index array) were read from."""
        if self.mm is not None and rows.size:
            self.release(int(rows.min()), int(rows.max()) + 1)

    def release(self, first_row=None, last_row=None):
        """Release rows first_row..last_row (for C order), else the whole array's range."""
        if self.mm is None:
            return
        start, stop = self.lo, self.lo + self.span
        if self.row_bytes and first_row is not None:
            start = self.lo + first_row * self.row_bytes
            stop = self.lo + last_row * self.row_bytes
        page = mmap.PAGESIZE
        offset = (start - self.base) // page * page
        length = stop - self.base - offset
        if length > 0:
            try:
                self.mm.madvise(mmap.MADV_DONTNEED, offset, length)
            except (OSError, ValueError):
                self.mm = None  # not supported here: keep going without it
