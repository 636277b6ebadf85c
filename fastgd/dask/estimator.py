"""``DataParallel``: fit a fastgd estimator on dask arrays, chunk by chunk on the workers.

See :mod:`fastgd.dask` for the two modes, their mathematics and trade-offs.
"""

import copy
import math
import time
import uuid
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.utils.validation import check_is_fitted

from ..engine import DivergenceError
from ..engine.loop import EpochLoop, Outcome

from .._validation import check_int
from ..models import auto
from . import _data, _worker

MODES = ("sync", "local")
SUPPORTED = ("LinearRegression", "PoissonRegressor", "LogisticRegression", "LinearSVC",
             "MLPRegressor", "MLPClassifier")


def _supported():
    from ..models import LinearModel
    from ..nn.mlp import _MLP
    return (LinearModel, _MLP)


class DaskFitError(RuntimeError):
    """A round of a Dask fit failed (a worker lost for good, data that cannot be
    recomputed, ...). The fitted estimator keeps the parameters of the last
    completed round."""


@dataclass
class RoundInfo:
    """What a per-round ``callback(info)`` receives. Return True from it to stop."""

    round: int          # 1-based, counted over this fit
    loss: float         # the round's training objective (see the modes in fastgd.dask)
    seconds: float      # wall-clock time of the round, client included
    n_steps: int        # optimizer steps taken by the round
    estimator: object   # the DataParallel being fitted


class DataParallel(BaseEstimator):
    """Train a fastgd estimator on ``dask.array`` data, data-parallel over its chunks.

    Parameters
    ----------
    estimator : fastgd.LinearRegression, LogisticRegression, LinearSVC, MLPRegressor or MLPClassifier
        The model and its training settings (``optimizer``, ``lr`` (``"auto"``
        too: its statistics are reduced over the chunks, see :mod:`fastgd.dask._auto`),
        ``alpha``, ``l1_ratio``, ``tol``, ``n_iter_no_change``,
        ``random_state``, ``warm_start``; ``batch_size`` and ``shuffle`` for
        mode "local"). Cloned at fit; the fitted copy is ``estimator_``.
        ``early_stopping`` is not supported (it needs a held-out set).
    mode : {"sync", "local"}, default "sync"
        "sync": synchronous data-parallel gradient descent (every step's
        gradient summed over all chunks, the update applied on the client);
        "local": local epochs on every chunk, then the parameters and the
        optimizer state averaged (one round trip per round).
    batch_size : int or None, default None
        Mode "sync" only: rows per step over all chunks (None: every row, exact
        batch gradient descent). Every step is a round trip to the workers,
        so this is for large batches. Mode "local" uses the estimator's own
        ``batch_size`` inside each chunk.
    local_epochs : int, default 1
        Mode "local" only: epochs each chunk runs between two averagings.
    max_rounds : int or None
        Rounds to run at most; None: the estimator's ``max_epochs``. A round is
        one epoch in mode "sync" and ``local_epochs`` epochs in mode "local".
    client : distributed.Client or None
        None: the current default client (``distributed.get_client()``).
    numba_threads : int or None
        Numba threads per dask thread in the workers; None: the cores of each
        host divided by the dask threads of the workers on it.
    verbose : int, default 0
        > 0: one line per round.
    callback : callable or None
        ``callback(RoundInfo)`` after every round; returning True stops the fit.

    Attributes
    ----------
    estimator_ : the fitted fastgd estimator (``coef_``, ``intercept_``,
        ``classes_``, ``loss_curve_`` per round, ``n_iter_`` epochs, ``t_``
        steps, ``optimizer_``); its ``predict`` works on numpy arrays.
    n_rounds_ : rounds completed by the last fit.
    n_chunks_ : chunks trained on (chunks with no rows are dropped).
    """

    def __init__(self, estimator, mode="sync", batch_size=None, local_epochs=1, max_rounds=None,
                 client=None, numba_threads=None, verbose=0, callback=None):
        self.estimator = estimator
        self.mode = mode
        self.batch_size = batch_size
        self.local_epochs = local_epochs
        self.max_rounds = max_rounds
        self.client = client
        self.numba_threads = numba_threads
        self.verbose = verbose
        self.callback = callback

    # -- validation --------------------------------------------------------------------------

    def _checked(self):
        """Every argument of DataParallel and of its estimator, checked. Changes nothing."""
        est = self.estimator
        if not isinstance(est, _supported()):
            raise TypeError(f"estimator must be one of fastgd's {', '.join(SUPPORTED)}, got "
                            f"{type(est).__name__}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        batch = None if self.batch_size is None else check_int("batch_size", self.batch_size, low=1)
        local_epochs = check_int("local_epochs", self.local_epochs, low=1)
        if self.mode == "local" and batch is not None:
            raise ValueError("batch_size is for mode='sync'; mode='local' trains each chunk with "
                             "the estimator's own batch_size")
        if self.mode == "sync" and local_epochs != 1:
            raise ValueError("local_epochs is for mode='local'; mode='sync' takes one epoch per "
                             "round")
        rounds = None if self.max_rounds is None else check_int("max_rounds", self.max_rounds, low=1)
        threads = None if self.numba_threads is None else check_int("numba_threads",
                                                                    self.numba_threads, low=1)
        verbose = self.verbose
        if isinstance(verbose, bool) or not isinstance(verbose, int) or verbose < 0:
            raise ValueError(f"verbose must be an integer >= 0, got {verbose!r}")
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable or None, got {self.callback!r}")
        params = est._checked_params()
        if params["early_stopping"]:
            raise ValueError("estimator.early_stopping is not supported by DataParallel: hold out "
                             "a validation set yourself and score it in a callback")
        if getattr(est, "average", False):
            raise ValueError("estimator.average is not supported by DataParallel (its rounds "
                             "average the chunks' parameters, not the iterates): set "
                             "average=False")
        if est.callback is not None:
            raise ValueError("estimator.callback is per epoch of a single-machine fit: pass "
                             "callback= to DataParallel instead (called once per round)")
        if rounds is None:
            rounds = params["max_epochs"]
        return params, batch, local_epochs, rounds, threads

    def _get_client(self):
        _, distributed = _data.require_dask()
        if self.client is None:
            try:
                return distributed.get_client()
            except ValueError:
                raise ValueError("no dask.distributed Client: start one, e.g. "
                                 "Client(fastgd.dask.local_cluster(2)), or pass client=") from None
        if not isinstance(self.client, distributed.Client):
            raise TypeError(f"client must be a distributed.Client or None, got "
                            f"{type(self.client).__name__}")
        return self.client

    # -- fitting --------------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit on dask arrays X (n x d) and y (n,) (optional per-row ``sample_weight``).

        X's chunks are numpy arrays, or scipy.sparse matrices for the linear
        models (validated on their workers as :func:`fastgd.sparse.as_csr`
        validates a sparse X; the errors name the chunk).

        y and sample_weight may also be in-memory arrays when X's chunk sizes
        are known. Every check runs before training; a failure in a round
        raises :class:`DaskFitError` (or :class:`fastgd.DivergenceError`) and
        leaves ``estimator_`` with the parameters of the last completed round.
        """
        params, batch, local_epochs, rounds, threads = self._checked()
        client = self._get_client()
        _, distributed = _data.require_dask()
        # warm start: from this wrapper's last fit, else from a fitted estimator passed in
        if _data.has_sparse_chunks(X) and not self.estimator._accepts_sparse:
            raise TypeError(f"{type(self.estimator).__name__} takes a dense X only; X has "
                            f"scipy.sparse chunks: densify them (X.map_blocks(lambda b: "
                            f"b.toarray())) or use a linear model")
        previous = getattr(self, "estimator_", self.estimator)
        if params["warm_start"] and hasattr(previous, "_optimizer"):
            est = copy.deepcopy(previous)  # the hooks find the old parameters on it
            est.set_params(**self.estimator.get_params(deep=False))
        else:
            est = clone(self.estimator)
        key = f"fastgd-{uuid.uuid4().hex[:10]}"
        classifier = is_classifier(est)
        prepared = _data.prepare(client, X, y, sample_weight, classifier, key,
                                 getattr(est, "class_weight", None))
        shards = []
        try:
            shipped = self._setup(est, prepared)
            shards = _data.make_shards(client, prepared, shipped, key)
            distributed.wait(shards)
            # the shards hold the data now; Dask keeps the raw chunks' lineage to recompute
            # a shard whose worker is lost
            _data.release(prepared.raws)
            job = self._start(est, shipped, params, prepared, shards, batch, local_epochs,
                              client, threads, key)
            self.n_chunks_ = len(shards)
            self.n_rounds_ = 0
            self.estimator_ = est
            run = self._run_sync if self.mode == "sync" else self._run_local
            run(client, shards, prepared, job, params, rounds, key)
        finally:
            _data.release(shards)
            _data.release(prepared.raws)
        return self

    def _setup(self, est, prepared):
        """The clone's classes and features from the checked data; returns the unfitted
        clone the workers read (settings, features, classes)."""
        if prepared.classes is not None:
            labels = prepared.classes
            if labels.size < 2:
                raise ValueError(f"{type(est).__name__} needs samples of at least 2 classes in "
                                 f"the data, but the data contains only one class: {labels[0]!r}")
            est._check_n_classes(labels)
            est.classes_ = labels
        est.n_features_in_ = prepared.n_features
        from ..models.linear import PoissonRegressor
        if isinstance(est, PoissonRegressor):   # its checks and start, from all chunks
            if prepared.y_min < 0:
                raise ValueError(f"PoissonRegressor: y must be >= 0 (counts or rates), got a "
                                 f"minimum of {prepared.y_min!r}")
            est._start_intercept = math.log(prepared.y_mean) if prepared.y_mean > 0 else 0.0
        shipped = clone(est)
        shipped.n_features_in_ = est.n_features_in_
        if prepared.classes is not None:
            shipped.classes_ = est.classes_
        return shipped

    def _start(self, est, shipped, params, prepared, shards, batch, local_epochs, client,
               threads, key):
        """Set up the clone: ``lr="auto"``'s start, optimizer, counters; returns the
        :class:`Job`."""
        n_outputs = est._n_outputs()
        proxy = np.empty((0, prepared.n_features), dtype=prepared.dtype)
        rng = params["random_state"]
        start = None
        if params["lr"] == "auto":   # the statistics by map-reduce (fastgd.dask._auto)
            from ._auto import OnCluster
            data = OnCluster(client, shards, prepared, key, est._auto_loss(n_outputs), n_outputs)
            steps = dict(params, batch_size=params["batch_size"] if self.mode == "local" else batch)
            start = est._auto_start_from(data, steps, n_outputs, rng)
        optimizer, rng = est._new_optimizer(params, proxy, n_outputs, rng, start)
        shuffle = est._shuffle_mode(params, proxy)
        est.__dict__.update(_optimizer=optimizer, _rng=rng, n_iter_=0, t_=0, loss_curve_=[],
                            _params=params, validation_scores_=None, best_validation_score_=None,
                            best_loss_=np.inf, x_mean_=None if start is None else start.mean,
                            x_scale_=None if start is None else start.scale)
        # the workers take rows (standardized after lr="auto") from the shipped estimator
        _, hyper, _ = est._training_objective(params, n_outputs)
        est._store_params(est._data_params())
        return _worker.Job(
            estimator=shipped, n_outputs=n_outputs, hyper=hyper,
            optimizer=params["optimizer"], optimizer_params=params["optimizer_params"],
            batch_size=params["batch_size"] if self.mode == "local" else batch,
            shuffle="none" if shuffle == "none" else "full", seed=int(rng.integers(2**63)),
            local_epochs=local_epochs, threads=_thread_plan(client, threads),
            standardized=not auto.is_identity(est.x_mean_, est.x_scale_))

    # -- the two modes ------------------------------------------------------------------------------

    def _run_sync(self, client, shards, prepared, job, params, rounds, key):
        from ..losses._rows import scale
        est = self.estimator_
        opt = est._optimizer
        n = prepared.n_samples
        steps = 1 if job.batch_size is None else max(1, math.ceil(n / job.batch_size))
        _, penalty = job.objective()   # the estimator's (standardized after lr="auto")

        placement = _Placement(client, shards)

        def one_round(r):
            epoch = est.n_iter_
            total = 0.0
            done = 0
            for s in range(steps):
                w = opt.params.copy()
                parts = self._round_trip(placement, "gradient", job, f"{key}-grad-{r}-{s}", r,
                                         w, epoch, s, steps)
                m = sum(p[2] for p in parts)
                if m == 0:
                    continue
                g64 = np.zeros(w.size)
                loss_sum = 0.0
                for part_loss, part_grad, _ in parts:  # chunk order: same bits on any cluster
                    loss_sum += part_loss
                    g64 += part_grad
                f = scale(g64, loss_sum, m) + penalty(opt.params, job.hyper, g64)
                if not math.isfinite(f):
                    raise DivergenceError("the loss became NaN or inf")
                total += f * m
                before = opt.step_count
                opt.step(g64.astype(opt.params.dtype))
                done += opt.step_count - before
            return total / n, done

        self._rounds(one_round, rounds, params, 1)

    def _run_local(self, client, shards, prepared, job, params, rounds, key):
        est = self.estimator_
        opt = est._optimizer
        weights = np.array(prepared.rows, dtype=np.float64) / prepared.n_samples
        placement = _Placement(client, shards)

        def one_round(r):
            w = opt.params.copy()
            sd = opt.state_dict()
            index = est.n_iter_  # epochs so far: the chunks' random streams never repeat
            parts = self._round_trip(placement, "local", job, f"{key}-local-{r}", r, w, sd, index)
            before = opt.step_count
            _average_into(opt, parts, weights)
            loss = math.fsum(wt * p["loss"] for wt, p in zip(weights, parts))
            return loss, opt.step_count - before

        self._rounds(one_round, rounds, params, job.local_epochs)

    def _rounds(self, one_round, rounds, params, epochs_per_round):
        """The loop over rounds (:class:`fastgd.engine.loop.EpochLoop`), each round atomic."""
        est = self.estimator_
        opt = est._optimizer

        def run_one():
            snap = opt.state_dict(), opt.params.copy()
            t0 = time.perf_counter()
            try:
                loss, n_steps = one_round(self.n_rounds_ + 1)
                if not (math.isfinite(loss) and np.isfinite(opt.params).all()):
                    raise DivergenceError("the loss or the parameters became NaN or inf")
            except BaseException:
                _restore(opt, snap)
                raise
            return Outcome(loss, time.perf_counter() - t0, n_steps)

        def record(outcome):
            self.n_rounds_ += 1
            est.n_iter_ += epochs_per_round
            est.t_ = opt.step_count
            est.loss_curve_.append(outcome.loss)
            est.best_loss_ = min(est.best_loss_, outcome.loss)
            est._store_params(est._data_params())

        loop = EpochLoop("DataParallel", rounds, params["tol"], params["n_iter_no_change"],
                         opt.lr, est.lr, self.verbose, self.callback, unit="round", stacklevel=5)
        est.stop_reason_ = loop.run(
            run_one, record,
            info=lambda r, o, score: RoundInfo(r, o.loss, o.seconds, o.n_steps, self))

    def _round_trip(self, placement, kind, job, key, r, *args):
        """Run ``kind`` on every chunk (one task per worker thread); results in chunk order."""
        client = placement.client
        futures = [client.submit(_worker.run_group, kind, [placement.shards[b] for b in blocks],
                                 blocks, job, *args, key=f"{key}-{g}",
                                 **({} if addr is None else
                                    {"workers": [addr], "allow_other_workers": True}))
                   for g, (addr, blocks) in enumerate(placement.groups)]
        out = [None] * len(placement.shards)
        for (addr, blocks), (ran_on, results) in zip(placement.groups,
                                                     self._gather(client, futures, r)):
            placement.stale |= ran_on != addr  # a worker left or came: regroup next time
            for b, result in zip(blocks, results):
                out[b] = result
        return out

    def _gather(self, client, futures, r):
        """The results of one round's tasks in order; a failure becomes DaskFitError."""
        try:
            return client.gather(futures)
        except KeyboardInterrupt:
            client.cancel(futures)
            raise
        except DivergenceError as exc:  # raised by the engine on a worker (local epochs)
            client.cancel(futures)
            raise DivergenceError(str(exc)) from None
        except Exception as exc:
            client.cancel(futures)
            raise DaskFitError(
                f"DataParallel: round {r} failed on the cluster ({type(exc).__name__}: {exc}). "
                f"estimator_ keeps the parameters of round {r - 1}.") from exc

    # -- prediction -------------------------------------------------------------------------------

    def _blockwise(self, method, X):
        check_is_fitted(self, "estimator_")
        est = self.estimator_
        if not hasattr(est, method):
            raise AttributeError(f"{type(est).__name__} has no {method}")
        if not _data.is_dask_array(X):
            return getattr(est, method)(X)
        X, _ = _data.check_X(X)
        if X.shape[1] != est.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(est).__name__} is "
                             f"expecting {est.n_features_in_} features as input.")
        k = len(getattr(est, "classes_", ()))
        if method == "predict":
            dtype = est.classes_.dtype if is_classifier(est) else X.dtype
            return X.map_blocks(_apply, est, method, dtype=dtype, drop_axis=1)
        if method == "decision_function" and k <= 2:
            return X.map_blocks(_apply, est, method, dtype=X.dtype, drop_axis=1)
        return X.map_blocks(_apply, est, method, dtype=X.dtype, chunks=(X.chunks[0], (k,)))

    def predict(self, X):
        """Predictions, computed chunk by chunk on the workers (a lazy dask array)."""
        return self._blockwise("predict", X)

    def decision_function(self, X):
        """Confidence scores per chunk (the linear classifiers)."""
        return self._blockwise("decision_function", X)

    def predict_proba(self, X):
        """Class probabilities per chunk (LogisticRegression, MLPClassifier)."""
        return self._blockwise("predict_proba", X)

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifiers), R^2 (regressors) or D^2 (PoissonRegressor), reduced on the
        workers; returns a float."""
        check_is_fitted(self, "estimator_")
        if not _data.is_dask_array(X):
            return self.estimator_.score(X, y, sample_weight=sample_weight)
        da, _ = _data.require_dask()
        X, _ = _data.check_X(X)
        y = _data.align("y", y, X)
        sw = _data.align("sample_weight", sample_weight, X)
        w = da.ones_like(y, dtype=np.float64) if sw is None else sw.astype(np.float64)
        pred = self.predict(X)
        if is_classifier(self.estimator_):
            return float(((pred == y) * w).sum().compute() / w.sum().compute())
        y64 = y.astype(np.float64)
        mean = (w * y64).sum() / w.sum()
        from ..models.linear import PoissonRegressor
        if isinstance(self.estimator_, PoissonRegressor):   # D^2, as its own score

            def deviance(mu):          # fastgd.losses.poisson_deviance, summed over the chunks
                positive = y64 > 0
                ylog = da.where(positive, y64 * da.log(da.where(positive, y64, 1.0) / mu), 0.0)
                return (w * 2.0 * (ylog - y64 + mu)).sum()

            if da.compute((y64 < 0).any())[0]:
                raise ValueError("PoissonRegressor: y must be >= 0 (counts or rates)")
            with np.errstate(divide="ignore", invalid="ignore"):
                dev, null = da.compute(deviance(pred), deviance(mean))
            if null == 0:
                return 1.0 if dev == 0 else 0.0
            return float(1.0 - dev / null)
        ss_res, ss_tot = da.compute((w * (y64 - pred) ** 2).sum(), (w * (y64 - mean) ** 2).sum())
        return float(1.0 - ss_res / ss_tot) if ss_tot > 0 else 0.0

    def _fitted(name, doc):  # noqa: N805 (a property factory used in the class body)
        def get(self):
            check_is_fitted(self, "estimator_")
            return getattr(self.estimator_, name)
        return property(get, doc=doc)

    coef_ = _fitted("coef_", "The fitted estimator's coef_ (linear models).")
    intercept_ = _fitted("intercept_", "The fitted estimator's intercept_ (linear models).")
    classes_ = _fitted("classes_", "The labels (classifiers).")
    loss_curve_ = _fitted("loss_curve_", "The training objective of each round.")
    del _fitted


class _Placement:
    """Which worker holds which chunk, grouped into one task per dask thread.

    Tasks are pinned to the worker that holds their chunks (loosely: if it is
    gone, the scheduler runs them elsewhere and Dask recomputes lost chunks).
    The grouping is refreshed when a task ran somewhere else than planned.
    """

    def __init__(self, client, shards):
        self.client = client
        self.shards = shards
        self.stale = True
        self._groups = []

    @property
    def groups(self):
        """[(worker address or None, [chunk indices])], chunk indices ascending in each group."""
        if self.stale:
            who = self.client.who_has(self.shards)
            threads = self.client.nthreads()
            by_worker = {}
            for b, f in enumerate(self.shards):
                holders = [a for a in who.get(f.key, ()) if a in threads]
                by_worker.setdefault(holders[0] if holders else None, []).append(b)
            self._groups = []
            for addr, blocks in by_worker.items():
                k = max(1, min(len(blocks), threads.get(addr, 1)))
                self._groups += [(addr, blocks[i::k]) for i in range(k)]
            self.stale = False
        return self._groups


def _apply(block, est, method):
    return getattr(est, method)(block)


def _thread_plan(client, threads):
    from .cluster import thread_plan
    return thread_plan(client, threads)


def _restore(opt, snap):
    state, params = snap
    np.copyto(opt.params, params)
    opt.load_state_dict(state)


def _average_into(opt, parts, weights):
    """Parameters and state arrays: row-weighted means in chunk order; counters: the longest chunk.

    Scalar state (NAdam's momentum product, ASGD's eta and mu) is a function
    of the step count, so it is taken from the chunk that took the most steps,
    whose step count the optimizer continues from.
    """
    dtype = opt.params.dtype
    w = np.zeros(opt.params.size)
    for wt, p in zip(weights, parts):
        w += wt * p["params"].astype(np.float64)
    lead = max(range(len(parts)), key=lambda b: (parts[b]["step_count"], -b))
    state = copy.copy(parts[lead]["state"])
    for name, value in state.items():
        if isinstance(value, np.ndarray) and value.size:
            acc = np.zeros(value.size)
            for wt, p in zip(weights, parts):
                acc += wt * p["state"][name].astype(np.float64)
            state[name] = acc.astype(dtype)
    skipped = sum(p["n_skipped"] - opt.n_skipped for p in parts)
    opt.params[:] = w.astype(dtype)
    opt.state = state
    opt.step_count = parts[lead]["step_count"]
    opt.n_skipped += skipped
