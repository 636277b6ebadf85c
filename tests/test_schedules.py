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
