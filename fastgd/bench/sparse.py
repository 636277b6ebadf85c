"""Section "sparse": a logistic loss-and-gradient pass over a generated click log, as CSR.

:func:`click_log` generates the benchmark's data: one-hot categorical
fields, as a click log's features look after hashing or one-hot encoding.
Against it:

* a bandwidth probe, :func:`spmv_probe`: ``X @ w`` summed, parallel over
  rows, which reads data, indices and indptr once and gathers ``w[indices]``
  (what any one-pass kernel over the same nonzeros must do at least);
* fastgd's sparse logistic loss and gradient (:data:`fastgd.losses.csr.csr_linear_kernel`);
* the same loss and gradient by scipy: ``z = X @ w + b``, ``r = (sigmoid(z) -
  y) / n``, ``g = X.T @ r``, in float32;
* :func:`shuffled_batches`: an epoch's gradient work in shuffled batches of
  256 (gather, loss rows, reset of the touched gradient entries), serial,
  without the update rule: what the mini-batch engine will build on.

It reports rows/s, and the fraction of the probe's speed each pass reaches.

Then whole fits (:func:`fit_rows`), the issue's benchmark: logistic
regression, batch 256, five epochs, L2 ``ALPHA``, side by side in one run:
``fastgd.LogisticRegression(optimizer="sgd")`` (the exact lazy SGD of
:mod:`fastgd.engine.sparse`), scikit-learn's ``SGDClassifier(loss="log_loss")``
(one row a step, its default "optimal" rate), and, where installed, Snap
ML's ``LogisticRegression(n_jobs=2)`` and Vowpal Wabbit (five passes from
its cache file). Each row reports rows/s, the objective
(1/n) sum log(1 + e^-y z) + ALPHA/2 ||w||^2 of the fitted coefficients,
evaluated the same way for all, and the growth of resident memory during
the fit (sampled every 2 ms) against the CSR's size, all of it and its
anonymous part (without file pages). Every fit, fastgd's and the peers'
alike, runs ``repeat`` times (default 3) and reports the fastest: the first
run under the memory sampler, the others without it (a thread that wakes
500 times a second takes a share of the two cores fastgd trains on, and
not of the core a single-threaded peer leaves free). fastgd's exact lazy
SGD runs again on the same CSR saved to memory-mapped files
(:func:`fastgd.sparse.load_csr`), shuffled by blocks and fully.

The default size (200,000 rows) keeps the section within a few minutes on 2
cores, compilation included; ``sparse_rows(n=1_000_000)`` is the full size.
"""

import os
import tempfile
import threading
import time

import numpy as np
from numba import prange

from .._numba import cast_like, jit, jit_parallel
from ..losses.csr import csr_linear_rows
from ..sparse import CSR, gather_rows, touched_columns
from .harness import Row, best_of, section

N, D, NNZ_PER_ROW = 1_000_000, 262_144, 40
DEFAULT_N = 200_000
BATCH = 256
PROBE_PARTS = 64
EPOCHS = 5
ALPHA = 1e-6
FASTGD_LR = 8.0  # batch 256 averages the gradient: one-hot columns need a large rate


def click_log(n=N, d=D, nnz_per_row=NNZ_PER_ROW, seed=0, dtype=np.float32, zipf=1.1,
              informative=0.05):
    """(X, y): a generated click log, X a scipy.sparse ``csr_array`` (n x d) and y in {0, 1}.

    Each row has ``nnz_per_row`` categorical fields, one-hot encoded: field
    f owns the columns ``[f * d // F, (f + 1) * d // F)`` (F = nnz_per_row)
    and a row holds a 1 in one of them. Within a field the values are
    Zipf-distributed (the value of popularity rank r has probability
    proportional to (r + 1)^-zipf, continuous inverse-transform sampling),
    and ranks are shuffled over the field's columns, so popular columns lie
    anywhere. The rows are in canonical form (indices sorted and distinct),
    int32 indices, ``dtype`` data. The label: a sparse true weight vector
    (a fraction ``informative`` of the columns nonzero, N(0, 1)), the logit
    ``X w_true - 1`` plus logistic noise, y = 1 where it is positive.

    Vectorised NumPy; nothing dense of size n x d is formed. 1M x 262,144
    with 40 a row takes a few seconds.
    """
    rng = np.random.default_rng(seed)
    fields = nnz_per_row
    width = d // fields
    if width < 1:
        raise ValueError(f"d = {d} must be at least nnz_per_row = {nnz_per_row}")
    u = rng.random((n, fields), dtype=np.float32)
    # inverse CDF of the density (r + 1)^-zipf on [0, width), rounded down to a rank
    top = np.float32((width + 1.0) ** (1.0 - zipf) - 1.0)
    ranks = ((u * top + np.float32(1.0)) ** np.float32(1.0 / (1.0 - zipf)) - np.float32(1.0))
    ranks = np.minimum(ranks.astype(np.int32), width - 1)
    value_of_rank = np.argsort(rng.random((fields, width)), axis=1).astype(np.int32)
    offsets = (np.arange(fields, dtype=np.int32) * width)
    indices = (value_of_rank[np.arange(fields)[None, :], ranks] + offsets[None, :]).ravel()
    del u, ranks
    indptr = np.arange(0, n * fields + 1, fields, dtype=np.int64)
    indptr = indptr.astype(np.int32) if n * fields < 2**31 else indptr
    data = np.ones(n * fields, dtype=dtype)
    import scipy.sparse as sp
    X = sp.csr_array((data, indices, indptr), shape=(n, d))
    w_true = np.where(rng.random(d) < informative, rng.standard_normal(d), 0.0)
    z = X @ w_true - 1.0 + rng.logistic(size=n)
    y = (z > 0).astype(dtype)
    return X, y


@jit
def _dot_rows(data, indices, indptr, lo, hi, w):
    # unsigned offsets and indices, as in fastgd.losses.csr (no wrap-around tests)
    s = 0.0
    for i in range(lo, hi):
        a = cast_like(0.0, data)
        for p in range(np.uint64(indptr[i]), np.uint64(indptr[i + 1])):
            a += data[p] * w[np.uint64(indices[p])]
        s += a
    return s


@jit_parallel
def spmv_probe(data, indices, indptr, w):
    """sum_i x_i . w, parallel over row parts: the CSR read once, w gathered once per nonzero."""
    n = indptr.size - 1
    per = (n + PROBE_PARTS - 1) // PROBE_PARTS
    partial = np.empty(PROBE_PARTS)
    for p in prange(PROBE_PARTS):
        partial[p] = _dot_rows(data, indices, indptr, p * per, min(n, (p + 1) * per), w)
    total = 0.0
    for p in range(PROBE_PARTS):
        total += partial[p]
    return total


@jit
def shuffled_batches(C, y, order, batch, w, hyper, data_b, indices_b, indptr_b, yb, g, marker,
                     touched):
    """An epoch's gradient work at batch size ``batch``, with no update: sum of the batch losses.

    Per batch: the rows ``order[a:a + batch]`` gathered into a block
    (:func:`fastgd.sparse.gather_rows`), the logistic rows' loss and gradient
    into ``g`` (:func:`fastgd.losses.csr.csr_linear_rows`), then ``g`` reset
    where the batch touched it (:func:`fastgd.sparse.touched_columns`), so
    no step costs O(d). What a mini-batch epoch on sparse rows does besides
    the update rule.
    """
    sw = y[:0]
    total = 0.0
    d = C.n_cols
    for a in range(0, order.size, batch):
        idx = order[a:a + batch]
        m = idx.size
        gather_rows(C, y, sw, idx, data_b, indices_b, indptr_b, yb, sw)
        block = CSR(data_b, indices_b, indptr_b[:m + 1], d)
        total += csr_linear_rows(w, block, yb[:m], sw, hyper, g)
        count = touched_columns(block, 0, m, marker, touched)
        for c in range(count):
            g[touched[c]] = 0.0
        g[d] = 0.0
    return total


def scipy_logistic(w, X, y):
    """The logistic loss and gradient with scipy's sparse products (float32 like X)."""
    z = X @ w[:-1] + w[-1]
    loss = np.mean(np.logaddexp(0, z) - y * z)
    r = ((0.5 * (1 + np.tanh(0.5 * z)) - y) / len(y)).astype(X.dtype)
    return loss, np.r_[X.T @ r, r.sum()]


def problem(n=DEFAULT_N, d=D, seed=0, data=None):
    """(X, y, w, call, C): the click log, a parameter vector, ``call()`` one loss pass, X's CSR.

    The loss has no penalty, as scipy's below. ``data``: an (X, y) made by
    :func:`click_log` already.
    """
    from ..losses import LOSSES, hyper_array
    from ..sparse import as_csr
    X, y = click_log(n, d, seed=seed) if data is None else data
    C = as_csr(X)
    w = (0.01 * np.random.default_rng(seed + 1).standard_normal(d + 1)).astype(X.dtype)
    grad = np.empty_like(w)
    hyper = hyper_array(0.0, 0.0, 1, 0.0, "logistic")
    sw = np.empty(0, X.dtype)
    kernel = LOSSES["logistic"].csr_kernel
    return X, y, w, (lambda: kernel(w, C, y, sw, hyper, grad)), C


@section("sparse")
def sparse_rows(n=DEFAULT_N, d=D, repeat=5):
    """The section's rows at n rows (the full benchmark: ``n=1_000_000``)."""
    from ..losses import hyper_array
    t0 = time.perf_counter()
    data = click_log(n, d)
    t_gen = time.perf_counter() - t0
    X, y, w, call, C = problem(n, d, data=data)
    shape = f"{n:,} x {d:,} f32 CSR, {NNZ_PER_ROW}/row"
    rows = []
    nbytes = C.data.nbytes + C.indices.nbytes + C.indptr.nbytes
    t_probe = best_of(lambda: spmv_probe(C.data, C.indices, C.indptr, w), repeat=repeat)
    rows.append(Row("sparse", f"X @ w once (probe), {shape}", "spmv probe", t_probe,
                    f"{n / t_probe / 1e6:.1f} M rows/s, {nbytes / t_probe / 1e9:.1f} GB/s"))
    t = best_of(call, repeat=repeat)
    loss = call()
    task = f"logistic loss+grad, {shape}"
    rows.append(Row("sparse", task, "fastgd", t,
                    f"{n / t / 1e6:.1f} M rows/s, {t_probe / t:.0%} of the probe's speed, "
                    f"loss {loss:.6f}"))
    t_sp = best_of(lambda: scipy_logistic(w, X, y), repeat=3)
    loss_sp = scipy_logistic(w, X, y)[0]
    rows.append(Row("sparse", task, "scipy (X @ w, X.T @ r)", t_sp,
                    f"{n / t_sp / 1e6:.1f} M rows/s, {t_probe / t_sp:.0%} of the probe's speed, "
                    f"loss {loss_sp:.6f}", ratio=t_sp / t))
    order = np.random.default_rng(2).permutation(n).astype(np.int32)
    cap = int(np.diff(C.indptr).max()) * BATCH
    bufs = (np.empty(cap, C.data.dtype), np.empty(cap, C.indices.dtype),
            np.empty(BATCH + 1, np.int64), np.empty(BATCH, y.dtype), np.zeros(d + 1),
            np.zeros(d, np.bool_), np.empty(min(cap, d), np.int64))
    hyper = hyper_array(0.0, 0.0, 1, 0.0, "logistic")
    t_b = best_of(lambda: shuffled_batches(C, y, order, BATCH, w, hyper, *bufs), repeat=repeat)
    rows.append(Row("sparse", f"shuffled batches of {BATCH}: gather + loss rows, {shape}",
                    "fastgd (serial)", t_b,
                    f"{n / t_b / 1e6:.1f} M rows/s; no update (the engine's part), one thread"))
    rows.append(Row("sparse", f"click_log({n:,}) generated", "numpy", t_gen))
    rows.extend(fit_rows(n, d, data=data))
    return rows


def objective(coef, intercept, X, y, alpha=ALPHA):
    """(1/n) sum_i log(1 + exp(-s_i z_i)) + alpha/2 ||coef||^2, s_i = 2 y_i - 1, in float64."""
    coef = np.asarray(coef, dtype=np.float64).ravel()
    z = X @ coef + float(intercept)
    s = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
    return float(np.mean(np.logaddexp(0.0, -s * z)) + 0.5 * alpha * coef @ coef)


def _rss():
    # (resident, resident but not file-backed or shared) bytes
    with open("/proc/self/statm") as f:
        resident, shared = (int(v) for v in f.read().split()[1:3])
    page = os.sysconf("SC_PAGE_SIZE")
    return np.array([resident, resident - shared]) * page


def _trim_heap():
    import ctypes
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc
        pass


def rss_growth(fn):
    """(result of fn(), seconds, peak growth of resident memory during it, of its anonymous
    part): bytes, sampled every 2 ms. The anonymous part leaves out file pages (a memmap's
    pages, which the OS can drop at will). Freed heap memory is handed back first
    (``malloc_trim``), so that a fit does not reuse what an earlier one freed."""
    _trim_heap()
    before = _rss()
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.wait(0.002):
            peak[0] = np.maximum(peak[0], _rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    try:
        out = fn()
    finally:
        seconds = time.perf_counter() - t0
        done.set()
        thread.join()
    peak[0] = np.maximum(peak[0], _rss())
    grown, anon = (int(v) for v in peak[0] - before)
    return out, seconds, grown, anon


#: fastgd's settings in the fits: (row name, LogisticRegression arguments)
FASTGD_FITS = (
    ("fastgd sgd lr 8 (exact lazy SGD)", dict(optimizer="sgd", lr=FASTGD_LR)),
    ("fastgd adagrad lr 0.3, sparse_updates='lazy'",
     dict(optimizer="adagrad", lr=0.3, sparse_updates="lazy")),
)


def measured(fn, repeat=1):
    """(result of fn(), seconds, growth, anonymous growth): :func:`rss_growth` of the first
    call; seconds the fastest of ``repeat`` calls, the calls after the first timed without
    the memory sampler."""
    out, seconds, grown, anon = rss_growth(fn)
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        fn()
        seconds = min(seconds, time.perf_counter() - t0)
    return out, seconds, grown, anon


def _fastgd_fit(X, y, **settings):
    import fastgd
    model = fastgd.LogisticRegression(batch_size=BATCH, max_epochs=EPOCHS, tol=None, alpha=ALPHA,
                                      random_state=0, **settings)
    model.fit(X, y)
    return model.coef_, model.intercept_[0]


def _sklearn_fit(X, y):
    from sklearn.linear_model import SGDClassifier
    model = SGDClassifier(loss="log_loss", alpha=ALPHA, max_iter=EPOCHS, tol=None,
                          random_state=0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return model.coef_, model.intercept_[0]


def _snapml_fit(X, y):
    import snapml
    # snapml's objective is the sum of the losses + regularizer/2 ||w||^2: regularizer = n alpha
    model = snapml.LogisticRegression(max_iter=EPOCHS, regularizer=ALPHA * X.shape[0], n_jobs=2,
                                      fit_intercept=True, tol=0.0)
    import scipy.sparse as sp
    model.fit(sp.csr_matrix(X), y)  # the same arrays, as the matrix type it takes
    return model.coef_, np.ravel(model.intercept_)[0]


def _vw_lines(X, y):
    # VW text: label, then "|f index:value ..." per row
    indptr, indices, data = X.indptr, X.indices, X.data
    for i in range(X.shape[0]):
        a, b = indptr[i], indptr[i + 1]
        feats = " ".join(f"{j}:{v:g}" for j, v in zip(indices[a:b], data[a:b]))
        yield f"{1 if y[i] > 0 else -1} |f {feats}\n"


def _vw_fit(X, y, folder):
    """Five passes from VW's cache (written by a first, untimed pass); objective from its
    predictions on the training rows."""
    from vowpalwabbit import Workspace
    text = os.path.join(folder, "train.vw")
    cache = os.path.join(folder, "train.cache")
    with open(text, "w") as f:
        f.writelines(_vw_lines(X, y))
    bits = int(np.ceil(np.log2(X.shape[1]))) + 1
    common = f"--loss_function logistic -b {bits} --l2 {ALPHA} --quiet --noconstant"
    Workspace(f"{common} -d {text} --cache_file {cache} -k").finish()  # writes the cache

    def fit():
        vw = Workspace(f"{common} --cache_file {cache} --passes {EPOCHS} --holdout_off "
                       f"-f {folder}/model.vw")
        vw.finish()

    return fit, text


def _vw_objective(folder, text, y):
    from vowpalwabbit import Workspace
    vw = Workspace(f"-i {folder}/model.vw -t --quiet")
    z = []
    with open(text) as f:
        for line in f:
            z.append(vw.predict(line))
    vw.finish()
    z = np.asarray(z, dtype=np.float64)
    s = 2.0 * np.asarray(y, dtype=np.float64) - 1.0
    return float(np.mean(np.logaddexp(0.0, -s * z)))


def _mapped_fits(X, y, row, repeat):
    # fastgd's first setting on the same CSR saved and memory-mapped (load_csr), per shuffle
    # mode; the files are fresh, so in the page cache
    from ..sparse import load_csr, save_csr
    name, settings = FASTGD_FITS[0]
    with tempfile.TemporaryDirectory() as folder:
        save_csr(folder, X)
        save_csr(os.path.join(folder, "warm"), X[:BATCH * 2])
        for shuffle in MAPPED_SHUFFLES:
            fit = dict(settings, shuffle=shuffle)
            _fastgd_fit(load_csr(os.path.join(folder, "warm")), y[:BATCH * 2], **fit)
            Xm = load_csr(folder)
            (coef, b), t, *grown = measured(lambda: _fastgd_fit(Xm, y, **fit), repeat)
            row(f"{name.split(' (')[0]}, memory-mapped CSR, shuffle={shuffle!r}", t,
                objective(coef, b, X, y), grown, peer=False)
            del Xm


#: the shuffle modes of the memory-mapped fits (the in-memory fits take "full")
MAPPED_SHUFFLES = ("blocks", "full")


def fit_rows(n=DEFAULT_N, d=D, data=None, peers=("sklearn", "snapml", "vowpalwabbit"),
             mapped=True, repeat=3):
    """The fits' rows (see the module docstring) on the click log of n rows.

    A peer's ratio is its time over that of the fastest in-memory fastgd fit
    that reached an objective no worse than the peer's (else the first
    fastgd fit). ``mapped``: also fastgd's first fit on the CSR in
    memory-mapped files (:func:`fastgd.sparse.load_csr`), for each of
    ``MAPPED_SHUFFLES``. The resident memory figures are the peak growth
    during the fit, of all pages and of the anonymous ones (no file pages); the times the
    fastest of ``repeat`` runs of each fit (:func:`measured`).
    """
    X, y = click_log(n, d) if data is None else data
    C_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    shape = f"{n:,} x {d:,} f32 CSR, {NNZ_PER_ROW}/row"
    task = f"LogisticRegression fit, batch {BATCH}, {EPOCHS} epochs, {shape}"
    rows = []
    ours = []

    def row(impl, seconds, value, grown, what="", peer=True):
        ratio = float("nan")
        if peer:
            good = [t for t, v in ours if v <= value + 1e-6]
            ratio = seconds / (min(good) if good else ours[0][0])
        total, anon = grown
        rows.append(Row("sparse", task, impl, seconds,
                        f"{n * EPOCHS / seconds / 1e6:.2f} M rows/s, objective {value:.5f}, "
                        f"RSS +{total / 2**20:.0f} MB ({total / C_bytes:.0%} of the CSR's "
                        f"{C_bytes / 2**20:.0f} MB; anonymous +{anon / 2**20:.0f} MB){what}",
                        ratio=ratio))

    for name, settings in FASTGD_FITS:
        _fastgd_fit(X[:BATCH * 2], y[:BATCH * 2], **settings)  # compile (or load) off the clock
        (coef, b), t, *grown = measured(lambda: _fastgd_fit(X, y, **settings), repeat)
        value = objective(coef, b, X, y)
        row(name, t, value, grown, peer=False)
        ours.append((t, value))
    if mapped:
        _mapped_fits(X, y, row, repeat)
    if "sklearn" in peers:
        (coef, b), t, *grown = measured(lambda: _sklearn_fit(X, y), repeat)
        row("scikit-learn SGDClassifier", t, objective(coef, b, X, y), grown)
    if "snapml" in peers:
        try:
            (coef, b), t, *grown = measured(lambda: _snapml_fit(X, y), repeat)
            row("snapml LogisticRegression (n_jobs=2)", t, objective(coef, b, X, y), grown)
        except ImportError:
            pass
    if "vowpalwabbit" in peers:
        try:
            import vowpalwabbit  # noqa: F401
        except ImportError:
            return rows
        with tempfile.TemporaryDirectory() as folder:
            fit, text = _vw_fit(X, y, folder)
            _, t, *grown = measured(fit, repeat)
            value = _vw_objective(folder, text, y)
            row("vowpalwabbit (5 passes, cache)", t, value, grown,
                " (objective without the L2 term)")
    return rows
