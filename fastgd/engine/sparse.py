"""Epochs over a sparse X: shuffled CSR batches gathered in compiled code, and lazy updates.

The :class:`~fastgd.engine.Trainer` hands an epoch here when X is a
:data:`fastgd.sparse.CSR` (the estimators pass one for a ``scipy.sparse``
X). The batches are those of a dense X: the epoch's sequence of rows is
:func:`fastgd.engine.data.row_order` of the same generator, so a sparse fit
and the dense fit of ``X.toarray()`` see the same batches in the same order.
The compiled epoch reads its rows in order: it runs once per piece of
``PIECE_ROWS`` rows (so that Ctrl-C stops between pieces) on a CSR whose
rows are the piece's, and its batches are consecutive rows of that CSR,
read in place. A piece is the epoch's rows copied out of X in the epoch's
order by :func:`fastgd.sparse.gather_rows` (serial: the same bits whatever
the number of threads). With more than one piece and more than one numba
thread, a helper thread copies the next piece into one of two buffers
while the epoch trains on the other (:class:`SharedFill`; the training
thread, done with its piece, copies the chunks of the next one the helper
has not reached), so the random reads of X (most of a shuffled epoch's
time) run on the second core. Rows in their own order (``shuffle=False``,
all rows) of an X in memory are not copied at all: each piece is a view
of X. The batches are the same whichever way, so are the bits (five epochs
of the 1M-row click log of :mod:`fastgd.bench.sparse`, two threads: 0.68 to
0.93 s against 0.93 to 1.05 s when each batch was gathered again inside
the epoch from its piece, the same coefficients: the two versions run in
turn in one session).

How a batch's step is applied (``sparse_updates``):

``DENSE``
    the gradient of the batch over every coordinate (data part scattered
    from the batch's nonzeros, the penalty's on every coefficient), then
    the rule's ``loop`` over the whole parameter vector: the dense rule,
    exactly, for every rule (O(d) a step).
``SCALED`` (exact)
    plain SGD (no momentum; ``weight_decay`` allowed) with an L2 penalty:
    Bottou's scaling trick (as scikit-learn's ``sgd_fast``). The
    coefficients are kept as ``w = a * v``; a step multiplies the scalar a
    by (1 - lr (alpha_2 + weight_decay)), which is the decay of every
    coefficient, and moves v only at the batch's columns:
    ``v_j -= lr g_j / a``. The intercepts are updated directly. This is
    the dense SGD step to rounding, at O(nnz of the batch) a step; a is
    folded into w when it falls below 1e-9 and at the end of each piece,
    so ``optimizer.params`` always holds w itself between calls. For a
    one-output loss the step is scattered straight from the rows'
    derivatives (:func:`direct_sgd_step`): two passes over a batch's
    nonzeros (logits, update), the update in w's dtype.
    With ``sparse_updates="lazy"``, plain SGD with an L1 share on a
    one-output model also runs this way, L1 as the cumulative penalty of
    Tsuruoka et al. (2009), as scikit-learn's ``sgd_fast``
    (:func:`direct_sgd_step`): not exact (the dense rule's L1 is a
    subgradient step on every coefficient), and a third pass.
``LAZY`` (torch ``SparseAdam`` semantics, not the dense rule)
    the rule's ``loop`` runs on the batch's coordinates only (its columns
    for every output, and the intercepts), with their state: the gradient
    there is the data gradient plus the penalty's (alpha_2 w_j + alpha_1
    sign(w_j)); coordinates the batch does not touch keep their value and
    state, and every rule's step counter advances once per batch. Clipping
    by norm takes the norm of those coordinates. Any rule runs this way.
    No closed-form catch-up of the skipped steps is attempted: under a
    penalty an untouched coordinate's gradient is alpha_2 w_j, not 0, and
    the steps of momentum, Adam (bias-corrected) or RMSprop over it do not
    sum to a closed form; those rules are exact only with ``"dense"``.

The epoch's loss is the same quantity as the dense epoch's: the mean over
batches of (batch data loss + penalty at the batch's parameters); the
SCALED and LAZY modes keep the penalty's sums (sum v_j^2, sum |v_j|)
up to date as coordinates change (to rounding: :func:`direct_sgd_step`
sums the changes in another order; recomputed at the start of every
piece), so no step costs O(d).

Full batch (``batch_size=None``): the gradient over all rows by the parallel
CSR sums kernel (:func:`fastgd.losses.sums_kernel` with the CSR layout), the
penalty, one optimizer step; training rows that are a subset (early
stopping) are gathered block by block, never all at once.

A memory-mapped X (:func:`fastgd.sparse.is_mapped`: a CSR of ``np.load(...,
mmap_mode="r")`` arrays, :func:`fastgd.sparse.load_csr`) is never handed to
the compiled epoch: each piece of the epoch's order is gathered into memory
first (:class:`MappedPieces`, the pages released as it goes), and the epoch
runs on the piece as on any other. The pieces are cut at the same
rows as for X in memory (:func:`_piece_rows`: the scale of the SCALED mode
is folded in at the end of each), so the steps are the same, bit for bit.
The compiled epoch then sees in-memory arrays only: no read-only
specialisation to compile. Full batch sums a mapped X in gathered blocks
(the same gradient to rounding: the sums are cut differently).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import NamedTuple

import numpy as np
from numba import get_num_threads

from .._numba import cast_like, jit, views
from .._specialize import specialize
from ..losses._rows import EXTRA, KIND, L1, L2, N_INTERCEPTS, linear_penalty, scale, store, \
    sums_kernel
from ..losses.csr import CSR_LAYOUT, csr_linear_rows, csr_linear_rows_at, csr_scaled_logits, \
    csr_softmax_rows, csr_softmax_rows_at
from ..losses.linear import is_linear_rows, linear_rows, pointwise_block
from ..losses.softmax import softmax_rows
from ..kernels.rule import pieces
from ..schedules import schedule_value
from ..sparse import CSR, gather_rows, rows_nnz, take_rows, touched_columns
from ..sparse.mapped import CSRPages, is_mapped
from ._threads import guard
from .data import row_order
from .step import pack, prepare_grad, unpack

DENSE, SCALED, LAZY = 0, 1, 2
#: the values of ``sparse_updates`` the estimators and the Trainer take
SPARSE_UPDATES = ("auto", "dense", "lazy")
#: rows per compiled call (a multiple of the batch size is taken), at most about
#: PIECE_BYTES of entries: small enough that the two pieces of a shuffled epoch (the one
#: trained on, the one being gathered) stay in the last-level cache, so that the epoch reads
#: its piece from the cache rather than from memory. Five shuffled epochs of the 1M-row click
#: log (fastgd.bench.sparse, 5.2 MB of entries a piece of 16,384 rows) took 0.27-0.30 s on two
#: threads and 0.39-0.46 s on one, against 0.30-0.36 s and 0.53-0.61 s with pieces of 65,536
#: rows (21 MB) and 0.36 s and 0.60 s with 4,096 (the calls' overhead); A/B in one session,
#: 2026-12-04, 32 MB of L3
PIECE_ROWS = 16384
PIECE_BYTES = 8 * 2**20
#: below this the scale of the SCALED mode is folded into the coefficients
MIN_SCALE = 1e-9
#: rows of a piece gathered as one claim of :class:`SharedFill`
CHUNK_ROWS = 4096


# -- gathering state at the touched coordinates --------------------------------------------

@jit
def _take(src, idx, count, dst):
    if src.size > 0:
        for q in range(count):
            dst[q] = src[idx[q]]


@jit
def _put(src, idx, count, dst):
    if dst.size > 0:
        for q in range(count):
            dst[idx[q]] = src[q]


@jit
def take_state(s, idx, count, st):
    """st[i][q] = s[i][idx[q]] for every state array s[i] that is not empty, q < count.

    ``s`` is a rule's tuple of state arrays (every rule has one at least, all
    of the parameters' type, so the tuple can be indexed in a loop).
    """
    for i in range(len(s)):
        _take(s[i], idx, count, st[i])


@jit
def put_state(st, idx, count, s):
    """s[i][idx[q]] = st[i][q]: the inverse of :func:`take_state`."""
    for i in range(len(s)):
        _put(st[i], idx, count, s[i])


@jit
def penalty_sums(w, n_coef):
    """(sum w_j^2, sum |w_j|) over the coefficients, in float64."""
    s2 = 0.0
    s1 = 0.0
    for j in range(n_coef):
        x = np.float64(w[j])
        s2 += x * x
        s1 += abs(x)
    return s2, s1


class Buffers(NamedTuple):
    """What a sparse epoch works in: a batch's logits and derivatives, its touched coordinates.

    ``z``, ``lv``, ``dz``: a batch's logits, losses and derivatives
    (float64); ``q`` (n_features, float64; empty without L1) and ``u`` (1):
    the cumulative L1 penalty's state, kept for the Trainer's life (one fit
    or partial_fit call); ``g``: float64 gradient (size of w), all zeros
    between batches in the SCALED and LAZY modes; ``grad``: w's dtype, size
    of w; ``marker``, ``touched``: for :func:`fastgd.sparse.touched_columns`;
    ``idx``: the coordinates of a step; ``wt`` and ``st``: w and the rule's
    state arrays gathered at them (``st[i]`` empty where the state array is).
    """

    g: np.ndarray
    grad: np.ndarray
    marker: np.ndarray
    touched: np.ndarray
    z: np.ndarray
    lv: np.ndarray
    dz: np.ndarray
    q: np.ndarray
    u: np.ndarray
    idx: np.ndarray
    wt: np.ndarray
    st: tuple


def _sparse_epoch(w, X, y, sw, n, hyper, update, batch_size, t, buf):
    s, sc, h, spec, clip, seg = update
    d = X.n_cols
    n_coef = w.size - int(hyper[N_INTERCEPTS])
    l2 = hyper[L2]
    l1 = hyper[L1]
    weighted = sw.size > 0
    g = buf.g
    a = 1.0                       # the SCALED mode's w[:n_coef] = a * v
    s2, s1 = penalty_sums(w, n_coef) if MODE != DENSE else (0.0, 0.0)  # noqa: F821
    total = 0.0
    skipped = 0
    start = 0
    while start < n:
        e = min(n, start + batch_size)
        m = e - start
        xb = CSR(X.data, X.indices, X.indptr[start:e + 1], d)
        yb = y[start:e]
        sb = sw[start:e] if weighted else sw
        if MODE == SCALED and DIRECT:  # noqa: F821
            loss_sum = direct_rows(w, a, xb, yb, sb, hyper, m, buf.z, buf.lv, buf.dz)
            f = loss_sum / m + 0.5 * l2 * a * a * s2 + l1 * abs(a) * s1
            if not np.isfinite(f):
                break
            total += f * m
            start = e
            lr = schedule_value(spec, t)
            t += 1
            wd = h[WEIGHT_DECAY]  # noqa: F821
            a, s2, s1 = direct_sgd_step(w, xb, m, buf.dz, n_coef, a, lr, l2 + wd, wd, s2, s1, l1,
                                        buf.q, buf.u)
            continue
        if MODE == DENSE:  # noqa: F821 (MODE and the functions are bound by specialize)
            g[:] = 0.0
            loss_sum = rows(w, 1.0, xb, yb, sb, hyper, g)  # noqa: F821
            f = scale(g, loss_sum, m) + linear_penalty(w, hyper, g)
            nt = w.size
            gt = buf.grad
            store(g, gt)
        else:
            nt = step_coordinates(xb, m, n_coef, w.size, buf)
            loss_sum = rows(w, a, xb, yb, sb, hyper, g)  # noqa: F821
            f = loss_sum / m + 0.5 * l2 * a * a * s2 + l1 * abs(a) * s1
            gt = buf.grad[:nt]
            take_gradient(g, buf.idx, nt, m, w, n_coef, l2, l1, MODE == LAZY, gt)  # noqa: F821
        if not np.isfinite(f):
            break
        total += f * m
        start = e
        if not prepare_grad(gt, clip):
            skipped += 1
            continue
        lr = schedule_value(spec, t)
        t += 1
        if MODE == SCALED:  # noqa: F821
            wd = h[WEIGHT_DECAY]  # noqa: F821
            a, s2, s1 = scaled_sgd_step(w, gt, buf.idx, nt, n_coef, a, lr, l2 + wd, wd, s2, s1)
            continue
        k = constants(w, t, lr, h, sc)  # noqa: F821
        if MODE == DENSE and N_SUMS > 0:  # noqa: F821 (the reduction stage, per segment)
            for j in range(seg.shape[0]):
                segment_step(w, gt, s, k, sc, seg[j])  # noqa: F821
            continue
        if MODE == DENSE:  # noqa: F821
            loop(w, gt, s, k)  # noqa: F821
            continue
        wt = buf.wt[:nt]
        for q in range(nt):
            wt[q] = w[buf.idx[q]]
        take_state(s, buf.idx, nt, buf.st)
        loop(wt, gt, views(buf.st, 0, nt), k)  # noqa: F821
        put_state(buf.st, buf.idx, nt, s)
        s2, s1 = put_coordinates(wt, buf.idx, nt, n_coef, w, s2, s1)
    if MODE == SCALED and a != 1.0:  # noqa: F821
        for j in range(n_coef):
            w[j] = w[j] * a
    return total, t, skipped, start


@jit
def step_coordinates(xb, m, n_coef, size, buf):
    """The coordinates a batch's step touches into buf.idx: its columns for every output, then
    the intercepts; returns their count."""
    d = xb.n_cols
    count = touched_columns(xb, 0, m, buf.marker, buf.touched)
    nt = 0
    for c in range(n_coef // d):
        for q in range(count):
            buf.idx[nt] = c * d + buf.touched[q]
            nt += 1
    for j in range(n_coef, size):
        buf.idx[nt] = j
        nt += 1
    return nt


@jit
def take_gradient(g, idx, nt, m, w, n_coef, l2, l1, penalty, gt):
    """gt[q] = g[idx[q]] / m (plus the penalty's gradient at coefficients when ``penalty``),
    and g[idx[q]] = 0 again: g is all zeros between batches."""
    for q in range(nt):
        j = idx[q]
        gj = g[j] / m
        g[j] = 0.0
        if penalty and j < n_coef:
            wj = np.float64(w[j])
            gj += l2 * wj + l1 * np.sign(wj)
        gt[q] = gj


@jit
def put_coordinates(wt, idx, nt, n_coef, w, s2, s1):
    """w[idx[q]] = wt[q]; returns the penalty sums (sum w_j^2, sum |w_j|) updated to match."""
    for q in range(nt):
        j = idx[q]
        if j < n_coef:
            old = np.float64(w[j])
            new = np.float64(wt[q])
            s2 += new * new - old * old
            s1 += abs(new) - abs(old)
        w[j] = wt[q]
    return s2, s1


@jit
def decayed_scale(w, n_coef, a, lr, decay, s2, s1):
    """(a (1 - lr decay), s2, s1): the scale after a step's decay; below ``MIN_SCALE`` it is
    folded into w[:n_coef] first (O(n_coef), rarely) and the penalty sums recomputed."""
    a_new = a * (1.0 - lr * decay)
    if abs(a_new) < MIN_SCALE:
        for j in range(n_coef):
            w[j] = w[j] * a_new
        s2, s1 = penalty_sums(w, n_coef)
        a_new = 1.0
    return a_new, s2, s1


@jit
def direct_rows(w, a, xb, y, sw, hyper, m, z, lv, dz):
    """One-output linear rows of a batch at coefficients a * w: the logits, then the per-row
    losses (returned summed) and derivatives ``dz[:m]`` (weighted), no scatter."""
    fit_b = hyper[N_INTERCEPTS] != 0.0
    b = np.float64(w[xb.n_cols]) if fit_b else 0.0
    csr_scaled_logits(xb, 0, m, w, a, b, z)
    pointwise_block(int(hyper[KIND]), z, y, sw, 0, m, hyper[EXTRA], lv, dz)
    total = 0.0
    for k in range(m):
        total += lv[k]
    return total


@jit
def direct_sgd_step(w, xb, m, dz, n_coef, a, lr, decay, wd, s2, s1, l1, q, u):
    """The SCALED step of a one-output linear model straight from the rows' derivatives.

    The gradient of the coefficients is sum_k dz[k] x_k / m, so the step
    ``v_j -= lr g_j / a`` is a scatter of -lr dz[k] / (a m) times each
    entry of the batch, with no gradient buffer, touched-column list or
    second pass, in w's dtype: a row's factor -lr dz[k] / (a m) is taken in
    float64 and rounded once to w's dtype, then each of its entries moves
    its coefficient by one multiply-add in w's dtype (float32 arithmetic
    for a float32 model). The dense step to w's rounding: the terms are
    added one by one rather than summed in float64 first. Then the
    intercept. See :func:`scaled_sgd_step` for the decay and the fold.

    With an L1 share (l1 > 0; only with ``sparse_updates="lazy"``), the
    cumulative penalty of Tsuruoka, Tsujii & Ananiadou (2009), as
    scikit-learn's ``sgd_fast`` applies it: ``u[0]`` is the total L1
    penalty lr_t * l1 a coefficient could have received so far, ``q[j]``
    what coefficient j did receive; after the step, each coefficient the
    batch touched is moved towards 0 by the difference, clipped at 0
    (w_j > 0: max(0, w_j - (u + q_j)); w_j < 0: min(0, w_j + (u - q_j))).
    Applying it twice with the same u changes nothing, so a second pass
    over the batch's entries applies it once per touched column.
    Untouched coefficients get their share when next touched. Not the
    dense subgradient step (which never makes a coefficient exactly 0).

    The penalty sums s2 = sum v_j^2 and s1 = sum |v_j| follow every change;
    s1 only with l1 > 0 (else it is not in the loss). In the scatter s2
    takes the change (new - old)(new + old) of each stored value, in w's
    dtype, in four partial sums a row that are added to the float64 sum at
    the row's end: the loss's penalty term differs from the sum of the
    stored values' squares by rounding only (and the sums are recomputed
    at every piece).
    """
    a_new, s2, s1 = decayed_scale(w, n_coef, a, lr, decay, s2, s1)
    step = lr / (a_new * m)
    data, indices, indptr = xb.data, xb.indices, xb.indptr
    gb = 0.0
    # s1 only counts in the loss with an L1 share; not tracking it made five epochs of the
    # 1M-row click log 9-25% faster (A/B in one process, in rows order and shuffled)
    track_l1 = l1 > 0.0
    # s2's change in four partial sums taken in turn (a fixed order): one serial add chain
    # over the batch's entries made the step 1.6-1.7x the time of the same scatter without
    # s2, four 1.3x. The update and those sums in w's dtype rather than in float64 (float32
    # for the click log): five epochs in row order, training alone, 0.40-0.46 s against
    # 0.45-0.54 s (A/B of the two versions in turn, one session, 2026-12-03)
    zero = cast_like(0.0, w)
    for k in range(m):
        r = step * dz[k]
        gb += dz[k]
        if r == 0.0:
            continue
        rw = cast_like(r, w)
        c0 = c1 = c2 = c3 = zero
        for p in range(np.uint64(indptr[k]), np.uint64(indptr[k + 1])):
            j = np.uint64(indices[p])
            old = w[j]
            new = old - rw * data[p]
            w[j] = new
            c0 += (new - old) * (new + old)
            c0, c1, c2, c3 = c1, c2, c3, c0
            if track_l1:
                s1 += abs(np.float64(new)) - abs(np.float64(old))
        s2 += np.float64((c0 + c1) + (c2 + c3))
    if l1 > 0.0:
        u[0] += lr * l1
        total = u[0]
        for p in range(np.uint64(indptr[0]), np.uint64(indptr[m])):
            j = np.uint64(indices[p])
            old = np.float64(w[j])
            wj = a_new * old
            if wj > 0.0:
                wn = max(0.0, wj - (total + q[j]))
            elif wj < 0.0:
                wn = min(0.0, wj + (total - q[j]))
            else:
                continue
            q[j] += wn - wj
            w[j] = wn / a_new
            new = np.float64(w[j])
            s2 += new * new - old * old
            s1 += abs(new) - abs(old)
    if n_coef < w.size:
        b = np.float64(w[n_coef])
        w[n_coef] = b - lr * (cast_like(gb / m, w) + wd * b)
    return a_new, s2, s1


@jit
def scaled_sgd_step(w, gt, idx, nt, n_coef, a, lr, decay, wd, s2, s1):
    """One plain SGD step with w[:n_coef] = a * v: returns the new (a, s2, s1).

    Every coefficient decays by (1 - lr decay) (decay = alpha_2 +
    weight_decay): a takes it; the step's coordinates move by -lr g_j in w's
    units, -lr g_j / a in v's. The intercepts (idx >= n_coef) are updated
    as they are: b -= lr (g_b + weight_decay b). When |a| falls below
    ``MIN_SCALE`` it is folded into v first (O(n_coef), rarely).
    """
    a_new, s2, s1 = decayed_scale(w, n_coef, a, lr, decay, s2, s1)
    step = lr / a_new
    for q in range(nt):
        j = idx[q]
        if j < n_coef:
            old = np.float64(w[j])
            w[j] = old - step * np.float64(gt[q])
            new = np.float64(w[j])
            s2 += new * new - old * old
            s1 += abs(new) - abs(old)
        else:
            b = np.float64(w[j])
            w[j] = b - lr * (np.float64(gt[q]) + wd * b)
    return a_new, s2, s1


_CACHE = {}


def make_sparse_epoch(rows, rule, mode):
    """The compiled sparse epoch for a CSR objective's rows at a * v (``csr_linear_rows_at``
    or ``csr_softmax_rows_at``), a :class:`fastgd.kernels.Rule` and a mode (DENSE, SCALED, LAZY).

    ``epoch(w, X, y, sw, n, hyper, update, batch_size, t, buffers) ->
    (loss_sum, t, skipped, done)``, as :func:`fastgd.engine.epoch.make_epoch`,
    over the first ``n`` rows of the CSR X in their order, in batches of
    consecutive rows (X is a piece: see :func:`run`). Built once per
    process, cached on disk.
    """
    key = (rows.py_func.__name__, rule.name, mode)
    if key not in _CACHE:
        wd = _param_index(rule, "weight_decay") if mode == SCALED else 0
        stage = pieces(rule)
        _CACHE[key] = specialize(_sparse_epoch, rows=rows, constants=rule.constants,
                                 loop=rule.loop, MODE=mode, WEIGHT_DECAY=wd,
                                 DIRECT=rows is csr_linear_rows_at, N_SUMS=stage["N_SUMS"],
                                 segment_step=stage["segment_step"])
    return _CACHE[key]


def _param_index(rule, name):
    """The position of hyperparameter ``name`` in the rule's ``h`` tuple."""
    pos = 0
    for p in rule.params:
        if p.name == name:
            return pos
        pos += 2 if p.kind == "betas" else 1
    raise KeyError(name)


#: the CSR rows at coefficients a * v of each dense objective, and the plain CSR rows
SPARSE_ROWS = {linear_rows: (csr_linear_rows_at, csr_linear_rows),
               softmax_rows: (csr_softmax_rows_at, csr_softmax_rows)}


def sparse_rows_for(rows):
    """(rows at a * v, plain CSR rows) for the dense objective ``rows`` of a linear model
    (the CSR rows read the per-row loss from ``hyper``, as :func:`linear_rows` does)."""
    if is_linear_rows(rows):
        rows = linear_rows
    if rows in SPARSE_ROWS:
        return SPARSE_ROWS[rows]
    raise TypeError(f"the objective {getattr(rows, '__name__', rows)!r} takes a dense X only: "
                    f"pass X.toarray() or a linear model's loss")


def choose_mode(requested, optimizer, hyper, penalty, one_output=False):
    """DENSE, SCALED or LAZY for ``sparse_updates=requested`` (see the module docstring).

    "auto": SCALED where it is exact (plain SGD without momentum, no L1, no
    clipping, the linear models' penalty), else DENSE. "lazy": SCALED where
    exact, and for plain SGD with L1 on a one-output model (the cumulative
    L1 penalty of :func:`direct_sgd_step`), else LAZY; a rule with a
    reduction stage (sums over the whole vector) is always DENSE. "dense":
    DENSE.
    """
    if requested not in SPARSE_UPDATES:
        raise ValueError(f"sparse_updates must be one of {SPARSE_UPDATES}, got {requested!r}")
    if requested == "dense" or penalty is not linear_penalty:
        return DENSE
    opt = optimizer
    if opt.rule.reduce is not None:   # sums over the whole vector (Prodigy, LAMB, Adafactor):
        return DENSE                  # no lazy form
    hp = opt._hyper
    plain = (opt.rule.name == "sgd" and float(hp.get("momentum", 0.0)) == 0.0
             and not hp.get("clip_norm") and not hp.get("clip_value"))
    if plain and (hyper[L1] == 0.0 or (requested == "lazy" and one_output)):
        return SCALED
    return LAZY if requested == "lazy" else DENSE


# -- the Trainer's side ----------------------------------------------------------------------

def _max_row_nnz(trainer, X):
    # the most entries of a row, once per Trainer and X (indptr read in blocks when mapped,
    # its pages released)
    key = ("max_row_nnz", id(X.indptr), X.indptr.size)
    if key not in trainer._buffers:
        pages = CSRPages(X)
        step = trainer.block_bytes // X.indptr.itemsize + 1
        most = 0
        for lo in range(0, X.indptr.size - 1, step):
            most = max(most, int(np.diff(X.indptr[lo:lo + step + 1]).max(initial=0)))
            pages.indptr.release(lo, lo + step + 1)
        trainer._buffers[key] = most
    return trainer._buffers[key]


def _buffers(trainer, X, y, sw, batch, w, state):
    cap = max(1, _max_row_nnz(trainer, X) * batch)
    size = w.size
    key = ("sparse", X.data.dtype, X.indices.dtype, cap, batch, size, y.dtype, sw.size > 0,
           trainer.hyper[L1] > 0,
           tuple(a.size > 0 for a in state))
    buf = trainer._buffers.get(key)
    if buf is None:
        n_touch = min(cap, X.n_cols) + 1
        k = max(1, size // max(1, X.n_cols))
        buf = Buffers(np.zeros(size),
                      np.empty(size, w.dtype), np.zeros(X.n_cols, np.bool_),
                      np.empty(n_touch, np.int64), np.empty(batch), np.empty(batch),
                      np.empty(batch), np.zeros(X.n_cols if trainer.hyper[L1] > 0 else 0),
                      np.zeros(1), np.empty(min(size, k * n_touch + k), np.int64),
                      np.empty(min(size, k * n_touch + k), w.dtype),
                      tuple(np.empty(min(size, k * n_touch + k) if a.size else 0, a.dtype)
                            for a in state))
        trainer._buffers[key] = buf
    return buf


def _row_bytes(X):
    # mean bytes of entries a row
    n = X.indptr.size - 1
    return max(1, (X.data.itemsize + X.indices.itemsize) * X.data.size // max(n, 1))


def _block_rows(X, batch, block_bytes):
    # rows of about block_bytes of nonzeros, a multiple of the batch (for shuffle="blocks")
    n = X.indptr.size - 1
    rows = max(1, min(block_bytes // _row_bytes(X), n // 16))
    return max(batch, rows // batch * batch)


def _piece_rows(X, batch):
    # rows per compiled call: PIECE_ROWS, fewer for rows of many entries, whole batches; the
    # same for X in memory and memory-mapped, so that both fold the scale at the same rows
    rows = min(PIECE_ROWS, PIECE_BYTES // _row_bytes(X))
    return max(batch, rows // batch * batch)


def _chunk_rows(X, block_bytes):
    # rows a mapped X's pieces are gathered in between two releases of its pages: about
    # block_bytes of entries (of pages too, but for shuffle="full": there a row read at random
    # maps the page cache's folio around it, up to 2 MB: 10 random rows of a 32 MB file
    # mapped 14 MB, 50 all of it, on Linux 6.18 whatever the madvise advice)
    return max(1, block_bytes // _row_bytes(X))


class MappedPieces:
    """The rows of each piece of an epoch over a memory-mapped CSR, gathered into memory
    (for X in memory, two threads gather ahead: :class:`SharedFill`).

    ``take(part)`` copies the rows ``part`` of X (and their y, sw) into
    buffers kept across pieces (grown when a piece has more entries) by the
    compiled :func:`fastgd.sparse.gather_rows`, ``chunk`` rows at a time,
    releasing the pages each chunk read (:class:`fastgd.sparse.mapped.CSRPages`)
    so that resident memory holds the piece and one chunk's pages, not the
    files; it returns ``(X_piece, y_piece, sw_piece)``: an in-memory CSR
    of X's dtypes whose row r is row part[r] of X. The epoch then runs on
    the piece's rows in order: the batches of X in the order ``part``,
    entries in the same order, the same bits.
    """

    def __init__(self, X, y, sw, piece, chunk):
        self.X, self.y, self.sw, self.chunk = X, y, sw, chunk
        self.pages = CSRPages(X)
        self.data = np.empty(0, X.data.dtype)
        self.indices = np.empty(0, X.indices.dtype)
        self.indptr = np.empty(piece + 1, X.indptr.dtype)
        self.yb = np.empty(piece, y.dtype)
        self.sb = np.empty(piece, sw.dtype) if sw.size else sw

    def take(self, part):
        X, y, sw, k = self.X, self.y, self.sw, part.size
        nnz = int(rows_nnz(X.indptr, part))
        self.pages.indptr.release()
        if nnz > self.data.size:
            self.data = np.empty(nnz, X.data.dtype)
            self.indices = np.empty(nnz, X.indices.dtype)
        pos = 0
        for r in range(0, k, self.chunk):
            e = min(k, r + self.chunk)
            ptr = self.indptr[r:e + 1]      # gather_rows sets ptr[0] = 0: offsets from pos
            pos += gather_rows(X, y, sw, part[r:e], self.data[pos:], self.indices[pos:], ptr,
                               self.yb[r:e], self.sb[r:e] if sw.size else sw)
            ptr += ptr.dtype.type(pos) - ptr[-1]
            self.pages.release()
        return (CSR(self.data[:nnz], self.indices[:nnz], self.indptr[:k + 1], X.n_cols),
                self.yb[:k], self.sb[:k] if sw.size else sw)


class SharedFill(MappedPieces):
    """The next piece of an epoch over a CSR in memory, gathered by two threads at once.

    The helper thread calls :meth:`fill`: it sizes the piece
    (:func:`fastgd.sparse.rows_nnz` of each chunk of ``CHUNK_ROWS`` rows,
    whose running sums give every chunk its place in the buffers), then
    gathers chunks, claiming them one at a time. The thread that trains,
    once done with its own piece, calls :meth:`help` and claims chunks of
    the same piece too, so that neither core idles while the other still
    copies: which thread copies a chunk changes no value, so the piece is
    the same bits as one thread's copy (:class:`MappedPieces`).
    """

    def __init__(self, X, y, sw, piece):
        super().__init__(X, y, sw, piece, CHUNK_ROWS)   # the same buffers
        self.indptr[0] = 0      # the chunks write indptr[r + 1:e + 1]
        self.lock = threading.Lock()
        self.job = None   # (part, chunk starts in entries, [next chunk]) once sized

    def fill(self, part):
        """Size the piece of rows ``part``, gather it (with :meth:`help` from the other
        thread) and return it as :meth:`MappedPieces.take` does; runs on the helper thread."""
        X, k = self.X, part.size
        starts = [0]
        for r in range(0, k, CHUNK_ROWS):
            starts.append(starts[-1] + int(rows_nnz(X.indptr, part[r:r + CHUNK_ROWS])))
        nnz = starts[-1]
        if nnz > self.data.size:
            self.data = np.empty(nnz, X.data.dtype)
            self.indices = np.empty(nnz, X.indices.dtype)
        self.job = (part, starts, [0])
        self.help()
        sw = self.sw
        return (CSR(self.data[:nnz], self.indices[:nnz], self.indptr[:k + 1], X.n_cols),
                self.yb[:k], self.sb[:k] if sw.size else sw)

    def help(self):
        """Gather chunks of the piece being filled until none is left unclaimed (nothing if
        the helper thread has not sized it yet)."""
        job = self.job
        if job is None:
            return
        part, starts, claimed = job
        X, y, sw = self.X, self.y, self.sw
        while True:
            with self.lock:
                c = claimed[0]
                claimed[0] += 1
            r = c * CHUNK_ROWS
            if r >= part.size:
                return
            e = min(part.size, r + CHUNK_ROWS)
            pos = starts[c]
            ptr = np.empty(e - r + 1, self.indptr.dtype)  # its own: indptr[r] is the last chunk's
            gather_rows(X, y, sw, part[r:e], self.data[pos:], self.indices[pos:], ptr,
                        self.yb[r:e], self.sb[r:e] if sw.size else sw)
            self.indptr[r + 1:e + 1] = ptr[1:] + ptr.dtype.type(pos)


def run(trainer, X, y, sw, rows):
    """One epoch of ``trainer`` over the CSR X (rows ``rows``, None: all): an EpochResult.

    The epoch's rows are copied piece by piece into memory the compiled
    epoch reads in order (:class:`MappedPieces` for a memory-mapped X,
    :class:`SharedFill` in memory, by two threads with ``ahead``); all rows
    of an X in memory in their order are trained on in place. The same
    steps, bit for bit, whichever way.
    """
    from .trainer import DivergenceError, EpochResult
    opt = trainer.optimizer
    n = X.indptr.size - 1
    m = n if rows is None else rows.size
    t_start = opt.step_count
    if trainer.batch_size is None:
        loss_sum, skipped = _full_batch(trainer, X, y, sw, rows)
        return EpochResult(loss_sum / m, opt.step_count - t_start, m, 0.0, skipped)
    batch = min(trainer.batch_size, m)
    order = row_order(rows, n, trainer.shuffle, trainer.rng, _block_rows(X, batch,
                                                                          trainer.block_bytes))
    epoch, buf, p = _prepare(trainer, X, y, sw, batch)
    piece = _piece_rows(X, batch)
    starts = range(0, m, piece)
    mapped = is_mapped(X)
    in_place = order is None and not mapped and _epoch_reads(X, y, sw)
    ahead = not (mapped or in_place) and len(starts) > 1 and get_num_threads() > 1
    if mapped:
        pieces = [MappedPieces(X, y, sw, piece, _chunk_rows(X, trainer.block_bytes))]
    elif not in_place:  # in memory: with ``ahead``, two buffers the threads fill in turn
        pieces = [SharedFill(X, y, sw, piece) for _ in range(2 if ahead else 1)]
    if order is None:
        order = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    loss_sum, skipped, t = 0.0, 0, t_start
    with ThreadPoolExecutor(1) if ahead else nullcontext() as pool:
        if ahead:
            filled = pool.submit(pieces[0].fill, order[:piece])
        for i, a in enumerate(starts):
            part = order[a:a + piece]
            if ahead:
                pieces[i % 2].help()   # claim what the helper has not copied yet
                Xp, yp, sp = filled.result()
                if i + 1 < len(starts):  # the other buffer: its piece was trained on
                    pieces[(i + 1) % 2].job = None
                    filled = pool.submit(pieces[(i + 1) % 2].fill, order[a + piece:a + 2 * piece])
            elif mapped:
                Xp, yp, sp = pieces[0].take(part)
            elif not in_place:
                Xp, yp, sp = pieces[0].fill(part)
            else:
                Xp, yp, sp = _row_span(X, y, sw, a, a + part.size)
            with guard():
                s, t, k, done = epoch(opt.params, Xp, yp, sp, part.size, trainer.hyper, p, batch,
                                      t, buf)
            if done != part.size:
                unpack(opt, p, t, skipped + k)
                raise DivergenceError(f"the loss became NaN or inf after {a + done} rows")
            loss_sum += s
            skipped += k
    unpack(opt, p, t, skipped)
    return EpochResult(loss_sum / m, t - t_start, m, 0.0, skipped)


def _epoch_reads(X, y, sw):
    # True if the epoch can read X's own arrays: the types of a gathered piece's (writeable
    # and contiguous), so that no second specialisation is compiled
    return all(a.flags.writeable and a.flags.c_contiguous
               for a in (X.data, X.indices, X.indptr, y, sw))


def _row_span(X, y, sw, lo, hi):
    # rows lo..hi-1 of X in memory as a CSR of its own (views: offsets kept absolute)
    return CSR(X.data, X.indices, X.indptr[lo:hi + 1], X.n_cols), y[lo:hi], \
        sw[lo:hi] if sw.size else sw


def _prepare(trainer, X, y, sw, batch):
    opt = trainer.optimizer
    mode = choose_mode(trainer.sparse_updates, opt, trainer.hyper, trainer.penalty,
                       is_linear_rows(trainer.rows))
    epoch = make_sparse_epoch(sparse_rows_for(trainer.rows)[0], opt.rule, mode)
    p = pack(opt)
    buf = _buffers(trainer, X, y, sw, batch, opt.params, p.s)
    return epoch, buf, p


def _in_memory_like(X, y, sw):
    # (CSR, y, sw) of no rows, of the types of a piece of X (see _epoch_reads)
    return (CSR(np.empty(0, X.data.dtype), np.empty(0, X.indices.dtype),
                np.zeros(1, X.indptr.dtype), X.n_cols),
            np.empty(0, y.dtype), np.empty(0, sw.dtype))


def warm_up(trainer, X, y, sw, rows):
    """Compile (or load) the sparse epoch for these arrays by running it on no rows."""
    if trainer.batch_size is None:
        return 0.0
    opt = trainer.optimizer
    m = X.indptr.size - 1 if rows is None else rows.size
    batch = max(1, min(trainer.batch_size, m))
    epoch, buf, p = _prepare(trainer, X, y, sw, batch)
    mapped = is_mapped(X)
    key = ("sparse, mapped", id(X.indptr), batch)
    if getattr(epoch, "signatures", True) and (not mapped or key in trainer._warm):
        return 0.0
    t0 = time.perf_counter()
    say = trainer.on_compile
    if say is not None:
        say(f"preparing the compiled sparse training loop ({opt.rule.class_name}, "
            f"{X.data.dtype}): compiling (once: numba caches it on disk) or loading it ...")
    none = np.empty(0, np.int32)
    piece, yp, sp = _in_memory_like(X, y, sw)   # what the epoch reads: gathered or X's own
    with guard():
        epoch(opt.params, piece, yp, sp, 0, trainer.hyper, p, batch, opt.step_count, buf)
    gather_rows(X, y, sw, none, piece.data, piece.indices, piece.indptr, yp, sp)
    rows_nnz(X.indptr, none)
    if mapped:
        trainer._warm.add(key)
    seconds = time.perf_counter() - t0
    if say is not None:
        say(f"... ready in {seconds:.1f} s")
    return seconds


def _full_batch(trainer, X, y, sw, rows):
    # the gradient over all rows (the parallel sums kernel of the CSR rows), in blocks of
    # gathered rows when they are a subset or X is memory-mapped (its pages released after
    # each block), then the penalty and one optimizer step
    opt = trainer.optimizer
    csr_rows = sparse_rows_for(trainer.rows)[1]
    sums = sums_kernel(csr_rows, layout=CSR_LAYOUT)
    n = X.indptr.size - 1
    g64 = np.zeros(opt.params.size)
    mapped = is_mapped(X)
    if rows is None and not mapped:
        with guard():
            loss_sum = sums(opt.params, X, y, sw, trainer.hyper, g64)
        return trainer._full_batch_step(g64, loss_sum, n)
    m = n if rows is None else rows.size
    block = _piece_rows(X, 1)
    pages = CSRPages(X)
    loss_sum = 0.0
    for a in range(0, m, block):
        idx = np.arange(a, min(m, a + block)) if rows is None else rows[a:a + block]
        xb, yb, sb = take_rows(X, y, sw, idx)
        pages.release()
        with guard():
            loss_sum += sums(opt.params, xb, yb, sb, trainer.hyper, g64)
    return trainer._full_batch_step(g64, loss_sum, m)
