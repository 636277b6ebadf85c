"""What runs on the Dask workers: shards, chunk gradients, local epochs.

Every function here is a task: it receives one chunk of the data (a
:class:`Shard`, already in the worker's memory), the fit's :class:`Job`
(scattered once per fit) and the current parameters, and returns a few
numbers or vectors. The chunk itself never leaves its worker.

Each task first caps numba's threads for the calling thread
(:func:`use_threads`; numba's thread count is thread-local) so that the
worker's dask threads times its numba threads stay within the cores of its
host.
"""

import os
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Shard:
    """One chunk of the training data, as the kernels take it.

    ``X``: C-contiguous, writeable float32/float64 (rows of the chunk);
    ``y``: targets encoded for the objective, in X's dtype; ``sw``: sample
    weights scaled to a global mean of 1, in X's dtype (empty: unit weights).
    """

    X: np.ndarray
    y: np.ndarray
    sw: np.ndarray


@dataclass
class Job:
    """What every task of one fit needs, shipped to each worker once.

    ``estimator``: an unfitted clone of the fastgd estimator (its hooks give
    the objective); ``hyper``: the objective's float64 hyper array;
    ``optimizer``/``optimizer_params``: the update rule; ``batch_size``: rows
    per step (None: the whole chunk); ``shuffle``: "none" or "full";
    ``seed``: root of every random stream; ``threads``: numba threads per
    dask thread, by host name.
    """

    estimator: object
    n_outputs: int
    hyper: np.ndarray
    optimizer: str
    optimizer_params: dict
    batch_size: object
    shuffle: str
    seed: int
    local_epochs: int = 1
    threads: dict = field(default_factory=dict)

    def objective(self):
        """(rows, penalty): the estimator's serial jitted objective pair."""
        rows, _ = self.estimator._objective(self.n_outputs)
        return rows, self.estimator._penalty


# -- threads -------------------------------------------------------------------------------

def worker_info():
    """Run on each worker by ``client.run``: the cores it may use and numba's thread limit."""
    import numba
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return {"cpus": cpus, "numba_num_threads": int(numba.config.NUMBA_NUM_THREADS),
            "threading_layer": str(numba.config.THREADING_LAYER)}


def use_threads(job):
    """Set numba's thread count for this (dask executor) thread from ``job.threads``."""
    import numba
    n = 1
    if job.threads:
        try:
            from distributed import get_worker
            host = get_worker().address.rsplit(":", 1)[0]
        except (ImportError, ValueError):
            host = None
        n = job.threads.get(host, min(job.threads.values()))
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


# -- building shards ---------------------------------------------------------------------------

def raw_block(X, y, sw, dtype):
    """The chunk's X as a C-contiguous writeable ``dtype`` array, y and sw as numpy arrays."""
    X = np.asarray(X)
    if X.dtype != dtype or not X.flags.c_contiguous or not X.flags.writeable:
        X = np.array(X, dtype=dtype, order="C")
    y = np.asarray(y)
    sw = None if sw is None else np.asarray(sw)
    return X, y, sw


def inspect_block(raw, classifier):
    """The facts about a chunk the client needs to validate it, without its data."""
    X, y, sw = raw
    info = {"rows": int(X.shape[0]) if X.ndim == 2 else -1, "ndim": X.ndim,
            "cols": int(X.shape[1]) if X.ndim == 2 else -1,
            "x_finite": bool(np.isfinite(X).all()), "y_ndim": y.ndim,
            "y_rows": int(y.shape[0]) if y.ndim >= 1 else -1}
    if classifier:
        info["labels"] = np.unique(y) if y.size else y[:0]
        if y.ndim == 1 and (sw is None or (sw.ndim == 1 and sw.shape[0] == y.shape[0])):
            # per label: rows, and summed weights (rows for unit weights), for class_weight
            _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
            info["label_counts"] = counts
            info["label_weights"] = (counts.astype(np.float64) if sw is None else
                                     np.bincount(codes.ravel(), weights=sw.astype(np.float64),
                                                 minlength=counts.size))
    else:
        info["y_numeric"] = bool(np.issubdtype(y.dtype, np.number)
                                 or np.issubdtype(y.dtype, np.bool_))
        info["y_finite"] = bool(info["y_numeric"] and np.isfinite(y.astype(np.float64)).all())
        if info["y_finite"] and y.ndim == 1 and y.size:   # PoissonRegressor's checks and start
            y64 = y.astype(np.float64)
            info["y_min"] = float(y64.min())
            info["y_sum"] = float(y64.sum())
            if sw is not None and sw.ndim == 1 and sw.shape[0] == y.shape[0]:
                info["y_wsum"] = float(np.dot(sw.astype(np.float64), y64))
    if sw is not None:
        info["sw_rows"] = int(sw.shape[0]) if sw.ndim == 1 else -1
        sw64 = sw.astype(np.float64) if sw.ndim == 1 else np.zeros(0)
        info["sw_ok"] = bool(sw.ndim == 1 and np.isfinite(sw64).all() and (sw64 >= 0).all())
        info["sw_sum"] = float(sw64.sum())
        if classifier and sw.ndim == 1 and sw.shape[0] == y.shape[0]:
            info["labels_weighted"] = np.unique(y[sw64 > 0])
    return info


def make_shard(raw, job, classes, sw_scale, class_weights=None):
    """The chunk as a :class:`Shard`: targets encoded, weights (times the rows' class
    weights, when given) scaled; X is not copied."""
    X, y, sw = raw
    est = job.estimator
    if class_weights is not None:
        row = class_weights[np.searchsorted(classes, y)]
        sw = row if sw is None else sw.astype(np.float64) * row
    if classes is not None:
        y = est._targets_from_index(np.searchsorted(classes, y))
    y = np.ascontiguousarray(y, dtype=X.dtype)
    if sw is None:
        sw = np.empty(0, dtype=X.dtype)
    else:
        sw = np.ascontiguousarray(sw.astype(np.float64) * sw_scale, dtype=X.dtype)
    return Shard(X, y, sw)


# -- synchronous mode: one chunk's part of one step's gradient ----------------------------------

def step_rows(n_rows, n_steps, step):
    """Positions [lo, hi) of the chunk's rows that step ``step`` of ``n_steps`` takes.

    The chunk's (permuted) rows are cut into ``n_steps`` near-equal
    consecutive pieces, so every step draws from every chunk in proportion to
    its size and an epoch visits each row once.
    """
    return (step * n_rows) // n_steps, ((step + 1) * n_rows) // n_steps


def chunk_permutation(job, epoch, block, n_rows):
    """The chunk's row order for ``epoch`` (None: stored order), a function of the seed only."""
    if job.shuffle == "none":
        return None
    return np.random.default_rng([job.seed, epoch, block]).permutation(n_rows).astype(np.int64)


_PERM_CACHE = {}


def _cached_permutation(job, epoch, block, n_rows):
    # one entry per chunk: a chunk's steps of one epoch share the permutation
    key = (job.seed, job.shuffle, block, n_rows)
    hit = _PERM_CACHE.get(key)
    if hit is None or hit[0] != epoch:
        if len(_PERM_CACHE) > 256:
            _PERM_CACHE.clear()
        hit = _PERM_CACHE[key] = (epoch, chunk_permutation(job, epoch, block, n_rows))
    return hit[1]


def chunk_gradient(shard, job, w, epoch, step, n_steps, block):
    """Sums over this step's rows of the chunk: (loss sum, float64 gradient sum, rows).

    Sums, not means: the client adds the chunks' sums in chunk order and
    divides by the step's total rows, so the result does not depend on which
    worker computed which chunk.
    """
    from ..engine._threads import guard
    from ..engine.data import gather_rows
    from ..losses._rows import sums_kernel

    use_threads(job)
    X, y, sw = shard.X, shard.y, shard.sw
    n = X.shape[0]
    lo, hi = (0, n) if n_steps == 1 else step_rows(n, n_steps, step)
    acc = np.zeros(w.size)
    if hi <= lo:
        return 0.0, acc, 0
    order = None if n_steps == 1 else _cached_permutation(job, epoch, block, n)
    if order is None:  # stored order: the step's rows are a view
        X, y = X[lo:hi], y[lo:hi]
        sw = sw[lo:hi] if sw.size else sw
    else:  # the step's rows of the chunk's permutation, gathered
        idx = order[lo:hi]
        xb, yb = np.empty((idx.size, X.shape[1]), dtype=X.dtype), np.empty(idx.size, y.dtype)
        sb = np.empty(idx.size if sw.size else 0, dtype=X.dtype)
        gather_rows(X, y, sw, idx, xb, yb, sb)
        X, y, sw = xb, yb, sb
    rows, _ = job.objective()
    with guard():
        loss_sum = sums_kernel(rows)(w, X, y, sw, job.hyper, acc)
    return float(loss_sum), acc, hi - lo


# -- one task per worker thread: a group of chunks ------------------------------------------------

def run_group(kind, shards, blocks, job, *args):
    """Run ``kind`` ("gradient" or "local") on each of a worker's chunks, in the given order.

    One task per dask thread and round instead of one per chunk: a task costs
    a few milliseconds of scheduling, more than a 100,000-row chunk's gradient.
    Returns (the worker's address, one result per chunk).
    """
    func = chunk_gradient if kind == "gradient" else local_epochs
    results = [func(shard, job, *args, block) for shard, block in zip(shards, blocks)]
    try:
        from distributed import get_worker
        address = get_worker().address
    except (ImportError, ValueError):
        address = None
    return address, results


# -- local mode: local epochs of the fused engine on one chunk ------------------------------------

def local_epochs(shard, job, w, state_dict, round_index, block):
    """``job.local_epochs`` epochs of fastgd's engine on the chunk, from (w, optimizer state).

    Returns the chunk's parameters, its optimizer state, step count and
    skipped-step count after the epochs, the mean objective of its last
    epoch, and its number of rows.
    """
    from ..engine import Trainer
    from ..optim import OPTIMIZERS

    use_threads(job)
    params = np.array(w, copy=True)
    est = job.estimator
    opt = OPTIMIZERS[job.optimizer](params, lr=state_dict["hyperparams"]["lr"],
                                    **job.optimizer_params,
                                    shapes=est._shapes(est.n_features_in_, job.n_outputs))
    opt.load_state_dict(state_dict)
    rows, penalty = job.objective()
    rng = np.random.default_rng([job.seed, round_index, block])
    trainer = Trainer(rows, job.hyper, opt, job.batch_size, job.shuffle, rng, penalty=penalty)
    loss = float("nan")
    for _ in range(job.local_epochs):
        loss = trainer.run_epoch(shard.X, shard.y, shard.sw).loss
    return {"params": opt.params, "state": opt.state, "step_count": opt.step_count,
            "n_skipped": opt.n_skipped, "loss": loss, "rows": int(shard.X.shape[0])}
