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

from fastgd._numba import CHUNK, jit, jit_parallel, n_chunks
from fastgd.kernels.adam import _adam_loop


@jit
def serial(p, g, m, v, vmax, decay, wd, omb1, b2, omb2, ss, bc2s, eps):
    _adam_loop(p, g, m, v, vmax, decay, wd, omb1, b2, omb2, ss, bc2s, eps, False)


@jit_parallel
def parallel(p, g, m, v, vmax, decay, wd, omb1, b2, omb2, ss, bc2s, eps):
    n = p.size
    for c in prange(n_chunks(n)):
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        _adam_loop(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], vmax, decay, wd, omb1, b2, omb2, ss,
                   bc2s, eps, False)


def main():
    for dtype in (np.float32, np.float64):
        f = dtype
        crossover = None
        print(f"{np.dtype(dtype).name}: n, serial us, parallel us")
        for n in [2 ** k for k in range(12, 23)]:
            p, g, m, v = (np.ones(n, dtype) for _ in range(4))
            args = (p, g, m, v, p[:0], f(1), f(0), f(0.1), f(0.999), f(0.001), f(1e-3), f(1), f(1e-8))
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
