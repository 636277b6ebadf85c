"""fastgd.GridSearchCV against scikit-learn's GridSearchCV over the same fastgd estimator."""

import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV as SklearnGridSearchCV
from sklearn.model_selection import KFold

import fastgd
from .grid_cases import classification, diverging


def _data(n=900, d=5, classes=2, seed=0):
    return classification(n, d, classes, seed, noise=0.7)


def _both(est, grid, X, y, sample_weight=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = fastgd.GridSearchCV(est, grid, **kwargs).fit(X, y, sample_weight=sample_weight)
        theirs = SklearnGridSearchCV(est, grid, **kwargs).fit(X, y, sample_weight=sample_weight)
    return ours, theirs


def _assert_same_results(ours, theirs):
    a, b = ours.cv_results_, theirs.cv_results_
    assert set(a) == set(b)
    for key in b:
        if "time" in key:
            assert a[key].shape == b[key].shape and np.all(a[key] >= 0)
        elif key == "params":
            assert a[key] == b[key]
        elif key.startswith("param_"):
            assert a[key].dtype == b[key].dtype and a[key].tolist() == b[key].tolist()
            assert np.array_equal(np.ma.getmaskarray(a[key]), np.ma.getmaskarray(b[key]))
        else:  # the same fits, so the same scores, bit for bit
            assert a[key].dtype == b[key].dtype, key
            assert np.array_equal(a[key], b[key], equal_nan=True), key
    assert ours.best_index_ == theirs.best_index_
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == theirs.best_score_ and ours.n_splits_ == theirs.n_splits_
    if hasattr(theirs, "best_estimator_"):
        assert np.array_equal(ours.best_estimator_.coef_, theirs.best_estimator_.coef_)
        assert ours.best_estimator_.loss_curve_ == theirs.best_estimator_.loss_curve_


def test_logistic_stratified_weighted_with_tol():
    X, y = _data()
    sw = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0])
    est = fastgd.LogisticRegression(max_epochs=15, batch_size=16, random_state=0, tol=1e-3)
    grid = {"lr": [0.1, 0.01], "alpha": [1e-4, 1e-2], "optimizer": ["adam", "sgd"]}
    ours, theirs = _both(est, grid, X, y, sample_weight=sw)
    _assert_same_results(ours, theirs)
    assert ours.predict(X).tolist() == theirs.predict(X).tolist()


def test_early_stopping_splits_each_folds_rows():
    # each configuration holds out validation rows of the fold's training rows, as its fit
    # on the fold's copy does: the same validation scores, epochs and test scores, bit for bit
    X, y = _data(n=600)
    est = fastgd.LogisticRegression(max_epochs=30, batch_size=16, random_state=0,
                                    early_stopping=True, n_iter_no_change=2, tol=1e-3)
    grid = {"lr": [0.3, 0.01], "validation_fraction": [0.1, 0.25]}
    ours, theirs = _both(est, grid, X, y, cv=3)
    _assert_same_results(ours, theirs)
    assert ours.best_estimator_.validation_scores_ == theirs.best_estimator_.validation_scores_
    assert len(set(ours.cv_results_["mean_test_score"])) > 1


@pytest.mark.parametrize("make, scoring", [
    (lambda: fastgd.LogisticRegression(), "neg_log_loss"),
    (lambda: fastgd.LinearRegression(loss="huber"), None),
    (lambda: fastgd.PoissonRegressor(), None),
])
def test_models_and_splitters(make, scoring):
    X, y = _data(classes=3, seed=2)
    if not isinstance(make(), fastgd.LogisticRegression):
        y = X[:, 0] - X[:, 2] + 0.1
        if isinstance(make(), fastgd.PoissonRegressor):
            y = np.random.default_rng(3).poisson(np.exp(0.4 * y))
    est = make().set_params(max_epochs=3, tol=None, random_state=4)
    grid = [{"lr": [0.05, 0.01], "alpha": [0.0, 1e-3]}, {"batch_size": [64], "lr": [0.02]}]
    ours, theirs = _both(est, grid, X, y, cv=KFold(3, shuffle=True, random_state=5),
                         scoring=scoring)
    _assert_same_results(ours, theirs)


def test_memmap_rows_not_copied(tmp_path):
    X, y = _data(n=2000, d=500, seed=6)
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    Xm = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    # shuffle="full": scikit-learn fits on the copied rows, an in-memory array, shuffled fully
    est = fastgd.LogisticRegression(max_epochs=2, tol=None, random_state=0, shuffle="full")
    grid = {"lr": [0.05, 0.01], "alpha": [1e-4, 1e-3]}
    search = fastgd.GridSearchCV(est, grid, refit=False)
    search.fit(Xm, y)   # compiled and warm
    tracemalloc.start()
    try:
        search.fit(Xm, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the held-out fifth is gathered to score it; a copy of a fold's rows would be 4/5 of X
    assert peak < 0.35 * X.nbytes
    _, theirs = _both(est, grid, Xm, y, refit=False)
    _assert_same_results(search, theirs)


def test_diverged_configuration_scores_nan():
    est, grid, X, y = diverging(300, 7, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = fastgd.GridSearchCV(est, grid, cv=3).fit(X, y)
        theirs = SklearnGridSearchCV(est, grid, cv=3, error_score=np.nan).fit(X, y)
    _assert_same_results(ours, theirs)
    assert np.isnan(ours.cv_results_["mean_test_score"][1]) and ours.best_index_ == 0


def test_bad_arguments():
    X, y = _data(n=100)
    est = fastgd.LogisticRegression(max_epochs=1)
    with pytest.raises(TypeError, match="estimator"):
        fastgd.GridSearchCV(object(), {"lr": [0.1]}).fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction"):
        fastgd.GridSearchCV(est, {"early_stopping": [True], "validation_fraction": [0.99]},
                            cv=2).fit(X, y)
    with pytest.raises(TypeError, match="scoring"):
        fastgd.GridSearchCV(est, {"lr": [0.1]}, scoring=["accuracy", "f1"]).fit(X, y)
    with pytest.raises(ValueError, match="alpha"):
        fastgd.GridSearchCV(est, {"alpha": [-1.0]}).fit(X, y)


def test_interrupt_stops_the_search(monkeypatch):
    from fastgd.engine import many as engine_many
    X, y = _data(n=300, seed=8)
    est = fastgd.LogisticRegression(max_epochs=3, tol=None, random_state=0)

    def interrupting(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine_many.SharedPass, "_blocks", interrupting)
    search = fastgd.GridSearchCV(est, {"lr": [0.1, 0.01]}, cv=3)
    with pytest.warns(UserWarning, match="interrupted"), pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
    assert not hasattr(search, "cv_results_")
