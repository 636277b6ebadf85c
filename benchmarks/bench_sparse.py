"""asv: the sparse logistic loss-and-gradient pass over the generated click log (CSR, float32).

The data and calls are those of the comparison section (``fastgd/bench/sparse.py``):
1,000,000 x 262,144, 40 nonzeros a row, with the bandwidth probe (the
same nonzeros read once, ``w`` gathered once per nonzero) measured in the
same run. ``setup`` runs each call once, so compile time never pollutes a
timing; ``track_`` records the loss value, so a faster but wrong kernel
shows. ``time_as_csr``: the checks every call with a scipy.sparse X makes.
Then whole fits of LogisticRegression against scikit-learn's SGDClassifier.
"""

from fastgd.bench.sparse import (DEFAULT_N, FASTGD_FITS, N, _fastgd_fit, _sklearn_fit, click_log,
                                 objective, problem, spmv_probe)
from fastgd.sparse import as_csr


class SparseLossPass:
    timeout = 600

    def setup(self):
        self.X, self.y, self.w, self.call, self.C = problem(N)
        self.value = self.call()
        spmv_probe(self.C.data, self.C.indices, self.C.indptr, self.w)

    def time_logistic_loss_and_grad(self):
        self.call()

    def time_spmv_probe(self):
        spmv_probe(self.C.data, self.C.indices, self.C.indptr, self.w)

    def time_as_csr(self):
        as_csr(self.X)

    def track_loss(self):
        return float(self.value)

    track_loss.unit = "loss"


class SparseLogisticFit:
    """A whole fit, as users call it: LogisticRegression, batch 256, five epochs, on the click log
    at ``DEFAULT_N`` rows (200,000: the full 1,000,000 is the comparison script's
    ``sparse_rows(n=1_000_000)``). ``track_objective``: the L2-penalised logistic loss of the
    fitted coefficients (a faster but worse fit shows); ``peakmem_``: the fit's peak memory."""

    timeout = 600
    params = [name for name, _ in FASTGD_FITS]
    param_names = ["fit"]

    def setup(self, fit):
        self.X, self.y = click_log(DEFAULT_N)
        self.settings = dict(FASTGD_FITS)[fit]
        _fastgd_fit(self.X[:512], self.y[:512], **self.settings)   # compile outside the clock

    def time_fit(self, fit):
        _fastgd_fit(self.X, self.y, **self.settings)

    def peakmem_fit(self, fit):
        _fastgd_fit(self.X, self.y, **self.settings)

    def track_objective(self, fit):
        coef, b = _fastgd_fit(self.X, self.y, **self.settings)
        return objective(coef, b, self.X, self.y)

    track_objective.unit = "objective"


class SklearnSGDFit:
    """scikit-learn's SGDClassifier(loss="log_loss"), five epochs, on the same data (the peer)."""

    timeout = 600

    def setup(self):
        self.X, self.y = click_log(DEFAULT_N)

    def time_fit(self):
        _sklearn_fit(self.X, self.y)

    def track_objective(self):
        coef, b = _sklearn_fit(self.X, self.y)
        return objective(coef, b, self.X, self.y)

    track_objective.unit = "objective"
