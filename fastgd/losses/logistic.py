"""Binary logistic loss (binary cross-entropy on the logit), stable for any z."""

import math

from .._numba import jit


@jit
def logistic_pointwise(z, y, param):
    """l = log(1 + exp(z)) - y z, dl/dz = sigmoid(z) - y, for y in [0, 1].

    This is -y log p - (1 - y) log(1 - p) with p = sigmoid(z), written so that
    nothing overflows: softplus(z) = max(z, 0) + log1p(exp(-|z|)) and sigmoid
    from exp(-|z|) <= 1. At |z| = 1000 the loss is |z| or 0, the gradient +-1
    or 0, never inf or NaN.
    """
    if z >= 0.0:
        e = math.exp(-z)
        return (1.0 - y) * z + math.log1p(e), 1.0 / (1.0 + e) - y
    e = math.exp(z)
    return math.log1p(e) - y * z, e / (1.0 + e) - y
