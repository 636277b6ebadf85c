"""A slow, readable NumPy multi-layer perceptron: the ground truth of fastgd.nn.

Written from the textbook equations with no code shared with fastgd: a list
of (W, b) pairs, a forward pass that keeps every layer, and backpropagation
by the chain rule. Arithmetic happens in the dtype of the arrays.

Flat layout (the one fastgd uses): for each layer, W (n_in x n_out, C order)
then b (n_out).
"""

import numpy as np


def unflatten(params, sizes):
    """[(W_0, b_0), ...] as copies from the flat vector."""
    layers, pos = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = params[pos:pos + n_in * n_out].reshape(n_in, n_out).copy()
        pos += n_in * n_out
        b = params[pos:pos + n_out].copy()
        pos += n_out
        layers.append((W, b))
    assert pos == params.size
    return layers


def flatten(pieces):
    return np.concatenate([np.concatenate([W.ravel(), b]) for W, b in pieces])


def hidden(z, activation):
    if activation == "relu":
        return np.maximum(z, 0)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "logistic":
        return 1 / (1 + np.exp(-z))
    return z


def hidden_derivative(z, activation):
    """f'(z), from the pre-activation (a different route than fastgd's f'(a))."""
    if activation == "relu":
        return (z > 0).astype(z.dtype)
    if activation == "tanh":
        return 1 - np.tanh(z) ** 2
    if activation == "logistic":
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)
    return np.ones_like(z)


def output(z, kind):
    if kind == "logistic":
        return 1 / (1 + np.exp(-z))
    if kind == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return z


def one_hot_targets(y, kind, n_out):
    """The targets as a matrix: y itself (one column, or the k columns of an (n, k) y) or
    one-hot class indicators."""
    if kind == "softmax":
        return np.eye(n_out, dtype=y.dtype)[y.astype(int)]
    return y.reshape(y.shape[0], -1)


def loss_per_sample(z, Y, kind):
    if kind == "identity":
        return 0.5 * ((z - Y) ** 2).sum(axis=1)
    p = output(z, kind)
    if kind == "logistic":
        return -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(axis=1)
    return -(Y * np.log(p)).sum(axis=1)


def predict(params, sizes, X, activation, out_kind):
    a = X
    layers = unflatten(params, sizes)
    for i, (W, b) in enumerate(layers):
        z = a @ W + b
        a = hidden(z, activation) if i < len(layers) - 1 else output(z, out_kind)
    return a


def loss_and_grad(params, sizes, X, y, activation, out_kind, l2=0.0, l1=0.0, sample_weight=None):
    """(loss, flat gradient) of (1/n) sum_i s_i l_i + l2/2 sum ||W||^2 + l1 sum |W|.

    ``y``: 1-D targets (values, 0/1 labels, or class indices for softmax), or an (n, k)
    array of values for k identity outputs.
    """
    layers = unflatten(params, sizes)
    n = X.shape[0]
    s = np.ones(n, dtype=X.dtype) if sample_weight is None else sample_weight
    Y = one_hot_targets(y, out_kind, sizes[-1])
    zs, acts = [], [X]
    for i, (W, b) in enumerate(layers):
        z = acts[-1] @ W + b
        zs.append(z)
        if i < len(layers) - 1:
            acts.append(hidden(z, activation))
    loss = (s * loss_per_sample(zs[-1], Y, out_kind)).sum() / n
    loss += sum(0.5 * l2 * (W ** 2).sum() + l1 * np.abs(W).sum() for W, _ in layers)
    # chain rule: dL/dz_L = s (yhat - y) / n for the three canonical pairs
    delta = s[:, None] * (output(zs[-1], out_kind) - Y) / n
    grads = [None] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        W, _ = layers[i]
        grads[i] = (acts[i].T @ delta + l2 * W + l1 * np.sign(W), delta.sum(axis=0))
        if i > 0:
            delta = (delta @ W.T) * hidden_derivative(zs[i - 1], activation)
    return loss, flatten(grads)
