"""Measure where a prange over chunks starts to beat a serial loop.

    python benchmarks/measure_threshold.py

Times fastgd's Adam inner loop (float32 and float64) over n elements, once
as a serial loop and once as a ``prange`` over ``CHUNK``-sized chunks, and
prints the smallest n where the parallel version wins. The result sets
``PARALLEL_THRESHOLD`` in ``fastgd/_numba.py``.
"""

import timeit

import numpy as np
from numba import prange

from fastgd._numba import CHUNK, jit, jit_parallel, n_chunks, views
from fastgd.kernels import ADAM

adam_constants, adam_loop = ADAM.constants, ADAM.loop


@jit
def serial(p, g, s, sc, h):
    adam_loop(p, g, s, adam_constants(p, 1, 1e-3, h, sc))


@jit_parallel
def parallel(p, g, s, sc, h):
    k = adam_constants(p, 1, 1e-3, h, sc)
    n = p.size
    for c in prange(n_chunks(n)):
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        adam_loop(p[lo:hi], g[lo:hi], views(s, lo, hi), k)


def main():
    h = ADAM.hyper()
    for dtype in (np.float32, np.float64):
        crossover = None
        print(f"{np.dtype(dtype).name}: n, serial us, parallel us")
        for n in [2 ** k for k in range(12, 23)]:
            p, g = np.ones(n, dtype), np.ones(n, dtype)
            s, sc = ADAM.init_state(p)
            args = (p, g, s, sc, h)
            serial(*args)
            parallel(*args)
            number = max(10, int(2e7 // n))
            ts = min(timeit.repeat(lambda: serial(*args), number=number, repeat=5)) / number
            tp = min(timeit.repeat(lambda: parallel(*args), number=number, repeat=5)) / number
            print(f"  {n:>9,} {ts * 1e6:10.1f} {tp * 1e6:10.1f}")
            if crossover is None and tp < 0.9 * ts:
                crossover = n
        print(f"  parallel wins (by >10%) from n = {crossover}")


if __name__ == "__main__":
    main()
