"""OptimizeResult: scipy's result convention, a dict with attribute access."""

import numpy as np


class OptimizeResult(dict):
    """The result of :func:`fastgd.minimize`, like ``scipy.optimize.OptimizeResult``.

    A ``dict`` whose keys are also attributes. The keys :func:`fastgd.minimize` sets:

    x : ndarray, the solution (the dtype of x0)
    fun : float, f(x)
    jac : ndarray, the gradient at x
    nit : int, iterations (updates) made
    nfev, njev : int, evaluations of f and of the gradient (finite-difference
        evaluations of f count in nfev)
    success : bool, whether a convergence test (gtol or ftol) stopped the run
    status : int, see :data:`fastgd.minimizer.STATUS`
    message : str, what happened, in words
    fun_history : ndarray of float64, f at x0, x1, ..., x_nit (after a
        divergence, one more value: the one that stopped the run)
    method : str
    all_results : list of OptimizeResult (only with ``n_starts > 1``), one per
        starting point; ``best_start`` is the index of the returned one.

    >>> r = OptimizeResult(x=1.0, success=True)
    >>> r.x, r["success"]
    (1.0, True)
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __dir__(self):
        return list(self.keys())

    def __repr__(self):
        if not self:
            return f"{type(self).__name__}()"
        width = max(map(len, self.keys())) + 1
        lines = []
        for key, value in self.items():
            if key == "all_results":
                text = f"[{len(value)} results]"
            elif isinstance(value, np.ndarray) and value.size > 6:
                text = np.array2string(value, threshold=6, edgeitems=3, precision=6)
            else:
                text = repr(value)
            lines.append(f"{key.rjust(width)}: {text}")
        return "\n".join(lines)
