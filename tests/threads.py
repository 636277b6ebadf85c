"""``with numba_threads(k):`` -- run a block with k numba threads, then restore the count."""

import contextlib

import numba


@contextlib.contextmanager
def numba_threads(k):
    before = numba.get_num_threads()
    numba.set_num_threads(k)
    try:
        yield
    finally:
        numba.set_num_threads(before)
