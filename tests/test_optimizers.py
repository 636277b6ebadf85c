"""Every optimizer against its NumPy reference, plus the optimizer contract.

Driven by the table in ``registry.py``.
"""

import numpy as np
import pytest

import fastgd
from fastgd import kernels
from fastgd._numba import PARALLEL_THRESHOLD

from .reference import REFERENCES
from .registry import BAD_INPUTS, CASES, COMMON_BAD
from .threads import numba_threads

N_STEPS = 60
SIZES = {"serial": 37, "parallel": PARALLEL_THRESHOLD + 12345}
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}  # values are O(1)


def _gradients(n, dtype, steps=N_STEPS, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for _ in range(steps)]


def _run_reference(case, theta, grads):
    ref = REFERENCES[case.name]
    state = {}
    for t, g in enumerate(grads, start=1):
        theta = ref(theta, g, state, t, **case.kwargs)
    return theta, state


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matches_reference(case, dtype, size):
    theta0 = np.random.default_rng(1).standard_normal(size).astype(dtype)
    grads = _gradients(size, dtype)
    x = theta0.copy()
    opt = case.cls(x, **case.kwargs)
    for g in grads:
        opt.step(g)
    want, want_state = _run_reference(case, theta0.copy(), grads)
    assert x.dtype == dtype
    assert all(v.dtype == dtype for v in opt.state.values() if isinstance(v, np.ndarray))
    np.testing.assert_allclose(x, want, **TOL[dtype])
    for name, value in want_state.items():
        got = opt.state[name]
        if isinstance(value, np.ndarray):
            assert got.dtype == dtype, name
            np.testing.assert_allclose(got, value, **TOL[dtype], err_msg=name)
        elif dtype == np.float64 or not case.rule.n_sums:
            # (scalars summed from float32 data, Prodigy's dot product with cancellation,
            # carry its rounding amplified: the float64 run checks them)
            assert got == pytest.approx(value, rel=1e-12), name


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_state_dict_lockstep(case):
    grads = _gradients(50, np.float64, steps=20, seed=3)
    a = np.linspace(-1, 1, 50)
    opt_a = case.cls(a, **case.kwargs)
    for g in grads[:7]:
        opt_a.step(g)
    saved = opt_a.state_dict()
    b = a.copy()
    opt_b = case.cls(b, lr=1.0)  # other hyperparameters come from the state dict
    opt_b.load_state_dict(saved)
    for g in grads[7:]:
        opt_a.step(g)
        opt_b.step(g)
        np.testing.assert_array_equal(a, b)
    assert opt_a.step_count == opt_b.step_count == 20
    # the saved dict is a copy: stepping did not change it
    assert saved["step_count"] == 7


@pytest.mark.parametrize("name", sorted(fastgd.OPTIMIZERS))
def test_bad_hyperparameters(name):
    cls = fastgd.OPTIMIZERS[name]
    for kwargs, exc, fragment in COMMON_BAD + BAD_INPUTS[name]:
        x = np.ones(4)
        with pytest.raises(exc, match=fragment):
            cls(x, **{"lr": 0.1, **kwargs})
        np.testing.assert_array_equal(x, 1.0)


@pytest.mark.parametrize("name", sorted(fastgd.OPTIMIZERS))
def test_bad_params_and_grad(name):
    cls = fastgd.OPTIMIZERS[name]
    with pytest.raises(ValueError, match="params must be 1-D"):
        cls(np.ones((2, 2)), lr=0.1)
    with pytest.raises(ValueError, match="params must be C-contiguous"):
        cls(np.ones(8)[::2], lr=0.1)
    with pytest.raises(TypeError, match="params must have dtype float32 or float64"):
        cls(np.ones(4, dtype=np.int64), lr=0.1)
    with pytest.raises(TypeError, match="params must be a numpy.ndarray"):
        cls([1.0, 2.0], lr=0.1)
    ro = np.ones(4)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="params must be writeable"):
        cls(ro, lr=0.1)

    x = np.ones(4)
    opt = cls(x, lr=0.1)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state.items()}
    for grad, exc, fragment in [
        (np.ones(5), ValueError, "grad has shape"),
        (np.ones(4, dtype=np.float32), TypeError, "grad has dtype float32"),
        ([1.0, 1.0, 1.0, 1.0], TypeError, "grad must be a numpy.ndarray"),
    ]:
        with pytest.raises(exc, match=fragment):
            opt.step(grad)
    np.testing.assert_array_equal(x, 1.0)
    assert opt.step_count == 0
    for k, v in before.items():
        np.testing.assert_array_equal(opt.state[k], v)


def test_strided_grad_is_accepted_and_not_modified():
    x = np.zeros(4)
    g = np.arange(8.0)[::2]
    fastgd.SGD(x, lr=1.0).step(g)
    np.testing.assert_array_equal(x, -np.arange(8.0)[::2])
    np.testing.assert_array_equal(g, [0, 2, 4, 6])


def test_hyperparameters_change_between_steps_and_are_validated():
    x = np.ones(3)
    opt = fastgd.SGD(x, lr=0.1, momentum=0.9, nesterov=True)
    opt.step(np.ones(3))
    opt.lr = 0.5
    assert opt.lr == 0.5
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1
    assert opt.lr == 0.5
    with pytest.raises(ValueError, match="nesterov"):
        opt.momentum = 0.0
    assert opt.momentum == 0.9
    before = x.copy()
    opt.step(np.ones(3))
    ref_state = {"momentum_buffer": np.ones(3)}
    want = REFERENCES["sgd"](before, np.ones(3), ref_state, 2, 0.5, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(x, want, rtol=1e-14)


@pytest.mark.parametrize("bad", [
    "not a dict",
    {"optimizer": "SGD"},
])
def test_bad_state_dict_changes_nothing(bad):
    x = np.ones(3)
    opt = fastgd.Adam(x, lr=0.1)
    opt.step(np.ones(3))
    saved = opt.state_dict()
    with pytest.raises((TypeError, ValueError), match="state_dict"):
        opt.load_state_dict(bad)
    assert opt.state_dict()["step_count"] == saved["step_count"]


def test_mismatched_state_dict():
    opt = fastgd.Adam(np.ones(3), lr=0.1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="state_dict is from Adam, not SGD"):
        fastgd.SGD(np.ones(3), lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameters"):
        fastgd.Adam(np.ones(4), lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameters"):
        fastgd.Adam(np.ones(3, dtype=np.float32), lr=0.1).load_state_dict(sd)
    broken = opt.state_dict()
    broken["state"]["exp_avg"] = np.ones(7)
    with pytest.raises(ValueError, match="exp_avg"):
        fastgd.Adam(np.ones(3), lr=0.1).load_state_dict(broken)
    broken = opt.state_dict()
    broken["hyperparams"]["betas"] = (2.0, 0.5)
    target = fastgd.Adam(np.ones(3), lr=0.1)
    with pytest.raises(ValueError, match="beta"):
        target.load_state_dict(broken)
    assert target.betas == (0.9, 0.999)


def test_nonfinite_guard_skips_and_counts():
    x = np.ones(3)
    opt = fastgd.Adam(x, lr=0.1, skip_nonfinite=True)
    assert opt.step(np.array([1.0, np.nan, 1.0])) is False
    assert opt.step(np.array([1.0, np.inf, 1.0])) is False
    np.testing.assert_array_equal(x, 1.0)
    assert opt.n_skipped == 2 and opt.step_count == 0
    assert opt.step(np.ones(3)) is True
    assert opt.step_count == 1


def test_nonfinite_flows_through_without_guard():
    x = np.ones(3)
    fastgd.SGD(x, lr=0.1).step(np.array([1.0, np.nan, -np.inf]))
    assert x[0] == 0.9 and np.isnan(x[1]) and x[2] == np.inf


def test_clipping_matches_reference_and_keeps_grad():
    x = np.zeros(4)
    g = np.array([3.0, 4.0, 0.0, -20.0])
    opt = fastgd.SGD(x, lr=1.0, clip_value=10.0, clip_norm=5.0)
    opt.step(g)
    clipped = np.clip(g, -10, 10)
    clipped *= 5.0 / (np.linalg.norm(clipped) + 1e-6)
    np.testing.assert_allclose(x, -clipped, rtol=1e-12)
    np.testing.assert_array_equal(g, [3.0, 4.0, 0.0, -20.0])


REDUCING = [c for c in CASES if c.rule.n_sums]


@pytest.mark.parametrize("case", REDUCING, ids=[c.id for c in REDUCING])
def test_reduction_stage_has_the_same_bits_on_every_path(case):
    # the parallel step with 1 and 2 threads and the serial apply (minimize, small fused
    # epochs) sum the same chunks in the same order
    n = PARALLEL_THRESHOLD * 2 + 777
    theta0 = np.random.default_rng(3).standard_normal(n).astype(np.float32)
    grads = _gradients(n, np.float32, steps=5)
    results = []
    for threads in (1, 2):
        with numba_threads(threads):
            x = theta0.copy()
            opt = case.cls(x, **case.kwargs)
            for g in grads:
                opt.step(g)
            results.append((x, opt.state_dict()["state"]))
    x = theta0.copy()
    opt = case.cls(x, **case.kwargs)
    s, sc = opt.kernel_state()
    for t, g in enumerate(grads, start=1):
        case.rule.apply(x, g, s, sc, t, case.kwargs.get("lr", case.rule.lr), opt._h)
    opt.store_scalars(sc)
    results.append((x, opt.state_dict()["state"]))
    for x_other, state in results[1:]:
        np.testing.assert_array_equal(x_other, results[0][0])
        for name, value in state.items():
            np.testing.assert_array_equal(value, results[0][1][name], err_msg=name)


def test_clip_norm_is_deterministic_across_chunks():
    x = np.random.default_rng(0).standard_normal(PARALLEL_THRESHOLD * 3)
    want = np.sqrt(np.sum(x.astype(np.float64) ** 2))
    assert np.sqrt(kernels.sum_of_squares(x)) == pytest.approx(want, rel=1e-12)
    assert kernels.sum_of_squares(x) == kernels.sum_of_squares(x)


def test_schedule_as_lr():
    x = np.zeros(1)
    sched = fastgd.schedules.StepDecay(1.0, step_size=2, gamma=0.5)
    opt = fastgd.SGD(x, lr=sched)
    lrs = []
    for _ in range(5):
        lrs.append(opt.current_lr)
        opt.step(np.array([-1.0]))
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert x[0] == pytest.approx(sum(lrs))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_second_call_does_not_recompile(dtype):
    for cls in (fastgd.Adam, fastgd.SGD):
        opt = cls(np.ones(10, dtype), lr=0.1)
        opt.step(np.ones(10, dtype))
        counts = {k: len(getattr(kernels, k).signatures) for k in kernels.__all__
                  if hasattr(getattr(kernels, k), "signatures")}
        for size in (10, 20, PARALLEL_THRESHOLD + 1):
            opt2 = cls(np.ones(size, dtype), lr=0.1)
            opt2.step(np.ones(size, dtype))
            opt2.step(np.ones(size, dtype))
        after = {k: len(getattr(kernels, k).signatures) for k in counts}
        assert after == counts


QUADRATIC_SCALES = np.array([1.0, 10.0, 100.0])


@pytest.mark.parametrize("name,lr,steps", [
    ("sgd", 0.009, 3000), ("adagrad", 0.5, 3000), ("rmsprop", 0.01, 3000),
    ("adam", 0.05, 3000), ("adamw", 0.05, 3000), ("adamax", 0.05, 3000),
    ("nadam", 0.05, 3000), ("radam", 0.05, 3000), ("asgd", 0.009, 3000),
])
def test_converges_on_ill_conditioned_quadratic(name, lr, steps):
    # f(x) = 0.5 * sum(s_i x_i^2), condition number 100
    kwargs = {"weight_decay": 0.0} if name == "adamw" else {}
    x = np.array([1.0, 1.0, 1.0])
    opt = fastgd.OPTIMIZERS[name](x, lr=fastgd.schedules.Exponential(lr, 0.999)
                                  if name in ("adam", "adamw", "adamax", "nadam", "radam", "rmsprop")
                                  else lr, **kwargs)
    for _ in range(steps):
        opt.step(QUADRATIC_SCALES * x)
    assert np.abs(x).max() < 1e-3, x


def _rosenbrock_grad(x):
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])


@pytest.mark.parametrize("name,kwargs", [
    ("sgd", dict(lr=1e-3, momentum=0.9)),
    ("adam", dict(lr=fastgd.schedules.CosineAnnealing(0.02, t_max=20000, eta_min=1e-4))),
    ("nadam", dict(lr=fastgd.schedules.CosineAnnealing(0.02, t_max=20000, eta_min=1e-4))),
])
def test_converges_on_rosenbrock(name, kwargs):
    x = np.array([-1.2, 1.0])
    opt = fastgd.OPTIMIZERS[name](x, **kwargs)
    for _ in range(20000):
        opt.step(_rosenbrock_grad(x))
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-3)


# -- state dicts from outside: validated whole, then installed --------------------------------------

# what each rule's kernel assumes of its state (written here from the equations, not read
# from fastgd): arrays allocated on first use may be empty; these must not be negative
LAZY_STATE = {"sgd": {"momentum_buffer"}, "rmsprop": {"grad_avg", "momentum_buffer"},
              "adam": {"max_exp_avg_sq"}, "adamw": {"max_exp_avg_sq"}}
NONNEGATIVE_STATE = {"adagrad": {"sum"}, "rmsprop": {"square_avg"},
                     "adam": {"exp_avg_sq", "max_exp_avg_sq"},
                     "adamw": {"exp_avg_sq", "max_exp_avg_sq"}, "adamax": {"exp_inf"},
                     "nadam": {"exp_avg_sq"}, "radam": {"exp_avg_sq"}}
ALL_ON = {"sgd": dict(momentum=0.9), "rmsprop": dict(centered=True, momentum=0.5),
          "adam": dict(amsgrad=True), "adamw": dict(amsgrad=True)}


def _stepped(name, n=5):
    x = np.linspace(-1.0, 1.0, n)
    opt = fastgd.OPTIMIZERS[name](x, lr=0.1, **ALL_ON.get(name, {}))
    for t in range(3):
        opt.step(np.sin(np.arange(n) + t + 1.0))
    return opt


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            _assert_same_state(a[k], b[k])
        elif isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        elif isinstance(a[k], fastgd.schedules.Schedule):
            np.testing.assert_array_equal(a[k].spec, b[k].spec, err_msg=k)
        else:
            assert a[k] == b[k] and type(a[k]) is type(b[k]), k


@pytest.mark.parametrize("name", sorted(fastgd.OPTIMIZERS))
def test_state_arrays_must_have_the_size_the_kernel_writes(name):
    """The issue's segfault: a state array of the wrong size (size 0 passed) was written
    past its end by the next step. Every array must be full size; a lazy one may be
    empty (it is allocated on the next step, as for a fresh optimizer). Without a
    layout the factors of a matrix (Adafactor's row_var, col_var) must be empty."""
    sd = _stepped(name).state_dict()
    shape = {s.name: s.shape for s in fastgd.OPTIMIZERS[name].rule.state}
    for key, value in sd["state"].items():
        if not isinstance(value, np.ndarray):
            continue
        want = 0 if shape[key] in ("rows", "cols") else 5
        for size in {0, 4, 6, 10} - {want} - ({0} if key in LAZY_STATE.get(name, ()) else set()):
            bad = _stepped(name).state_dict()
            bad["state"][key] = np.ones(size)
            target = _stepped(name)
            before = target.state_dict()
            with pytest.raises(ValueError, match=f"state\\['{key}'\\].*size {want}"):
                target.load_state_dict(bad)
            _assert_same_state(target.state_dict(), before)
        for wrong in (value.astype(np.float32), value.reshape(-1, 1), list(value)):
            bad = _stepped(name).state_dict()
            bad["state"][key] = wrong
            with pytest.raises(ValueError, match=key):
                _stepped(name).load_state_dict(bad)
    for key in LAZY_STATE.get(name, ()):
        lazy = _stepped(name).state_dict()
        lazy["state"][key] = np.zeros(0)
        opt = _stepped(name)
        opt.load_state_dict(lazy)
        want = opt.params.copy()
        ref_state = {k: v.copy() if isinstance(v, np.ndarray) else v
                     for k, v in lazy["state"].items() if k != key}
        want = REFERENCES[name](want, np.ones(5), ref_state, opt.step_count + 1, 0.1,
                                **ALL_ON.get(name, {}))
        opt.step(np.ones(5))
        np.testing.assert_allclose(opt.params, want, rtol=1e-12)


def _edit(name, **changes):
    sd = _stepped(name).state_dict()
    for path, value in changes.items():
        *where, key = path.split("__")
        node = sd
        for w in where:
            node = node[w]
        node[key] = value
    return sd


def _with_negative(name, key):
    sd = _stepped(name).state_dict()
    sd["state"][key] = sd["state"][key].copy()
    sd["state"][key][2] = -1e-3
    return sd


REFUSED = [
    ("adam", lambda: _edit("adam", skip_nonfinite="no"), TypeError, "skip_nonfinite"),
    ("adam", lambda: _edit("adam", skip_nonfinite=1), TypeError, "skip_nonfinite"),
    ("adam", lambda: _edit("adam", n_skipped=-1), ValueError, "n_skipped"),
    ("adam", lambda: _edit("adam", step_count=2 ** 63), ValueError, "step_count"),
    ("adam", lambda: _edit("adam", step_count=2.0), ValueError, "step_count"),
    ("adam", lambda: _edit("adam", size=5.5), ValueError, "parameters"),
    ("adam", lambda: _edit("adam", extra=1), ValueError, "unexpected keys"),
    ("adam", lambda: _edit("adam", state__exp_avg=np.full(5, np.nan)), ValueError, "NaN"),
    ("adam", lambda: _edit("adam", hyperparams__lr=-0.1), ValueError, "lr"),
    ("adam", lambda: _edit("adam", hyperparams__betas=(0.9, 1.0)), ValueError, "beta"),
    ("nadam", lambda: _edit("nadam", state__mu_product=1.5), ValueError, "mu_product"),
    ("nadam", lambda: _edit("nadam", state__mu_product="0.5"), TypeError, "mu_product"),
    ("asgd", lambda: _edit("asgd", state__mu=0.0), ValueError, "mu"),
    ("asgd", lambda: _edit("asgd", state__eta=-1.0), ValueError, "eta"),
    ("asgd", lambda: _edit("asgd", state__eta=float("inf")), ValueError, "eta"),
    # centered RMSprop takes sqrt(square_avg - grad_avg**2): a variance, never negative
    ("rmsprop", lambda: _edit("rmsprop", state__grad_avg=np.full(5, 3.0)), ValueError,
     "grad_avg"),
    # a schedule whose spec hangs (restart multiplier 0) or runs gradient ascent
    ("sgd", lambda: _edit("sgd", hyperparams__lr=_tampered(fastgd.schedules.CosineWarmRestarts(
        0.1, t_0=3), 6, 0.0)), ValueError, "lr"),
    ("sgd", lambda: _edit("sgd", hyperparams__lr=_tampered(fastgd.schedules.Constant(0.1), 1,
                                                           -0.1)), ValueError, "lr"),
] + [(name, (lambda n=name, k=key: _with_negative(n, k)), ValueError, "negative")
     for name, keys in sorted(NONNEGATIVE_STATE.items()) for key in sorted(keys)]


def _tampered(schedule, index, value):
    schedule.spec[index] = value
    return schedule


@pytest.mark.parametrize("name,make,exc,match", REFUSED,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(REFUSED)])
def test_refused_state_dict_changes_nothing(name, make, exc, match):
    """Validated whole before anything changes: the issue saw a refused dict leave
    skip_nonfinite='no', a negative n_skipped or a negative second moment behind."""
    target = _stepped(name)
    before = target.state_dict()
    bad = make()
    with pytest.raises(exc, match=match):
        target.load_state_dict(bad)
    _assert_same_state(target.state_dict(), before)


def test_steps_from_several_threads_are_serialised():
    """step holds a lock: no update is lost, and with a constant gradient the result is the
    same bits as the same number of steps from one thread."""
    import threading

    n = 100_000           # serial kernels long enough (they release the GIL) to overlap
    g = np.full(n, 0.5)
    serial = np.zeros(n)
    opt = fastgd.NAdam(serial, lr=1e-3)
    for _ in range(400):
        opt.step(g)
    shared = np.zeros(n)
    opt = fastgd.NAdam(shared, lr=1e-3)
    threads = [threading.Thread(target=lambda: [opt.step(g) for _ in range(100)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert opt.step_count == 400
    np.testing.assert_array_equal(shared, serial)


def test_optimizer_copies_and_pickles_have_their_own_lock():
    import copy
    import pickle

    opt = _stepped("adam")
    for other in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        assert other._lock is not opt._lock
        other.step(np.ones(5))
        assert other.step_count == opt.step_count + 1


def test_unknown_argument_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="foo"):
        fastgd.Adam(np.ones(3), foo=1)


def test_unknown_optimizer_param_is_a_type_error_naming_it():
    X = np.random.default_rng(0).standard_normal((20, 2))
    with pytest.raises(TypeError, match="foo"):
        fastgd.LinearRegression(optimizer_params={"foo": 1}, max_epochs=1).fit(X, X[:, 0])
