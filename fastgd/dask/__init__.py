r"""Fit fastgd's estimators on ``dask.array`` data over a ``dask.distributed`` cluster.

:class:`DataParallel` wraps a fastgd estimator (``LinearRegression``,
``LogisticRegression``, ``LinearSVC``, ``MLPRegressor``, ``MLPClassifier``)
and fits it on dask arrays. Each row
chunk of X becomes a *shard* in the memory of the worker that computed it;
every task runs fastgd's jitted kernels on one shard and returns sums or
parameters. Only parameters, optimizer state and gradients (vectors the size
of the model) cross the network; the data is never gathered to the client.
The chunks may be ``scipy.sparse`` matrices (the linear models): each
becomes a :data:`fastgd.sparse.CSR` on its worker (CSC, COO or integer
chunks converted once) and trains through :mod:`fastgd.engine.sparse`, as a
sparse X does on one machine. ``lr="auto"`` computes its statistics of X
and y by map-reduce over the chunks (:mod:`fastgd.dask._auto`).
:meth:`DataParallel.fit_many` (``fastgd.fit_many(DataParallel(est), grid, X,
y)``) fits a grid of the estimator's configurations in the same rounds, each
one bit for bit its fit alone.

Why a wrapper and not dask-aware estimators: the single-machine estimators
keep their numpy/memmap paths untouched and import nothing of Dask; one
class holds what is Dask's (client, chunks, rounds, failures), and serves
every estimator through the hooks of :class:`fastgd.GDEstimator` (its
objective, initialisation, targets and fitted attributes).

Two modes
---------
Let the n rows be split into chunks :math:`C_1, \dots, C_B` with
:math:`n_b = |C_b|`, and let

.. math::

    L(w) = \frac1n \sum_i s_i\, \ell(y_i, z_i(w)) + R(w), \qquad
    S_b(w) = \sum_{i \in C_b} s_i\, \ell_i(w), \quad G_b(w) = \sum_{i \in C_b} s_i \nabla \ell_i(w)

(R the L2/L1 penalty, :math:`s_i` weights with mean 1, :math:`z_i(w)` the
model's output: linear, or the MLP's forward pass).

``mode="sync"`` -- synchronous data-parallel gradient descent. Each step t
sends :math:`w_t` to every chunk; chunk b returns the sums
:math:`(S_b, G_b)` over its rows in the step's batch :math:`P_{b,t}`; the
client adds them in chunk order and applies the estimator's update rule
(any fastgd optimizer: SGD, Adam, ..., with its schedule and clipping):

.. math::

    g_t = \frac{1}{m_t} \sum_{b=1}^{B} G_b^{P_{b,t}}(w_t) + \nabla R(w_t),
    \qquad m_t = \sum_b |P_{b,t}|, \qquad w_{t+1} = \mathrm{rule}(w_t, g_t).

With ``batch_size=None`` every :math:`P_{b,t} = C_b`: exact batch gradient
descent, the same iterates as the single-machine fit with
``batch_size=None`` up to the order of floating-point additions (bit for bit
with a single chunk). With ``batch_size=k`` an epoch has
:math:`T = \lceil n/k \rceil` steps and each chunk's rows (in a per-epoch
random order) are cut into T near-equal pieces, so every step draws from all
chunks in proportion to their size (a stratified large mini-batch). One
round = one epoch. Trade-off: exact and deterministic, any update rule, but
one network round trip per step (a few ms on a LAN): best for full or large
batches, where the step's compute dwarfs the round trip.

``mode="local"`` -- local epochs with parameter averaging (local SGD,
FedAvg). Each round sends :math:`w_r` and the optimizer state
:math:`\sigma_r` to every chunk; chunk b runs ``local_epochs`` epochs of
fastgd's fused epoch engine on its own rows (the estimator's ``batch_size``
and ``shuffle``), reaching :math:`(w_r^b, \sigma_r^b)`; the client averages
by rows:

.. math::

    w_{r+1} = \sum_{b} \frac{n_b}{n}\, w_r^b, \qquad
    \sigma_{r+1} = \sum_b \frac{n_b}{n}\, \sigma_r^b \ \text{(state arrays: moments, buffers)}.

The step count (and the scalar state that depends on it) continues from the
chunk that took the most steps. With one chunk this is the single-machine
fit exactly; with SGD without momentum, ``batch_size=None`` and
``local_epochs=1`` one round equals one exact batch step (the average of the
chunks' steps is the step along the average gradient). In general the
iterates differ from any single-machine run: chunks drift toward their own
optima between averagings (more so when chunks differ in distribution and
with more local epochs). Trade-off: one round trip per round and full-speed
mini-batch epochs on every worker (throughput), at the price of that drift;
for convex losses and a decaying rate it still approaches the optimum. The
round's loss is the row-weighted mean of the chunks' last local epoch.

Determinism: the same seed (``random_state``), data and chunks give the same
result bit for bit, on any number of workers and whichever worker computes
which chunk (chunk sums are reduced on the client in chunk order; every
random stream is keyed by seed, epoch and chunk index; the kernels do not
depend on the number of threads). That includes a fit during which a worker
died and Dask recomputed its chunks.

Failures: a round is atomic. A worker that dies mid-round has its tasks and
lost shards recomputed by Dask from the arrays' lineage; if that is not
possible the fit raises :class:`DaskFitError` and ``estimator_`` keeps the
parameters of the last completed round (Ctrl-C likewise, with a warning).

Workers and threads: see :mod:`fastgd.dask.cluster` (spawned worker
processes, because GNU OpenMP is not fork-safe; numba threads capped per
worker). :func:`local_cluster` builds a LocalCluster set up that way.

Example (in a script, under ``if __name__ == "__main__":``)::

    import dask.array as da
    from distributed import Client
    import fastgd
    from fastgd.dask import DataParallel, local_cluster

    with local_cluster(n_workers=2) as cluster, Client(cluster) as client:
        X = da.random.default_rng(0).standard_normal((1_000_000, 100), chunks=(100_000, 100))
        y = (X[:, 0] > 0).astype("float32")
        clf = DataParallel(fastgd.LogisticRegression(optimizer="adam", lr=0.1),
                           mode="sync", max_rounds=50).fit(X, y)
        clf.predict(X[:5]).compute()

Needs ``dask[array]`` and ``distributed`` (``pip install 'fastgd[dask]'``);
importing this module does not import them.
"""

from .cluster import local_cluster, thread_plan
from .estimator import MODES, DaskFitError, DataParallel, RoundInfo

__all__ = ["DataParallel", "DaskFitError", "RoundInfo", "local_cluster", "thread_plan", "MODES"]
