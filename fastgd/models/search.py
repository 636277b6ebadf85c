"""``fastgd.GridSearchCV``: scikit-learn's grid search, configurations trained in shared passes.

For each fold, every configuration of the grid trains in shared passes over
the fold's training rows of X (:func:`fastgd.models.many.train_grid`): the
rows are visited through an index list, never copied out of X (only the
held-out rows are gathered once per fold, to score them). A fold's models
are those scikit-learn's ``GridSearchCV`` fits on ``X[train]``: the same
labels, weights (``sample_weight`` restricted to the fold and rescaled to
mean 1), start values and batches, so ``cv_results_`` agree with it (the
scores bit for bit where the fits are; a memmap X is shuffled by blocks,
as ``fit`` on a memmap does, where scikit-learn's fit on the copied rows
shuffles them fully).
"""

import inspect
import time

import numpy as np
from numpy.ma import MaskedArray
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from .._validation import check_bool
from ..engine.loop import INTERRUPTED
from .base import FLOATS, GDEstimator, all_finite_rows, is_memmap
from .many import feature_names, prepare, train_grid


def _fold_plan(model, X, y_train, sw_train, train):
    """The model's fit prepared as ``fit(X[train], y[train], sample_weight[train])``
    prepares it, without copying X: a zero-stride stand-in of the fold's shape is what
    the preparation sees of X (its dtype and width), the epochs read X's own rows."""
    stand_in = np.lib.stride_tricks.as_strided(X[:1], shape=(train.size, X.shape[1]),
                                               strides=(0, X.strides[1]), writeable=False)
    model._fold_source = (X, train)  # early stopping's validation rows: X[train[val]]
    try:
        return model._fit(stand_in, y_train, sw_train, incremental=False, classes=None, run=False)
    finally:
        del model._fold_source


def _param_columns(candidates):
    """cv_results_'s ``param_<name>`` masked arrays, as scikit-learn builds them."""
    names = []
    for params in candidates:
        names.extend(n for n in params if n not in names)
    for name in names:
        values = {k: p[name] for k, p in enumerate(candidates) if name in p}
        try:
            arr = np.array(list(values.values()))
            dtype = arr.dtype if arr.dtype.kind != "U" and arr.ndim == 1 else object
        except ValueError:
            dtype = np.dtype(object)
        column = MaskedArray(np.empty(len(candidates), dtype=dtype), mask=True)
        for k, value in values.items():
            column[k] = value
        yield f"param_{name}", column


def _takes_weights(scorer):
    try:
        params = inspect.signature(scorer).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in params)


def _mean_std(array):
    mean = array.mean(axis=1)
    return mean, np.sqrt(((array - mean[:, None]) ** 2).mean(axis=1))


class GridSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Exhaustive search over a grid of a fastgd estimator's parameters, by cross-validation.

    scikit-learn's ``GridSearchCV`` interface, for the estimators of fastgd:
    every configuration of a fold trains in shared passes over the fold's
    rows (see the module docstring), folds one after the other.

    Parameters
    ----------
    estimator : a fastgd estimator (:class:`fastgd.GDEstimator`).
    param_grid : dict or list of dicts, as ``sklearn.model_selection.ParameterGrid``.
    scoring : None (the estimator's ``score``), a scorer name or a callable
        ``scorer(estimator, X, y)``: one metric.
    refit : bool, default True
        Fit the best configuration on all of (X, y) as ``best_estimator_``.
    cv : int, cross-validation generator or iterable, default 5
        As scikit-learn takes it (an int is ``StratifiedKFold`` for
        classifiers, ``KFold`` otherwise).
    exact : bool, default True
        As :func:`fastgd.fit_many`'s: False trains the eligible one-output
        linear configurations of a fold in fused calls (equal to their solo
        fits to rounding, not bit for bit). ``best_estimator_`` is always
        refitted alone.

    Attributes
    ----------
    cv_results_ : dict of arrays, scikit-learn's layout (``params``,
        ``param_<name>``, ``split<i>_test_score``, ``mean_test_score``,
        ``std_test_score``, ``rank_test_score``, ``mean_fit_time`` (a
        group's time shared out over its models), ...). A configuration
        that diverged on a fold scores nan there (scikit-learn's
        ``error_score=np.nan``).
    best_index_, best_params_, best_score_, best_estimator_, n_splits_, scorer_,
    refit_time_

    ``early_stopping=True`` configurations hold out ``validation_fraction``
    of each fold's training rows, as their fit on the fold's copy would
    (the same split, the same validation scores); the held-out rows are
    gathered once per configuration and fold, the training rows are not.
    """

    def __init__(self, estimator, param_grid, *, scoring=None, refit=True, cv=5, exact=True):
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.refit = refit
        self.cv = cv
        self.exact = exact

    def fit(self, X, y, sample_weight=None, groups=None):
        """Run the search on (X, y); ``groups`` go to the splitter. Returns self."""
        est = self.estimator
        if not isinstance(est, GDEstimator):
            raise TypeError(f"estimator must be a fastgd estimator (a GDEstimator), got "
                            f"{type(est).__name__}")
        if not isinstance(self.refit, (bool, np.bool_)):
            raise TypeError(f"refit must be True or False, got {self.refit!r}")
        exact = check_bool("exact", self.exact)
        if isinstance(self.scoring, (list, tuple, set, dict)):
            raise TypeError("scoring must be one metric (None, a name or a callable): "
                            "several metrics are not supported")
        scorer = check_scoring(est, scoring=self.scoring)
        # scikit-learn hands the held-out rows' weights to a scorer that takes them
        weights = None if sample_weight is None or not _takes_weights(scorer) \
            else np.asarray(sample_weight)
        grid = list(ParameterGrid(self.param_grid))
        models = [clone(est).set_params(**params) for params in grid]
        names = feature_names(X)
        if not is_memmap(X):
            X = check_array(X, dtype=FLOATS, order=None, copy=False,
                            ensure_all_finite=not models[0]._finite_in_pass)
        elif not models[0]._finite_in_pass and not all_finite_rows(X):
            raise ValueError("Input X contains NaN or infinity.")
        y = np.asarray(y)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"X and y have different numbers of rows: {X.shape[0]} and "
                             f"{y.shape[0]}")
        splitter = check_cv(self.cv, y, classifier=is_classifier(est))
        folds = [(np.sort(np.asarray(tr, dtype=np.int64)), np.asarray(te, dtype=np.int64))
                 for tr, te in splitter.split(X, y, groups)]
        n_splits = len(folds)
        scores = np.empty((len(grid), n_splits))
        fit_times = np.empty((len(grid), n_splits))
        score_times = np.empty((len(grid), n_splits))
        for f, (train, test) in enumerate(folds):
            if f:
                models = [clone(est).set_params(**params) for params in grid]
            y_train = y[train]
            sw_train = None if sample_weight is None else np.asarray(sample_weight)[train]
            plans = prepare(models, lambda m: _fold_plan(m, X, y_train, sw_train, train))
            del y_train, sw_train
            fit_times[:, f] = train_grid(models, plans, grid, X, rows=train, exact=exact)
            del plans
            if any(m.stop_reason_ == INTERRUPTED for m in models):
                raise KeyboardInterrupt("GridSearchCV.fit interrupted: no results")
            X_test, y_test = np.take(X, test, axis=0), y[test]
            kwargs = {} if weights is None else {"sample_weight": weights[test]}
            for k, model in enumerate(models):
                t0 = time.perf_counter()
                scores[k, f] = (np.nan if model.stop_reason_ == "diverged"
                                else scorer(model, X_test, y_test, **kwargs))
                score_times[k, f] = time.perf_counter() - t0
            del X_test  # before the next fold trains: one fold's held-out rows at a time
        results = {}
        for key, array in (("fit_time", fit_times), ("score_time", score_times)):
            results[f"mean_{key}"], results[f"std_{key}"] = _mean_std(array)
        results.update(_param_columns(grid))
        results["params"] = grid
        for f in range(n_splits):
            results[f"split{f}_test_score"] = scores[:, f].copy()
        mean, std = _mean_std(scores)
        results["mean_test_score"], results["std_test_score"] = mean, std
        if np.isnan(mean).all():
            rank = np.ones(mean.shape, dtype=np.int32)
        else:
            rank = rankdata(-np.nan_to_num(mean, nan=np.nanmin(mean) - 1),
                            method="min").astype(np.int32)
        results["rank_test_score"] = rank
        self.cv_results_ = results
        self.n_splits_ = n_splits
        self.scorer_ = scorer
        self.best_index_ = int(rank.argmin())
        self.best_score_ = float(mean[self.best_index_])
        self.best_params_ = grid[self.best_index_]
        if self.refit:
            t0 = time.perf_counter()
            best = clone(est).set_params(**self.best_params_)
            self.best_estimator_ = best.fit(X, y, sample_weight=sample_weight)
            if names is not None:
                self.best_estimator_.feature_names_in_ = names
            self.refit_time_ = time.perf_counter() - t0
            if hasattr(self.best_estimator_, "classes_"):
                self.classes_ = self.best_estimator_.classes_
        return self

    def _best(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    def predict(self, X):
        """``best_estimator_.predict(X)``."""
        return self._best().predict(X)

    def predict_proba(self, X):
        """``best_estimator_.predict_proba(X)``."""
        return self._best().predict_proba(X)

    def decision_function(self, X):
        """``best_estimator_.decision_function(X)``."""
        return self._best().decision_function(X)

    def score(self, X, y):
        """``scorer_(best_estimator_, X, y)``."""
        return self.scorer_(self._best(), X, y)


__all__ = ["GridSearchCV"]
