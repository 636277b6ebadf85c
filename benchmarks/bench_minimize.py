"""asv: fastgd.minimize and numerical_gradient on @njit functions.

The problem functions are those of the comparison section
(``fastgd/bench/minimize.py``). ``setup`` runs each call once, so compile
time never pollutes a timing; ``track_`` records the final loss, so a faster
but worse run shows.
"""

import numpy as np

import fastgd
from fastgd.bench.minimize import N_GRAD, rosen, rosen_grad, run_minimize, start


class MinimizeAdamRosenbrock:
    """10,000 Adam iterations on the chained Rosenbrock function, 1,000 dimensions."""

    timeout = 300

    def setup(self):
        self.x0 = start()
        self.result = run_minimize(self.x0)      # compiles the driver for rosen

    def time_minimize(self):
        run_minimize(self.x0)

    def peakmem_minimize(self):
        run_minimize(self.x0)

    def track_final_loss(self):
        return float(self.result.fun)

    track_final_loss.unit = "f"

    def track_iterations(self):
        return int(self.result.nit)

    track_iterations.unit = "iterations"


class NumericalGradient:
    """Central differences of the chained Rosenbrock function, 10,000 dimensions."""

    timeout = 300

    def setup(self):
        self.x = start(N_GRAD)
        fastgd.numerical_gradient(rosen, self.x)

    def time_central(self):
        fastgd.numerical_gradient(rosen, self.x)

    def peakmem_central(self):
        fastgd.numerical_gradient(rosen, self.x)

    def track_relative_error(self):
        g = fastgd.numerical_gradient(rosen, self.x)
        want = rosen_grad(self.x)
        return float(np.abs(g - want).max() / np.abs(want).max())

    track_relative_error.unit = "relative error"

