"""Regression losses: squared error and Huber."""

from .._numba import jit


@jit
def squared_pointwise(z, y, param):
    """l = (z - y)**2 / 2, dl/dz = z - y."""
    r = z - y
    return 0.5 * r * r, r


@jit
def huber_pointwise(z, y, delta):
    """Huber (1964) with threshold delta: quadratic near 0, linear beyond.

    l = r**2 / 2 for |r| <= delta, delta * (|r| - delta / 2) beyond; dl/dz
    = r, clipped to [-delta, delta] (r = z - y). Written with selects, not
    branches, so that a loop over rows vectorises.
    """
    r = z - y
    a = abs(r)
    quadratic = a <= delta
    loss = 0.5 * r * r if quadratic else delta * (a - 0.5 * delta)
    return loss, min(max(r, -delta), delta)
