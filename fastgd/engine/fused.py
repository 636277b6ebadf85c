"""Many one-output linear models in one compiled call: ``fit_many(..., exact=False)``.

:class:`~fastgd.engine.many.SharedPass` normally runs each model's own epoch
on every piece of X (the same bits as its solo fit). Per model a batch's
logits are row dot products, so K models read every element of the piece K
times from cache: the epoch is bound by per-model arithmetic. The fused
epoch here trains K models of one loss kind, one element-wise update rule
(``N_SUMS == 0``) and one dtype together: one matrix product per batch.

For the K models with parameters stacked as rows of ``P`` (K x size: the
coefficients, then the intercept b_k if they have one) and each batch B of
m rows (the m x d view ``xb`` of the piece)::

    WT        = P[:, :d]^T                                (d x K, X's dtype)
    Z         = xb WT                                     (m x K: one BLAS gemm for all
                                                           the models, X's dtype)
    z_rk      = Z[r, k] + b_k;  l_rk, l'_rk = s_r l_k(y_r, z_rk), s_r l_k'(y_r, z_rk)
    G         = xb^T R,  R[r, k] = l'_rk                  (d x K: gemm, X's dtype)
    g_k       = (G[:, k], sum_r l'_rk) / m + penalty_k(P[k])   (alpha_2, alpha_1 of model k)

(the per-row losses are :func:`fastgd.losses.linear.logistic_block` and
``POINTWISE``, as the solo epoch's, float64; their loss and derivative sums
over the rows are float64 vector-matrix products). The K models of a row sit
side by side (i = r K + k, the layout of Z and R), so the per-row losses of a
batch run in one loop over its m K values, which vectorises (a loop per model
over the column Z[:, k] across the rows, a batch of 16 models took 1.2x the time).
One gemm reads each block of X once for all K models, in the
blocked order of an optimised matrix product (hand-written loops over the
models, k innermost, lost to the K separate epochs: their loop overhead per
row and feature outweighed the shared reads; see the README).

Then model k takes the step its solo epoch takes (:mod:`fastgd.engine.epoch`):
``prepare_grad`` (guard, clipping), ``lr = schedule_value(spec_k, t_k)``, the
rule's ``constants`` and ``loop`` with its own state, step counter, skipped
count and loss sum. A model whose batch loss is NaN or inf stops there
(``done[k]``: the rows it completed); the others go on.

Bits: the products run in another order than the solo epoch's
(:func:`fastgd.losses.linear.block_logits`, and its float64 sums every
``FLUSH`` rows), so a model matches its solo fit to rounding (float64
~1e-10, float32 ~1e-5 relative on the coefficients: tested), not bit for
bit. :class:`~fastgd.engine.many.SharedPass` trains a group in one call per
piece whatever the thread count, and a gemm of fixed shapes gives the same
bits from run to run, so the results do not depend on the numba thread count
or the run (they may on the BLAS library: numba's ``np.dot`` calls SciPy's,
an OpenBLAS here, which runs products this small on one thread: limiting it
to one with ``threadpoolctl`` changed neither the time nor the bits, so the
two threads of a shared pass do not oversubscribe the cores).

:func:`make_fused` compiles one kernel per (loss kind, penalty, rule) and
dtype, cached; K is a runtime shape, so another K compiles nothing.
:func:`fusable_key` says which trainers can share one: the others keep the
exact path.
"""

import numpy as np

from .._numba import PARALLEL_THRESHOLD, cast_like, views
from .._specialize import specialize
from ..kernels.rule import pieces
from ..losses._rows import EXTRA, N_INTERCEPTS, linear_penalty, scale, store
from ..losses.linear import LOGISTIC, POINTWISE, _OF_KIND, logistic_block
from ..schedules import schedule_value
from .step import prepare_grad


def _row_losses(Z, y, a, m, H, bias, yk, z, loss, dz):
    # z[i] = Z[r, k] + b_k and the per-row loss and derivative of the one kind bound by
    # specialize, i = r K + k: the K models of a row side by side, in one loop that vectorises
    K = Z.shape[1]
    for r in range(m):
        for k in range(K):
            z[r * K + k] = np.float64(Z[r, k]) + bias[k]
    if IS_LOGISTIC:  # noqa: F821
        for r in range(m):
            yr = np.float64(y[a + r])
            for k in range(K):
                yk[r * K + k] = yr
        logistic_block(z, yk, 0, m * K, loss, dz)
    else:
        for r in range(m):
            yr = np.float64(y[a + r])
            for k in range(K):
                i = r * K + k
                loss[i], dz[i] = pointwise(z[i], yr, H[k, EXTRA])  # noqa: F821


def _fused_epoch(P, X, y, sw, H, S, SC, hs, SPEC, CLIP, batch, T, done, loss, skipped):
    """One pass of K models over the rows of X (see the module docstring), in place.

    ``P`` (K, size) parameters; ``H`` (K, 5) the models' loss hyper rows;
    ``S`` the rule's state arrays, each the K models' arrays end to end
    (K * size elements, or empty where the rule does not use it); ``SC`` (K,
    n_scalars); ``hs`` a typed list of the models' rule hyperparameter
    tuples; ``SPEC`` (K, L) schedule specs; ``CLIP`` (K, 3); ``T`` step
    counters, ``done`` (-1 while a model trains, else the rows it completed),
    ``loss`` and ``skipped``: per model, updated.
    """
    n, d = X.shape
    K, size = P.shape
    fit_b = size > d
    zero = cast_like(0.0, X)
    WT = np.empty((d, K), dtype=X.dtype)
    R = np.empty((batch, K), dtype=X.dtype)
    R1 = R.reshape(batch * K)
    ones = np.ones(batch)
    bias = np.zeros(K)
    yk = np.empty(batch * K)
    zk = np.empty(batch * K)
    lk = np.empty(batch * K)
    dk = np.empty(batch * K)
    g64 = np.empty(size)
    grad = np.empty(size, dtype=P.dtype)
    a = 0
    while a < n:
        e = min(n, a + batch)
        m = e - a
        for j in range(d):
            for k in range(K):
                WT[j, k] = P[k, j]
        if fit_b:
            for k in range(K):
                bias[k] = P[k, d]
        xb = X[a:e]
        Z = np.dot(xb, WT)  # (m, K), X's dtype: BLAS (gemm), one product for all the models
        block(Z, y, a, m, H, bias, yk, zk, lk, dk)  # noqa: F821 (bound by specialize)
        if sw.size > 0:
            for r in range(m):
                s = np.float64(sw[a + r])
                for k in range(K):
                    lk[r * K + k] *= s
                    dk[r * K + k] *= s
        # the K models' sums over the rows (row-major (m, K) views: vector-matrix products)
        lb = np.dot(ones[:m], lk[:m * K].reshape((m, K)))
        gb = np.dot(ones[:m], dk[:m * K].reshape((m, K)))
        nonfinite = 0
        for i in range(m * K):  # R row-major (m, K): i = r K + k
            R1[i] = cast_like(dk[i], X)
            nonfinite += not np.isfinite(zk[i])
        for k in range(K):
            if done[k] >= 0:
                for r in range(m):
                    R[r, k] = zero
            elif nonfinite:  # a logit NaN or inf: the model's batch loss is NaN
                for r in range(m):
                    if not np.isfinite(zk[r * K + k]):
                        lb[k] = np.nan
        G = np.dot(xb.T, R[:m])  # (d, K): sum_r x[r, j] l'_rk, X's dtype (gemm)
        for k in range(K):
            if done[k] >= 0:
                continue
            w = P[k]
            for j in range(d):
                g64[j] = np.float64(G[j, k])
            if fit_b:
                g64[d] = gb[k]
            value = scale(g64, lb[k], m) + penalty(w, H[k], g64)  # noqa: F821
            if not np.isfinite(value):
                done[k] = a
                continue
            loss[k] += value * m
            store(g64, grad)
            if not prepare_grad(grad, (CLIP[k, 0], CLIP[k, 1], CLIP[k, 2])):
                skipped[k] += 1
                continue
            lr = schedule_value(SPEC[k], T[k])
            T[k] += 1
            c = constants(w, T[k], lr, hs[k], SC[k])  # noqa: F821
            loop(w, grad, views(S, k * size, (k + 1) * size), c)  # noqa: F821
        a = e


_CACHE = {}


def kind_of(rows):
    """The per-row loss kind of a ``linear_rows_of(kind)`` dispatcher, or None."""
    for kind, r in _OF_KIND.items():
        if r is rows:
            return kind
    return None


def make_fused(kind, penalty, rule):
    """The fused epoch of K models of per-row loss ``kind``, ``penalty`` and ``rule``."""
    key = (kind, id(penalty), rule.name)
    if key not in _CACHE:
        block = specialize(_row_losses, pointwise=POINTWISE.get(kind, logistic_block),
                           IS_LOGISTIC=kind == LOGISTIC)
        p = pieces(rule)
        kernel = specialize(_fused_epoch, block=block, penalty=penalty,
                            constants=p["constants"], loop=p["loop"])
        _CACHE[key] = (penalty, kernel)
    return _CACHE[key][1]


def fusable_key(trainer, X, s):
    """What trainers must share to train in one fused call, or None for the exact path.

    Eligible: a one-output linear objective (``linear_rows_of`` one kind, the
    linear penalty), a rule without a reduction stage or layout, a parameter
    vector on the serial update path, and state arrays (``s``, as
    :func:`~fastgd.engine.step.pack` gives them) each of the parameters' size or empty.
    """
    opt = trainer.optimizer
    rule = opt.rule
    kind = kind_of(trainer.rows)
    w = opt.params
    d = X.shape[1]
    if (kind is None or trainer.penalty is not linear_penalty or rule.n_sums != 0
            or rule.layered or rule.matrix is not None or w.size > PARALLEL_THRESHOLD
            or w.dtype != X.dtype or w.size - d != int(trainer.hyper[N_INTERCEPTS])
            or w.size - d not in (0, 1) or trainer.batch_size is None):
        return None
    if any(a.size not in (0, w.size) or a.dtype != w.dtype for a in s):
        return None
    return (kind, rule.name, w.dtype.str, w.size, tuple(a.size > 0 for a in s))


class FusedRun:
    """K trainers' parameters and state stacked for :func:`make_fused`'s kernel, for one
    epoch; :meth:`finish` writes them back. ``updates`` are their :func:`pack` records."""

    def __init__(self, trainers, updates):
        from numba.typed import List
        opt = trainers[0].optimizer
        self.trainers = trainers
        self.updates = updates
        self.kernel = make_fused(kind_of(trainers[0].rows), trainers[0].penalty, opt.rule)
        self.P = np.stack([tr.params for tr in trainers])
        size = self.P.shape[1]
        self.S = tuple(np.concatenate([u.s[i] for u in updates]) if updates[0].s[i].size
                       else updates[0].s[i] for i in range(len(updates[0].s)))
        self.SC = np.stack([np.asarray(u.sc, dtype=np.float64) for u in updates]).reshape(
            len(updates), -1)
        self.H = np.stack([tr.hyper for tr in trainers])
        self.hs = List()
        for u in updates:
            self.hs.append(u.h)
        width = max(u.spec.size for u in updates)
        self.SPEC = np.zeros((len(updates), width))
        for k, u in enumerate(updates):
            self.SPEC[k, :u.spec.size] = u.spec
        self.CLIP = np.array([u.clip for u in updates], dtype=np.float64).reshape(-1, 3)
        self.T = np.array([tr.optimizer.step_count for tr in trainers], dtype=np.int64)
        self.done = np.full(len(trainers), -1, dtype=np.int64)
        self.loss = np.zeros(len(trainers))
        self.skipped = np.zeros(len(trainers), dtype=np.int64)
        self.size = size

    def train(self, data, a, batch):
        """Train on the piece ``data`` whose rows start at row ``a`` of the epoch."""
        before = self.done.copy()
        self.kernel(self.P, data.X, data.y, data.sw, self.H, self.S, self.SC, self.hs,
                    self.SPEC, self.CLIP, batch, self.T, self.done, self.loss, self.skipped)
        for k in range(self.done.size):  # rows counted from the epoch's start
            if before[k] < 0 <= self.done[k]:
                self.done[k] += a

    def finish(self):
        """Write parameters and state back; per trainer (loss_sum, t, skipped, done or -1)."""
        out = []
        for k, (tr, u) in enumerate(zip(self.trainers, self.updates)):
            np.copyto(tr.params, self.P[k])
            lo, hi = k * self.size, (k + 1) * self.size
            for own, stacked in zip(u.s, self.S):
                if own.size:
                    np.copyto(own, stacked[lo:hi])
            if np.ndim(u.sc) and np.size(u.sc):
                np.copyto(u.sc, self.SC[k])
            out.append((float(self.loss[k]), int(self.T[k]), int(self.skipped[k]),
                        int(self.done[k])))
        return out


__all__ = ["FusedRun", "fusable_key", "kind_of", "make_fused"]
