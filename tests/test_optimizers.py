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
    np.testing.assert_allclose(x, want, **TOL[dtype])
    for name, value in want_state.items():
        got = opt.state[name]
        if isinstance(value, np.ndarray):
            assert got.dtype == dtype, name
            np.testing.assert_allclose(got, value, **TOL[dtype], err_msg=name)
        else:
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
