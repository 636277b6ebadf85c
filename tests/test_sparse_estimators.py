"""The estimators on scipy.sparse X: the dense fit of X.toarray(), lazy updates, bad input.

A sparse fit and the dense fit of ``X.toarray()`` see the same batches
(the same row order from the same seed); with ``sparse_updates="dense"``
and with the exact scaling trick (plain SGD, L2) they make the same steps,
so they agree to rounding (float64 1e-10, float32 1e-5). The lazy mode
(torch SparseAdam semantics) is checked against its own NumPy reference.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fastgd
from fastgd.engine.sparse import DENSE, LAZY, SCALED, choose_mode

from .registry import REPRESENTATIVE

TOL = {np.float64: 1e-10, np.float32: 1e-5}


def problem(n=300, d=40, density=0.15, dtype=np.float64, classes=2, seed=0, index=np.int32):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data[:] = rng.standard_normal(X.nnz)
    X = sp.csr_matrix((X.data.astype(dtype), X.indices.astype(index), X.indptr.astype(index)),
                      shape=X.shape)
    X.data[X.indptr[5]:X.indptr[6]] = 0.0   # an empty row
    X.eliminate_zeros()
    W = rng.standard_normal((classes if classes > 2 else 1, d))
    Z = np.asarray(X @ W.T)
    y = Z.argmax(1) if classes > 2 else (Z[:, 0] > 0).astype(int)
    return X, y, Z[:, 0]


def fit_both(cls, X, y, sample_weight=None, **kw):
    settings = dict(max_epochs=4, tol=None, random_state=0, lr=0.05, alpha=1e-3)
    settings.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = cls(**settings).fit(X, y, sample_weight=sample_weight)
        b = cls(**settings).fit(X.toarray(), y, sample_weight=sample_weight)
    return a, b


def assert_same(a, b, dtype):
    tol = TOL[dtype]
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=tol * 10, atol=tol)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=tol * 10, atol=tol)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=tol * 10, atol=tol)
    assert a.coef_.dtype == dtype and a.t_ == b.t_


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opt, updates", [("sgd", "auto"), ("sgd", "lazy"), ("adam", "auto"),
                                          ("adam", "dense")])
@pytest.mark.parametrize("batch", [1, 16, None])
def test_logistic_sparse_equals_dense(dtype, opt, updates, batch):
    X, y, _ = problem(dtype=dtype)
    a, b = fit_both(fastgd.LogisticRegression, X, y, optimizer=opt, sparse_updates=updates,
                    batch_size=batch)
    assert_same(a, b, dtype)
    Xd = X.toarray()
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(Xd),
                               rtol=1e-4, atol=TOL[dtype])
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(Xd), rtol=1e-4, atol=TOL[dtype])
    assert a.score(X, y) == pytest.approx(b.score(Xd, y))


@pytest.mark.parametrize("opt, params", [("sgd", {}), ("sgd", {"weight_decay": 0.01}),
                                         ("rmsprop", {})])
def test_multinomial_and_weights(opt, params):
    X, y, _ = problem(classes=4)
    sw = np.random.default_rng(1).random(X.shape[0]) + 0.5
    a, b = fit_both(fastgd.LogisticRegression, X, y, sample_weight=sw, optimizer=opt,
                    optimizer_params=params, batch_size=8, lr=0.1)
    assert a.coef_.shape == (4, X.shape[1])
    assert_same(a, b, np.float64)
    np.testing.assert_array_equal(a.predict(X), b.predict(X.toarray()))


@pytest.mark.parametrize("cls, target, kw", [
    (fastgd.LinearRegression, "real", {}),
    (fastgd.LinearRegression, "real", {"loss": "huber"}),
    (fastgd.LinearSVC, "class", {}),
    (fastgd.PoissonRegressor, "count", {"lr": 0.01}),
])
def test_other_models(cls, target, kw):
    X, y, z = problem()
    y = {"real": z, "class": y, "count": np.round(np.exp(0.3 * z))}[target]
    a, b = fit_both(cls, X, y, optimizer="sgd", batch_size=8, **kw)
    assert_same(a, b, np.float64)
    np.testing.assert_allclose(a.predict(X), b.predict(X.toarray()), rtol=1e-9, atol=1e-10)


def test_early_stopping_and_partial_fit():
    X, y, _ = problem(n=400)
    a, b = fit_both(fastgd.LogisticRegression, X, y, optimizer="sgd", batch_size=16,
                    early_stopping=True, tol=1e-3, max_epochs=10)
    np.testing.assert_allclose(a.validation_scores_, b.validation_scores_)
    assert_same(a, b, np.float64)
    c = fastgd.LogisticRegression(optimizer="sgd", batch_size=16, random_state=0)
    d = fastgd.LogisticRegression(optimizer="sgd", batch_size=16, random_state=0)
    for _ in range(3):
        c.partial_fit(X, y, classes=[0, 1])
        d.partial_fit(X.toarray(), y, classes=[0, 1])
    assert_same(c, d, np.float64)


@pytest.mark.parametrize("make", [sp.csr_array, sp.csc_matrix, sp.coo_array])
def test_formats_and_no_copy(make):
    X, y, _ = problem(index=np.int64)
    Xf = make(X)
    before = [a.copy() for a in (X.data, X.indices, X.indptr)]
    model = fastgd.LogisticRegression(optimizer="sgd", max_epochs=2, tol=None, random_state=0)
    model.fit(Xf, y)
    ref = fastgd.LogisticRegression(optimizer="sgd", max_epochs=2, tol=None,
                                    random_state=0).fit(X, y)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-12)
    for a, b in zip((X.data, X.indices, X.indptr), before):
        np.testing.assert_array_equal(a, b)
    # a CSR in a usable form is used as it is
    assert model._validate_X(X, reset=False) is X


def test_choose_mode():
    X, y, _ = problem()
    hyper = np.array([1e-3, 0.0, 1, 0, 0])
    from fastgd.losses import linear_penalty
    opt = fastgd.SGD(np.zeros(3), lr=0.1)
    assert choose_mode("auto", opt, hyper, linear_penalty) == SCALED
    assert choose_mode("dense", opt, hyper, linear_penalty) == DENSE
    l1 = hyper.copy()
    l1[1] = 1e-3
    assert choose_mode("auto", opt, l1, linear_penalty) == DENSE
    assert choose_mode("lazy", opt, l1, linear_penalty) == LAZY
    mom = fastgd.SGD(np.zeros(3), lr=0.1, momentum=0.9)
    assert choose_mode("auto", mom, hyper, linear_penalty) == DENSE
    assert choose_mode("lazy", fastgd.Adam(np.zeros(3)), hyper, linear_penalty) == LAZY
    with pytest.raises(ValueError, match="sparse_updates"):
        fastgd.LogisticRegression(sparse_updates="sometimes").fit(X, y)


def lazy_reference(X, y, lr, alpha, batch, order, betas=(0.9, 0.999), eps=1e-8):
    """Adam on the batch's columns and the intercept only (SparseAdam semantics), in NumPy."""
    n, d = X.shape
    w = np.zeros(d + 1)
    m = np.zeros(d + 1)
    v = np.zeros(d + 1)
    t = 0
    Xd = X.toarray()
    for a in range(0, n, batch):
        rows = order[a:a + batch]
        xb = Xd[rows]
        z = xb @ w[:d] + w[d]
        r = (1 / (1 + np.exp(-z)) - y[rows]) / len(rows)
        g = np.r_[xb.T @ r, r.sum()]
        g[:d] += alpha * w[:d]
        idx = np.r_[np.unique(X[rows].indices), d]
        t += 1
        m[idx] = betas[0] * m[idx] + (1 - betas[0]) * g[idx]
        v[idx] = betas[1] * v[idx] + (1 - betas[1]) * g[idx] ** 2
        mh = m[idx] / (1 - betas[0] ** t)
        vh = v[idx] / (1 - betas[1] ** t)
        w[idx] -= lr * mh / (np.sqrt(vh) + eps)
    return w


def test_lazy_adam_matches_its_reference():
    X, y, _ = problem()
    model = fastgd.LogisticRegression(optimizer="adam", sparse_updates="lazy", batch_size=16,
                                      max_epochs=1, tol=None, shuffle=False, lr=0.05, alpha=1e-3)
    model.fit(X, y)
    ref = lazy_reference(X, y, 0.05, 1e-3, 16, np.arange(X.shape[0]))
    np.testing.assert_allclose(model.coef_[0], ref[:-1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.intercept_, ref[-1:], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("edit, match", [
    (lambda X: X.data.__setitem__(3, np.nan), r"X.data\[3\] = nan is not finite"),
    (lambda X: X.indices.__setitem__(2, 400), r"X.indices\[2\] = 400 is out of range"),
    (lambda X: X.indptr.__setitem__(4, X.indptr[3] - 1), "X.indptr"),
])
def test_bad_input(edit, match):
    X, y, _ = problem()
    X = X.copy()
    edit(X)
    model = fastgd.LogisticRegression(max_epochs=1)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)
    assert not hasattr(model, "coef_")
    good, _, _ = problem()
    model.fit(good, y)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match=match):
        model.predict(X)
    with pytest.raises(ValueError, match=match):
        model.partial_fit(X, y)
    np.testing.assert_array_equal(model.coef_, coef)


def test_mlp_refuses_sparse():
    X, y, _ = problem()
    with pytest.raises(TypeError, match="dense X only"):
        fastgd.MLPClassifier(max_epochs=1).fit(X, y)


def test_bench_fit_rows_small():
    from fastgd.bench.sparse import fit_rows
    rows = fit_rows(n=2000, d=4096, peers=("sklearn",))
    assert [r.impl for r in rows][-1] == "scikit-learn SGDClassifier"
    assert all("objective" in r.note and "RSS" in r.note for r in rows)
    assert rows[-1].ratio > 0


def test_cli_svmlight(tmp_path, capsys, monkeypatch):
    from sklearn.datasets import dump_svmlight_file

    from fastgd.cli.main import main
    X, y, _ = problem()
    dump_svmlight_file(X, y, str(tmp_path / "train.svm"))
    dump_svmlight_file(X[:7], y[:7], str(tmp_path / "test.txt"))
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "train.svm", "--model", "logistic", "--epochs", "2", "--optimizer", "sgd",
                 "--out", "m.npz"]) == 0
    assert "Read 300 rows x 40 features" in capsys.readouterr().out
    assert main(["predict", "m.npz", "test.txt", "--format", "svmlight", "--out", "p.csv"]) == 0
    model = fastgd.load_model("m.npz")
    expected = model.predict(X[:7])
    got = np.loadtxt("p.csv", skiprows=1)
    np.testing.assert_array_equal(got, expected)
    # a feature index beyond the model's, a broken line, and no --target for a CSV
    (tmp_path / "wide.svm").write_text("1 1:0.5 99:1.0\n")
    (tmp_path / "bad.svm").write_text("1 1:0.5 x\n")
    for argv, match in [(["predict", "m.npz", "wide.svm"], "wide.svm"),
                        (["fit", "bad.svm", "--model", "logistic"], "not a valid svmlight"),
                        (["fit", "train.svm", "--model", "logistic", "--format", "csv"],
                         "--target is required")]:
        assert main(argv) != 0
        assert match in capsys.readouterr().err


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_weighted_lazy_sgd(dtype):
    # the exact scaling trick straight from the rows (one output), with weights and weight decay
    X, y, _ = problem(dtype=dtype)
    sw = (np.random.default_rng(2).random(X.shape[0]) + 0.5).astype(dtype)
    a, b = fit_both(fastgd.LinearSVC, X, y, sample_weight=sw, optimizer="sgd",
                    optimizer_params={"weight_decay": 0.01}, batch_size=32, loss="squared_hinge")
    assert_same(a, b, dtype)


def cumulative_l1_reference(X, y, lr, l2, l1, batch):
    """Mini-batch SGD with L2, then Tsuruoka et al.'s cumulative L1 penalty on the batch's
    columns (as scikit-learn's sgd_fast), rows in order, in NumPy."""
    n, d = X.shape
    Xd = X.toarray()
    w, b, u, q = np.zeros(d), 0.0, 0.0, np.zeros(d)
    for a in range(0, n, batch):
        xb, yb = Xd[a:a + batch], y[a:a + batch]
        r = 1 / (1 + np.exp(-(xb @ w + b))) - yb
        w = (1 - lr * l2) * w - lr * (xb.T @ r) / len(yb)
        b -= lr * r.mean()
        u += lr * l1
        for j in np.unique(X[a:a + batch].indices):
            if w[j] > 0:
                new = max(0.0, w[j] - (u + q[j]))
            elif w[j] < 0:
                new = min(0.0, w[j] + (u - q[j]))
            else:
                continue
            q[j] += new - w[j]
            w[j] = new
    return w, b


def test_lazy_sgd_cumulative_l1():
    X, y, _ = problem()
    alpha, ratio, lr = 0.02, 0.5, 0.5
    model = fastgd.LogisticRegression(optimizer="sgd", sparse_updates="lazy", batch_size=16, lr=lr,
                                      alpha=alpha, l1_ratio=ratio, max_epochs=1, tol=None,
                                      shuffle=False).fit(X, y)
    w, b = cumulative_l1_reference(X, y, lr, alpha * (1 - ratio), alpha * ratio, 16)
    np.testing.assert_allclose(model.coef_[0], w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.intercept_, [b], rtol=1e-9, atol=1e-12)
    assert np.count_nonzero(model.coef_ == 0) > 0          # L1 makes exact zeros
    objective = model.loss_curve_[0]
    assert np.isfinite(objective)


def test_saved_model_predicts_sparse(tmp_path):
    X, y, _ = problem()
    model = fastgd.LogisticRegression(optimizer="adam", sparse_updates="lazy", max_epochs=2,
                                      tol=None, random_state=0).fit(X, y)
    loaded = fastgd.load_model(fastgd.save_model(model, str(tmp_path / "m.npz")))
    assert loaded.sparse_updates == "lazy"
    np.testing.assert_array_equal(loaded.decision_function(X), model.decision_function(X))
    a = fastgd.LogisticRegression(optimizer="adam", sparse_updates="lazy", max_epochs=2,
                                  tol=None, random_state=0).fit(X, y)
    a.partial_fit(X, y)
    loaded.partial_fit(X, y)   # resumes with the saved optimizer state and generator
    np.testing.assert_array_equal(loaded.coef_, a.coef_)


# the lazy path is the same for every rule: the representative ones (tests/registry.py)
_ELEMENTWISE = [k for k in REPRESENTATIVE if fastgd.OPTIMIZERS[k].rule.reduce is None]


@pytest.mark.parametrize("name", _ELEMENTWISE)
def test_lazy_runs_every_rule(name):
    # SparseAdam semantics for any rule: only the batch's coordinates and their state change
    X, y, _ = problem()
    keep = np.unique(X[:8].indices)
    Xs = X[:8]
    model = fastgd.LogisticRegression(optimizer=name, sparse_updates="lazy", batch_size=8,
                                      max_epochs=1, tol=None, shuffle=False, lr=0.01)
    model.fit(Xs, y[:8] if len(set(y[:8])) == 2 else np.r_[0, 1, y[2:8]])
    untouched = np.setdiff1d(np.arange(X.shape[1]), keep)
    assert np.all(model.coef_[0, untouched] == 0.0)
    assert np.any(model.coef_[0, keep] != 0.0)
    for value in model.optimizer_.state.values():
        if isinstance(value, np.ndarray) and value.size == model.optimizer_.params.size:
            assert np.all(value[untouched] == value[untouched][0]) or untouched.size == 0


@pytest.mark.parametrize("name", [k for k in REPRESENTATIVE if k not in _ELEMENTWISE])
def test_lazy_rules_with_sums_over_the_whole_vector_run_dense(name):
    X, y, _ = problem()
    kw = dict(optimizer=name, batch_size=8, max_epochs=1, tol=None, shuffle=False, lr=0.01)
    lazy = fastgd.LogisticRegression(sparse_updates="lazy", **kw).fit(X, y)
    dense = fastgd.LogisticRegression(sparse_updates="dense", **kw).fit(X, y)
    np.testing.assert_array_equal(lazy.coef_, dense.coef_)


@pytest.fixture
def small_pieces(monkeypatch):
    """Pieces of 64 rows gathered 7 at a time, blocks of 256 bytes: a small memory-mapped CSR
    goes through many of each."""
    import fastgd.engine.sparse as engine
    monkeypatch.setattr(engine, "PIECE_ROWS", 64)
    monkeypatch.setattr(engine, "_chunk_rows", lambda X, block_bytes: 7)
    monkeypatch.setattr(fastgd.sparse.mapped, "BLOCK_BYTES", 256)


@pytest.mark.parametrize("shuffle, weighted", [("full", False), ("blocks", True)])
def test_mapped_csr_equals_in_memory(tmp_path, small_pieces, shuffle, weighted):
    X, y, _ = problem(n=400, dtype=np.float32)
    sw = np.random.default_rng(1).random(400) if weighted else None
    fastgd.sparse.save_csr(tmp_path, X)
    Xm = fastgd.sparse.load_csr(tmp_path)
    assert all(isinstance(a, np.memmap) for a in (Xm.data, Xm.indices, Xm.indptr))
    # scipy keeps int32 memmaps as they are (no copy)
    arrays = [np.load(tmp_path / f"{k}.npy", mmap_mode="r") for k in ("data", "indices", "indptr")]
    Xs = sp.csr_matrix(tuple(arrays), shape=X.shape)
    assert all(np.shares_memory(a, b) for a, b in zip((Xs.data, Xs.indices, Xs.indptr), arrays))
    settings = dict(optimizer="sgd", lr=0.1, batch_size=16, max_epochs=3, tol=None,
                    random_state=0, alpha=1e-3, shuffle=shuffle)
    a = fastgd.LogisticRegression(**settings).fit(X, y, sample_weight=sw)
    b = fastgd.LogisticRegression(**settings).fit(Xm, y, sample_weight=sw)
    c = fastgd.LogisticRegression(**dict(settings, shuffle=True)).fit(Xs, y, sample_weight=sw)
    for m in (b, c):
        if m is c and shuffle == "full":   # True on a mapped CSR is "blocks"
            continue
        np.testing.assert_array_equal(m.coef_, a.coef_)
        np.testing.assert_array_equal(m.intercept_, a.intercept_)
        assert m.loss_curve_ == a.loss_curve_
    a.partial_fit(X, y)
    b.partial_fit(Xm, y)
    np.testing.assert_array_equal(b.coef_, a.coef_)
    np.testing.assert_array_equal(b.predict_proba(Xm), a.predict_proba(X))


def test_pieces_gathered_ahead_equal_pieces_gathered_in_line(small_pieces, monkeypatch):
    # with two numba threads a helper thread copies the next piece's rows while the epoch
    # trains on this one; with one, the training thread copies each piece before training on
    # it: the same bits
    import fastgd.engine.sparse as engine
    X, y, _ = problem(n=400, dtype=np.float32)
    settings = dict(optimizer="sgd", lr=0.1, batch_size=16, max_epochs=3, tol=None,
                    random_state=0, alpha=1e-3)
    taken = []
    fill = engine.SharedFill.fill
    monkeypatch.setattr(engine.SharedFill, "fill", lambda self, part: taken.append(part.size)
                        or fill(self, part))
    monkeypatch.setattr(engine, "CHUNK_ROWS", 5)   # chunks the training thread can claim too
    monkeypatch.setattr(engine, "get_num_threads", lambda: 2)
    ahead = fastgd.LogisticRegression(**settings).fit(X, y)
    assert sum(taken) == 3 * 400 and len(taken) == 3 * 7      # pieces of 64 rows
    monkeypatch.setattr(engine, "get_num_threads", lambda: 1)
    inline = fastgd.LogisticRegression(**settings).fit(X, y)
    assert sum(taken) == 2 * 3 * 400 and len(taken) == 2 * 3 * 7
    np.testing.assert_array_equal(ahead.coef_, inline.coef_)
    np.testing.assert_array_equal(ahead.intercept_, inline.intercept_)
    assert ahead.loss_curve_ == inline.loss_curve_


def test_rows_in_order_are_trained_on_in_place(small_pieces, monkeypatch):
    # shuffle=False on a writeable X: the epoch reads X's own arrays, no piece is copied; a
    # read-only X is copied piece by piece; the same bits either way
    import fastgd.engine.sparse as engine
    X, y, _ = problem(n=400, dtype=np.float32)
    settings = dict(optimizer="sgd", lr=0.1, batch_size=16, max_epochs=3, tol=None,
                    shuffle=False, alpha=1e-3)
    taken = []
    fill = engine.SharedFill.fill
    monkeypatch.setattr(engine.SharedFill, "fill", lambda self, part: taken.append(part.size)
                        or fill(self, part))
    in_place = fastgd.LogisticRegression(**settings).fit(X, y)
    assert taken == []
    R = X.copy()
    for a in (R.data, R.indices, R.indptr):
        a.flags.writeable = False
    copied = fastgd.LogisticRegression(**settings).fit(R, y)
    assert sum(taken) == 3 * 400
    np.testing.assert_array_equal(in_place.coef_, copied.coef_)
    np.testing.assert_array_equal(in_place.intercept_, copied.intercept_)
    assert in_place.loss_curve_ == copied.loss_curve_


def test_a_piece_filled_by_two_threads_equals_one_copy():
    # the helper thread sizes and gathers the piece while this thread claims chunks too: the
    # piece is the rows of X in the order given, whoever copied which chunk
    import threading
    import fastgd.engine.sparse as engine
    from fastgd.sparse import CSR, take_rows
    for weighted in (False, True):
        X, y, _ = problem(n=3000, dtype=np.float32, index=np.int64)
        C = CSR(X.data, X.indices, X.indptr, X.shape[1])
        sw = np.linspace(0.5, 2, 3000) if weighted else np.empty(0)
        part = np.random.default_rng(1).permutation(3000)[:2500].astype(np.int32)
        shared = engine.SharedFill(C, y, sw, 2500)
        out = {}
        worker = threading.Thread(target=lambda: out.update(piece=shared.fill(part)))
        old = engine.CHUNK_ROWS
        engine.CHUNK_ROWS = 7
        try:
            worker.start()
            while worker.is_alive():
                shared.help()
            worker.join()
        finally:
            engine.CHUNK_ROWS = old
        Xp, yp, sp = out["piece"]
        xb, yb, sb = take_rows(C, y, sw, part)
        np.testing.assert_array_equal(Xp.indptr, xb.indptr)
        np.testing.assert_array_equal(Xp.indices, xb.indices)
        np.testing.assert_array_equal(Xp.data, xb.data)
        np.testing.assert_array_equal(yp, yb)
        np.testing.assert_array_equal(sp, sb)


def test_mapped_csr_bad_input(tmp_path, small_pieces):
    X, y, _ = problem(n=400)
    edits = [lambda X: X.data.__setitem__(X.nnz - 3, np.inf),
             lambda X: X.indices.__setitem__(X.nnz // 2, -1),
             lambda X: X.indptr.__setitem__(300, X.indptr[299] - 1)]
    for k, edit in enumerate(edits):
        bad = X.copy()
        edit(bad)
        fastgd.sparse.save_csr(tmp_path / str(k), bad)
        with pytest.raises(ValueError) as in_memory:
            fastgd.LogisticRegression().fit(bad, y)
        model = fastgd.LogisticRegression()
        with pytest.raises(ValueError) as mapped:
            model.fit(fastgd.sparse.load_csr(tmp_path / str(k)), y)
        assert str(mapped.value) == str(in_memory.value) and not hasattr(model, "coef_")
    np.save(tmp_path / "0" / "indices.npy", X.indices.astype(np.int64))
    with pytest.raises(TypeError, match="share one dtype"):
        fastgd.sparse.load_csr(tmp_path / "0")
