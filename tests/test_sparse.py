"""Sparse X: as_csr's rules, the CSR loss kernels against scipy and dense kernels, batch pieces.

The reference is ``ref_loss`` with a scipy.sparse X (its products by scipy,
in float64); the dense kernels on ``X.toarray()`` are a second opinion. The
test matrices have empty rows and unsorted, duplicate column indices.
Two (data, index) dtype pairs cover float32/float64 and int32/int64
without compiling all four; the softmax kernel (the same loops) is compiled
for one of them only (each parallel kernel takes seconds to compile).
"""

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import fastgd
from fastgd import losses
from fastgd._numba import PARALLEL_THRESHOLD
from fastgd.losses.csr import csr_logits, csr_scatter
from fastgd.sparse import CSR, as_csr, check_csr, gather_rows, rows_nnz, touched_columns

from .reference_engine import ref_loss
from .threads import numba_threads

LOSSES = ["squared_error", "huber", "logistic", "hinge", "softmax"]
K = 3
DTYPES = [(np.float64, np.int32), (np.float32, np.int64)]
DTYPE_IDS = ["f64-i32", "f32-i64"]
CASES = [(name, *types) for name in LOSSES for types in DTYPES
         if name != "softmax" or types == DTYPES[1]]


def _csr(n=200, d=30, per_row=6, dtype=np.float64, index=np.int32, seed=0, kind="array"):
    """A CSR with empty rows (every 7th) and unsorted, duplicate indices (drawn at random)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 2 * per_row, n)
    lengths[::7] = 0
    indptr = np.r_[0, np.cumsum(lengths)].astype(index)
    indices = rng.integers(0, d, indptr[-1]).astype(index)
    data = rng.standard_normal(indptr[-1]).astype(dtype)
    make = sp.csr_array if kind == "array" else sp.csr_matrix
    X = make((data, indices, indptr), shape=(n, d))
    X.indices, X.indptr = X.indices.astype(index), X.indptr.astype(index)  # csr_matrix may narrow
    return X


def _targets(name, n, dtype, seed=1):
    rng = np.random.default_rng(seed)
    y = {"softmax": rng.integers(0, K, n), "logistic": rng.integers(0, 2, n),
         "hinge": 2 * rng.integers(0, 2, n) - 1}.get(name, 3 * rng.standard_normal(n))
    return y.astype(dtype), rng.uniform(0.5, 2.0, n).astype(dtype)


def _w(name, d, fit_intercept, dtype, seed=2):
    k = K if name == "softmax" else 1
    return np.random.default_rng(seed).standard_normal(k * (d + fit_intercept)).astype(dtype)


def _call(name, w, X, y, **kw):
    if name == "huber":
        kw.setdefault("delta", 0.8)
    return getattr(losses, name)(w, X, y, **kw)


def _extra(name):
    return {"huber": 0.8, "softmax": float(K)}.get(name, 0.0)


def _arrays(X):
    return [X.data.copy(), X.indices.copy(), X.indptr.copy()]


def _unchanged(X, copies):
    return all(a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
               for a, b in zip([X.data, X.indices, X.indptr], copies))


def test_test_matrices_are_not_canonical():
    X = _csr()
    assert not X.copy().has_canonical_format and (np.diff(X.indptr) == 0).any()


# --- as_csr ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["array", "matrix"])
@pytest.mark.parametrize("dtype, index", DTYPES, ids=DTYPE_IDS)
def test_csr_is_used_as_it_is(kind, dtype, index):
    X = _csr(dtype=dtype, index=index, kind=kind)
    C = as_csr(X)
    assert C.data is X.data and C.indices is X.indices and C.indptr is X.indptr
    assert C.n_cols == X.shape[1] and C.indices.dtype == index


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil"])
def test_other_formats_are_converted_once(fmt):
    X = _csr()
    Y = X.asformat(fmt)
    copies = [a.copy() for a in (Y.data, getattr(Y, "indices", Y.data))] if fmt != "lil" else []
    C = as_csr(Y)
    assert C.data.dtype == np.float64
    np.testing.assert_array_equal(sp.csr_array((C.data, C.indices, C.indptr), shape=X.shape)
                                  .toarray(), X.toarray())
    if fmt == "csc":
        assert not np.shares_memory(C.data, Y.data)
        assert all(np.array_equal(a, b) for a, b in zip(copies, (Y.data, Y.indices)))


def test_mixed_index_dtypes_are_brought_to_one():
    X = _csr(index=np.int32)
    C = check_csr(CSR(X.data, X.indices, X.indptr.astype(np.int64), X.shape[1]))
    assert C.indices.dtype == C.indptr.dtype == np.int64
    assert C.data is X.data and X.indices.dtype == np.int32


def _set(attr, pos, value):
    def edit(X):
        arr = getattr(X, attr).copy()
        arr[pos] = value
        setattr(X, attr, arr)
        return X
    return edit


def _decrease(X):
    p = X.indptr.copy()
    p[10] = p[11] + 1   # the first position where indptr goes down is then 11
    X.indptr = p
    return X


def _attr(attr, fn):
    def edit(X):
        setattr(X, attr, fn(getattr(X, attr)))
        return X
    return edit


BAD = [
    ("nan", _set("data", 5, np.nan), ValueError, r"X\.data\[5\] = nan is not finite \(row \d+"),
    ("inf", _set("data", 7, -np.inf), ValueError, r"X\.data\[7\] = -inf is not finite"),
    ("index too large", _set("indices", 17, 30), ValueError,
     r"X\.indices\[17\] = 30 is out of range for 30 columns \(row \d+\)"),
    ("negative index", _set("indices", 3, -1), ValueError, r"X\.indices\[3\] = -1 is out of range"),
    ("indptr decreases", _decrease, ValueError, r"X\.indptr decreases at 11"),
    ("indptr past nnz", _set("indptr", 10, 10**6), ValueError,
     r"X\.indptr\[10\] = 1000000 is outside \[0, \d+\]"),
    ("indptr end", lambda X: _set("indptr", -1, X.indptr[-1] - 1)(X), ValueError,
     r"must equal the number of stored entries"),
    ("indptr start", _set("indptr", 0, 1), ValueError, r"X\.indptr\[0\] must be 0, got 1"),
    ("indptr length", _attr("indptr", lambda a: a[:-1]), ValueError,
     r"X\.indptr must have n_rows \+ 1 = 201 entries, got 200"),
    ("indices length", _attr("indices", lambda a: a[:-1]), ValueError,
     r"X\.indices has \d+ entries but X\.data has \d+"),
    ("index dtype", _attr("indices", lambda a: a.astype(np.int16)), TypeError,
     r"X\.indices must have dtype int32 or int64, got int16"),
    ("int data", lambda X: X.astype(np.int64), TypeError, r"X must have dtype float32 or float64"),
    ("complex data", lambda X: X.astype(np.complex128), TypeError,
     r"float32 or float64, got complex128"),
    ("zero columns", lambda X: sp.csr_array((200, 0)), ValueError, r"at least 1 row and 1 column"),
    ("zero rows", lambda X: sp.csr_array((0, 30)), ValueError, r"at least 1 row and 1 column"),
    ("1-D", lambda X: sp.coo_array(np.ones(200)), ValueError, r"X must be 2-D"),
]


@pytest.mark.parametrize("edit, exc, match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_sparse_input_is_named_and_left_alone(edit, exc, match):
    X = edit(_csr())
    copies = _arrays(X) if hasattr(X, "indptr") else None
    y = np.zeros(200)
    with pytest.raises(exc, match=match):
        losses.logistic(np.zeros(31), X, y)
    with pytest.raises(exc, match=match.replace(r"X\.", r"A\.").replace("X must", "A must")):
        as_csr(X, name="A")
    if copies is not None:
        assert _unchanged(X, copies)


def test_not_sparse_is_a_type_error():
    with pytest.raises(TypeError, match="scipy.sparse matrix or array, got ndarray"):
        as_csr(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="numpy.ndarray or a scipy.sparse"):
        losses.logistic(np.zeros(4), [[0.0] * 3] * 2, [0, 1])


def test_parallel_validation_reports_the_first_problem_whatever_the_threads():
    # above PARALLEL_THRESHOLD entries the parts are checked in parallel: the
    # first bad position of each kind wins, and a broken indptr wins over both
    X = _csr(n=60_000, d=50, per_row=8, seed=3)
    assert X.nnz > 2 * PARALLEL_THRESHOLD
    data, indices = X.data.copy(), X.indices.copy()
    indices[[X.nnz - 5, 200_000, 100_001]] = 50
    data[[X.nnz - 1, 7]] = np.nan
    bad = sp.csr_array((data, indices, X.indptr), shape=X.shape)
    for threads in (numba.get_num_threads(), 1):
        with numba_threads(threads):
            with pytest.raises(ValueError, match=r"X\.indices\[100001\] = 50"):
                as_csr(bad)
            with pytest.raises(ValueError, match=r"X\.data\[7\] = nan"):
                as_csr(sp.csr_array((data, X.indices, X.indptr), shape=X.shape))
            ptr = X.indptr.copy()
            ptr[40_000] = -3
            with pytest.raises(ValueError, match=r"X\.indptr\[40000\] = -3 is outside"):
                as_csr(sp.csr_array((data, indices, ptr), shape=X.shape))


# --- the loss kernels -----------------------------------------------------------------------

@pytest.mark.parametrize("name, dtype, index", CASES,
                         ids=[f"{c[0]}-{np.dtype(c[1]).name}-{np.dtype(c[2]).name}" for c in CASES])
def test_matches_scipy_reference_and_dense_kernel(name, dtype, index):
    X = _csr(dtype=dtype, index=index)
    copies = _arrays(X)
    y, sw = _targets(name, X.shape[0], dtype)
    f64 = dtype == np.float64
    rtol = 1e-10 if f64 else 1e-5
    for fit_intercept, weighted in ((True, True), (False, False)):
        w = _w(name, X.shape[1], fit_intercept, dtype)
        kw = dict(sample_weight=sw if weighted else None, l2=0.3, l1=0.05,
                  fit_intercept=fit_intercept)
        f, g = _call(name, w, X, y, **kw)
        assert g.dtype == dtype
        want_f, want_g = ref_loss(name, w, X, y, sw if weighted else None, 0.3, 0.05,
                                  fit_intercept, _extra(name))
        assert f == pytest.approx(want_f, rel=rtol)
        np.testing.assert_allclose(g, want_g, rtol=rtol, atol=rtol * np.abs(want_g).max())
        fd, gd = _call(name, w, X.toarray(), y, **kw)
        assert f == pytest.approx(fd, rel=rtol)
        np.testing.assert_allclose(g, gd, rtol=rtol, atol=rtol * np.abs(gd).max())
    assert _unchanged(X, copies)


@pytest.mark.parametrize("shape", [(1, 5), (1, 3), (50, 1)], ids=["one row", "one empty row",
                                                                  "one column"])
@pytest.mark.parametrize("name", LOSSES)
def test_edge_shapes(name, shape):
    n, d = shape
    dtype, index = DTYPES[1]
    rng = np.random.default_rng(n + d)
    if shape == (1, 3):
        X = sp.csr_array((1, 3), dtype=dtype)
    else:
        X = sp.random_array(shape, density=0.5, format="csr", rng=rng, dtype=dtype)
    X.indices, X.indptr = X.indices.astype(index), X.indptr.astype(index)
    y, sw = _targets(name, n, dtype)
    w = _w(name, d, True, dtype)
    f, g = _call(name, w, X, y, sample_weight=sw)
    want_f, want_g = ref_loss(name, w, X, y, sw, extra=_extra(name))
    assert f == pytest.approx(want_f, rel=1e-6)
    np.testing.assert_allclose(g, want_g, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["logistic", "softmax"])
def test_parallel_kernel_is_bit_identical_to_one_thread(name):
    dtype, index = DTYPES[1]
    X = _csr(n=40_000, d=40, per_row=5, dtype=dtype, index=index, seed=4)
    y, sw = _targets(name, X.shape[0], dtype)
    w = _w(name, X.shape[1], True, dtype)
    f2, g2 = _call(name, w, X, y, sample_weight=sw)
    with numba_threads(1):
        f1, g1 = _call(name, w, X, y, sample_weight=sw)
    assert f1 == f2 and np.array_equal(g1, g2)
    want_f, want_g = ref_loss(name, w, X, y, sw, extra=_extra(name))
    assert f2 == pytest.approx(want_f, rel=1e-5)
    np.testing.assert_allclose(g2, want_g, rtol=1e-4, atol=1e-5 * np.abs(want_g).max())


def test_make_objective_and_minimize_on_csr():
    X = _csr(n=300, d=8, seed=5)
    y = (X @ np.linspace(-1, 1, 8) > 0).astype(np.float64)
    fun = losses.make_objective("logistic", X, y, l2=1e-2)
    dense = losses.make_objective("logistic", X.toarray(), y, l2=1e-2)
    w = _w("logistic", 8, True, np.float64)
    np.testing.assert_allclose(fun(w)[1], dense(w)[1], rtol=1e-10)
    res = fastgd.minimize(lambda v: tuple(np.copy(a) for a in fun(v)), np.zeros(9), jac=True,
                          method="adam", lr=0.1, maxiter=400)
    want = fastgd.minimize(lambda v: tuple(np.copy(a) for a in dense(v)), np.zeros(9),
                           jac=True, method="adam", lr=0.1, maxiter=400)
    assert res.fun < 0.9 * np.log(2)
    np.testing.assert_allclose(res.x, want.x, rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match="X.indices"):
        losses.make_objective("logistic", _set("indices", 0, 99)(X.copy()), y)


def test_logits_and_scatter_of_a_row_range():
    X = _csr(n=100, d=20, seed=6)
    C = as_csr(X)
    rng = np.random.default_rng(0)
    w = rng.standard_normal(20)
    lo, m = 13, 40
    z = np.empty(m)
    csr_logits(C, lo, m, w, 0.5, z)
    np.testing.assert_allclose(z, X[lo:lo + m] @ w + 0.5, rtol=1e-12, atol=1e-12)
    r = rng.standard_normal(m)
    r[::5] = 0.0
    g = np.full(20, 2.0)
    csr_scatter(C, lo, m, r, g)
    np.testing.assert_allclose(g, 2.0 + X[lo:lo + m].T @ r, rtol=1e-12, atol=1e-12)


# --- the batch pieces -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype, index", DTYPES, ids=DTYPE_IDS)
def test_gather_rows_matches_fancy_indexing(dtype, index):
    X = _csr(n=500, dtype=dtype, index=index, seed=7)
    C = as_csr(X)
    copies = _arrays(X)
    y, sw = _targets("squared_error", 500, dtype)
    order = np.random.default_rng(1).permutation(500).astype(np.int32)
    a, b = 17, 300
    idx = order[a:b]
    nnz = rows_nnz(C.indptr, idx)
    assert nnz == np.diff(X.indptr)[idx].sum()
    data, indices = np.empty(nnz + 3, dtype), np.empty(nnz + 3, index)
    indptr = np.empty(b - a + 1, np.int64)
    yb, sb = np.empty(b - a, dtype), np.empty(b - a, dtype)
    assert gather_rows(C, y, sw, idx, data, indices, indptr, yb, sb) == nnz
    want = X[idx]
    np.testing.assert_array_equal(indptr, want.indptr)
    np.testing.assert_array_equal(indices[:nnz], want.indices)
    np.testing.assert_array_equal(data[:nnz], want.data)
    np.testing.assert_array_equal(yb, y[idx])
    np.testing.assert_array_equal(sb, sw[idx])
    # unit weights: sout is not touched; the same order gives the same bits
    sb2 = np.full(b - a, 7.0, dtype)
    data2 = np.empty_like(data)
    gather_rows(C, y, sw[:0], idx, data2, indices, indptr, yb, sb2)
    assert (sb2 == 7.0).all() and np.array_equal(data2[:nnz], data[:nnz])
    assert _unchanged(X, copies)


def test_touched_columns_first_touch_order_and_marker_reset():
    X = _csr(n=100, d=30, seed=8)
    C = as_csr(X)
    marker = np.zeros(30, dtype=np.bool_)
    out = np.empty(31, dtype=np.int64)   # min(nnz, n_cols + 1)
    for lo, hi in ((0, 100), (20, 27), (7, 8), (3, 3)):
        count = touched_columns(C, lo, hi, marker, out)
        want = list(dict.fromkeys(X.indices[X.indptr[lo]:X.indptr[hi]].tolist()))
        assert out[:count].tolist() == want
        assert not marker.any()


def test_partition_keeps_the_buffers_small_and_covers_the_rows():
    # a part zeroes and merges a buffer of w.size: with many columns the
    # parts are fewer, and all of them stay within BUFFER_BYTES unless each
    # part has 32 times its buffer's size in work
    from fastgd.losses.csr import BUFFER_BYTES, csr_partition
    for n, d, per_row, size in ((10**6, 2**18, 40, 2**18 + 1), (2 * 10**5, 2**18, 40, 2**18 + 1),
                                (10**6, 2**18, 40, 10 * (2**18 + 1)), (1000, 20, 3, 21)):
        indptr = np.arange(n + 1, dtype=np.int64) * per_row
        C = CSR(np.empty(0), np.empty(0, np.int64), indptr, d)
        parts, per, work = csr_partition(C, np.empty(size))
        assert (parts - 1) * per < n <= parts * per
        assert work >= n * per_row
        part_work = (per + 1) * (work // n)   # rows per part are rounded down
        assert parts * size * 8 <= BUFFER_BYTES or part_work >= 32 * size
        assert parts == 1 or part_work >= 4 * size
