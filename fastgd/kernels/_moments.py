"""Pieces shared by the Adam family's loops (Adam, AdamW, NAdam, RAdam).

Serial, inlined into each rule's loop; they keep the loops short enough to
check against the papers line by line.
"""

from .._numba import cast_like, jit


@jit(inline="always")
def decayed(p, g, decay, weight_decay):
    """Weight decay before the step: decoupled, theta * (1 - lr * lambda), passed
    as ``decay`` (AdamW); or L2, g + lambda * theta, as ``weight_decay`` (Adam)."""
    if decay != 1:
        p = p * decay
    if weight_decay != 0:
        g = g + weight_decay * p
    return p, g


@jit(inline="always")
def moments(g, m, v, one_minus_beta1, beta2, one_minus_beta2):
    """m_t = beta1 m + (1 - beta1) g (PyTorch's lerp form) and v_t = beta2 v + (1 - beta2) g^2."""
    return m + one_minus_beta1 * (g - m), beta2 * v + one_minus_beta2 * g * g


@jit
def decay_constants(params, lr, weight_decay, decoupled):
    """(decay, weight_decay) for :func:`decayed`, in the parameters' dtype."""
    if decoupled:
        return cast_like(1.0 - lr * weight_decay, params), cast_like(0.0, params)
    return cast_like(1.0, params), cast_like(weight_decay, params)
