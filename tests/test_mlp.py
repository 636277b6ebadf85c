"""The MLP: kernels against the NumPy reference and finite differences, scikit-learn's
contract, accuracy on real and synthetic data, every rule and mode, faults."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastgd
from fastgd import schedules
from fastgd.nn import kernels as K

from . import reference_mlp as ref
from .registry import REPRESENTATIVE

ACTS = ["relu", "tanh", "logistic", "identity"]
OUTS = {"identity": K.OUT_IDENTITY, "logistic": K.OUT_LOGISTIC, "softmax": K.OUT_SOFTMAX}


def _problem(sizes, out, n, dtype, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    if out == "softmax":
        y = rng.integers(0, sizes[-1], n).astype(dtype)
    elif out == "logistic":
        y = (rng.random(n) < 0.5).astype(dtype)
    else:
        y = rng.standard_normal(n).astype(dtype)
    w = (scale * rng.standard_normal(K.layer_offsets(sizes)[-1])).astype(dtype)
    sw = rng.uniform(0.2, 1.8, n).astype(dtype)
    return X, y, w, sw


def _kernel_loss_grad(w, X, y, sw, hyper):
    """The objective exactly as the engine evaluates it: rows, then / n, then the penalty."""
    acc = np.zeros(w.size)
    loss = K.mlp_rows(w, X, y, sw, hyper, acc) / X.shape[0]
    acc /= X.shape[0]
    loss += K.mlp_penalty(w, hyper, acc)
    return loss, acc


# -- kernels -----------------------------------------------------------------------------

# (sizes, output): small layers take the loops, large ones BLAS; 300 rows make 3 blocks
NETS = [([5, 7, 3], "softmax"), ([5, 4, 6, 1], "logistic"), ([6, 40, 60, 1], "identity"),
        ([30, 200, 4], "softmax"), ([3, 1], "logistic")]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("act", ACTS)
def test_kernels_match_the_numpy_reference(act, dtype, rtol):
    for sizes, out in NETS:
        X, y, w, sw = _problem(sizes, out, 300, dtype)
        hyper = K.mlp_hyper(sizes, act, OUTS[out], l2=0.3, l1=0.01)
        loss, grad = _kernel_loss_grad(w, X, y, sw, hyper)
        f64 = [a.astype(np.float64) for a in (w, X, y, sw)]
        want_loss, want_grad = ref.loss_and_grad(f64[0], sizes, f64[1], f64[2], act, out,
                                                 l2=0.3, l1=0.01, sample_weight=f64[3])
        assert loss == pytest.approx(want_loss, rel=rtol)
        np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=rtol * np.abs(want_grad).max())
        pred = np.empty((300, sizes[-1]), dtype=dtype)
        K.forward(w, hyper, X, pred)
        np.testing.assert_allclose(pred, ref.predict(f64[0], sizes, f64[1], act, out),
                                   rtol=rtol, atol=rtol)
        assert pred.dtype == dtype


@pytest.mark.parametrize("act", ACTS)
def test_backprop_matches_finite_differences(act):
    for sizes, out in [([4, 5, 3], "softmax"), ([3, 4, 3, 1], "logistic"), ([4, 6, 1], "identity")]:
        X, y, w, sw = _problem(sizes, out, 40, np.float64, seed=1)
        hyper = K.mlp_hyper(sizes, act, OUTS[out], l2=0.1)
        _, grad = _kernel_loss_grad(w, X, y, sw, hyper)
        numeric = fastgd.numerical_gradient(
            lambda v: _kernel_loss_grad(v, X, y, sw, hyper)[0], w, method="richardson")
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_stable_at_extreme_logits():
    # logits of +-1e4 and more: softplus and log-sum-exp must not overflow
    for sizes, out in [([2, 3, 1], "logistic"), ([2, 3, 4], "softmax")]:
        X, y, w, _ = _problem(sizes, out, 50, np.float32, scale=1000.0)
        loss, grad = _kernel_loss_grad(w, X, y, np.empty(0, np.float32),
                                       K.mlp_hyper(sizes, "relu", OUTS[out]))
        assert np.isfinite(loss) and loss > 100 and np.isfinite(grad).all()


# -- scikit-learn's contract ---------------------------------------------------------------

# Expected failures of scikit-learn's checks, with the reason: none. (The
# sample-weight equivalence checks pass: weights multiply the row terms of a
# seeded, converged fit.)
EXPECTED_FAILURES = {}


# small nets with a larger rate: the checks fit many times, this keeps them quick
@parametrize_with_checks([fastgd.MLPRegressor((32,), lr=0.01),
                          fastgd.MLPClassifier((32,), lr=0.01)],
                         expected_failed_checks=lambda est: EXPECTED_FAILURES.get(
                             type(est).__name__, {}))
def test_sklearn_contract(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_fitted_attributes_are_shaped_like_sklearns():
    from sklearn.neural_network import MLPClassifier as SkMLP
    X, y = _digits_small()
    ours = fastgd.MLPClassifier((20, 10), max_epochs=2, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = SkMLP((20, 10), max_iter=2, random_state=0).fit(X, y)
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    for attr in ("n_layers_", "n_outputs_", "out_activation_", "n_iter_"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert len(ours.loss_curve_) == 2
    # the layers are views into the one flat parameter vector the optimizer updates
    params = ours.optimizer_.params
    assert all(np.shares_memory(c, params) for c in ours.coefs_ + ours.intercepts_)
    assert sum(c.size + b.size for c, b in zip(ours.coefs_, ours.intercepts_)) == params.size
    binary = fastgd.MLPClassifier((4,), max_epochs=1, random_state=0).fit(X, y % 2)
    assert binary.out_activation_ == "logistic" and binary.coefs_[-1].shape == (4, 1)
    reg = fastgd.MLPRegressor((3,), max_epochs=1, random_state=0).fit(X, y.astype(float))
    assert reg.out_activation_ == "identity"


# -- accuracy ------------------------------------------------------------------------------

def _digits_small():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def test_digits_held_out_accuracy_at_least_97_percent():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    scaler = StandardScaler().fit(X_train)
    clf = fastgd.MLPClassifier((100,), batch_size=32, max_epochs=100, random_state=0)
    clf.fit(scaler.transform(X_train), y_train)
    assert clf.score(scaler.transform(X_test), y_test) >= 0.97


def test_regression_r2_close_to_sklearns_mlp_regressor():
    from sklearn.datasets import make_friedman1
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPRegressor as SkMLP
    X, y = make_friedman1(n_samples=3000, noise=0.5, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    kw = dict(hidden_layer_sizes=(64, 64), batch_size=64, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = SkMLP(solver="adam", learning_rate_init=1e-3, max_iter=300, **kw)
        theirs.fit(X_train, y_train)
        # sklearn's alpha is divided by the batch size: 1e-4 there is 1e-4 / 64 here
        ours = fastgd.MLPRegressor(lr=1e-3, alpha=1e-4 / 64, max_epochs=300, **kw)
        ours.fit(X_train, y_train)
    r2_theirs, r2_ours = theirs.score(X_test, y_test), ours.score(X_test, y_test)
    assert r2_theirs > 0.9
    assert r2_ours > r2_theirs - 0.02


MODES = {
    "batch": dict(batch_size=None, lr=0.02, max_epochs=400),
    "stochastic": dict(batch_size=1, optimizer="sgd", lr=schedules.InverseScaling(0.05, 0.3),
                       max_epochs=30),
    "minibatch": dict(batch_size=32, lr=schedules.CosineAnnealing(0.01, t_max=19 * 60),
                      max_epochs=60),
}


def _xor(n=600, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2)).astype(dtype)
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_learns_xor(mode):
    X, y = _xor()
    init = "he" if mode == "minibatch" else "glorot"
    clf = fastgd.MLPClassifier((16,), init=init, tol=None, random_state=0, **MODES[mode])
    clf.fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]


PARAMS = {"sgd": dict(momentum=0.9, nesterov=True), "adam": dict(amsgrad=True)}
LR = {"sgd": 0.05, "asgd": 0.05, "prodigy": 1.0}


@pytest.mark.parametrize("rule", REPRESENTATIVE)
def test_update_rules_train_the_whole_network(rule):
    # the MLP carries a rule as the linear models do (tests/registry.py: REPRESENTATIVE)
    X, y = _xor(300)
    params = PARAMS.get(rule, {})
    lr = LR.get(rule, 0.01)
    clf = fastgd.MLPClassifier((8,), optimizer=rule, optimizer_params=params, lr=lr,
                               batch_size=16, max_epochs=40, tol=None, random_state=0)
    clf.fit(X, y)
    assert clf.loss_curve_[-1] < 0.7 * clf.loss_curve_[0]
    assert clf.optimizer_.step_count == 40 * 19


def test_early_stopping_partial_fit_and_warm_start():
    X, y = _xor(400)
    clf = fastgd.MLPClassifier((8,), early_stopping=True, validation_fraction=0.2,
                               n_iter_no_change=3, max_epochs=300, lr=0.01, random_state=0)
    clf.fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < 300
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # partial_fit: one epoch per call, the step counter carries on
    kw = dict(hidden_layer_sizes=(8,), lr=0.01, batch_size=50, shuffle=False, random_state=0,
              tol=None)
    a = fastgd.MLPClassifier(max_epochs=3, **kw).fit(X, y)
    b = fastgd.MLPClassifier(**kw)
    for _ in range(3):
        b.partial_fit(X, y, classes=[0, 1])
    assert b.t_ == a.t_ == 24
    for ca, cb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(ca, cb)
    # warm start: the same architecture starts from the fitted weights
    first = [c.copy() for c in a.coefs_]
    a.set_params(warm_start=True, max_epochs=1, optimizer="sgd", lr=1e-12)
    a.fit(X, y)
    for c0, c1 in zip(first, a.coefs_):
        np.testing.assert_allclose(c0, c1, atol=1e-9)


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = _xor(200)
    fastgd.MLPRegressor((4,), max_epochs=3, tol=None, verbose=1, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(re.match(r"epoch \d+: loss .*samples/s", ln) for ln in lines)


def test_same_seed_same_model_and_any_number_of_threads():
    import numba
    X, y = _xor(3000)
    kw = dict(hidden_layer_sizes=(16, 16), batch_size=1024, max_epochs=3, tol=None,
              random_state=3)
    want = fastgd.MLPClassifier(**kw).fit(X, y).coefs_
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        got = fastgd.MLPClassifier(**kw).fit(X, y).coefs_
    finally:
        numba.set_num_threads(threads)
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)


def test_memmap_read_only_and_fortran_inputs_give_the_same_model(tmp_path):
    X, y = _xor(700, dtype=np.float32)
    kw = dict(hidden_layer_sizes=(8,), max_epochs=3, tol=None, random_state=0, shuffle="blocks")
    want = fastgd.MLPClassifier(**kw).fit(X, y)
    path = tmp_path / "X.f32"
    X.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    ro = X.copy()
    ro.flags.writeable = False
    for other in (mm, ro, np.asfortranarray(X)):
        got = fastgd.MLPClassifier(**kw).fit(other, y)
        for a, b in zip(want.coefs_, got.coefs_):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(got.predict_proba(other), want.predict_proba(X))


def test_float32_x_is_not_copied_up():
    import tracemalloc
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 50), dtype=np.float32)      # 20 MB
    y = (X[:, 0] > 0).astype(int)
    kw = dict(hidden_layer_sizes=(16,), max_epochs=1, tol=None, random_state=0)
    fastgd.MLPClassifier(**kw).fit(X[:300], y[:300])               # compile first
    tracemalloc.start()
    fastgd.MLPClassifier(**kw).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.25 * X.nbytes


def test_two_threads_fit_at_once():
    import threading
    X, y = _xor(2000, dtype=np.float32)
    kw = dict(hidden_layer_sizes=(16,), max_epochs=3, tol=None, random_state=0)
    want = fastgd.MLPClassifier(**kw).fit(X, y).coefs_
    got = {}

    def fit(i):
        got[i] = fastgd.MLPClassifier(**kw).fit(X, y).coefs_

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        for a, b in zip(want, got[i]):
            np.testing.assert_array_equal(a, b)


# -- faults --------------------------------------------------------------------------------

def test_divergence_is_detected_and_explained():
    X, y = _xor(500)
    reg = fastgd.MLPRegressor((32,), optimizer="sgd", lr=1e3, random_state=0)
    with pytest.raises(fastgd.DivergenceError,
                       match=r"epoch (\d+) .*smaller learning rate.*scale") as info:
        reg.fit(X * 100, y * 1e3)
    bad_epoch = int(re.search(r"epoch (\d+)", str(info.value)).group(1))
    assert reg.n_iter_ == bad_epoch - 1
    assert all(np.isfinite(c).all() for c in reg.coefs_)
    assert np.isfinite(reg.optimizer_.params).all()


def test_interrupt_keeps_the_last_completed_epoch():
    X, y = _xor(300)

    def stop_at_2(info):
        if info.epoch == 2:
            raise KeyboardInterrupt

    kw = dict(hidden_layer_sizes=(8,), lr=0.01, tol=None, random_state=0)
    with pytest.warns(UserWarning, match="interrupted after epoch 2"):
        clf = fastgd.MLPClassifier(callback=stop_at_2, **kw).fit(X, y)
    same = fastgd.MLPClassifier(max_epochs=2, **kw).fit(X, y)
    assert clf.n_iter_ == 2
    for a, b in zip(clf.coefs_, same.coefs_):
        np.testing.assert_array_equal(a, b)
    assert clf.score(X, y) > 0.4


def test_float32_stays_float32_and_second_fit_does_not_compile():
    from .compiled import signatures
    X, y = _xor(500, dtype=np.float32)
    reg = fastgd.MLPRegressor((8, 4), max_epochs=2, random_state=0).fit(X, y.astype(np.float32))
    assert all(c.dtype == np.float32 for c in reg.coefs_ + reg.intercepts_)
    assert reg.optimizer_.params.dtype == np.float32
    assert reg.predict(X).dtype == np.float32
    clf = fastgd.MLPClassifier((8,), max_epochs=2, random_state=0).fit(X, y)
    assert clf.predict_proba(X).dtype == np.float32
    before = signatures()
    # another architecture, activation, batch size and data size: same machine code
    fastgd.MLPClassifier((5, 7, 3), activation="tanh", batch_size=None, max_epochs=2,
                         random_state=1).fit(X[:100], (X[:100, 0] > 0) * 2
                                             + (X[:100, 1] > 0)).predict(X)
    assert signatures() == before


def test_blas_and_numba_threads_are_restored():
    import numba
    from threadpoolctl import threadpool_info
    X, y = _xor(200)
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    threads = numba.get_num_threads()
    seen = []
    fastgd.MLPClassifier((4,), max_epochs=1, random_state=0,     # batch 200: serial parts
                         callback=lambda info: seen.append(numba.get_num_threads())).fit(X, y)
    assert seen == [1] and numba.get_num_threads() == threads
    fastgd.MLPClassifier((4,), max_epochs=1, batch_size=None, random_state=0,
                         callback=lambda info: seen.append(numba.get_num_threads())).fit(X, y)
    assert seen[-1] == threads
    after = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert after[:len(before)] == before


_X = np.random.default_rng(0).standard_normal((20, 3))
_y = np.r_[np.zeros(10), np.ones(10)]
BAD = [
    (dict(hidden_layer_sizes=(4, 0)), ValueError, r"hidden_layer_sizes\[1\] must be >= 1"),
    (dict(hidden_layer_sizes=(4, 2.5)), TypeError, r"hidden_layer_sizes\[1\] must be an integer"),
    (dict(hidden_layer_sizes="big"), TypeError, r"hidden_layer_sizes\[0\]"),
    (dict(hidden_layer_sizes=None), TypeError, "hidden_layer_sizes must be a sequence"),
    (dict(activation="softplus"), ValueError, "activation must be one of"),
    (dict(init="xavier"), ValueError, "init must be 'glorot' or 'he'"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(alpha=-1.0), ValueError, "alpha"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(optimizer="lbfgs"), ValueError, "optimizer must be one of"),
]


@pytest.mark.parametrize("params, exc, match", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_arguments_change_nothing(params, exc, match):
    clf = fastgd.MLPClassifier(**params)
    with pytest.raises(exc, match=match):
        clf.fit(_X, _y)
    assert not hasattr(clf, "coefs_") and not hasattr(clf, "n_features_in_")


def test_bad_data():
    clf = fastgd.MLPClassifier((4,), max_epochs=1)
    with pytest.raises(NotFittedError):
        clf.predict(_X)
    with pytest.raises(ValueError, match="one class"):
        clf.fit(_X, np.zeros(20))
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(np.where(_X > 1.5, np.nan, _X), _y)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(_X, _y)
    clf.fit(_X, _y)
    with pytest.raises(ValueError, match="3 features"):
        clf.predict(_X[:, :2])
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(_X, np.r_[_y[:-1], 2.0])
    with pytest.raises(ValueError, match="Unknown label type"):
        fastgd.MLPClassifier().fit(_X, _X[:, 0])
