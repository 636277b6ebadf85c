r"""``lr="auto"``: the coordinates, starting point and learning rate that need no tuning.

Gradient descent crawls when features have very different scales or sit far
from 0 (the loss's Hessian is ill-conditioned), and a rate that suits one
problem diverges or crawls on the next. ``lr="auto"`` removes both:

1. **Standardized coordinates.** The fit trains the parameters of the model
   on Z = (X - mu) / s (per-feature means and standard deviations from one
   pass over X; with no intercept, or sparse X, s alone) through
   :func:`fastgd.losses.standardize.standardized`, which reads the raw X (no
   copy). ``coef_`` and ``intercept_`` are in the data's units, and the
   penalty is on them, so the optimum is exactly the unstandardized
   problem's: only the path to it changes. The statistics are kept
   (``x_mean_``, ``x_scale_``) so that ``partial_fit`` continues in the
   same coordinates. Sparse X keeps its coordinates (see :func:`statistics`).
2. **The intercept starts at the best constant** (the weighted mean of y for
   the regression losses, the log-odds of the class frequencies for the
   logistic and softmax losses, log of the mean count for Poisson), so the
   rate does not have to be large enough to travel to an intercept of 150.
3. **The rate**, from the rule's record (``Rule.auto_lr``):

   * ``"curvature"`` (SGD, ASGD: the step is lr times the gradient): the
     step 1/(2 L_b) of Theorem 3.1 of Gower et al. ("SGD: General Analysis
     and Improved Rates", ICML 2019), with the expected smoothness of a
     mini-batch of b of n rows from their Proposition 3.8

         L_b = n (b - 1) / (b (n - 1)) L + (n - b) / (b (n - 1)) L_max,

     with L = c lambda_max(Z^T D Z / n) (power iteration) and L_max = c
     max_i s_i ||z_i||^2, over a sample of at most ``SAMPLE_ROWS`` rows
     (intercept column included, D the sample weights), c the curvature
     bound of the loss in the linear output (:data:`CURVATURE`), plus the
     L2 penalty's curvature alpha (1 - l1_ratio) / min_j s_j^2; times (1 -
     momentum) with momentum, whose steps add up to 1 / (1 - momentum)
     of one. Batch gradient descent (b = n) gets 1/L, stochastic (b = 1)
     1/(2 L_max). A network has no such bound: there the rate is
     ``MLP_SGD_STEP`` (1 - momentum).
   * a number (Adam and the other adaptive rules, whose step is about lr in
     every coordinate whatever the gradient's scale): that rate, times the
     target's standard deviation for a regressor (the coefficients on
     standardized features are of that size), 1 for a classifier;
   * None (Adadelta, Prodigy, Adafactor, SGDScheduleFree: rules that find
     their own scale): the rule's default rate.
"""

import numpy as np

from ..losses.standardize import AffineLayout, feature_statistics

#: the bound on d^2 loss / dz^2 (the output z of the linear map), for the curvature rate;
#: the non-smooth losses (hinge, epsilon-insensitive) get their smooth neighbour's
CURVATURE = {"squared_error": 1.0, "huber": 1.0, "epsilon_insensitive": 1.0,
             "squared_epsilon_insensitive": 2.0, "logistic": 0.25, "softmax": 0.5,
             "hinge": 1.0, "squared_hinge": 2.0, "modified_huber": 2.0, "poisson": None}
SAMPLE_ROWS = 4096
POWER_ITERATIONS = 50
MLP_SGD_STEP = 0.01
REGRESSION = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive")


def _weighted_mean(y, sw, axis=None):
    y = np.asarray(y, dtype=np.float64)
    return np.average(y, axis=axis, weights=None if sw is None else sw.astype(np.float64))


def best_constant(loss, y_enc, sw, n_outputs):
    """The intercept(s) that minimise the loss with every coefficient 0 (float64, n_outputs)."""
    if loss == "softmax":
        counts = np.bincount(y_enc.astype(np.int64), weights=sw, minlength=n_outputs)
        return constant_of(loss, counts, n_outputs)
    return constant_of(loss, _weighted_mean(y_enc, sw, axis=0), n_outputs)


def constant_of(loss, mean, n_outputs):
    """:func:`best_constant` from the weighted mean of the encoded targets (per column), or
    for the softmax loss the classes' summed weights."""
    if loss in REGRESSION:          # one mean per target column
        return np.broadcast_to(mean, (n_outputs,)).astype(np.float64)
    if loss == "poisson":
        return np.array([np.log(max(float(mean), 1e-6))])
    if loss == "logistic":
        p = min(max(float(mean), 1e-6), 1.0 - 1e-6)
        return np.array([np.log(p / (1.0 - p))])
    if loss == "softmax":
        counts = np.asarray(mean, dtype=np.float64)
        logp = np.log(np.maximum(counts / counts.sum(), 1e-6))
        return logp - logp.mean()
    # the margin losses (targets -1/+1): the mean label, the constant a squared hinge prefers
    return np.array([min(max(float(mean), -1.0), 1.0)])


def sample_rows(n, rng):
    """The sorted rows of the curvature sample among n: all of them, or ``SAMPLE_ROWS`` drawn."""
    if n <= SAMPLE_ROWS:
        return np.arange(n)
    return np.sort(rng.choice(n, SAMPLE_ROWS, replace=False))


def _sample(X, sw, rng):
    rows = sample_rows(X.shape[0], rng)
    Xs = X[rows] if not hasattr(X, "tocsr") else X[rows].toarray()
    return np.asarray(Xs, dtype=np.float64), (np.ones(rows.size) if sw is None
                                               else np.asarray(sw, np.float64)[rows])


def curvature_bound(loss, mean):
    """c of the module docstring for ``loss`` (None: no bound); ``mean``: a Poisson model's
    weighted mean target (e^z at the starting point, the best constant's mean count)."""
    if loss == "poisson":
        return max(float(mean), 1e-6)
    return CURVATURE.get(loss)


def curvature_rate(X, sw, mu, s, loss, fit_intercept, batch_size, l2, momentum, rng, y_enc=None):
    """The curvature rate of the module docstring (float), or None without a bound."""
    c = curvature_bound(loss, _weighted_mean(y_enc, sw) if loss == "poisson" else None)
    if c is None:
        return None
    Z, d = _sample(X, sw, rng)
    return sample_rate(Z, d, X.shape[0], mu, s, c, fit_intercept, batch_size, l2, momentum)


def sample_rate(Z, d, n, mu, s, c, fit_intercept, batch_size, l2, momentum):
    """The curvature rate from the float64 sample rows Z of n, their weights d, and c."""
    Z = (Z - mu) / s
    if fit_intercept:
        Z = np.hstack([Z, np.ones((Z.shape[0], 1))])
    m = Z.shape[0]
    v = np.ones(Z.shape[1]) / np.sqrt(Z.shape[1])
    lam = 0.0
    for _ in range(POWER_ITERATIONS):   # lambda_max of Z^T D Z / m
        u = Z.T @ (d * (Z @ v)) / m
        lam = float(np.linalg.norm(u))
        if not lam > 0:
            break
        v = u / lam
    lmax = float(np.max(d * np.einsum("ij,ij->i", Z, Z)))
    pen = l2 / float(np.min(s) ** 2)
    b = n if batch_size is None else min(batch_size, n)
    if n > 1:
        lb = (n * (b - 1) * lam + (n - b) * lmax) / (b * (n - 1))
    else:
        lb = lmax
    L = c * lb + pen
    if not L > 0:
        return 1.0
    # batch gradient descent: the classical 1/L; a stochastic batch: Gower et al.'s 1/(2 L_b)
    return (1.0 - momentum) / (L if b == n else 2.0 * L)


def target_scale(y_enc, sw, regressor):
    """The size of the coefficients on standardized features: std(y) for a regressor, else 1."""
    if not regressor:
        return 1.0
    y = np.asarray(y_enc, dtype=np.float64)
    mean = _weighted_mean(y, sw, axis=0)
    return scale_of(float(np.sqrt(np.mean(_weighted_mean((y - mean) ** 2, sw, axis=0)))))


def scale_of(sd):
    """:func:`target_scale` of a regressor from the targets' (weighted) standard deviation."""
    return sd if sd > 0 and np.isfinite(sd) else 1.0


def statistics(X, fit_intercept):
    """(mu, s) of the standardized coordinates: centred only with an intercept.

    Sparse X keeps its own coordinates (mu = 0, s = 1: centring would fill it
    in, and the sparse kernels do not read s); the start and the rate still
    apply.
    """
    if hasattr(X, "tocsr"):
        return np.zeros(X.shape[1]), np.ones(X.shape[1])
    return feature_statistics(X, center=bool(fit_intercept))


class InMemory:
    """The data of a fit on one machine, as ``lr="auto"`` reads it.

    What :meth:`fastgd.GDEstimator._auto_start` asks of the data; a fit on a
    Dask cluster answers the same questions by map-reduce over its chunks
    (:class:`fastgd.dask._auto.OnCluster`).
    """

    def __init__(self, X, y_enc, sw):
        self.X, self.y_enc, self.sw = X, y_enc, sw
        self.n_features = X.shape[1]

    def statistics(self, fit_intercept):
        return statistics(self.X, fit_intercept)

    def curvature_rate(self, mu, s, loss, fit_intercept, batch_size, l2, momentum, rng):
        return curvature_rate(self.X, self.sw, mu, s, loss, fit_intercept, batch_size, l2,
                              momentum, rng, self.y_enc)

    def target_scale(self, regressor):
        return target_scale(self.y_enc, self.sw, regressor)

    def best_constant(self, loss, n_outputs):
        return best_constant(loss, self.y_enc, self.sw, n_outputs)


def is_identity(mu, s):
    """True when (mu, s) leave X as it is (no standardized objective is needed)."""
    return mu is None or (not np.any(mu) and bool(np.all(s == 1.0)))


__all__ = ["CURVATURE", "REGRESSION", "best_constant", "constant_of", "curvature_bound",
           "curvature_rate", "sample_rate", "sample_rows", "scale_of", "target_scale",
           "statistics", "InMemory", "AffineLayout"]
