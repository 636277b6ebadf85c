"""Margin losses for labels y in {-1, +1}: hinge, squared hinge, modified Huber.

Each is a function of the margin m = y z. scikit-learn's ``SGDClassifier``
has all three (``sklearn/linear_model/_sgd_fast.pyx.tp``: ``Hinge``,
``SquaredHinge``, ``ModifiedHuber``) with the same l(m); it sums them over
the samples it visits, where fastgd averages them over the n rows.
"""

from .._numba import jit


@jit
def hinge_pointwise(z, y, param):
    """l = max(0, 1 - y z), dl/dz = -y where y z < 1 else 0; y in {-1, +1}.

    The hinge is not differentiable at y z = 1; the subgradient 0 is used
    there (scikit-learn's ``Hinge`` uses -y at y z = 1).
    """
    m = y * z
    if m < 1.0:
        return 1.0 - m, -y
    return 0.0, 0.0


@jit
def squared_hinge_pointwise(z, y, param):
    """l = max(0, 1 - y z)^2, dl/dz = -2 y max(0, 1 - y z); y in {-1, +1}.

    The L2-SVM loss; differentiable everywhere. As scikit-learn's
    ``SquaredHinge`` (threshold 1): no factor 1/2.
    """
    t = max(1.0 - y * z, 0.0)
    return t * t, -2.0 * y * t


@jit
def modified_huber_pointwise(z, y, param):
    """Zhang's (2004) modified Huber loss, y in {-1, +1}, with m = y z:

        l = max(0, 1 - m)^2 for m >= -1, -4 m below;
        dl/dz = -2 y max(0, 1 - m) for m >= -1, -4 y below.

    The squared hinge smoothed into a line at m = -1 (value 4 and slope -4
    meet there), so it is continuously differentiable and grows linearly for
    badly misclassified rows. As scikit-learn's ``ModifiedHuber``
    (T. Zhang, "Solving large scale linear prediction problems using
    stochastic gradient descent algorithms", ICML 2004). Selects, not
    branches, so that a loop over rows vectorises.
    """
    m = y * z
    t = max(1.0 - m, 0.0)
    quadratic = m >= -1.0
    loss = t * t if quadratic else -4.0 * m
    dz = -2.0 * y * t if quadratic else -4.0 * y
    return loss, dz
