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

from ..sparse import CSR, as_csr, is_sparse


@dataclass
class Shard:
    """One chunk of the training data, as the kernels take it.

    ``X``: C-contiguous, writeable float32/float64 (rows of the chunk), or
    the chunk's :data:`fastgd.sparse.CSR` (validated) for scipy.sparse
    chunks; ``y``: targets encoded for the objective, in X's dtype; ``sw``:
    sample weights scaled to a global mean of 1, in X's dtype (empty: unit
    weights).
    """

    X: object
    y: np.ndarray
    sw: np.ndarray

    @property
    def sparse(self):
        return isinstance(self.X, CSR)

    @property
    def n_rows(self):
        return self.X.indptr.size - 1 if self.sparse else self.X.shape[0]


@dataclass
class Job:
    """What every task of one fit needs, shipped to each worker once.

    ``estimator``: an unfitted clone of the fastgd estimator (its hooks give
    the objective); ``hyper``: the objective's float64 hyper array;
    ``optimizer``/``optimizer_params``: the update rule; ``batch_size``: rows
    per step (None: the whole chunk); ``shuffle``: "none" or "full";
    ``seed``: root of every random stream; ``threads``: numba threads per
    dask thread, by host name; ``standardized``: train in the coordinates of
    ``lr="auto"`` (:mod:`fastgd.losses.standardize`).
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
    standardized: bool = False

    def objective(self):
        """(rows, penalty): the estimator's serial jitted objective pair (in standardized
        coordinates after ``lr="auto"``: ``hyper`` then carries mu and s)."""
        rows, _ = self.estimator._objective(self.n_outputs)
        if self.standardized:
            from ..losses.standardize import standardized
            return standardized(rows, self.estimator._penalty)
        return rows, self.estimator._penalty

    def sums(self, sparse):
        """The parallel sums kernel of the objective's rows, for a dense or a CSR X."""
        from ..losses._rows import sums_kernel
        rows, _ = self.objective()
        if not sparse:
            return sums_kernel(rows)
        from ..engine.sparse import sparse_rows_for
        from ..losses.csr import CSR_LAYOUT
        return sums_kernel(sparse_rows_for(rows)[1], layout=CSR_LAYOUT)


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
    """The chunk's X as a C-contiguous writeable ``dtype`` array (a scipy.sparse chunk: as
    a CSR matrix of ``dtype``, converted once when it is another format or dtype), y and
    sw as numpy arrays."""
    if is_sparse(X):
        if X.format != "csr":
            X = X.tocsr()
        if X.dtype != dtype:
            X = X.astype(dtype)
    else:
        X = np.asarray(X)
        if X.dtype != dtype or not X.flags.c_contiguous or not X.flags.writeable:
            X = np.array(X, dtype=dtype, order="C")
    y = np.asarray(y)
    sw = None if sw is None else np.asarray(sw)
    return X, y, sw


def inspect_block(raw, classifier):
    """The facts about a chunk the client needs to validate it, without its data.

    A sparse chunk is validated by :func:`fastgd.sparse.as_csr` (structure,
    indices, finite values); ``x_error`` is its message, or None.
    """
    X, y, sw = raw
    info = {"rows": int(X.shape[0]) if X.ndim == 2 else -1, "ndim": X.ndim,
            "cols": int(X.shape[1]) if X.ndim == 2 else -1, "x_error": None,
            "y_ndim": y.ndim, "y_rows": int(y.shape[0]) if y.ndim >= 1 else -1}
    if is_sparse(X):
        info["x_finite"] = True
        if X.shape[0] > 0:
            try:
                as_csr(X)
            except ValueError as exc:
                info["x_error"] = str(exc)
    else:
        info["x_finite"] = bool(np.isfinite(X).all())
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


def make_shard(raw, est, classes, sw_scale, class_weights=None):
    """The chunk as a :class:`Shard`: targets encoded (by the estimator ``est``), weights
    (times the rows' class weights, when given) scaled; X is not copied."""
    X, y, sw = raw
    if is_sparse(X):
        X = as_csr(X)   # validated by inspect_block; no copy of a CSR of X's dtype
    if class_weights is not None:
        row = class_weights[np.searchsorted(classes, y)]
        sw = row if sw is None else sw.astype(np.float64) * row
    if classes is not None:
        y = est._targets_from_index(np.searchsorted(classes, y))
    dtype = X.data.dtype if isinstance(X, CSR) else X.dtype
    y = np.ascontiguousarray(y, dtype=dtype)
    if sw is None:
        sw = np.empty(0, dtype=dtype)
    else:
        sw = np.ascontiguousarray(sw.astype(np.float64) * sw_scale, dtype=dtype)
    return Shard(X, y, sw)


# -- lr="auto": the chunk's part of the statistics (fastgd.dask._auto) ---------------------------

def first_row(shard):
    """The chunk's first row, float64 (dense chunks): the shift of the feature sums."""
    return np.asarray(shard.X[0], dtype=np.float64)


def _weights(shard):
    return np.ones(shard.n_rows) if not shard.sw.size else shard.sw.astype(np.float64)


def auto_sums(shard, shift, n_classes, block_bytes=1 << 24):
    """The chunk's sums for ``lr="auto"``: columns of (X - shift) and of its squares (dense
    X, ``shift`` not None), and of the targets: [sum w, sum w y], or with ``n_classes``
    (the softmax loss) the summed weights of each class."""
    from ..losses.standardize import block_sums
    out = {}
    if shift is not None:
        X = shard.X
        total, squares = np.zeros(shift.size), np.zeros(shift.size)
        rows = max(1, block_bytes // max(1, shift.size * X.itemsize))
        for a in range(0, X.shape[0], rows):
            block_sums(X[a:a + rows], shift, total, squares)
        out.update(total=total, squares=squares)
    w = _weights(shard)
    if n_classes:
        out["classes"] = np.bincount(shard.y.astype(np.int64), weights=w, minlength=n_classes)
    out["targets"] = np.array([w.sum(), np.dot(w, shard.y.astype(np.float64))])
    return out


def target_deviation(shard, mean):
    """sum over the chunk's rows of w (y - mean)^2, float64."""
    r = shard.y.astype(np.float64) - mean
    return float(np.dot(_weights(shard), r * r))


def sample_block(shard, rows):
    """The chunk's rows ``rows`` (sorted) as float64 dense rows, and their weights."""
    if shard.sparse:
        import scipy.sparse as sp
        from ..sparse import take_rows
        xb, _, _ = take_rows(shard.X, shard.y, shard.sw, rows.astype(np.int64))
        Z = sp.csr_matrix((xb.data, xb.indices, xb.indptr),
                          shape=(rows.size, xb.n_cols)).toarray()
    else:
        Z = shard.X[rows]
    return np.asarray(Z, dtype=np.float64), _weights(shard)[rows]


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

    use_threads(job)
    X, y, sw = shard.X, shard.y, shard.sw
    n = shard.n_rows
    lo, hi = (0, n) if n_steps == 1 else step_rows(n, n_steps, step)
    acc = np.zeros(w.size)
    if hi <= lo:
        return 0.0, acc, 0
    order = None if n_steps == 1 else _cached_permutation(job, epoch, block, n)
    if order is None:  # stored order: the step's rows are a view
        X = CSR(X.data, X.indices, X.indptr[lo:hi + 1], X.n_cols) if shard.sparse else X[lo:hi]
        y, sw = y[lo:hi], (sw[lo:hi] if sw.size else sw)
    else:  # the step's rows of the chunk's permutation, gathered
        X, y, sw = _take_rows(shard, order[lo:hi])
    with guard():
        loss_sum = job.sums(shard.sparse)(w, X, y, sw, job.hyper, acc)
    return float(loss_sum), acc, hi - lo


def _take_rows(shard, idx):
    """(X, y, sw) of the chunk's rows ``idx``, copied: a dense block or a CSR one."""
    X, y, sw = shard.X, shard.y, shard.sw
    if shard.sparse:
        from ..sparse import take_rows
        return take_rows(X, y, sw, idx)
    from ..engine.data import gather_rows
    xb, yb = np.empty((idx.size, X.shape[1]), dtype=X.dtype), np.empty(idx.size, y.dtype)
    sb = np.empty(idx.size if sw.size else 0, dtype=X.dtype)
    gather_rows(X, y, sw, idx, xb, yb, sb)
    return xb, yb, sb


# -- one task per worker thread: a group of chunks ------------------------------------------------

def run_group(kind, shards, blocks, jobs, per_fit, *shared):
    """Run ``kind`` ("gradient" or "local") on each of a worker's chunks, in the given order,
    for each fit of ``jobs`` (several: the configurations of a grid, :meth:`DataParallel.
    fit_many`); ``per_fit[k]`` holds the arguments of fit k, ``shared`` those of all.

    One task per dask thread and round instead of one per chunk and fit: a task costs
    a few milliseconds of scheduling, more than a 100,000-row chunk's gradient, and the
    fits read each chunk while it is in cache. Returns (the worker's address, per chunk
    the list of the fits' results).
    """
    if kind == "gradient":
        results = [[chunk_gradient(shard, job, *args, *shared, block)
                    for job, args in zip(jobs, per_fit)]
                   for shard, block in zip(shards, blocks)]
    else:
        results = [local_epochs(shard, jobs, per_fit, block)
                   for shard, block in zip(shards, blocks)]
    try:
        from distributed import get_worker
        address = get_worker().address
    except (ImportError, ValueError):
        address = None
    return address, results


# -- local mode: local epochs of the fused engine on one chunk ------------------------------------

def _same_walk(jobs, per_fit):
    """True when the fits' epochs visit the chunk's rows alike (batches, order, stream)."""
    first, index = jobs[0], per_fit[0][2]
    return all((j.batch_size, j.shuffle, j.seed, j.local_epochs) ==
               (first.batch_size, first.shuffle, first.seed, first.local_epochs)
               and args[2] == index for j, args in zip(jobs, per_fit))


def local_epochs(shard, jobs, per_fit, block):
    """``job.local_epochs`` epochs of fastgd's engine on the chunk for each fit of ``jobs``,
    from its (w, optimizer state, round index) in ``per_fit``.

    Returns per fit the chunk's parameters, its optimizer state, step count and
    skipped-step count after the epochs, the mean objective of its last epoch, and
    its number of rows; or the :class:`fastgd.engine.DivergenceError` of a fit whose
    loss or parameters stopped being finite. Fits that walk the rows alike train
    together, each block of the chunk gathered once (:class:`fastgd.engine.many.
    SharedPass`: the same bits as alone).
    """
    from ..engine import DivergenceError, Trainer
    from ..engine.many import SharedPass
    from ..optim import OPTIMIZERS

    use_threads(jobs[0])
    trainers = []
    for job, (w, state_dict, round_index) in zip(jobs, per_fit):
        params = np.array(w, copy=True)
        est = job.estimator
        opt = OPTIMIZERS[job.optimizer](params, lr=state_dict["hyperparams"]["lr"],
                                        **job.optimizer_params,
                                        shapes=est._shapes(est.n_features_in_, job.n_outputs))
        opt.load_state_dict(state_dict)
        rows, penalty = job.objective()
        rng = np.random.default_rng([job.seed, round_index, block])
        trainers.append(Trainer(rows, job.hyper, opt, job.batch_size, job.shuffle, rng,
                                penalty=penalty,
                                sparse_updates=getattr(job.estimator, "sparse_updates", "auto")))
    out = [None] * len(jobs)
    losses = [float("nan")] * len(jobs)
    if len(jobs) > 1 and not shard.sparse and _same_walk(jobs, per_fit):
        groups = [list(range(len(jobs)))]
    else:
        groups = [[k] for k in range(len(jobs))]
    shared = SharedPass()
    for group in groups:
        for _ in range(jobs[group[0]].local_epochs):
            live = [k for k in group if out[k] is None]
            if not live:
                break
            if len(live) == 1:
                try:
                    results = [trainers[live[0]].run_epoch(shard.X, shard.y, shard.sw)]
                except DivergenceError as exc:
                    results = [exc]
            else:
                results = shared.run_epoch([trainers[k] for k in live], shard.X, shard.y,
                                           shard.sw)
            for k, result in zip(live, results):
                if isinstance(result, DivergenceError):
                    out[k] = result
                else:
                    losses[k] = result.loss
    for k, tr in enumerate(trainers):
        if out[k] is None:
            opt = tr.optimizer
            out[k] = {"params": opt.params, "state": opt.state, "step_count": opt.step_count,
                      "n_skipped": opt.n_skipped, "loss": losses[k], "rows": int(shard.n_rows)}
    return out
