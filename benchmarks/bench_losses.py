"""asv: one loss-and-gradient pass of each loss kernel on 1,000,000 x 100 float32.

The data and calls are those of the comparison section (``fastgd/bench/losses.py``),
with the read probe (X read once: the bandwidth floor) measured in the same
run. ``setup`` runs each call once, so compile time never pollutes a timing;
``track_`` records the loss value, so a faster but wrong kernel shows.
"""

import numpy as np

from fastgd.bench.losses import LOSSES, problem, read_probe


class LossPass:
    params = [list(LOSSES)]
    param_names = ["loss"]
    timeout = 300

    def setup(self, name):
        self.w, self.X, self.y, self.call = problem(name)
        self.value = self.call()

    def time_loss_and_grad(self, name):
        self.call()

    def peakmem_loss_and_grad(self, name):
        self.call()

    def track_loss(self, name):
        return float(self.value)

    track_loss.unit = "loss"


class ReadProbe:
    """X (1,000,000 x 100 float32, 400 MB) read once: what a one-pass kernel cannot beat."""

    timeout = 300

    def setup(self):
        self.X = np.random.default_rng(0).standard_normal((1_000_000, 100), dtype=np.float32)
        read_probe(self.X)

    def time_read_once(self):
        read_probe(self.X)
