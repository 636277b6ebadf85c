r"""Forward pass and backpropagation of a multi-layer perceptron, in nopython mode.

The network lives in ONE flat parameter vector ``w``. Layer ``l``
(``l = 0 .. L-1``) maps ``sizes[l]`` inputs to ``sizes[l + 1]`` outputs; its
weight matrix ``W_l`` (``sizes[l] x sizes[l + 1]``, C order: scikit-learn's
``coefs_[l]``) starts at ``offs[l]`` and its bias ``b_l`` follows it;
``offs[L]`` is the number of parameters. Gradients share the layout, so one
update-rule step moves every weight and bias.

Forward, for a block of m rows, A_0 = X (m x sizes[0])::

    Z_l = A_{l-1} W_l + 1 b_l^T
    A_l = f(Z_l)          hidden layers; f = relu | tanh | logistic | identity
    output: z = Z_L       identity (regression), sigmoid (two classes), softmax (K classes)

Loss (fastgd's estimator convention: a weighted mean over the n rows of the
batch, sample weights s_i with mean 1, and penalties on the weights only)::

    squared error   l_i = (z_i - y_i)^2 / 2
    logistic        l_i = softplus(z_i) - y_i z_i                  y_i in {0, 1}
    softmax         l_i = logsumexp(z_i) - z_{i, y_i}             y_i the class index
    L = (1/n) sum_i s_i l_i + sum_l [alpha_2/2 ||W_l||^2 + alpha_1 ||W_l||_1]

Each loss is the negative log-likelihood of its output activation, so the
output error needs no activation derivative, and backpropagation is::

    delta_L     = diag(s) (yhat - Y)             yhat = sigmoid(z) | softmax(z) | z; Y one-hot
    dL/dW_l     = (1/n) A_{l-1}^T delta_l + alpha_2 W_l + alpha_1 sign(W_l)
    dL/db_l     = (1/n) 1^T delta_l
    delta_{l-1} = (delta_l W_l^T) * f'(A_{l-1})

with f' written through the activation itself: relu' = [a > 0],
tanh' = 1 - a^2, logistic' = a (1 - a), identity' = 1. Softplus and
log-sum-exp are evaluated stably (no overflow at any logit).

How this plugs into the engine
------------------------------
:func:`mlp_rows` and :func:`mlp_penalty` are an objective of
:mod:`fastgd.losses._rows`: ``rows(w, X, y, sw, hyper, acc)`` sums the
weighted row losses of its rows and adds their gradient sums to the float64
``acc``. The fused epoch of :mod:`fastgd.engine` cuts every batch into parts
of rows, runs the parts in parallel (each into its own buffer) and merges
them in order, so the MLP inherits its batching, shuffling, every update
rule and schedule, and its thread-independent results. ``hyper`` carries the
architecture after the four common entries (see :func:`mlp_hyper`).

Inside a part, rows go through forward and backward in blocks of ``BLOCK``
rows on one workspace.

Matrix products: BLAS where it pays
-----------------------------------
The three products of a layer (``A W``, ``A^T delta``, ``delta W^T``) are
numba's ``np.dot``: BLAS ``gemm`` from scipy's OpenBLAS, held to one thread
during fit and predict (the parallelism is over parts of a batch; OpenBLAS
threads inside numba's threads oversubscribe the cores). Plain loops were
measured against it (``python benchmarks/measure_nn_matmul.py``: best of 30,
float32, one thread, 2-core AMD EPYC Zen 4; microseconds per call)::

    m x k x n          A W + b          A^T delta          delta W^T
                       loops   BLAS     loops   BLAS       loops   BLAS
    128 x 100 x 64     136     14.9     36.1    14.4       82.3    19.2
    128 x 256 x 256    373     178      486     174        589     177
    128 x 64 x 10      30.2    2.61     18.2    1.81       15.8    2.76
    128 x 64 x 1       29.5    0.63     11.5    0.41       0.43    1.15
    128 x 16 x 1       4.58    0.41     2.96    0.16       0.22    0.42
    32 x 4 x 3         0.36    0.13     0.30    0.13       0.20    0.19

A numba ``np.dot`` call costs only about 0.1 us, and OpenBLAS's small-matrix
kernels beat straightforward loops at every size down to 16 x 5 x 7; float64
gives the same picture. Loops win one shape: ``delta W^T`` through a
one-output layer (n = 1), an outer product with nothing to sum, which
:func:`_backprop_delta` does with a loop.
"""

import numpy as np
from numba import prange

from numba.extending import overload

from .._numba import CHUNK, cast_like, jit
from .._specialize import specialize
from ..losses._rows import linear_penalty

# hidden-layer activations
IDENTITY, TANH, LOGISTIC, RELU = 0, 1, 2, 3
ACTIVATIONS = {"identity": IDENTITY, "tanh": TANH, "logistic": LOGISTIC, "relu": RELU}

# output layer and loss: squared error, binary cross-entropy, softmax cross-entropy
OUT_IDENTITY, OUT_LOGISTIC, OUT_SOFTMAX = 0, 1, 2

# hyper layout: the four entries every objective shares, then the architecture
L2, L1, N_INTERCEPTS, EXTRA, ACT, OUT, N_SIZES, SIZES = range(8)

BLOCK = 128                   # rows per forward/backward block
WORK_PER_ROW = CHUNK // BLOCK  # the engine's work estimate (see mlp_work_per_row)


def mlp_tail(sizes, activation, out_kind):
    """What follows [l2, l1, n_intercepts] in ``hyper``: [0, act, out, L+1, sizes...]."""
    sizes = [int(s) for s in sizes]
    return [0.0, float(ACTIVATIONS[activation]), float(out_kind), float(len(sizes)), *sizes]


def mlp_hyper(sizes, activation, out_kind, l2=0.0, l1=0.0):
    """The float64 ``hyper`` array of :func:`mlp_rows` and :func:`mlp_penalty`."""
    return np.array([l2, l1, 0.0, *mlp_tail(sizes, activation, out_kind)], dtype=np.float64)


def layer_offsets(sizes):
    """offs[l]: where W_l starts in the flat vector; offs[-1]: the number of parameters."""
    offs = np.zeros(len(sizes), dtype=np.int64)
    for l in range(len(sizes) - 1):
        offs[l + 1] = offs[l] + sizes[l] * sizes[l + 1] + sizes[l + 1]
    return offs


@jit
def layout(hyper):
    """(sizes, offs) as int64 arrays, decoded from ``hyper``."""
    k = int(hyper[N_SIZES])
    sizes = np.empty(k, dtype=np.int64)
    offs = np.zeros(k, dtype=np.int64)
    for j in range(k):
        sizes[j] = int(hyper[SIZES + j])
    for j in range(k - 1):
        offs[j + 1] = offs[j] + sizes[j] * sizes[j + 1] + sizes[j + 1]
    return sizes, offs


# -- views into the flat arrays --------------------------------------------------------

@jit
def weights(w, sizes, offs, l):
    """W_l as a (sizes[l], sizes[l+1]) view into ``w`` (or into a gradient)."""
    return w[offs[l]:offs[l] + sizes[l] * sizes[l + 1]].reshape((sizes[l], sizes[l + 1]))


@jit
def bias(w, sizes, offs, l):
    """b_l as a view into ``w``."""
    start = offs[l] + sizes[l] * sizes[l + 1]
    return w[start:start + sizes[l + 1]]


@jit
def workspace_size(sizes, rows):
    """Workspace of a block of ``rows`` rows: layers 1..L, then two delta buffers."""
    width = 0
    total = 0
    for j in range(1, sizes.size):
        total += sizes[j]
        width = max(width, sizes[j])
    return rows * (total + 2 * width)


@jit
def _layer_block(ws, sizes, rows, l, m):
    """The (m, sizes[l]) block of layer l >= 1 in a workspace sized for ``rows`` rows."""
    start = 0
    for j in range(1, l):
        start += rows * sizes[j]
    return ws[start:start + m * sizes[l]].reshape((m, sizes[l]))


@jit
def _delta_block(ws, sizes, rows, which, m, n):
    """Delta buffer ``which`` (0 or 1) of the workspace, shaped (m, n)."""
    total = 0
    width = 0
    for j in range(1, sizes.size):
        total += sizes[j]
        width = max(width, sizes[j])
    start = rows * (total + which * width)
    return ws[start:start + m * n].reshape((m, n))


# -- dense products ------------------------------------------------------------------

@jit
def _affine(A, W, b, Z):
    """Z = A W + b (row-wise bias), A: (m, k), W: (k, n): BLAS."""
    np.dot(A, W, Z)
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            Z[i, j] += b[j]


@jit
def _weight_grad(A, D, G):
    """G = A^T D, A: (m, k), D: (m, n), G: (k, n): BLAS."""
    np.dot(A.T, D, G)


@jit
def _backprop_delta(D, W, P):
    """P = D W^T, D: (m, n), W: (k, n), P: (m, k): BLAS, or a loop for the outer
    product of a one-output layer (n = 1), the one shape where loops win."""
    if D.shape[1] == 1:
        for i in range(P.shape[0]):
            d = D[i, 0]
            for kk in range(P.shape[1]):
                P[i, kk] = d * W[kk, 0]
    else:
        np.dot(D, W.T, P)


# -- activations ---------------------------------------------------------------------

@jit
def _activate(Z, kind):
    """Z = f(Z) in place for a hidden layer. NaN stays NaN (relu included)."""
    if kind == IDENTITY:
        return
    one = cast_like(1.0, Z)
    zero = cast_like(0.0, Z)
    m, n = Z.shape
    for i in range(m):
        for j in range(n):
            z = Z[i, j]
            if kind == RELU:
                if z < zero:
                    Z[i, j] = zero
            elif kind == TANH:
                Z[i, j] = np.tanh(z)
            else:
                Z[i, j] = one / (one + np.exp(-z))


@jit
def _times_derivative(D, A, kind):
    """D *= f'(A) in place, f' expressed through the activation A = f(Z)."""
    if kind == IDENTITY:
        return
    one = cast_like(1.0, D)
    zero = cast_like(0.0, D)
    m, n = D.shape
    for i in range(m):
        for j in range(n):
            a = A[i, j]
            if kind == RELU:
                if a <= zero:
                    D[i, j] = zero
            elif kind == TANH:
                D[i, j] = D[i, j] * (one - a * a)
            else:
                D[i, j] = D[i, j] * (a * (one - a))


@jit
def _sigmoid(z, one):
    """1 / (1 + exp(-z)) without overflow; ``one`` carries the dtype."""
    if z >= 0:
        return one / (one + np.exp(-z))
    e = np.exp(z)
    return e / (one + e)


@jit
def output_activation(Z, out_kind):
    """Z -> predictions in place: sigmoid, softmax (row-wise) or identity."""
    m, n = Z.shape
    one = cast_like(1.0, Z)
    if out_kind == OUT_LOGISTIC:
        for i in range(m):
            for j in range(n):
                Z[i, j] = _sigmoid(Z[i, j], one)
    elif out_kind == OUT_SOFTMAX:
        for i in range(m):
            mx = Z[i, 0]
            for j in range(1, n):
                mx = max(mx, Z[i, j])
            s = cast_like(0.0, Z)
            for j in range(n):
                e = np.exp(Z[i, j] - mx)
                Z[i, j] = e
                s += e
            inv = one / s
            for j in range(n):
                Z[i, j] = Z[i, j] * inv


def target(y, i, j):
    """Target j of row i: ``y[i]`` for a 1-D y (one output), ``y[i, j]`` for an (n, k) y."""
    return y[i] if y.ndim == 1 else y[i, j]


@overload(target, jit_options={"cache": True})
def _target_impl(y, i, j):
    if y.ndim == 1:
        return lambda y, i, j: y[i]
    return lambda y, i, j: y[i, j]


@jit
def _output_delta(Z, y, sw, D, out_kind):
    """sum_i s_i l_i (float64) and D = diag(s) (yhat - Y) for an output block.

    ``y`` holds the block's targets (value, 0/1 label or class index; for
    identity outputs, an (m, k) array of k values per row), ``sw`` its
    weights (empty: all 1).
    """
    m, n = Z.shape
    weighted = sw.size > 0
    half = cast_like(0.5, Z)
    one = cast_like(1.0, Z)
    zero = cast_like(0.0, Z)
    total = 0.0
    for i in range(m):
        s = sw[i] if weighted else one
        if out_kind == OUT_IDENTITY:
            li = 0.0
            for j in range(n):
                d = Z[i, j] - target(y, i, j)
                li += np.float64(half * d * d)
                D[i, j] = s * d
        elif out_kind == OUT_LOGISTIC:
            z = Z[i, 0]
            yi = target(y, i, 0)
            # softplus(z) - y z = max(z, 0) - y z + log1p(exp(-|z|))
            li = np.float64(max(z, zero) - yi * z + np.log1p(np.exp(-abs(z))))
            D[i, 0] = s * (_sigmoid(z, one) - yi)
        else:
            c = int(target(y, i, 0))
            mx = Z[i, 0]
            for j in range(1, n):
                mx = max(mx, Z[i, j])
            e = zero
            for j in range(n):
                e += np.exp(Z[i, j] - mx)
            lse = mx + np.log(e)
            li = np.float64(lse - Z[i, c])
            for j in range(n):
                D[i, j] = s * np.exp(Z[i, j] - lse)
            D[i, c] -= s
        total += np.float64(s) * li
    return total


# -- forward and backward over a block ---------------------------------------------------

@jit
def _forward_block(w, sizes, offs, act, X, ws, rows):
    """Layers 1..L for the rows of X (at most ``rows``); returns Z_L (pre-activation).

    Hidden layers hold their activations in ``ws`` (sized for ``rows`` rows).
    """
    m = X.shape[0]
    n_layers = sizes.size - 1
    A = X
    for l in range(n_layers):
        Z = _layer_block(ws, sizes, rows, l + 1, m)
        _affine(A, weights(w, sizes, offs, l), bias(w, sizes, offs, l), Z)
        if l < n_layers - 1:
            _activate(Z, act)
        A = Z
    return A


@jit
def _block_loss_grad(w, sizes, offs, act, out_kind, X, y, sw, ws, rows, g, acc):
    """Forward and backward for the rows of X; acc += their weighted gradient sum.

    ``g`` is scratch shaped like ``w``. Returns the weighted loss sum (float64).
    """
    m = X.shape[0]
    n_layers = sizes.size - 1
    Z = _forward_block(w, sizes, offs, act, X, ws, rows)
    D = _delta_block(ws, sizes, rows, 0, m, sizes[n_layers])
    loss = _output_delta(Z, y, sw, D, out_kind)
    which = 0
    for l in range(n_layers - 1, -1, -1):
        A = X if l == 0 else _layer_block(ws, sizes, rows, l, m)
        _weight_grad(A, D, weights(g, sizes, offs, l))
        gb = bias(g, sizes, offs, l)
        # loops, not gb[:] = D[0]: numba's slice assignment from an array compiles a
        # shape-mismatch message (string formatting), about 2.5 s of a first fit
        for j in range(gb.size):
            gb[j] = D[0, j]
        for i in range(1, m):
            for j in range(gb.size):
                gb[j] += D[i, j]
        if l > 0:
            which = 1 - which
            P = _delta_block(ws, sizes, rows, which, m, sizes[l])
            _backprop_delta(D, weights(w, sizes, offs, l), P)
            _times_derivative(P, A, act)
            D = P
    for j in range(acc.size):
        acc[j] += g[j]
    return loss


@jit
def mlp_rows(w, X, y, sw, hyper, acc):
    """Objective ``rows`` of the MLP: sum_i s_i l_i over the rows of X; acc += the gradient sum.

    Serial; rows go through in blocks of ``BLOCK``. See the module docstring.
    """
    n = X.shape[0]
    sizes, offs = layout(hyper)
    act = int(hyper[ACT])
    out_kind = int(hyper[OUT])
    rows = min(n, BLOCK)
    ws = np.empty(workspace_size(sizes, rows), dtype=w.dtype)
    g = np.empty_like(w)
    weighted = sw.size > 0
    total = 0.0
    for lo in range(0, n, BLOCK):
        hi = min(n, lo + BLOCK)
        total += _block_loss_grad(w, sizes, offs, act, out_kind, X[lo:hi], y[lo:hi],
                                  sw[lo:hi] if weighted else sw, ws, rows, g, acc)
    return total


@jit
def mlp_work_per_row(X, w):
    """The engine's unit of work per row for the MLP: ``CHUNK // BLOCK``.

    The engine makes parts of at least ``CHUNK / work`` rows and runs them in
    parallel when a batch has more than ``PARALLEL_THRESHOLD / work`` rows.
    Every part pays for a merge of the whole gradient (float64, the size of
    w), so parts get at least ``BLOCK`` rows, and batches run in parallel
    from 513 rows. Measured on the 2-core reference machine with other
    processes running (50,000 x 100 float32, 100-64-1 ReLU net, Adam, batch
    256, best of 8 epochs): parts of 128 rows, serial, 23 ms; of 64 rows in
    parallel, 31 ms (median 147 ms); of 32 rows in parallel, 52 ms (median
    294 ms). A parallel region per batch waits for the slowest worker, and
    on a busy machine that is often a descheduled one.
    """
    return WORK_PER_ROW


mlp_rows.work_per_row = mlp_work_per_row


@jit
def mlp_penalty(w, hyper, g):
    """alpha_2/2 ||W||^2 + alpha_1 ||W||_1 over the weight matrices (not the biases).

    Adds its gradient to the float64 ``g``; returns its value.
    """
    if hyper[L2] == 0.0 and hyper[L1] == 0.0:
        return 0.0
    sizes, offs = layout(hyper)
    weights_only = hyper[:N_INTERCEPTS + 1].copy()
    weights_only[N_INTERCEPTS] = 0.0
    value = 0.0
    for l in range(sizes.size - 1):
        lo = offs[l]
        hi = lo + sizes[l] * sizes[l + 1]
        value += linear_penalty(w[lo:hi], weights_only, g[lo:hi])
    return value


# -- prediction --------------------------------------------------------------------

@jit
def _predict_block(w, sizes, offs, act, out_kind, X, out, ws):
    """out = the network's output for the rows of X (at most BLOCK)."""
    Z = _forward_block(w, sizes, offs, act, X, ws, BLOCK)
    output_activation(Z, out_kind)
    for i in range(Z.shape[0]):  # a loop: see _block_loss_grad
        for j in range(Z.shape[1]):
            out[i, j] = Z[i, j]


def _forward(w, hyper, X, out):
    n = X.shape[0]
    sizes, offs = layout(hyper)
    act = int(hyper[ACT])
    out_kind = int(hyper[OUT])
    nb = (n + BLOCK - 1) // BLOCK
    lanes = min(nb, 64)
    ws = np.empty((lanes, workspace_size(sizes, BLOCK)), dtype=w.dtype)
    # each prange body is one call on views: array expressions inside a prange
    # body are turned into nested parallel loops, which gave wrong rows (numba 0.68)
    for c in prange(lanes):
        for blk in range(c, nb, lanes):
            lo = blk * BLOCK
            hi = min(n, lo + BLOCK)
            _predict_block(w, sizes, offs, act, out_kind, X[lo:hi], out[lo:hi], ws[c])


# two copies of one loop, told apart in numba's cache by the name specialize gives them
forward_serial = specialize(_forward, PARALLEL=False)
forward_serial.__doc__ = """out = the output for every row of X, serial (see :data:`forward`)."""
forward = specialize(_forward, parallel=True, PARALLEL=True)
forward.__doc__ = """out = the output for every row of X: probabilities (classifiers) or values.

Rows are independent: blocks of ``BLOCK`` rows run in parallel, each worker
lane on its own workspace. A parallel leaf: call it from Python. A parallel
function costs seconds more to compile than a serial one, so small inputs
go to :data:`forward_serial`, the same loop compiled serially."""
