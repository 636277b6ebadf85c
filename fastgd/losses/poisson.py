"""Poisson regression with the log link: mu = exp(z), counts y >= 0.

The negative log-likelihood of y ~ Poisson(mu) is mu - y log mu + log y!;
with mu = e^z and the terms constant in z dropped, the per-row loss is

    l(y, z) = e^z - y z,    dl/dz = e^z - y,

which is half the Poisson deviance, d(y, mu) / 2 with
d(y, mu) = 2 (y log(y / mu) - y + mu), minus the constant y log y - y
(y log y = 0 at y = 0). scikit-learn's ``HalfPoissonLoss``
(``sklearn/_loss/loss.py``) is the same function, and its ``PoissonRegressor``
minimises its mean: (1/n) sum_i s_i l_i + alpha/2 ||W||^2 with weights
normalised to sum to n, the objective of :class:`fastgd.PoissonRegressor`
with the same alpha. :func:`poisson_deviance` gives the deviance itself, for
scores (D^2).
"""

import numpy as np

from .._numba import FASTMATH_ORDERED, jit
from ._vecmath import exp_nonpositive


@jit(fastmath=set(FASTMATH_ORDERED))
def poisson_pointwise(z, y, param):
    """l = e^z - y z, dl/dz = e^z - y (y >= 0; see the module docstring).

    e^z is :func:`fastgd.losses._vecmath.exp_nonpositive` of -|z|, inverted
    for z > 0 (within 3 units in the last place), so a loop over rows
    vectorises; hence this function's ``FASTMATH_ORDERED``. Large z: e^z
    overflows to inf for z > 708 (the true overflow is at 709.78), and the
    loss and derivative are then inf, honestly: the training engine stops
    with a DivergenceError rather than step on garbage. In float32 the
    derivative, cast to X's dtype for the gradient, is already inf beyond
    z = 88.7.
    """
    e = exp_nonpositive(-abs(z))
    ez = 1.0 / e if z > 0.0 else e
    return ez - y * z, ez - y


def poisson_deviance(y, mu, sample_weight=None):
    """Mean Poisson deviance: sum_i s_i d(y_i, mu_i) / sum_i s_i, d = 2 (y log(y/mu) - y + mu).

    y log(y/mu) is 0 at y = 0; a row with y > 0 and mu = 0 has infinite
    deviance. ``y`` >= 0 and ``mu`` >= 0 (the model's predictions), finite,
    of one shape; ``sample_weight`` optional non-negative weights.
    (scikit-learn: ``sklearn.metrics.mean_poisson_deviance``.)
    """
    y = np.asarray(y, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    if y.shape != mu.shape:
        raise ValueError(f"y and mu must have the same shape, got {y.shape} and {mu.shape}")
    if not (np.all(np.isfinite(y)) and np.all(y >= 0)):
        raise ValueError("poisson_deviance: y must be finite and >= 0 (counts)")
    if not (np.all(np.isfinite(mu)) and np.all(mu >= 0)):
        raise ValueError("poisson_deviance: mu must be finite and >= 0 (predicted means)")
    positive = y > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ylog = np.where(positive, y * np.log(np.where(positive, y, 1.0) / mu), 0.0)
    dev = 2.0 * (ylog - y + mu)
    if sample_weight is None:
        return float(np.mean(dev))
    sw = np.asarray(sample_weight, dtype=np.float64)
    if sw.shape != y.shape or not np.all(np.isfinite(sw)) or np.any(sw < 0) or not sw.sum() > 0:
        raise ValueError(f"sample_weight must be finite, non-negative, not all zero and of "
                         f"shape {y.shape}")
    return float(np.sum(sw * dev) / np.sum(sw))
