"""``fastgd.fit_many``: a grid of configurations of one estimator, trained in shared passes.

Configurations that walk the data the same way (the same ``batch_size``,
``shuffle``, ``early_stopping`` split, ``class_weight`` and, when rows are
shuffled or split, ``random_state``) form a group; a group trains in one
pass over each block of X per epoch (:mod:`fastgd.engine.many`), each model
with its own objective, update rule, hyperparameters, schedule and stopping
rule. Everything else (``lr``, ``alpha``, ``l1_ratio``, ``optimizer``,
``optimizer_params``, ``loss``, ``epsilon``, ``tol``, ``max_epochs``, ...)
may differ within a group. Groups run one after the other.

Each returned model is the one ``clone(estimator).set_params(**params).fit(X,
y, sample_weight)`` makes, bit for bit (coefficients, step counts, loss
curves, the random generator's state), except where the fit alone would
draw from an unseeded ``random_state``: the models of a group then share
one stream.
"""

import hashlib
import pickle
import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid
from sklearn.utils import check_array

from .._validation import check_bool
from ..engine.loop import INTERRUPTED
from ..engine.many import train_together
from ..sparse import is_sparse
from .base import FLOATS, GDEstimator, all_finite_rows, is_memmap
from .labels import remembered_labels

#: arguments that fix how an epoch walks the rows: models differing in one train apart
WALK = ("batch_size", "shuffle", "early_stopping", "validation_fraction", "class_weight")


def feature_names(X):
    """The column names ``fit`` records as ``feature_names_in_`` (all strings), or None."""
    columns = getattr(X, "columns", None)
    if columns is None or not all(isinstance(c, str) for c in columns):
        return None
    return np.asarray(columns, dtype=object)


def _value_key(value):
    if isinstance(value, np.random.RandomState):
        return "RandomState", hashlib.sha1(pickle.dumps(value.get_state())).hexdigest()
    return repr(value)


def _walk_key(est, X):
    """What fixes the rows an epoch of ``est`` visits, and in which order."""
    params = est.get_params(deep=False)
    key = [(name, _value_key(params.get(name))) for name in WALK]
    shuffle = params.get("shuffle")
    mode = ("blocks" if is_memmap(X) else "full") if shuffle is True else shuffle
    if mode not in (False, "none") or params.get("early_stopping"):
        key.append(("random_state", _value_key(params.get("random_state"))))
    return tuple(key)


def _same_data(a, b):
    """True when two plans train on the same targets, weights and rows."""
    return all(x is y or (x is not None and y is not None and np.array_equal(x, y))
               for x, y in zip(a.data[1:], b.data[1:]))


def _same_stream(model, a, b):
    """True when two plans shuffle alike: their generators are in one state (a seed's
    stream also depends on what the initialisation drew: an MLP's architecture), or
    the rows go in order, or the seed is None (any stream will do: they share one)."""
    tr = a.trainer
    if tr.shuffle == "none" or tr.batch_size is None or model.random_state is None:
        return True
    return tr.rng.bit_generator.state == b.trainer.rng.bit_generator.state


def prepare(models, make_plan):
    """``make_plan(model)`` for each model; plans with equal targets, weights and rows keep
    one copy of them (16 models' targets would otherwise be 16 arrays of n)."""
    plans, distinct = [], []
    with remembered_labels():
        for model in models:
            plan = make_plan(model)
            same = next((d for d in distinct if _same_data(d, plan)), None)
            if same is None:
                distinct.append(plan)
            else:
                plan.data = same.data
            plan.run_one = None  # its closure holds the plan's own copy (the pass runs epochs)
            plans.append(plan)
    return plans


def train_grid(models, plans, grid, X, rows=None, exact=True):
    """Train the prepared fits ``plans`` of ``models`` (configurations ``grid``) on X in
    shared passes: groups by :func:`_walk_key` and by equal data; sets ``stop_reason_``.

    ``rows``: the plans were prepared on the rows ``rows`` of X (their targets and weights
    are those rows', in order): they train on those rows of X, without copying them.
    Returns the seconds each model's group took divided by its models. After Ctrl-C no
    further group runs: their models keep their start (``stop_reason_`` "interrupted").
    ``exact``: see :func:`fit_many`.
    """
    groups = {}
    for k, model in enumerate(models):
        groups.setdefault(_walk_key(model, X), []).append(k)
    parts = []
    for members in groups.values():
        split = []
        for k in members:
            for part in split:
                if _same_data(plans[part[0]], plans[k]) and _same_stream(
                        models[part[0]], plans[part[0]], plans[k]):
                    part.append(k)
                    break
            else:
                split.append([k])
        parts.extend(split)
    seconds = [0.0] * len(models)
    for part in parts:
        data = plans[part[0]].data
        if rows is not None:  # (an early-stopping fit's own rows are rows of the fold's)
            own = rows if data[3] is None else rows[data[3]]
            data = (X, *(_scatter(a, rows, X.shape[0]) for a in data[1:3]), own)
        for k in part:  # one copy of the targets and weights for the group
            plans[k].data = data
        verbose = max(int(models[k].verbose) for k in part)
        names = [", ".join(f"{n}={v!r}" for n, v in grid[k].items()) for k in part]
        t0 = time.perf_counter()
        with models[part[0]]._train_context():
            alone = None if rows is None else rows.size
            reasons = train_together([plans[k] for k in part], verbose, names,
                                     rows_alone=alone, exact=exact)
        for k, reason in zip(part, reasons):
            models[k].stop_reason_ = reason
            seconds[k] = (time.perf_counter() - t0) / len(part)
        if INTERRUPTED in reasons:  # Ctrl-C: the groups not run yet keep their start
            for model in models:
                if not hasattr(model, "stop_reason_"):
                    model.stop_reason_ = INTERRUPTED
            break
    return seconds


def _scatter(a, rows, n):
    """An n-row array holding ``a`` at ``rows`` (an empty ``a``, unit weights, stays empty)."""
    if a.size == 0:
        return a
    out = np.zeros((n, *a.shape[1:]), dtype=a.dtype)
    out[rows] = a
    return out


def fit_many(estimator, param_grid, X, y, sample_weight=None, exact=True):
    """Fit every configuration of ``param_grid`` on (X, y), sharing passes over X.

    Parameters
    ----------
    estimator : a fastgd estimator (:class:`fastgd.GDEstimator`: the linear
        models, the MLPs), not fitted or fitted (it is cloned, never changed);
        or a :class:`fastgd.DataParallel` for dask arrays on a cluster (see
        :meth:`fastgd.DataParallel.fit_many`: it returns fitted DataParallel).
    param_grid : dict or list of dicts, as scikit-learn's ``ParameterGrid``
        takes them: ``{"lr": [0.1, 0.01], "alpha": [1e-4, 1e-3]}``.
    X, y, sample_weight : as the estimator's ``fit`` takes them (a
        ``numpy.memmap`` X is streamed block by block, once per epoch for
        all the models of a group).
    exact : bool, default True
        True: every model is its solo fit bit for bit. False: the
        configurations of a group that are one-output linear models with the
        same loss, dtype and an element-wise update rule (every rule but
        Prodigy, LAMB and Adafactor), mini-batches and at most
        ``PARALLEL_THRESHOLD`` parameters, train in fused calls
        (:mod:`fastgd.engine.fused`): each equals its solo fit to rounding
        (float64 ~1e-10, float32 ~1e-5 relative), with the same bits whatever
        the thread count and from run to run. The others (MLPs, multinomial
        models, those rules) keep the exact path.

    Returns
    -------
    list of fitted estimators, in ``ParameterGrid(param_grid)`` order. Each
    has ``stop_reason_``: one of :data:`fastgd.engine.loop.STOP_REASONS`, or
    ``"diverged"`` for a configuration whose loss or parameters became NaN
    or inf (a warning says which; it keeps the parameters of its last
    finite epoch, and the other configurations go on).

    Every configuration is validated before any trains (ValueError or
    TypeError naming the argument). Ctrl-C keeps every model's last
    completed epoch. ``verbose`` (the estimators' own argument): a line per
    epoch across the models of a group, 2: a line per model too.

    Example
    -------
    >>> import numpy as np, fastgd
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((500, 4)).astype(np.float32)
    >>> y = (X[:, 0] - X[:, 1] > 0).astype(int)
    >>> models = fastgd.fit_many(fastgd.LogisticRegression(max_epochs=5, tol=None,
    ...                                                    random_state=0),
    ...                          {"lr": [0.1, 0.01], "alpha": [1e-4, 1e-2]}, X, y)
    >>> [round(m.score(X, y), 2) for m in models]
    [0.99, 0.94, 0.99, 0.94]
    """
    from ..dask.estimator import DataParallel   # imports no Dask
    exact = check_bool("exact", exact)
    if isinstance(estimator, DataParallel):     # on a cluster: dask arrays, the same rounds
        return estimator.fit_many(param_grid, X, y, sample_weight)
    if not isinstance(estimator, GDEstimator):
        raise TypeError(f"estimator must be a fastgd estimator (a GDEstimator) or a "
                        f"fastgd.DataParallel, got {type(estimator).__name__}")
    grid = list(ParameterGrid(param_grid))
    names = feature_names(X)
    if not is_memmap(X) and not is_sparse(X):  # once (each fit would convert a list again)
        X = check_array(X, dtype=FLOATS, order=None, copy=False, ensure_all_finite=False)
    models = [clone(estimator).set_params(**params) for params in grid]
    # every configuration validated, and its fit prepared, before any trains
    plans = prepare(models, lambda model: model._fit(X, y, sample_weight, incremental=False,
                                                    classes=None, run=False))
    if names is not None:  # what fit records of a DataFrame's columns
        for model in models:
            model.feature_names_in_ = names
    train_grid(models, plans, grid, X, exact=exact)
    if models and all(m.stop_reason_ == "diverged" and m.n_iter_ == 0 for m in models) \
            and models[0]._finite_in_pass and not is_sparse(X) and not all_finite_rows(X):
        raise ValueError("Input X contains NaN or infinity.")
    return models


__all__ = ["fit_many"]
