"""Section "optim": one optimizer step on 10,000,000 float32 parameters.

fastgd's Adam kernel against ``torch.optim.Adam(fused=True)`` (and foreach), a
plain NumPy Adam, and a read-modify-write probe that moves the same bytes as
Adam (reads params, grad, m, v; writes params, m, v) with no arithmetic to
speak of: the memory-bandwidth limit of this machine. Then the newer rules
(:data:`RULE_PEERS`), each against the probe for its own bytes (params, grad
and its state arrays) and against its torch implementation: ``torch.optim``'s
(foreach) where torch has one, else the reference package's. Also the
per-call overhead of a 100-parameter step from Python.
"""

import contextlib
import io

import numpy as np
from numba import prange

from .._numba import CHUNK, jit, jit_parallel, n_chunks
from .harness import Row, best_of, optional, section, with_ratios

N = 10_000_000
BYTES_PER_STEP = 7 * 4 * N  # 4 arrays read, 3 written, float32

#: rule name -> the torch implementation to time it against: ``(module, class name,
#: constructor arguments)``, None for ``torch.optim``'s class of the rule (``Rule.torch``),
#: or () where there is none to run here (LAMB's is optax's, in JAX)
RULE_PEERS = {
    "adadelta": None,
    "rprop": None,
    "lion": ("lion_pytorch", "Lion", {}),
    "sgdschedulefree": ("schedulefree", "SGDScheduleFree", {}),
    "adamwschedulefree": ("schedulefree", "AdamWScheduleFree", {}),
    "prodigy": ("prodigyopt", "Prodigy", {}),
    "lamb": (),
    "adafactor": None,
}


@jit_parallel
def rmw_probe(p, g, states):
    """p += g, then each state array += g, chunk by chunk: the memory traffic of a rule
    with these state arrays (each array read and written once, g read once from memory:
    its chunk stays in cache), minimal arithmetic."""
    n = p.size
    for c in prange(n_chunks(n)):
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        gc = g[lo:hi]
        _add(p[lo:hi], gc)
        for a in states:
            _add(a[lo:hi], gc)


@jit
def _add(a, g):
    for i in range(a.size):
        a[i] += g[i]


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


def _gbps(seconds, nbytes=BYTES_PER_STEP):
    return f"{nbytes / seconds / 1e9:.1f} GB/s"


def rule_step_rows(name, x0, g, torch, repeat):
    """fastgd's step of one rule (its default settings, lr 1e-3) against the probe for
    the same bytes and against its torch implementation (``RULE_PEERS``)."""
    import fastgd

    cls = fastgd.OPTIMIZERS[name]
    task = f"{cls.__name__} step, {x0.size:,} float32"
    x = x0.copy()
    opt = cls(x, lr=1e-3)
    opt.step(g)  # compile, allocate the state
    n_states = sum(a.size == x.size for a in opt.kernel_state()[0])
    # params, grad, states read; params, states written (a rule with a reduction stage
    # reads more: the probe is the floor of one pass)
    nbytes = (3 + 2 * n_states) * 4 * x0.size
    t_fast = best_of(lambda: opt.step(g), repeat=repeat)
    rows = [Row("optim", task, "fastgd", t_fast, _gbps(t_fast, nbytes))]
    p, states = x0.copy(), tuple(np.zeros_like(x0) for _ in range(n_states))
    t_probe = best_of(lambda: rmw_probe(p, g, states), repeat=repeat)
    rows.append(Row("optim", task, "bandwidth probe (same bytes)", t_probe,
                    f"{_gbps(t_probe, nbytes)}; fastgd reaches {t_probe / t_fast:.0%} of it"))
    peer = RULE_PEERS[name]
    if peer == ():
        return rows
    if peer is None:
        module, label, make = "torch", f"torch {cls.rule.torch}(foreach=True)", (
            lambda params: getattr(torch.optim, cls.rule.torch)(params, lr=1e-3, foreach=True))
    else:
        module, cls_name, kwargs = peer
        label = f"{module} {cls_name}"
        lib = optional(module)
        make = None if lib is None else (
            lambda params: getattr(lib, cls_name)(params, lr=1e-3, **kwargs))
    if torch is None or make is None:
        rows.append(Row("optim", task, label, float("nan"), f"skipped: {module} not installed"))
        return rows
    tp = torch.nn.Parameter(torch.from_numpy(x0.copy()))
    tp.grad = torch.from_numpy(g.copy())
    topt = make([tp])
    if hasattr(topt, "train"):  # schedulefree's optimizers step only in train mode
        with contextlib.redirect_stdout(io.StringIO()):  # it says so on stdout
            topt.train()
    t_peer = best_of(topt.step, repeat=repeat)
    rows.append(Row("optim", task, label, t_peer,
                    f"{_gbps(t_peer, nbytes)}; {torch.get_num_threads()} torch threads"))
    return rows


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
    t_probe = best_of(lambda: rmw_probe(p, g, (m, v)), repeat=repeat)
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

    for name in RULE_PEERS:
        rows += rule_step_rows(name, x0, g, torch, repeat)

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
