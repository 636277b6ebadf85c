"""asv: one optimizer step, every rule, three sizes, two dtypes.

The JIT is warmed up in ``setup`` so compile time never pollutes a timing;
compile and first-call time have their own benchmark in ``bench_compile.py``.
"""

import numpy as np

import fastgd

RULES = sorted(fastgd.OPTIMIZERS)
SIZES = [1_000, 100_000, 10_000_000]
DTYPES = ["float32", "float64"]


class OptimizerStep:
    params = (RULES, SIZES, DTYPES)
    param_names = ["rule", "n_params", "dtype"]
    timeout = 120

    def setup(self, rule, n, dtype):
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal(n).astype(dtype)
        self.g = rng.standard_normal(n).astype(dtype)
        self.opt = fastgd.OPTIMIZERS[rule](self.x, lr=1e-3)
        self.opt.step(self.g)  # compile, allocate state

    def time_step(self, rule, n, dtype):
        self.opt.step(self.g)

    def peakmem_step(self, rule, n, dtype):
        self.opt.step(self.g)


class SmallStepFromPython:
    """A 100-parameter Adam step called from Python: the per-call overhead."""

    def setup(self):
        self.x = np.ones(100)
        self.g = np.ones(100)
        self.opt = fastgd.Adam(self.x, lr=1e-3)
        self.opt.step(self.g)

    def time_adam_step_100(self):
        self.opt.step(self.g)
