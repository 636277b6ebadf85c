"""Measure where numba's np.dot (BLAS) beats plain loops for the MLP's three products.

    python benchmarks/measure_nn_matmul.py

For blocks of m rows and layers of k inputs and n outputs, times the forward
product ``Z = A W + b``, the weight gradient ``A^T D`` and the back-propagated
delta ``D W^T``, each once with plain loops (written as LLVM vectorises them
best: 2-D indexing, no row views, whose reference counts cost more than the
arithmetic in small layers) and once with ``np.dot`` (BLAS held to one
thread, as during a fit), and prints best-of-N microseconds per call. The
table in the docstring of ``fastgd/nn/kernels.py`` comes from here.
"""

import time

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba calls; loaded before limiting)
from threadpoolctl import threadpool_limits

from fastgd._numba import jit

SHAPES = [(128, 100, 64), (128, 64, 1), (128, 64, 10), (128, 256, 256), (32, 8, 4),
          (32, 4, 3), (16, 5, 7), (128, 16, 1), (128, 4, 2)]


@jit
def affine_loops(A, W, b, Z):
    m, k = A.shape
    n = W.shape[1]
    for i in range(m):
        for j in range(n):
            Z[i, j] = b[j]
        for kk in range(k):
            a = A[i, kk]
            if a != 0:
                for j in range(n):
                    Z[i, j] += a * W[kk, j]


@jit
def weight_grad_loops(A, D, G):
    m, k = A.shape
    n = D.shape[1]
    for kk in range(k):
        for j in range(n):
            G[kk, j] = 0
    for i in range(m):
        for kk in range(k):
            a = A[i, kk]
            if a != 0:
                for j in range(n):
                    G[kk, j] += a * D[i, j]


@jit
def backprop_delta_loops(D, W, P):
    m, n = D.shape
    k = W.shape[0]
    for i in range(m):
        for kk in range(k):
            s = D[i, 0] * W[kk, 0]
            for j in range(1, n):
                s += D[i, j] * W[kk, j]
            P[i, kk] = s


@jit
def _blas_forward(A, W, b, Z, reps):
    for _ in range(reps):
        np.dot(A, W, Z)
        for i in range(Z.shape[0]):
            for j in range(Z.shape[1]):
                Z[i, j] += b[j]


@jit
def _blas_wgrad(A, D, G, reps):
    for _ in range(reps):
        np.dot(A.T, D, G)


@jit
def _blas_delta(D, W, P, reps):
    for _ in range(reps):
        np.dot(D, W.T, P)


@jit
def _loops_forward(A, W, b, Z, reps):
    for _ in range(reps):
        affine_loops(A, W, b, Z)


@jit
def _loops_wgrad(A, D, G, reps):
    for _ in range(reps):
        weight_grad_loops(A, D, G)


@jit
def _loops_delta(D, W, P, reps):
    for _ in range(reps):
        backprop_delta_loops(D, W, P)


def best_us(fn, args, work, rounds=30):
    reps = max(1, int(2e6 // max(work, 1)))
    fn(*args, 1)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(*args, reps)
        best = min(best, (time.perf_counter() - t0) / reps)
    return best * 1e6


def main(dtype=np.float32):
    rng = np.random.default_rng(0)
    print(f"{dtype.__name__}, BLAS on one thread; best microseconds per call")
    print(f"{'m x k x n':>16} {'madds':>8} | {'fwd loops':>9} {'fwd BLAS':>9} | "
          f"{'A^T D loops':>11} {'A^T D BLAS':>10} | {'D W^T loops':>11} {'D W^T BLAS':>10}")
    with threadpool_limits(1, user_api="blas"):
        for m, k, n in SHAPES:
            A = rng.standard_normal((m, k)).astype(dtype)
            W = rng.standard_normal((k, n)).astype(dtype)
            b = rng.standard_normal(n).astype(dtype)
            D = rng.standard_normal((m, n)).astype(dtype)
            Z = np.empty((m, n), dtype)
            G = np.empty((k, n), dtype)
            P = np.empty((m, k), dtype)
            work = m * k * n
            cols = [best_us(_loops_forward, (A, W, b, Z), work),
                    best_us(_blas_forward, (A, W, b, Z), work),
                    best_us(_loops_wgrad, (A, D, G), work),
                    best_us(_blas_wgrad, (A, D, G), work),
                    best_us(_loops_delta, (D, W, P), work),
                    best_us(_blas_delta, (D, W, P), work)]
            print(f"{f'{m} x {k} x {n}':>16} {work:>8} | {cols[0]:>9.2f} {cols[1]:>9.2f} | "
                  f"{cols[2]:>11.2f} {cols[3]:>10.2f} | {cols[4]:>11.2f} {cols[5]:>10.2f}")


if __name__ == "__main__":
    main(np.float32)
    main(np.float64)
