"""asv: the sparse logistic loss-and-gradient pass over the generated click log (CSR, float32).

The data and calls are those of the comparison section (``fastgd/bench/sparse.py``):
1,000,000 x 262,144, 40 nonzeros a row, with the bandwidth probe (the
same nonzeros read once, ``w`` gathered once per nonzero) measured in the
same run. ``setup`` runs each call once, so compile time never pollutes a
timing; ``track_`` records the loss value, so a faster but wrong kernel
shows. ``time_as_csr``: the checks every call with a scipy.sparse X makes.
"""

from fastgd.bench.sparse import N, problem, spmv_probe
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
