"""minimize: scipy-style minimisation with fastgd's update rules, at native speed.

* :func:`minimize` -- ``scipy.optimize.minimize``'s conventions (``jac``,
  ``callback``, :class:`OptimizeResult`), the update rules of
  :mod:`fastgd.optim`, and for ``@njit`` functions the whole loop in one
  nopython call;
* :mod:`fastgd.minimizer.rules` -- the methods and the kernels behind them;
* :mod:`fastgd.minimizer.driver` -- the loop.

The package is not called ``fastgd.minimize`` so that ``fastgd.minimize``
stays the function whatever is imported first (importing a submodule sets
the parent's attribute of the same name to the module).
"""

from .api import METHODS, STATUS, minimize
from .result import OptimizeResult

__all__ = ["minimize", "OptimizeResult", "METHODS", "STATUS"]
