"""asv: LogisticRegression epochs on 1,000,000 x 100 float32, in memory and from a memmap.

As the comparison section (``fastgd/bench/linear.py``): Adam, batch 256,
shuffled. ``setup`` fits once on a slice so compile time never pollutes a
timing; ``track_`` records the training log-loss after the timed epochs, so
a faster but worse change shows; ``peakmem_`` of a memmap fit shows that
streaming stays bounded by the block, not the file.
"""

import os
import tempfile

import numpy as np

import fastgd
from fastgd.bench.linear import BATCH, data, fastgd_fit, log_loss


class LogisticEpoch:
    params = [[True, "blocks", "none"], [None, 1, BATCH]]
    param_names = ["shuffle", "batch_size"]
    timeout = 600

    def setup(self, shuffle, batch_size):
        self.X, self.y = data()
        fastgd_fit(self.X[:1000], self.y[:1000], 1)          # compile

    def _fit(self, shuffle, batch_size, epochs=1):
        return fastgd.LogisticRegression(optimizer="adam", lr=1e-3, alpha=1e-6,
                                         batch_size=batch_size, max_epochs=epochs, tol=None,
                                         shuffle=shuffle, random_state=0).fit(self.X, self.y)

    def time_one_epoch(self, shuffle, batch_size):
        self._fit(shuffle, batch_size)

    def peakmem_one_epoch(self, shuffle, batch_size):
        self._fit(shuffle, batch_size)

    def track_loss_after_3_epochs(self, shuffle, batch_size):
        model = self._fit(shuffle, batch_size, epochs=3)
        return float(log_loss(model.coef_, model.intercept_, self.X, self.y))

    track_loss_after_3_epochs.unit = "log-loss"


class MemmapFit:
    """One epoch streamed from a 400 MB float32 memmap (shuffle by blocks).

    The file is written by ``setup_cache`` (another process), so the peak
    memory measured is that of the fit: about one block, not the file.
    """

    timeout = 600

    def setup_cache(self):
        path = os.path.join(tempfile.mkdtemp(), "X.f32")
        X, y = data()
        X.tofile(path)
        np.save(path + ".y.npy", y)
        return path

    def setup(self, path):
        self.y = np.load(path + ".y.npy")
        self.X = np.memmap(path, dtype=np.float32, mode="r", shape=(len(self.y), 100))
        fastgd_fit(np.array(self.X[:1000]), self.y[:1000], 1)

    def _fit(self):
        return fastgd.LogisticRegression(optimizer="adam", lr=1e-3, batch_size=BATCH, max_epochs=1,
                                         tol=None, random_state=0).fit(self.X, self.y)

    def time_memmap_epoch(self, path):
        self._fit()

    def peakmem_memmap_epoch(self, path):
        self._fit()

    def track_memmap_loss(self, path):
        model = self._fit()
        return float(log_loss(model.coef_, model.intercept_, np.array(self.X[:100_000]),
                              self.y[:100_000]))

    track_memmap_loss.unit = "log-loss"
