"""Multi-output regression: LinearRegression and MLPRegressor with y of shape (n, k).

The squared loss summed over k targets has separate parameters per target
(the linear model), so with an element-wise update rule the k outputs fitted
together equal k single-output fits; the MLP's k outputs share the hidden
layers and are checked against the NumPy reference of the network.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import r2_score

import fastgd
from fastgd.models.persist import load_model, save_model
from fastgd.nn import kernels as K

from . import reference_mlp as ref
from .registry import REPRESENTATIVE


def _data(n=240, d=5, k=3, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    W = rng.standard_normal((k, d))
    Y = (X @ W.T + rng.standard_normal(k) + 0.3 * rng.standard_normal((n, k))).astype(dtype)
    return X, Y


def _separate(make, X, Y, sample_weight=None, calls=1):
    """k single-output models, each fitted on one column (then partial_fit ``calls - 1``)."""
    models = []
    for j in range(Y.shape[1]):
        m = make().fit(X, Y[:, j], sample_weight=sample_weight)
        for _ in range(calls - 1):
            m.partial_fit(X, Y[:, j], sample_weight=sample_weight)
        models.append(m)
    return models


def _assert_same_as_separate(joint, models, tol):
    for j, m in enumerate(models):
        np.testing.assert_allclose(joint.coef_[j], m.coef_, rtol=tol, atol=tol)
        np.testing.assert_allclose(joint.intercept_[j], m.intercept_[0], rtol=tol, atol=tol)


# the targets' parameters are independent only for element-wise rules (not for Prodigy, LAMB
# or Adafactor, whose steps take sums over the whole vector)
@pytest.mark.parametrize("optimizer", [k for k in REPRESENTATIVE
                                       if fastgd.OPTIMIZERS[k].rule.reduce is None])
@pytest.mark.parametrize("batch_size", [None, 1, 32])
def test_linear_targets_fitted_together_equal_separate_fits(optimizer, batch_size):
    X, Y = _data()

    def make():
        return fastgd.LinearRegression(optimizer=optimizer, lr=0.01, batch_size=batch_size,
                                       max_epochs=4, tol=None, alpha=1e-3, random_state=0)

    joint = make().fit(X, Y)
    assert joint.coef_.shape == (3, 5) and joint.intercept_.shape == (3,)
    assert joint.n_targets_ == 3 and joint.predict(X).shape == (240, 3)
    _assert_same_as_separate(joint, _separate(make, X, Y), 1e-10)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_sample_weight_partial_fit_and_memmap_equal_separate_fits(dtype, tol, tmp_path):
    X, Y = _data(dtype=dtype)
    sw = np.random.default_rng(1).uniform(0.1, 3.0, X.shape[0])

    def make():
        # blocks: the shuffling of a memmap, so the streamed fit below is the same
        return fastgd.LinearRegression(optimizer="adam", lr=0.02, batch_size=16, max_epochs=3,
                                       tol=None, shuffle="blocks", random_state=0)

    joint = make().fit(X, Y, sample_weight=sw)
    joint.partial_fit(X, Y, sample_weight=sw)
    assert joint.coef_.dtype == dtype and joint.predict(X).dtype == dtype
    _assert_same_as_separate(joint, _separate(make, X, Y, sw, calls=2), tol)
    # a memmap X is streamed block by block: the same model
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    mm = np.memmap(path, dtype=dtype, mode="r", shape=X.shape)
    streamed = make().fit(mm, Y, sample_weight=sw).partial_fit(mm, Y, sample_weight=sw)
    np.testing.assert_array_equal(streamed.coef_, joint.coef_)
    np.testing.assert_array_equal(streamed.predict(mm), joint.predict(X))


def test_reaches_least_squares_and_scores_the_uniform_average_r2():
    X, Y = _data(n=400)
    model = fastgd.LinearRegression(optimizer="sgd", lr=0.5, batch_size=None, alpha=0.0,
                                    max_epochs=300, tol=None, random_state=0).fit(X, Y)
    A = np.column_stack([X, np.ones(len(X))])
    exact = np.linalg.lstsq(A, Y, rcond=None)[0]
    np.testing.assert_allclose(model.coef_, exact[:-1].T, atol=1e-8)
    np.testing.assert_allclose(model.intercept_, exact[-1], atol=1e-8)
    assert model.score(X, Y) == pytest.approx(r2_score(Y, model.predict(X)))
    assert model.score(X, Y) == pytest.approx(np.mean([r2_score(Y[:, j], model.predict(X)[:, j])
                                                       for j in range(3)]))


def test_early_stopping_scores_every_target():
    X, Y = _data(n=400)
    model = fastgd.LinearRegression(lr=0.05, early_stopping=True, max_epochs=30,
                                    random_state=0).fit(X, Y)
    assert len(model.validation_scores_) == model.n_iter_ and model.best_validation_score_ > 0.9
    assert model.stop_reason_ in ("no_improvement", "max_epochs")


def test_a_column_y_keeps_its_shape_as_sklearns_linear_regression():
    X, Y = _data(k=1)
    model = fastgd.LinearRegression(max_epochs=3, tol=None, random_state=0).fit(X, Y)
    flat = fastgd.LinearRegression(max_epochs=3, tol=None, random_state=0).fit(X, Y[:, 0])
    assert model.coef_.shape == (1, 5) and model.predict(X).shape == (240, 1)
    assert flat.coef_.shape == (5,) and flat.n_targets_ is None
    np.testing.assert_allclose(model.coef_[0], flat.coef_, rtol=1e-12)


def test_wrong_shapes_are_value_errors_naming_y_and_change_nothing():
    X, Y = _data()
    model = fastgd.LinearRegression(max_epochs=2, tol=None, random_state=0)
    with pytest.raises(ValueError, match="dim 3"):
        model.fit(X, Y[:, :, None])
    with pytest.raises(ValueError, match="0 feature|no target"):
        model.fit(X, Y[:, :0])
    with pytest.raises(ValueError, match="loss='squared_error'"):
        fastgd.LinearRegression(loss="huber").fit(X, Y)
    assert not hasattr(model, "n_targets_") and not hasattr(model, "coef_")
    model.fit(X, Y)
    before = model.coef_.copy(), model.t_
    for bad in (Y[:, 0], Y[:, :2]):
        with pytest.raises(ValueError, match=r"y has shape .* fitted on y of shape"):
            model.partial_fit(X, bad)
    np.testing.assert_array_equal(model.coef_, before[0])
    assert model.t_ == before[1] and model.n_targets_ == 3
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        model.fit(X, Y[:-1])


def test_warm_start_keeps_the_coefficients_of_the_same_shape():
    X, Y = _data()
    model = fastgd.LinearRegression(max_epochs=5, tol=None, random_state=0).fit(X, Y)
    coef = model.coef_.copy()
    model.set_params(warm_start=True, max_epochs=1, lr=1e-12).fit(X, Y)
    np.testing.assert_allclose(model.coef_, coef, atol=1e-9)


@pytest.mark.parametrize("make", [
    lambda: fastgd.LinearRegression(max_epochs=3, tol=None, random_state=0),
    lambda: fastgd.MLPRegressor((8,), max_epochs=3, tol=None, random_state=0)])
@pytest.mark.parametrize("k", [None, 1, 3])
def test_save_and_load_round_trip_multi_output_models(make, k, tmp_path):
    X, Y = _data()
    y = Y[:, 0] if k is None else Y[:, :k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataConversionWarning)
        model = make().fit(X, y)
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    assert loaded.n_targets_ == model.n_targets_
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataConversionWarning)
        model.partial_fit(X, y)
        loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# -- MLPRegressor --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_mlp_kernel_with_k_outputs_matches_the_numpy_reference(dtype, rtol):
    rng = np.random.default_rng(0)
    sizes = [4, 9, 3]
    X = rng.standard_normal((300, 4)).astype(dtype)
    Y = rng.standard_normal((300, 3)).astype(dtype)
    sw = rng.uniform(0.2, 1.8, 300).astype(dtype)
    w = (0.5 * rng.standard_normal(K.layer_offsets(sizes)[-1])).astype(dtype)
    hyper = K.mlp_hyper(sizes, "tanh", K.OUT_IDENTITY, l2=0.3)
    acc = np.zeros(w.size)
    loss = K.mlp_rows(w, X, Y, sw, hyper, acc) / 300
    acc /= 300
    loss += K.mlp_penalty(w, hyper, acc)
    f64 = [a.astype(np.float64) for a in (w, X, Y, sw)]
    want_loss, want_grad = ref.loss_and_grad(f64[0], sizes, f64[1], f64[2], "tanh", "identity",
                                             l2=0.3, sample_weight=f64[3])
    assert loss == pytest.approx(want_loss, rel=rtol)
    np.testing.assert_allclose(acc, want_grad, rtol=rtol, atol=rtol * np.abs(want_grad).max())


def test_mlp_one_batch_step_is_the_reference_gradient_step():
    X, Y = _data(n=100, d=3, k=2)
    model = fastgd.MLPRegressor((6,), activation="tanh", optimizer="sgd", lr=0.1,
                                batch_size=None, alpha=0.01, max_epochs=1, tol=None,
                                random_state=0)
    start = model._init_params(3, 2, np.float64, np.random.RandomState(0))
    model.fit(X, Y)
    # the same start: the initialiser draws from the estimator's random_state
    w0 = fastgd.MLPRegressor((6,), random_state=0)._init_params(
        3, 2, np.float64, np.random.RandomState(0))
    np.testing.assert_array_equal(start, w0)
    _, grad = ref.loss_and_grad(w0, [3, 6, 2], X, Y, "tanh", "identity", l2=0.01)
    np.testing.assert_allclose(model.optimizer_.params, w0 - 0.1 * grad, rtol=1e-10, atol=1e-12)


def test_mlp_learns_three_targets_at_once_in_every_mode():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (600, 2))
    Y = np.column_stack([np.sin(X[:, 0]), np.cos(X[:, 1]), X[:, 0] * X[:, 1] / 2])
    for batch_size, epochs in [(32, 60), (1, 8)]:
        model = fastgd.MLPRegressor((32,), lr=0.01, batch_size=batch_size, max_epochs=epochs,
                                    tol=None, random_state=0).fit(X, Y)
        assert model.predict(X).shape == (600, 3) and model.coefs_[-1].shape == (32, 3)
        assert model.n_outputs_ == 3 and model.score(X, Y) > 0.9
    full = fastgd.MLPRegressor((16,), lr=0.05, batch_size=None, max_epochs=5, tol=None,
                               random_state=0).fit(X, Y)
    assert full.loss_curve_[-1] < full.loss_curve_[0]


def test_mlp_column_y_is_1d_with_sklearns_warning_and_shapes_are_checked():
    X, Y = _data()
    model = fastgd.MLPRegressor((4,), max_epochs=2, tol=None, random_state=0)
    with pytest.warns(DataConversionWarning):
        model.fit(X, Y[:, :1])
    assert model.predict(X).shape == (240,) and model.n_targets_ is None
    with pytest.raises(ValueError, match=r"y has shape \(240, 3\)"):
        model.partial_fit(X, Y)
    with pytest.raises(ValueError, match="dim 3"):
        fastgd.MLPRegressor((4,)).fit(X, Y[:, :, None])
