"""Section "optim": one Adam step on 10,000,000 float32 parameters.

fastgd's kernel against ``torch.optim.Adam(fused=True)`` (and foreach), a
plain NumPy Adam, and a read-modify-write probe that moves the same bytes as
Adam (reads params, grad, m, v; writes params, m, v) with no arithmetic to
speak of: the memory-bandwidth limit of this machine. Also the per-call
overhead of a 100-parameter step from Python.
"""

import numpy as np
from numba import prange

from .._numba import CHUNK, jit, jit_parallel, n_chunks
from .harness import Row, best_of, optional, section, with_ratios

N = 10_000_000
BYTES_PER_STEP = 7 * 4 * N  # 4 arrays read, 3 written, float32


@jit_parallel
def rmw_probe(p, g, m, v):
    """p += g; m += g; v += g: Adam's memory traffic, minimal arithmetic."""
    n = p.size
    for c in prange(n_chunks(n)):
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        _rmw(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi])


@jit
def _rmw(p, g, m, v):
    for i in range(p.size):
        gi = g[i]
        p[i] += gi
        m[i] += gi
        v[i] += gi


def numpy_adam(p, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, tmp=None):
    """Adam with in-place NumPy ufuncs (the best NumPy can do without temporaries)."""
    m *= b1
    m += (1 - b1) * g
    v *= b2
    np.multiply(g, g, out=tmp)
    tmp *= 1 - b2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp /= np.sqrt(1 - b2 ** t)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr / (1 - b1 ** t)
    p -= tmp


def _gbps(seconds):
    return f"{BYTES_PER_STEP / seconds / 1e9:.1f} GB/s"


@section("optim")
def adam_step_rows(n=N, repeat=10):
    import fastgd

    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    rows = []
    task = f"Adam step, {n:,} float32"

    x = x0.copy()
    opt = fastgd.Adam(x, lr=1e-3)
    t_fast = best_of(lambda: opt.step(g), repeat=repeat)
    rows.append(Row("optim", task, "fastgd", t_fast, _gbps(t_fast)))

    p, m, v = x0.copy(), np.zeros_like(x0), np.zeros_like(x0)
    t_probe = best_of(lambda: rmw_probe(p, g, m, v), repeat=repeat)
    rows.append(Row("optim", task, "bandwidth probe (same bytes)", t_probe,
                    f"{_gbps(t_probe)}; fastgd reaches {t_probe / t_fast:.0%} of it"))

    p, m, v, tmp = x0.copy(), np.zeros_like(x0), np.zeros_like(x0), np.empty_like(x0)
    t_np = best_of(lambda: numpy_adam(p, g, m, v, 1, tmp=tmp), repeat=max(3, repeat // 3))
    rows.append(Row("optim", task, "numpy (in-place ufuncs)", t_np, _gbps(t_np)))

    torch = optional("torch")
    if torch is None:
        rows.append(Row("optim", task, "torch", float("nan"), "skipped: torch not installed"))
    else:
        for label, kw in (("torch Adam(fused=True)", {"fused": True}),
                          ("torch Adam(foreach=True)", {"foreach": True})):
            tp = torch.nn.Parameter(torch.from_numpy(x0.copy()))
            tp.grad = torch.from_numpy(g.copy())
            try:
                topt = torch.optim.Adam([tp], lr=1e-3, **kw)
                t_torch = best_of(topt.step, repeat=repeat)
                rows.append(Row("optim", task, label, t_torch,
                                f"{_gbps(t_torch)}; {torch.get_num_threads()} torch threads"))
            except RuntimeError as exc:  # fused unsupported on this build
                rows.append(Row("optim", task, label, float("nan"), f"skipped: {exc}"))

    small = np.ones(100)
    sgrad = np.ones(100)
    sopt = fastgd.Adam(small, lr=1e-3)
    t_small = best_of(lambda: sopt.step(sgrad), repeat=5, number=20000)
    rows.append(Row("optim", "Adam step, 100 float64, from Python", "fastgd", t_small,
                    f"{t_small * 1e6:.2f} us per call"))
    if torch is not None:
        tp = torch.nn.Parameter(torch.ones(100, dtype=torch.float64))
        tp.grad = torch.ones(100, dtype=torch.float64)
        topt = torch.optim.Adam([tp], lr=1e-3)
        t_ts = best_of(topt.step, repeat=5, number=2000)
        rows.append(Row("optim", "Adam step, 100 float64, from Python", "torch Adam (default)", t_ts,
                        f"{t_ts * 1e6:.2f} us per call"))
    return with_ratios(rows)
