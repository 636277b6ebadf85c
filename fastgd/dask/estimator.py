"""``DataParallel``: fit a fastgd estimator on dask arrays, chunk by chunk on the workers.

See :mod:`fastgd.dask` for the two modes, their mathematics and trade-offs.
"""

import copy
import math
import time
import uuid
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.utils.validation import check_is_fitted

from ..engine import DivergenceError
from ..engine.loop import EpochLoop, Outcome, run_together

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

    :meth:`fit_many` fits a grid of the estimator's configurations in the same
    rounds (also ``fastgd.fit_many(DataParallel(est), grid, X, y)``).
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
        checked = self._checked()
        client = self._get_client()
        self._check_sparse(X)
        # warm start: from this wrapper's last fit, else from a fitted estimator passed in
        previous = getattr(self, "estimator_", self.estimator)
        if checked[0]["warm_start"] and hasattr(previous, "_optimizer"):
            est = copy.deepcopy(previous)  # the hooks find the old parameters on it
            est.set_params(**self.estimator.get_params(deep=False))
        else:
            est = clone(self.estimator)
        self._train(client, [_Config(self, est, checked)], X, y, sample_weight)
        return self

    def fit_many(self, param_grid, X, y, sample_weight=None):
        """Fit every configuration of ``param_grid`` of the estimator, all in the same rounds.

        ``param_grid``: a dict or list of dicts of the estimator's arguments, as
        scikit-learn's ``ParameterGrid`` takes them (``{"lr": [0.1, 0.01],
        "alpha": [1e-4, 1e-2]}``); ``class_weight`` may not vary (it sets the
        shards' weights). The data is checked and its shards built once; each
        round is one task per worker thread for all the configurations (a
        step's gradients in mode "sync", the local epochs in mode "local",
        where configurations that walk a chunk's rows alike train in one pass
        over it: :class:`fastgd.engine.many.SharedPass`). Each configuration
        keeps its own update rule, schedule, stopping rule and round count; one
        that stops leaves the rounds.

        Returns a list of fitted DataParallel, in ``ParameterGrid`` order, each
        equal bit for bit to ``DataParallel(clone(estimator).set_params(**params),
        ...).fit(X, y, sample_weight)``, with ``stop_reason_`` on its
        ``estimator_``; a configuration that diverges keeps its last finite
        round (``stop_reason_`` "diverged", a warning) and the others go on.
        Every configuration is validated before any trains. ``callback`` and
        ``verbose`` serve every configuration (a :class:`RoundInfo`'s
        ``estimator`` is that configuration's DataParallel).
        """
        from sklearn.model_selection import ParameterGrid
        grid = list(ParameterGrid(param_grid))
        if any("class_weight" in params for params in grid):
            raise ValueError("param_grid: class_weight may not vary in DataParallel.fit_many "
                             "(it sets the weights of the shards): fit one grid per class_weight")
        configs = []
        for params in grid:
            # the same client and callback: clone() would deep-copy them
            dp = DataParallel(**dict(self.get_params(deep=False),
                                     estimator=clone(self.estimator).set_params(**params)))
            configs.append(_Config(dp, clone(dp.estimator), dp._checked()))
        client = self._get_client()
        self._check_sparse(X)
        if configs:
            self._train(client, configs, X, y, sample_weight)
        return [c.dp for c in configs]

    def _check_sparse(self, X):
        if _data.has_sparse_chunks(X) and not self.estimator._accepts_sparse:
            raise TypeError(f"{type(self.estimator).__name__} takes a dense X only; X has "
                            f"scipy.sparse chunks: densify them (X.map_blocks(lambda b: "
                            f"b.toarray())) or use a linear model")

    def _train(self, client, configs, X, y, sample_weight):
        """Check the data, build the shards once, start and run every configuration."""
        _, distributed = _data.require_dask()
        key = f"fastgd-{uuid.uuid4().hex[:10]}"
        first = configs[0].est
        prepared = _data.prepare(client, X, y, sample_weight, is_classifier(first), key,
                                 getattr(first, "class_weight", None))
        shards = []
        try:
            shipped = [c.dp._setup(c.est, prepared) for c in configs]
            shards = _data.make_shards(client, prepared, shipped[0], key)
            distributed.wait(shards)
            # the shards hold the data now; Dask keeps the raw chunks' lineage to recompute
            # a shard whose worker is lost
            _data.release(prepared.raws)
            fits = []
            for c, ship in zip(configs, shipped):
                params, batch, local_epochs, rounds, threads = c.checked
                job = c.dp._start(c.est, ship, params, prepared, shards, batch, local_epochs,
                                  client, threads, key)
                c.dp.n_chunks_, c.dp.n_rounds_, c.dp.estimator_ = len(shards), 0, c.est
                fits.append(_Fit(c.dp, c.est, job, params, rounds))
            one_round = self._sync_round if self.mode == "sync" else self._local_round
            self._rounds(_Placement(client, shards), prepared, fits, one_round, key,
                         many=len(configs) > 1)
        finally:
            _data.release(shards)
            _data.release(prepared.raws)

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

    def _sync_round(self, placement, prepared, fits, key, r):
        """One round of mode "sync" for the ``fits``: per fit (loss, steps) or its
        DivergenceError."""
        from ..losses._rows import scale
        n = prepared.n_samples
        batch = fits[0].job.batch_size
        steps = 1 if batch is None else max(1, math.ceil(n / batch))
        epochs = [f.est.n_iter_ for f in fits]
        out = [[0.0, 0] for _ in fits]
        for s in range(steps):
            live = [k for k, f in enumerate(fits) if isinstance(out[k], list)]
            if not live:
                break
            ws = [fits[k].opt.params.copy() for k in live]
            parts = self._round_trip(placement, "gradient", [fits[k].job for k in live],
                                     f"{key}-grad-{r}-{s}", r,
                                     [(w, epochs[k]) for w, k in zip(ws, live)], s, steps)
            for i, k in enumerate(live):
                f = fits[k]
                m = sum(p[i][2] for p in parts)
                if m == 0:
                    continue
                g64 = np.zeros(ws[i].size)
                loss_sum = 0.0
                for part in parts:  # chunk order: same bits on any cluster
                    loss_sum += part[i][0]
                    g64 += part[i][1]
                value = scale(g64, loss_sum, m) + f.penalty(f.opt.params, f.job.hyper, g64)
                if not math.isfinite(value):
                    out[k] = DivergenceError("the loss became NaN or inf")
                    continue
                out[k][0] += value * m
                before = f.opt.step_count
                f.opt.step(g64.astype(f.opt.params.dtype))
                out[k][1] += f.opt.step_count - before
        return [o if isinstance(o, DivergenceError) else (o[0] / n, o[1]) for o in out]

    def _local_round(self, placement, prepared, fits, key, r):
        """One round of mode "local" for the ``fits``: per fit (loss, steps) or its
        DivergenceError."""
        weights = np.array(prepared.rows, dtype=np.float64) / prepared.n_samples
        # epochs so far: the chunks' random streams never repeat
        per_fit = [(f.opt.params.copy(), f.opt.state_dict(), f.est.n_iter_) for f in fits]
        parts = self._round_trip(placement, "local", [f.job for f in fits], f"{key}-local-{r}",
                                 r, per_fit)
        out = []
        for k, f in enumerate(fits):
            mine = [p[k] for p in parts]
            failed = next((p for p in mine if isinstance(p, DivergenceError)), None)
            if failed is not None:
                out.append(DivergenceError(str(failed)))
                continue
            before = f.opt.step_count
            _average_into(f.opt, mine, weights)
            loss = math.fsum(wt * p["loss"] for wt, p in zip(weights, mine))
            out.append((loss, f.opt.step_count - before))
        return out

    def _rounds(self, placement, prepared, fits, one_round, key, many):
        """The loop over rounds: each fit's :class:`fastgd.engine.loop.EpochLoop` rules,
        driven a round at a time (:func:`fastgd.engine.loop.run_together`); rounds atomic.

        One fit (``fit``): divergence raises. Several (``fit_many``): a fit that diverges is
        put back to its last round and reported (a warning), the others go on.
        """
        per_round = fits[0].job.local_epochs if self.mode == "local" else 1
        steps = [f.steps(per_round) for f in fits]

        def run_round(live, r):
            snaps = [(fits[k].opt.state_dict(), fits[k].opt.params.copy()) for k in live]
            t0 = time.perf_counter()
            try:
                results = one_round(placement, prepared, [fits[k] for k in live], key, r)
            except BaseException:   # Ctrl-C, DaskFitError: every fit keeps its last round
                for k, snap in zip(live, snaps):
                    _restore(fits[k].opt, snap)
                raise
            seconds = time.perf_counter() - t0
            out = []
            for k, snap, result in zip(live, snaps, results):
                opt = fits[k].opt
                if not isinstance(result, DivergenceError) and not (
                        math.isfinite(result[0]) and np.isfinite(opt.params).all()):
                    result = DivergenceError("the loss or the parameters became NaN or inf")
                if isinstance(result, DivergenceError):
                    _restore(opt, snap)
                    out.append(result)
                else:
                    out.append(Outcome(result[0], seconds, result[1]))
            return out

        # warnings point at the user's call: on_*, run_together, _rounds, _train, fit(_many)
        def on_diverged(k, error):
            if not many:
                raise error from None
            warnings.warn(str(error), UserWarning, stacklevel=6)

        def on_interrupt(r, live):
            what = ("every configuration keeps the parameters of its last completed round"
                    if many else f"keeping the parameters of round {r - 1}")
            warnings.warn(f"DataParallel.{'fit_many' if many else 'fit'} interrupted during "
                          f"round {r}: {what}", UserWarning, stacklevel=6)

        reasons = run_together(steps, run_round, on_diverged, on_interrupt)
        for f, reason in zip(fits, reasons):
            f.est.stop_reason_ = reason

    def _round_trip(self, placement, kind, jobs, key, r, per_fit, *shared):
        """Run ``kind`` on every chunk for every fit of ``jobs`` (one task per worker thread);
        per chunk, in chunk order, the list of the fits' results."""
        client = placement.client
        futures = [client.submit(_worker.run_group, kind, [placement.shards[b] for b in blocks],
                                 blocks, jobs, per_fit, *shared, key=f"{key}-{g}",
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


@dataclass
class _Config:
    """A configuration to fit: its DataParallel, its (cloned) estimator, their checked
    arguments (``DataParallel._checked``)."""

    dp: DataParallel
    est: object
    checked: tuple


@dataclass
class _Fit:
    """A configuration being fitted: its DataParallel and estimator, the workers' Job, the
    estimator's checked arguments, its rounds."""

    dp: DataParallel
    est: object
    job: object
    params: dict
    rounds: int

    @property
    def opt(self):
        return self.est._optimizer

    @property
    def penalty(self):
        return self.job.objective()[1]   # the estimator's (standardized after lr="auto")

    def steps(self, epochs_per_round):
        """Its :class:`fastgd.engine.loop.LoopSteps`: stopping rules, progress, callback."""
        dp, est, opt = self.dp, self.est, self.opt

        def record(outcome):
            dp.n_rounds_ += 1
            est.n_iter_ += epochs_per_round
            est.t_ = opt.step_count
            est.loss_curve_.append(outcome.loss)
            est.best_loss_ = min(est.best_loss_, outcome.loss)
            est._store_params(est._data_params())

        loop = EpochLoop("DataParallel", self.rounds, self.params["tol"],
                         self.params["n_iter_no_change"], opt.lr, est.lr, dp.verbose,
                         dp.callback, unit="round", stacklevel=5)
        return loop.steps(record, extra_level=1,
                          info=lambda r, o, score: RoundInfo(r, o.loss, o.seconds, o.n_steps, dp))


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
