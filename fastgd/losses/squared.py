"""Regression losses of the residual r = z - y: squared error, Huber, epsilon-insensitive.

The epsilon-insensitive pair are scikit-learn's ``SGDRegressor`` losses
(``sklearn/linear_model/_sgd_fast.pyx.tp``: ``EpsilonInsensitive``,
``SquaredEpsilonInsensitive``), the same l(r); scikit-learn sums them over
the samples it visits, where fastgd averages them over the n rows.
"""

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


@jit
def epsilon_insensitive_pointwise(z, y, epsilon):
    """The SVR loss: l = max(0, |r| - epsilon), dl/dz = sign(r) where |r| > epsilon, else 0.

    Residuals within epsilon cost nothing; beyond, the cost is linear (a
    subgradient at |r| = epsilon: 0, as scikit-learn's). r = z - y.
    """
    r = z - y
    excess = abs(r) - epsilon
    sign = 1.0 if r > 0.0 else -1.0
    outside = excess > 0.0
    return (excess if outside else 0.0), (sign if outside else 0.0)


@jit
def squared_epsilon_insensitive_pointwise(z, y, epsilon):
    """l = max(0, |r| - epsilon)^2, dl/dz = 2 sign(r) max(0, |r| - epsilon); r = z - y.

    As scikit-learn's ``SquaredEpsilonInsensitive``: no factor 1/2 (its
    squared error has one), so with epsilon = 0 this is twice
    :func:`squared_pointwise`.
    """
    r = z - y
    excess = max(abs(r) - epsilon, 0.0)
    sign = 1.0 if r > 0.0 else -1.0
    return excess * excess, 2.0 * sign * excess
