"""How an epoch walks the data: row orders, shuffle modes, blocks, released pages.

Two ways to feed the compiled epoch:

* **direct**: X is an in-memory, C-contiguous, writeable array. One compiled
  call per epoch; batches are views of X (no shuffle) or gathered by a row
  order into a contiguous batch buffer (shuffle).
* **blocks**: anything else, above all a ``numpy.memmap`` larger than memory,
  and read-only or Fortran-ordered arrays. Rows are copied block by block
  (``block_rows`` rows, a multiple of the batch size, so no batch straddles
  two blocks) into one reused C-contiguous buffer, one compiled call per
  block. After a block is used, the pages it read from a memmap are handed
  back to the OS (``madvise(MADV_DONTNEED)``), so resident memory stays about
  one block, not the file. The caller's array is only read.

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

import numpy as np

SHUFFLE_MODES = ("none", "full", "blocks")
DEFAULT_BLOCK_BYTES = 8 * 2**20


def is_direct(X):
    """True when X can be handed to the compiled epoch as is."""
    return (type(X) is np.ndarray and X.flags.c_contiguous and X.flags.writeable
            and _find_memmap(X) is None)


def block_rows_for(X, batch_size, block_bytes=DEFAULT_BLOCK_BYTES):
    """Rows per block: about ``block_bytes`` of X, a positive multiple of ``batch_size``."""
    row_bytes = max(1, X.shape[1] * X.dtype.itemsize)
    rows = max(1, block_bytes // row_bytes)
    return max(batch_size, rows // batch_size * batch_size)


def row_order(rows, n, shuffle, rng, block_rows):
    """The epoch's sequence of row indices (int64), or None for "all rows in order".

    ``rows``: the row indices to train on (sorted int64 array) or None for all
    n rows.
    """
    if shuffle == "none":
        return rows
    base = np.arange(n, dtype=np.int64) if rows is None else rows
    if shuffle == "full":
        return base[rng.permutation(base.size)]
    # "blocks": random block order, random order within each block
    m = base.size
    starts = np.arange(0, m, block_rows)
    out = np.empty(m, dtype=np.int64)
    pos = 0
    for b in rng.permutation(starts.size):
        block = base[starts[b]:starts[b] + block_rows]
        out[pos:pos + block.size] = block[rng.permutation(block.size)]
        pos += block.size
    return out


def iter_blocks(n, order, block_rows):
    """Yield (start, stop) positions of consecutive blocks over the epoch's sequence."""
    total = n if order is None else order.size
    for a in range(0, total, block_rows):
        yield a, min(total, a + block_rows)


def fill_block(X, order, a, b, out):
    """Copy the rows of positions a..b of the sequence into ``out[:b-a]``; return that view."""
    dst = out[:b - a]
    if order is None:
        np.copyto(dst, X[a:b])
    else:
        np.take(X, order[a:b], axis=0, out=dst)
    return dst


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
    mappings, where it would discard the caller's private changes.
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
        span = (X.shape[0] - 1) * abs(X.strides[0]) + (X.shape[1] - 1) * abs(X.strides[1]) \
            + X.itemsize if X.size else 0
        self.mm, self.base, self.lo, self.span = mm, base, lo, span
        self.row_bytes = X.strides[0] if X.flags.c_contiguous else 0

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
