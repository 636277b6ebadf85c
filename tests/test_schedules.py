"""Schedules: closed forms, the nopython path, torch's lr_scheduler, bad input."""

import math

import numba
import numpy as np
import pytest

from fastgd import schedules as S

T = np.arange(40)


def _sgdr(t, t_0, t_mult):
    """Cosine from 1 to 0 over periods t_0, t_0 * t_mult, ... (restarts at 0, 5, 15, 35)."""
    period = t_0
    while t >= period:
        t -= period
        period *= t_mult
    return (1 + math.cos(math.pi * t / period)) / 2


CLOSED_FORMS = [
    (S.Constant(0.3), lambda t: 0.3),
    (S.StepDecay(1.0, step_size=7, gamma=0.5), lambda t: 0.5 ** (t // 7)),
    (S.MultiStep(1.0, [3, 10, 25], gamma=0.1), lambda t: 0.1 ** sum(t >= m for m in (3, 10, 25))),
    (S.Exponential(2.0, gamma=0.9), lambda t: 2.0 * 0.9 ** t),
    (S.InverseScaling(0.5, power=0.25), lambda t: 0.5 / (t + 1) ** 0.25),
    (S.Polynomial(1.0, total_steps=20, end_lr=0.1, power=2.0),
     lambda t: 0.9 * (1 - min(t, 20) / 20) ** 2 + 0.1),
    (S.CosineAnnealing(1.0, t_max=30, eta_min=0.01),
     lambda t: 0.01 + 0.99 * (1 + math.cos(math.pi * min(t, 30) / 30)) / 2),
    (S.CosineWarmRestarts(1.0, t_0=5, t_mult=2), lambda t: _sgdr(t, t_0=5, t_mult=2)),
    (S.warmup(S.Exponential(1.0, gamma=0.9), steps=5, start_factor=0.2),
     lambda t: (0.2 + 0.8 * t / 5) if t < 5 else 0.9 ** (t - 5)),
]


@pytest.mark.parametrize("sched,formula", CLOSED_FORMS, ids=lambda v: type(v).__name__)
def test_closed_form(sched, formula):
    for t in T:
        assert sched(int(t)) == pytest.approx(formula(int(t)), rel=1e-12, abs=1e-15)


@numba.njit
def _values_in_nopython(spec, n):
    out = np.empty(n)
    for t in range(n):
        out[t] = S.schedule_value(spec, t)
    return out


@pytest.mark.parametrize("sched,formula", CLOSED_FORMS, ids=lambda v: type(v).__name__)
def test_nopython_matches_python(sched, formula):
    np.testing.assert_array_equal(_values_in_nopython(sched.spec, len(T)), sched.values(len(T)))


def test_reduce_on_plateau():
    sched = S.ReduceLROnPlateau(1.0, factor=0.5, patience=2, min_lr=0.2)
    metrics = [5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    lrs = []
    for m in metrics:
        sched.report(m)
        lrs.append(sched(0))
    assert lrs == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]


def test_warmup_of_a_number_and_bad_warmups():
    sched = S.warmup(0.1, steps=10)
    assert sched(0) == 0.0 and sched(5) == pytest.approx(0.05) and sched(10) == 0.1
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        S.warmup(S.ReduceLROnPlateau(0.1), steps=3)
    with pytest.raises(ValueError, match="start_factor"):
        S.warmup(0.1, steps=3, start_factor=2.0)


@pytest.mark.parametrize("make,fragment,exc", [
    (lambda: S.Constant(0.0), "lr", ValueError),
    (lambda: S.Constant(float("nan")), "lr", ValueError),
    (lambda: S.StepDecay(0.1, step_size=0), "step_size", ValueError),
    (lambda: S.StepDecay(0.1, step_size=1.5), "step_size", TypeError),
    (lambda: S.MultiStep(0.1, [5, 3]), "milestones", ValueError),
    (lambda: S.Exponential(0.1, gamma=-1), "gamma", ValueError),
    (lambda: S.Polynomial(0.1, total_steps=0), "total_steps", ValueError),
    (lambda: S.CosineAnnealing(0.1, t_max=0), "t_max", ValueError),
    (lambda: S.CosineWarmRestarts(0.1, t_0=10, t_mult=0), "t_mult", ValueError),
    (lambda: S.ReduceLROnPlateau(0.1, mode="up"), "mode", ValueError),
    (lambda: S.ReduceLROnPlateau(0.1, factor=1.0), "factor", ValueError),
    (lambda: S.Constant(0.1)(-1), "t", ValueError),
])
def test_bad_input(make, fragment, exc):
    with pytest.raises(exc, match=fragment):
        make()


def test_matches_torch_schedulers():
    torch = pytest.importorskip("torch")
    lrs = torch.optim.lr_scheduler
    pairs = [
        (S.StepDecay(1.0, 7, 0.5), lambda o: lrs.StepLR(o, 7, 0.5)),
        (S.MultiStep(1.0, [3, 10, 25], 0.1), lambda o: lrs.MultiStepLR(o, [3, 10, 25], 0.1)),
        (S.Exponential(1.0, 0.9), lambda o: lrs.ExponentialLR(o, 0.9)),
        (S.CosineAnnealing(1.0, 30, 0.01), lambda o: lrs.CosineAnnealingLR(o, 30, 0.01)),
        (S.CosineWarmRestarts(1.0, 5, 2), lambda o: lrs.CosineAnnealingWarmRestarts(o, 5, 2)),
        (S.Polynomial(1.0, 20, power=2.0), lambda o: lrs.PolynomialLR(o, 20, 2.0)),
    ]
    for ours, make in pairs:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=1.0)
        theirs = make(opt)
        for t in range(31):  # torch's cosine keeps oscillating past t_max; ours holds
            assert ours(t) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-12), (ours, t)
            opt.step()
            theirs.step()


# -- schedules from outside: specs and objects are checked, configs rebuild them ------------------

def _plateau_after_reports():
    sched = S.ReduceLROnPlateau(1.0, factor=0.5, patience=1, cooldown=2)
    for m in [5, 5, 5, 5, 4]:
        sched.report(m)
    return sched


ALL = [sched for sched, _ in CLOSED_FORMS] + [
    S.CosineWarmRestarts(1.0, t_0=4), S.ReduceLROnPlateau(0.1), _plateau_after_reports()]


@pytest.mark.parametrize("sched", ALL, ids=lambda s: type(s).__name__)
def test_config_rebuilds_the_same_schedule(sched):
    import json

    config = S.schedule_config(sched)
    config = json.loads(json.dumps(config))          # plain data
    rebuilt = S.schedule_from_config(config)
    assert type(rebuilt) is type(sched)
    np.testing.assert_array_equal(rebuilt.spec, sched.spec)
    assert S.schedule_config(rebuilt) == S.schedule_config(sched)
    np.testing.assert_array_equal(S.check_schedule(sched).spec, sched.spec)
    assert S.check_spec(sched.spec) is sched.spec


def _spec(sched, **slots):
    spec = sched.spec.copy()
    for i, v in slots.items():
        spec[int(i[1:])] = v
    return spec


BAD_SPECS = [
    (_spec(S.CosineWarmRestarts(0.1, t_0=3), s6=0.0), "t_mult"),        # hung forever
    (_spec(S.CosineWarmRestarts(0.1, t_0=3), s6=1.5), "t_mult"),
    (_spec(S.Constant(0.1), s1=-0.1), "lr"),                            # gradient ascent
    (_spec(S.Constant(0.1), s1=float("nan")), "lr"),
    (S.Constant(0.1).spec[:7], "at least 8"),                           # read past the end
    (np.zeros(0), "at least 8"),
    (_spec(S.Constant(0.1), s0=9.0), "kind"),
    (_spec(S.Constant(0.1), s0=0.5), "kind"),
    (_spec(S.StepDecay(0.1, 4), s4=0.0), "step_size"),                  # t // 0
    (_spec(S.StepDecay(0.1, 4), s4=2.5), "step_size"),
    (_spec(S.StepDecay(0.1, 4), s4=2.0 ** 60), "step_size"),
    (_spec(S.CosineAnnealing(0.1, 10), s4=0.0), "t_max"),               # division by 0
    (_spec(S.Polynomial(0.1, 10), s6=-1.0), "power"),
    (_spec(S.Constant(0.1), s5=0.3), "unused"),
    (_spec(S.Constant(0.1), s2=-1.0), "steps"),
    (_spec(S.Constant(0.1), s2=3.0, s3=2.0), "start_factor"),
    (np.r_[S.MultiStep(0.1, [3, 5]).spec[:8], 5.0, 3.0], "milestones"),
    (np.r_[S.Constant(0.1).spec, 3.0], "unused"),
]


@pytest.mark.parametrize("spec,fragment", BAD_SPECS, ids=[b[1] + str(i) for i, b in
                                                          enumerate(BAD_SPECS)])
def test_check_spec_refuses_what_schedule_value_cannot_take(spec, fragment):
    with pytest.raises(ValueError, match=fragment):
        S.check_spec(spec)


def test_check_spec_refuses_other_arrays():
    for bad in (S.Constant(0.1).spec.astype(np.float32), S.Constant(0.1).spec.reshape(2, 4),
                list(S.Constant(0.1).spec)):
        with pytest.raises(TypeError, match="float64"):
            S.check_spec(bad)


def test_check_schedule_refuses_arguments_that_disagree_with_the_spec():
    step = S.StepDecay(0.1, step_size=4)
    step.step_size = 3                       # it would be saved as 3 and computes with 4
    with pytest.raises(ValueError, match="does not match its arguments"):
        S.check_schedule(step)
    plateau = S.ReduceLROnPlateau(0.1)
    plateau.factor = 2.0
    with pytest.raises(ValueError, match="factor"):
        S.check_schedule(plateau)
    with pytest.raises(TypeError, match="Schedule"):
        S.check_schedule(0.1)


@pytest.mark.parametrize("state,fragment", [
    (dict(lr=0.2), "lr"), (dict(lr=0.0), "lr"), (dict(best=float("nan")), "best"),
    (dict(best=-math.inf), "best"), (dict(num_bad_epochs=11), "num_bad_epochs"),
    (dict(num_bad_epochs=-1), "num_bad_epochs"), (dict(cooldown_counter=1), "cooldown_counter"),
    (dict(n_reductions=1.5), "n_reductions"),
])
def test_plateau_state_is_validated(state, fragment):
    config = S.schedule_config(S.ReduceLROnPlateau(0.1))
    config["state"].update(state)
    with pytest.raises((TypeError, ValueError), match=fragment):
        S.schedule_from_config(config)


@pytest.mark.parametrize("config,fragment", [
    ({"class": "os.system", "args": {}, "warmup": None, "state": None}, "unknown schedule"),
    ({"class": "Constant", "args": {"lr": 0.1, "foo": 1}, "warmup": None, "state": None}, "foo"),
    ({"class": "Constant", "args": {"lr": 0.1}, "warmup": None, "state": {"lr": 1}}, "no state"),
    ({"class": "ReduceLROnPlateau", "args": {"lr": 0.1}, "warmup": {"steps": 2,
                                                                    "start_factor": 0.0},
      "state": None}, "warm-up"),
    ({"class": "Constant", "args": {"lr": 0.1}}, "entries"),
])
def test_schedule_from_config_refuses(config, fragment):
    with pytest.raises((TypeError, ValueError), match=fragment):
        S.schedule_from_config(config)


def test_equal_restart_periods_take_no_loop_per_period():
    """t_mult=1 used to loop once per period: at t = 10**15 that is a hang. The value at t
    is the value at t mod t_0."""
    sched = S.CosineWarmRestarts(1.0, t_0=7)
    for t in (10 ** 15, 10 ** 15 + 3, S.MAX_STEPS):
        assert sched(t) == sched(t % 7)
    assert S.CosineWarmRestarts(1.0, t_0=7, t_mult=2)(S.MAX_STEPS) == pytest.approx(
        _sgdr(S.MAX_STEPS, 7, 2), abs=1e-6)
    with pytest.raises(ValueError, match="t"):
        sched(S.MAX_STEPS + 1)
