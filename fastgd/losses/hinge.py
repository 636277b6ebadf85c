"""Hinge loss: the linear support vector machine."""

from .._numba import jit


@jit
def hinge_pointwise(z, y, param):
    """l = max(0, 1 - y z), dl/dz = -y where y z < 1 else 0; y in {-1, +1}.

    The hinge is not differentiable at y z = 1; the subgradient 0 is used there.
    """
    m = y * z
    if m < 1.0:
        return 1.0 - m, -y
    return 0.0, 0.0
