"""fastgd.fit_many: a grid trained in shared passes equals each configuration fitted alone."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

import fastgd
from .grid_cases import classification, diverging
from fastgd.engine import many as engine_many


def _data(n=1200, d=6, classes=2, seed=0):
    return classification(n, d, classes, seed, noise=0.5)


def _alone(est, params, X, y, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clone(est).set_params(**params).fit(X, y, sample_weight=sample_weight)


def _assert_same(models, est, grid, X, y, sample_weight=None):
    assert len(models) == len(ParameterGrid(grid))
    for model, params in zip(models, ParameterGrid(grid)):
        alone = _alone(est, params, X, y, sample_weight)
        assert model.get_params() == alone.get_params()
        assert np.array_equal(model.coef_, alone.coef_), params
        assert np.array_equal(model.intercept_, alone.intercept_), params
        assert model.n_iter_ == alone.n_iter_ and model.t_ == alone.t_, params
        assert model.loss_curve_ == alone.loss_curve_, params
        assert model.stop_reason_ == alone.stop_reason_, params
        assert model.coef_.dtype == alone.coef_.dtype
        # the random stream is where the fit alone leaves it (a later partial_fit continues it)
        assert model._rng.bit_generator.state == alone._rng.bit_generator.state, params


def _fit_many(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fastgd.fit_many(*args, **kwargs)


def test_logistic_grid_bit_equal_with_early_stop_by_tol(monkeypatch):
    X, y = _data()
    est = fastgd.LogisticRegression(max_epochs=10, batch_size=16, random_state=3)
    grid = {"lr": [0.1, 0.003], "alpha": [1e-4, 1e-2], "optimizer": ["adam", "sgd"],
            "tol": [None, 1e-2]}
    calls = []
    real = engine_many.SharedPass.run_epoch

    def spy(self, trainers, *args):
        calls.append(len(trainers))
        return real(self, trainers, *args)

    monkeypatch.setattr(engine_many.SharedPass, "run_epoch", spy)
    models = _fit_many(est, grid, X, y)
    _assert_same(models, est, grid, X, y)
    # one group, one pass per epoch; configurations stopped by tol leave it, the rest go on
    iters = [m.n_iter_ for m in models]
    assert min(iters) < max(iters) == 10 and len(calls) == 10
    assert calls[0] == 16 and calls[-1] == sum(n == 10 for n in iters)


@pytest.mark.parametrize("make, classes", [
    (lambda: fastgd.LogisticRegression(optimizer_params={"betas": (0.8, 0.99)}), 3),
    (lambda: fastgd.LinearSVC(), 2),
    (lambda: fastgd.LinearRegression(), 0),
    (lambda: fastgd.PoissonRegressor(), 0),
])
def test_models_bit_equal(make, classes):
    X, y = _data(classes=max(classes, 2), seed=1)
    if classes == 0:
        y = X[:, 0] - 0.5 * X[:, 1]
        if isinstance(make(), fastgd.PoissonRegressor):
            y = np.random.default_rng(2).poisson(np.exp(0.3 * y))
    est = make().set_params(max_epochs=3, batch_size=32, random_state=0, tol=None)
    grid = {"lr": [0.05, 0.01], "alpha": [0.0, 1e-3], "l1_ratio": [0.0, 0.5]}
    _assert_same(_fit_many(est, grid, X, y), est, grid, X, y)


def test_memmap_weights_and_separate_passes(tmp_path):
    X, y = _data(n=900, seed=4)
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    Xm = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    sw = np.random.default_rng(5).uniform(0.5, 2.0, X.shape[0])
    est = fastgd.LogisticRegression(max_epochs=3, tol=None, random_state=1)
    # batch size and shuffle seed cannot share a pass: they are run apart, transparently
    grid = [{"lr": [0.05, 0.01], "batch_size": [8, 64], "random_state": [1, 2]},
            {"shuffle": [False], "optimizer": ["adagrad", "rmsprop"]}]
    _assert_same(_fit_many(est, grid, Xm, y, sample_weight=sw), est, grid, Xm, y, sw)


def test_in_order_and_full_batch():
    X, y = _data(n=600, seed=6)
    est = fastgd.LogisticRegression(max_epochs=3, tol=None, shuffle=False)
    grid = {"lr": [0.1, 0.01], "batch_size": [None, 50], "random_state": [0, 1]}
    _assert_same(_fit_many(est, grid, X, y), est, grid, X, y)


def test_early_stopping_per_model():
    X, y = _data(n=1000, seed=7)
    est = fastgd.LogisticRegression(max_epochs=12, early_stopping=True, n_iter_no_change=2,
                                    random_state=0)
    grid = {"lr": [0.3, 0.001], "alpha": [1e-4, 0.05]}
    models = _fit_many(est, grid, X, y)
    _assert_same(models, est, grid, X, y)
    for model, params in zip(models, ParameterGrid(grid)):
        assert model.validation_scores_ == _alone(est, params, X, y).validation_scores_


def test_divergence_of_one_reported_others_go_on():
    est, grid, X, y = diverging(400, 8, 4)
    with pytest.warns(UserWarning, match="diverged in epoch 1"):
        good, bad = fastgd.fit_many(est, grid, X, y)
    assert bad.stop_reason_ == "diverged" and bad.n_iter_ == 0
    assert np.all(np.isfinite(bad.coef_))
    assert good.stop_reason_ == "max_epochs" and good.n_iter_ == 4
    alone = _alone(est, {"lr": 1e-9}, X, y)
    assert np.array_equal(good.coef_, alone.coef_)


def test_interrupt_keeps_every_models_last_epoch(monkeypatch):
    X, y = _data(n=500, seed=9)
    est = fastgd.LogisticRegression(max_epochs=5, tol=None, random_state=0)
    grid = {"lr": [0.1, 0.01, 0.001]}
    real = engine_many.SharedPass._blocks
    count = {"n": 0}

    def interrupting(self, *args):
        count["n"] += 1
        if count["n"] == 3:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(engine_many.SharedPass, "_blocks", interrupting)
    grid = [grid, {"lr": [0.05], "batch_size": [64]}]   # a second group: not run after Ctrl-C
    with pytest.warns(UserWarning, match="interrupted during epoch 3"):
        models = fastgd.fit_many(est, grid, X, y)
    assert models[-1].stop_reason_ == "interrupted" and models[-1].n_iter_ == 0
    for model, params in zip(models[:-1], ParameterGrid(grid)):
        assert model.stop_reason_ == "interrupted" and model.n_iter_ == 2
        alone = _alone(est, dict(params, max_epochs=2), X, y)
        assert np.array_equal(model.coef_, alone.coef_)
        assert np.array_equal(model.optimizer_.state["exp_avg"], alone.optimizer_.state["exp_avg"])


def test_verbose_one_line_per_epoch_across_models(capsys):
    X, y = _data(n=300, seed=10)
    est = fastgd.LogisticRegression(max_epochs=2, tol=None, random_state=0, verbose=1)
    fastgd.fit_many(est, {"lr": [0.1, 0.01]}, X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 2 and lines[0].startswith("epoch 1: 2 of 2 models, loss ")
    fastgd.fit_many(est.set_params(verbose=2), {"lr": [0.1, 0.01]}, X, y)
    out = capsys.readouterr().out.splitlines()
    assert [ln.split(":")[0] for ln in out if ln.startswith("  ")] == ["  lr=0.1", "  lr=0.01"] * 2


def test_bad_input_before_training():
    X, y = _data(n=100)
    est = fastgd.LogisticRegression(max_epochs=1)
    with pytest.raises(TypeError, match="estimator"):
        fastgd.fit_many(object(), {"lr": [0.1]}, X, y)
    with pytest.raises(ValueError, match="alpha"):
        fastgd.fit_many(est, {"alpha": [0.1, -1.0]}, X, y)
    with pytest.raises(ValueError, match="Invalid parameter"):
        fastgd.fit_many(est, {"nope": [1]}, X, y)
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fastgd.fit_many(est, {"lr": [0.1, 0.01]}, Xn, y)
    assert not hasattr(est, "coef_")


def _assert_same_mlp(models, est, grid, X, y):
    for model, params in zip(models, ParameterGrid(grid)):
        alone = _alone(est, params, X, y)
        assert all(np.array_equal(a, b) for a, b in zip(model.coefs_, alone.coefs_)), params
        assert all(np.array_equal(a, b) for a, b in zip(model.intercepts_, alone.intercepts_))
        assert model.loss_curve_ == alone.loss_curve_ and model.n_iter_ == alone.n_iter_


def test_mlps_of_one_architecture_bit_equal():
    X, y = _data(n=600, d=5, seed=11)
    est = fastgd.MLPClassifier(hidden_layer_sizes=(8,), max_epochs=3, random_state=0,
                               batch_size=32)
    # architectures draw their initial weights differently: the shuffles follow each one's
    grid = {"lr": [0.01, 0.003], "alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(8,), (5, 3)]}
    _assert_same_mlp(_fit_many(est, grid, X, y), est, grid, X, y)
    # in order: the initialisation's random_state may differ within a pass
    reg = fastgd.MLPRegressor(hidden_layer_sizes=(8, 4), max_epochs=3, shuffle=False)
    grid = {"lr": [0.01, 0.003], "random_state": [0, 1]}
    target = X[:, 0] * X[:, 1]
    _assert_same_mlp(_fit_many(reg, grid, X, target), reg, grid, X, target)


def test_one_thread_same_bits(monkeypatch):
    X, y = _data(n=700, seed=12)
    est = fastgd.LogisticRegression(max_epochs=2, tol=None, random_state=0)
    grid = {"lr": [0.1, 0.01, 0.001], "optimizer": ["adam", "nadam"]}
    two = _fit_many(est, grid, X, y)
    monkeypatch.setattr(engine_many, "get_num_threads", lambda: 1)
    one = _fit_many(est, grid, X, y)
    assert all(np.array_equal(a.coef_, b.coef_) for a, b in zip(one, two))


def test_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = _data(n=200, d=3, seed=13)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = fastgd.LogisticRegression(max_epochs=2, tol=None, random_state=0)
    model = _fit_many(est, {"lr": [0.1]}, frame, y)[0]
    alone = _alone(est, {"lr": 0.1}, frame, y)
    assert list(model.feature_names_in_) == list(alone.feature_names_in_) == ["a", "b", "c"]
    assert np.array_equal(model.coef_, alone.coef_)
    assert np.array_equal(model.predict(frame), alone.predict(frame))


def test_labels_scanned_once_per_grid(monkeypatch):
    from fastgd.models import labels
    calls = []
    real = labels._scan
    monkeypatch.setattr(labels, "_scan", lambda *a: calls.append(1) or real(*a))
    X, y = _data(n=300, classes=3, seed=14)
    est = fastgd.LogisticRegression(max_epochs=1, tol=None, random_state=0)
    models = _fit_many(est, {"lr": [0.1, 0.01, 0.001]}, X, y)
    assert len(calls) == 1
    assert all(m.classes_.tolist() == [0, 1, 2] for m in models)
    assert models[0].classes_ is not models[1].classes_
    with labels.remembered_labels():
        a, b = labels.distinct_labels(y), labels.distinct_labels(y[:150])
        again = labels.distinct_labels(y[:150])
    assert a[0].tolist() == [0, 1, 2] and again[0].tolist() == b[0].tolist()
    assert len(calls) == 3


def test_interrupt_in_order_puts_back_the_models_done(monkeypatch):
    # in-memory rows in order: each model runs its own epoch, one after the other
    X, y = _data(n=400, seed=15)
    est = fastgd.LogisticRegression(max_epochs=3, tol=None, shuffle=False, random_state=0)
    real = fastgd.engine.Trainer.run_epoch
    count = {"n": 0}

    def interrupting(self, *args):
        count["n"] += 1
        if count["n"] == 4:   # epoch 2 of the second model, after the first did its epoch 2
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(fastgd.engine.Trainer, "run_epoch", interrupting)
    with pytest.warns(UserWarning, match="interrupted during epoch 2"):
        models = fastgd.fit_many(est, {"lr": [0.1, 0.01]}, X, y)
    monkeypatch.setattr(fastgd.engine.Trainer, "run_epoch", real)
    for model, lr in zip(models, [0.1, 0.01]):
        assert model.n_iter_ == 1 and model.stop_reason_ == "interrupted"
        alone = _alone(est, {"lr": lr, "max_epochs": 1}, X, y)
        assert np.array_equal(model.coef_, alone.coef_)
        # the optimizer too (coef_ is stored after each completed epoch either way)
        assert np.array_equal(model.optimizer_.params, alone.optimizer_.params)
        assert model.optimizer_.step_count == alone.optimizer_.step_count


def test_sparse_grid_equals_each_fit_alone():
    # sparse X: each configuration runs its own epochs over the CSR (no sharing yet), with
    # the same bits as its fit alone (lazy SGD and Adam), early stopping too
    import scipy.sparse as sp
    X, y = _data(n=400, d=30, seed=21)
    X = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    est = fastgd.LogisticRegression(max_epochs=4, batch_size=16, random_state=5, tol=None)
    grid = {"lr": [0.1, 0.01], "optimizer": ["sgd", "adam"], "early_stopping": [False, True]}
    models = _fit_many(est, grid, X, y)
    _assert_same(models, est, grid, X, y)
    assert len({tuple(m.coef_.ravel()) for m in models}) == len(models)
