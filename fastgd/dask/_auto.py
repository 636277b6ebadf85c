r"""``lr="auto"`` on a Dask cluster: the statistics of X and y by map-reduce over the chunks.

:meth:`fastgd.GDEstimator._auto_start_from` asks the data four things (see
:mod:`fastgd.models.auto`); :class:`OnCluster` answers them from the shards
on the workers, as :class:`fastgd.models.auto.InMemory` does from arrays:

* **statistics** (mu, s): chunk b returns the column sums of
  :math:`X_b - x_1` and of their squares (:math:`x_1` the first row of the
  first chunk, the shift the single-machine pass uses); the client adds them
  in chunk order and applies the same formula
  (:func:`fastgd.losses.standardize.statistics_of_sums`). Sparse chunks keep
  their coordinates (mu = 0, s = 1), as a sparse X does.
* **best constant**: the weighted mean of the encoded targets,
  :math:`\sum_b \sum_{i \in C_b} s_i y_i / \sum_b \sum_{i \in C_b} s_i`,
  or for the softmax loss each class's summed weight, from the same task.
* **target scale** (regressors with an adaptive rule): the weighted standard
  deviation, from a second pass of :math:`\sum_i s_i (y_i - \bar y)^2` about
  the mean of the first (the single-machine formula, two passes).
* **curvature rate** (SGD, ASGD): the client draws the sample's rows from
  the fit's random stream exactly as one machine does
  (:func:`fastgd.models.auto.sample_rows` over the n rows in chunk order),
  each chunk returns its sampled rows (at most ``SAMPLE_ROWS`` rows of d
  float64 in all), and the power iteration runs on the client
  (:func:`fastgd.models.auto.sample_rate`).

Every sum is combined in chunk order, so the result does not depend on
scheduling; it equals the single-machine one up to the order of the
floating-point additions (about 1e-15 relative). What differs by design:
``batch_size`` in the curvature rate is the step's rows over all chunks
(DataParallel's ``batch_size`` in mode "sync", the estimator's in mode
"local", where each chunk's epoch takes batches of it from its own rows).
"""

import numpy as np

from ..losses.standardize import statistics_of_sums
from ..models import auto
from . import _worker


class OnCluster:
    """The shards of a DataParallel fit, as ``lr="auto"`` reads them (see the module doc).

    ``loss``: the estimator's ``_auto_loss`` (the softmax loss sums weights by class);
    each question is one round of tasks, one per chunk, asked at most once.
    """

    def __init__(self, client, shards, prepared, key, loss, n_outputs):
        self.client, self.shards, self.prepared, self.key = client, shards, prepared, key
        self.n_features = prepared.n_features
        self.n_classes = n_outputs if loss == "softmax" else 0
        self._sums = None

    def _map(self, name, func, *args):
        return self.client.gather([self.client.submit(func, shard, *args,
                                                      key=f"{self.key}-auto-{name}-{b}")
                                   for b, shard in enumerate(self.shards)])

    def sums(self):
        """The chunks' sums, added in chunk order: {"total", "squares", "targets", "classes"}."""
        if self._sums is None:
            shift = None
            if not self.prepared.sparse:
                shift = self.client.submit(_worker.first_row, self.shards[0],
                                           key=f"{self.key}-auto-shift").result()
            parts = self._map("sums", _worker.auto_sums, shift, self.n_classes)
            out = {"shift": shift}
            for name in parts[0]:
                out[name] = np.zeros_like(parts[0][name])
                for part in parts:       # chunk order: the same bits on any cluster
                    out[name] += part[name]
            self._sums = out
        return self._sums

    def _mean(self):
        weight, weighted = self.sums()["targets"]
        return weighted / weight

    def statistics(self, fit_intercept):
        d = self.n_features
        if self.prepared.sparse:
            return np.zeros(d), np.ones(d)
        s = self.sums()
        return statistics_of_sums(self.prepared.n_samples, s["shift"], s["total"],
                                  s["squares"], bool(fit_intercept))

    def curvature_rate(self, mu, s, loss, fit_intercept, batch_size, l2, momentum, rng):
        c = auto.curvature_bound(loss, self._mean() if loss == "poisson" else None)
        if c is None:
            return None
        n = self.prepared.n_samples
        rows = auto.sample_rows(n, rng)
        starts = np.cumsum([0] + list(self.prepared.rows))
        futures = []
        for b, shard in enumerate(self.shards):
            lo, hi = np.searchsorted(rows, [starts[b], starts[b + 1]])
            if hi > lo:
                futures.append(self.client.submit(_worker.sample_block, shard,
                                                  rows[lo:hi] - starts[b],
                                                  key=f"{self.key}-auto-sample-{b}"))
        parts = self.client.gather(futures)
        Z = np.concatenate([p[0] for p in parts])
        d = np.concatenate([p[1] for p in parts])
        return auto.sample_rate(Z, d, n, mu, s, c, fit_intercept, batch_size, l2, momentum)

    def target_scale(self, regressor):
        if not regressor:
            return 1.0
        mean = self._mean()
        deviation = sum(self._map("deviation", _worker.target_deviation, mean))
        return auto.scale_of(float(np.sqrt(deviation / self.sums()["targets"][0])))

    def best_constant(self, loss, n_outputs):
        if loss == "softmax":
            return auto.constant_of(loss, self.sums()["classes"], n_outputs)
        return auto.constant_of(loss, self._mean(), n_outputs)
