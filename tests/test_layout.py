"""The layout of the parameter vector (``shapes=``): LAMB's trust ratio per layer, Adafactor's
factored moment for the matrices, on every path (optimizer, fused epoch, sparse epoch, models)."""

import numpy as np
import pytest

import fastgd
from fastgd._numba import PARALLEL_THRESHOLD
from fastgd.engine import Trainer
from fastgd.losses import hyper_array, softmax_rows

from .compiled import signatures
from .reference import REFERENCES

#: an MLP's layers (W_l fan_in x fan_out, then b_l), as torch would hold them
SHAPES = [(5, 4), (4,), (4, 3), (3,)]
N = 39
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
LAYERED = ("lamb", "adafactor")


def _grads(n, steps, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n).astype(dtype), [rng.standard_normal(n).astype(dtype)
                                                  for _ in range(steps)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", LAYERED)
def test_layered_rules_match_the_numpy_reference(name, dtype):
    cls = fastgd.OPTIMIZERS[name]
    kwargs = dict(cls.rule.examples[1])
    lr = kwargs.pop("lr")
    theta, grads = _grads(N, 25, dtype)
    opt = cls(theta.copy(), lr=lr, **kwargs, shapes=SHAPES)
    ref, flat, state, flat_state = theta.copy(), theta.copy(), {}, {}
    for t, g in enumerate(grads, start=1):
        opt.step(g)
        ref = REFERENCES[name](ref, g, state, t, lr, **kwargs, shapes=SHAPES)
        flat = REFERENCES[name](flat, g, flat_state, t, lr, **kwargs)
    np.testing.assert_allclose(opt.params, ref, **TOL[dtype])
    assert opt.params.dtype == dtype
    for key, value in state.items():
        assert opt.state[key].dtype == dtype and opt.state[key].shape == value.shape, key
        np.testing.assert_allclose(opt.state[key], value, **TOL[dtype], err_msg=key)
    assert not np.allclose(opt.params, flat, rtol=1e-3, atol=0)   # the layout matters
    if name == "adafactor":   # the factored moment: rows and columns of the two matrices
        assert {k: v.size for k, v in opt.state.items()} == {"variance": 7, "row_var": 9,
                                                            "col_var": 7}


def test_adafactor_matches_torch_on_an_mlps_parameters():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for kwargs in fastgd.Adafactor.rule.examples:
        theta, grads = _grads(N, 40, np.float64, seed=4)
        opt = fastgd.Adafactor(theta.copy(), **kwargs, shapes=SHAPES)
        bounds = np.cumsum([0] + [int(np.prod(s)) for s in SHAPES])
        tensors = [torch.nn.Parameter(torch.from_numpy(theta[a:b].reshape(s).copy()))
                   for a, b, s in zip(bounds[:-1], bounds[1:], SHAPES)]
        topt = torch.optim.Adafactor(tensors, **kwargs)
        for g in grads:
            g = g * rng.uniform(0.1, 10.0)   # steps of changing scale: the moments matter
            opt.step(g)
            for p, a, b in zip(tensors, bounds[:-1], bounds[1:]):
                p.grad = torch.from_numpy(g[a:b].reshape(p.shape).copy())
            topt.step()
        np.testing.assert_allclose(opt.params, np.concatenate(
            [p.detach().numpy().ravel() for p in tensors]), rtol=1e-10, atol=1e-12)
        for key in ("variance", "row_var", "col_var"):
            want = np.concatenate([topt.state[p][key].numpy().ravel() for p in tensors
                                   if key in topt.state[p]])
            np.testing.assert_allclose(opt.state[key], want, rtol=1e-10, atol=1e-14, err_msg=key)


def test_the_fused_epochs_take_the_layout_bit_for_bit():
    # softmax over 3 classes: coef_ (3 x 6) then the intercepts, as the linear models lay it out
    import scipy.sparse as sp
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 6))
    y = rng.integers(0, 3, 60).astype(np.float64)
    hyper = hyper_array(0.01, 0, 3, 3, "softmax")
    shapes = [(3, 6), (3,)]
    for name in LAYERED:
        cls = fastgd.OPTIMIZERS[name]
        runs = []
        for data in (X, fastgd.sparse.as_csr(sp.csr_matrix(X)), None):
            w = np.zeros(21)
            opt = cls(w, lr=0.01, shapes=shapes, clip_norm=0.5)
            if data is None:   # the optimizer, one batch after the other
                for a in range(0, 60, 10):
                    opt.step(fastgd.losses.softmax(w, X[a:a + 10], y[a:a + 10], l2=0.01)[1])
            else:
                Trainer(softmax_rows, hyper, opt, 10, "none").run_epoch(data, y, np.empty(0))
            runs.append(w)
        before = signatures()
        opt = cls(np.zeros(21), lr=0.02, shapes=shapes, clip_norm=0.5)
        Trainer(softmax_rows, hyper, opt, 20, "none").run_epoch(X, y, np.empty(0))
        assert signatures() == before, name   # a second fit compiles nothing
        np.testing.assert_array_equal(runs[0], runs[2], err_msg=name)
        np.testing.assert_allclose(runs[1], runs[2], rtol=1e-12, atol=1e-15, err_msg=name)


def test_a_large_segment_gives_the_same_bits_whatever_the_thread_count():
    import numba
    shapes = [(4, 5), (PARALLEL_THRESHOLD + 7,)]    # a matrix, and a segment cut into chunks
    n = 20 + PARALLEL_THRESHOLD + 7
    for name in LAYERED:
        cls = fastgd.OPTIMIZERS[name]
        theta, grads = _grads(n, 3, np.float32, seed=5)
        runs = []
        for threads in (numba.get_num_threads(), 1):
            before = numba.get_num_threads()
            numba.set_num_threads(threads)
            try:
                opt = cls(theta.copy(), lr=0.01, shapes=shapes)
                for g in grads:
                    opt.step(g)
            finally:
                numba.set_num_threads(before)
            runs.append(opt.params)
        opt = cls(theta.copy(), lr=0.01, shapes=shapes)   # the serial step, chunk by chunk
        s, sc = opt.kernel_state()
        for t, g in enumerate(grads, start=1):
            cls.rule.apply(opt.params, g, s, sc, t, 0.01, opt._h, opt._segments)
        runs.append(opt.params)
        for run in runs[1:]:
            np.testing.assert_array_equal(run, runs[0], err_msg=name)


def test_a_large_segment_takes_the_parallel_update_of_the_fused_epoch():
    # softmax with K * d > PARALLEL_THRESHOLD coefficients: LAMB's stage over chunks of coef_
    k, d = 3, PARALLEL_THRESHOLD // 3 + 10
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, d)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1], dtype=np.float32)
    shapes = [(k, d), (k,)]
    w = np.zeros(k * (d + 1), np.float32)
    opt = fastgd.LAMB(w, lr=0.01, shapes=shapes)
    Trainer(softmax_rows, hyper_array(0, 0, k, k, "softmax"), opt, 4, "none").run_epoch(
        X, y, np.empty(0, np.float32))
    w2 = np.zeros_like(w)
    opt2 = fastgd.LAMB(w2, lr=0.01, shapes=shapes)
    for a in (0, 4):
        opt2.step(fastgd.losses.softmax(w2, X[a:a + 4], y[a:a + 4])[1])
    np.testing.assert_array_equal(w, w2)


@pytest.mark.parametrize("shapes, error, match", [
    ("39", TypeError, "shapes must be a sequence"),
    ([(5, 4), "4"], TypeError, r"shapes\[1\] must be an int or a tuple"),
    ([(5, 4), (4, 1.0)], TypeError, r"shapes\[1\]"),
    ([(5, 4), (19, 0)], ValueError, r"shapes\[1\] must be 1-D or 2-D with positive sizes"),
    ([(5, 4), (1, 1, 19)], ValueError, r"shapes\[1\] must be 1-D or 2-D"),
    ([(5, 4), 18], ValueError, "shapes cover 38 parameters, but params has 39"),
])
def test_bad_shapes_are_refused(shapes, error, match):
    with pytest.raises(error, match=match):
        fastgd.Adafactor(np.zeros(N), shapes=shapes)


def test_state_dicts_hold_the_factors_of_their_layout():
    a = fastgd.Adafactor(np.ones(N), lr=0.1, shapes=SHAPES)
    a.step(np.arange(N, dtype=float))
    saved = a.state_dict()
    b = fastgd.Adafactor(a.params.copy(), lr=0.1, shapes=SHAPES)
    b.load_state_dict(saved)
    for opt in (a, b):
        opt.step(np.ones(N))
    np.testing.assert_array_equal(a.params, b.params)
    for other in ([(4, 5), (4,), (4, 3), (3,)], None):   # another layout: other factor sizes
        c = fastgd.Adafactor(np.ones(N), lr=0.1, shapes=other)
        with pytest.raises(ValueError, match=r"state\['(variance|row_var)'\] must be .* size"):
            c.load_state_dict(saved)
        assert c.step_count == 0


def test_mlp_trains_with_the_factored_moment_and_saves_it(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    clf = fastgd.MLPClassifier((5,), optimizer="adafactor", lr=0.05, batch_size=20,
                               max_epochs=3, tol=None, random_state=0).fit(X, y)
    opt = clf.optimizer_
    assert opt.shapes == ((3, 5), (5,), (5, 1), (1,))
    assert {k: v.size for k, v in opt.state.items()} == {"variance": 6, "row_var": 8,
                                                        "col_var": 6}
    fastgd.save_model(clf, tmp_path / "m.fgd")
    loaded = fastgd.load_model(tmp_path / "m.fgd")
    clf.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(clf.optimizer_.params, loaded.optimizer_.params)
