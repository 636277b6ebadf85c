"""Learning-rate schedules: the learning rate as a function of the step.

A schedule maps ``t``, the number of updates already made (0 for the first
update), to a learning rate. Every schedule is usable three ways:

* from Python: ``sched(t)``;
* by an optimizer or estimator: pass it as ``lr``;
* inside your own ``@numba.njit`` loop: ``spec = sched.spec`` is a small
  float64 array, and :func:`schedule_value` ``(spec, t)`` evaluates it in
  nopython mode.

Schedules are pure functions of ``t`` (like optax's), except
:class:`ReduceLROnPlateau`, which also listens to a metric between epochs.
:func:`warmup` joins a linear warm-up to any of them.

Example
-------
>>> import fastgd
>>> sched = fastgd.schedules.warmup(fastgd.schedules.CosineAnnealing(0.1, t_max=1000), steps=100)
>>> round(sched(0), 4), round(sched(100), 4), round(sched(1100), 4)
(0.0, 0.1, 0.0)
"""

import math

import numpy as np

from ._numba import jit
from ._validation import check_int, check_real

# spec layout: [kind, lr, warmup_steps, warmup_start_factor, a, b, c, d, milestones...]
CONSTANT, STEP, MULTISTEP, EXPONENTIAL, INVSCALING, POLYNOMIAL, COSINE, COSINE_RESTARTS = range(8)
_HEADER = 8


@jit
def _base_value(spec, t):
    kind = int(spec[0])
    lr = spec[1]
    a, b, c = spec[4], spec[5], spec[6]
    if kind == CONSTANT:
        return lr
    if kind == STEP:  # a = step_size, b = gamma
        return lr * b ** (t // int(a))
    if kind == MULTISTEP:  # b = gamma, milestones follow the header
        passed = 0
        for k in range(_HEADER, spec.size):
            if t >= spec[k]:
                passed += 1
        return lr * b ** passed
    if kind == EXPONENTIAL:  # b = gamma
        return lr * b ** t
    if kind == INVSCALING:  # a = power
        return lr / (t + 1.0) ** a
    if kind == POLYNOMIAL:  # a = total_steps, b = end_lr, c = power
        frac = min(t, a) / a
        return (lr - b) * (1.0 - frac) ** c + b
    if kind == COSINE:  # a = t_max, b = eta_min
        tt = min(t, a)
        return b + (lr - b) * (1.0 + math.cos(math.pi * tt / a)) / 2.0
    # COSINE_RESTARTS: a = t_0, b = eta_min, c = t_mult
    t_i = a
    t_cur = float(t)
    while t_cur >= t_i:
        t_cur -= t_i
        t_i *= c
    return b + (lr - b) * (1.0 + math.cos(math.pi * t_cur / t_i)) / 2.0


@jit
def schedule_value(spec, t):
    """The learning rate of schedule ``spec`` at step ``t`` (0-based), in nopython mode."""
    warm = spec[2]
    if t < warm:
        start = spec[3]
        return _base_value(spec, 0) * (start + (1.0 - start) * t / warm)
    return _base_value(spec, t - int(warm))


class Schedule:
    """Base class: a learning rate as a function of the step count ``t``.

    Subclasses fill ``self.spec`` (see :func:`schedule_value`).
    """

    def __init__(self, kind, lr, a=0.0, b=0.0, c=0.0, d=0.0, tail=()):
        lr = check_real("lr", lr, low=0.0, low_open=True)
        self.spec = np.array([kind, lr, 0.0, 0.0, a, b, c, d, *tail], dtype=np.float64)

    @property
    def base_lr(self):
        return float(self.spec[1])

    def __call__(self, t):
        t = check_int("t", t, low=0)
        return float(schedule_value(self.spec, t))

    def values(self, n):
        """The first ``n`` learning rates, as a float64 array (for plots and tests)."""
        return np.array([self(t) for t in range(n)])

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._repr_args().items())
        return f"{type(self).__name__}({args})"

    def _repr_args(self):
        return {"lr": self.base_lr}


class Constant(Schedule):
    """lr_t = lr."""

    def __init__(self, lr):
        super().__init__(CONSTANT, lr)


class StepDecay(Schedule):
    """lr_t = lr * gamma ** (t // step_size), like ``torch.optim.lr_scheduler.StepLR``."""

    def __init__(self, lr, step_size, gamma=0.1):
        self.step_size = check_int("step_size", step_size, low=1)
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)
        super().__init__(STEP, lr, a=self.step_size, b=self.gamma)

    def _repr_args(self):
        return {"lr": self.base_lr, "step_size": self.step_size, "gamma": self.gamma}


class MultiStep(Schedule):
    """lr_t = lr * gamma ** (number of milestones <= t), like ``MultiStepLR``."""

    def __init__(self, lr, milestones, gamma=0.1):
        ms = [check_int(f"milestones[{i}]", m, low=0) for i, m in enumerate(milestones)]
        if ms != sorted(ms):
            raise ValueError(f"milestones must be increasing, got {ms}")
        self.milestones = ms
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)
        super().__init__(MULTISTEP, lr, b=self.gamma, tail=ms)

    def _repr_args(self):
        return {"lr": self.base_lr, "milestones": self.milestones, "gamma": self.gamma}


class Exponential(Schedule):
    """lr_t = lr * gamma ** t, like ``ExponentialLR``."""

    def __init__(self, lr, gamma):
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)
        super().__init__(EXPONENTIAL, lr, b=self.gamma)

    def _repr_args(self):
        return {"lr": self.base_lr, "gamma": self.gamma}


class InverseScaling(Schedule):
    """lr_t = lr / (t + 1) ** power: scikit-learn's ``learning_rate='invscaling'``
    (``eta0 / pow(t, power_t)`` with its t counting from 1)."""

    def __init__(self, lr, power=0.5):
        self.power = check_real("power", power, low=0.0)
        super().__init__(INVSCALING, lr, a=self.power)

    def _repr_args(self):
        return {"lr": self.base_lr, "power": self.power}


class Polynomial(Schedule):
    """lr_t = (lr - end_lr) * (1 - min(t, total_steps) / total_steps) ** power + end_lr."""

    def __init__(self, lr, total_steps, end_lr=0.0, power=1.0):
        self.total_steps = check_int("total_steps", total_steps, low=1)
        self.end_lr = check_real("end_lr", end_lr, low=0.0)
        self.power = check_real("power", power, low=0.0)
        super().__init__(POLYNOMIAL, lr, a=self.total_steps, b=self.end_lr, c=self.power)

    def _repr_args(self):
        return {"lr": self.base_lr, "total_steps": self.total_steps,
                "end_lr": self.end_lr, "power": self.power}


class CosineAnnealing(Schedule):
    """lr_t = eta_min + (lr - eta_min) * (1 + cos(pi * min(t, t_max) / t_max)) / 2.

    Loshchilov & Hutter (2017), without restarts; it stays at eta_min after t_max.
    """

    def __init__(self, lr, t_max, eta_min=0.0):
        self.t_max = check_int("t_max", t_max, low=1)
        self.eta_min = check_real("eta_min", eta_min, low=0.0)
        super().__init__(COSINE, lr, a=self.t_max, b=self.eta_min)

    def _repr_args(self):
        return {"lr": self.base_lr, "t_max": self.t_max, "eta_min": self.eta_min}


class CosineWarmRestarts(Schedule):
    """SGDR (Loshchilov & Hutter, 2017): cosine annealing restarted after t_0,
    t_0 * t_mult, t_0 * t_mult**2, ... steps, like ``CosineAnnealingWarmRestarts``."""

    def __init__(self, lr, t_0, t_mult=1, eta_min=0.0):
        self.t_0 = check_int("t_0", t_0, low=1)
        self.t_mult = check_int("t_mult", t_mult, low=1)
        self.eta_min = check_real("eta_min", eta_min, low=0.0)
        super().__init__(COSINE_RESTARTS, lr, a=self.t_0, b=self.eta_min, c=self.t_mult)

    def _repr_args(self):
        return {"lr": self.base_lr, "t_0": self.t_0, "t_mult": self.t_mult, "eta_min": self.eta_min}


def warmup(schedule, steps, start_factor=0.0):
    """``schedule`` preceded by a linear warm-up.

    For t < steps the rate rises linearly from ``start_factor * schedule(0)``
    towards ``schedule(0)``; from t = steps on it is ``schedule(t - steps)``.
    Returns a new schedule; a number is taken as a constant schedule.
    """
    if not isinstance(schedule, Schedule):
        schedule = Constant(schedule)
    if isinstance(schedule, ReduceLROnPlateau):
        raise TypeError("schedule: warm-up cannot be joined to ReduceLROnPlateau")
    steps = check_int("steps", steps, low=0)
    start_factor = check_real("start_factor", start_factor, low=0.0, high=1.0)
    out = object.__new__(type(schedule))
    out.__dict__.update(schedule.__dict__)
    out.spec = schedule.spec.copy()
    out.spec[2] = steps
    out.spec[3] = start_factor
    out.warmup_steps = steps
    out.warmup_start_factor = start_factor
    return out


class ReduceLROnPlateau(Schedule):
    """Multiply the rate by ``factor`` when a metric stops improving.

    Unlike the other schedules it has state: call :meth:`report` once per
    epoch with the monitored value (a validation loss, by default to be
    minimised). After ``patience`` epochs without an improvement better than
    ``threshold`` (relative, or absolute with ``threshold_mode='abs'``), the
    rate drops by ``factor``, not below ``min_lr``, and ``cooldown`` epochs
    pass before counting again. Like ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
    Its ``spec`` is the current rate as a constant schedule.
    """

    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.mode = mode
        self.factor = check_real("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = check_int("patience", patience, low=0)
        self.threshold = check_real("threshold", threshold, low=0.0)
        self.threshold_mode = threshold_mode
        self.cooldown = check_int("cooldown", cooldown, low=0)
        self.min_lr = check_real("min_lr", min_lr, low=0.0)
        super().__init__(CONSTANT, lr)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.n_reductions = 0

    @property
    def lr(self):
        """The current learning rate."""
        return float(self.spec[1])

    def _is_better(self, value):
        if self.mode == "min":
            ref = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            return value < ref
        ref = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        return value > ref

    def report(self, metric):
        """Take one epoch's metric; return True when the rate was reduced."""
        value = check_real("metric", metric)
        if self._is_better(value):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new = max(self.lr * self.factor, self.min_lr)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
            if new < self.lr:
                self.spec[1] = new
                self.n_reductions += 1
                return True
        return False

    def _repr_args(self):
        return {"lr": self.lr, "mode": self.mode, "factor": self.factor, "patience": self.patience}


def as_schedule(lr, name="lr"):
    """A Schedule from a positive finite number or a Schedule (returned as is)."""
    if isinstance(lr, Schedule):
        return lr
    return Constant(check_real(name, lr, low=0.0, low_open=True))


__all__ = [
    "Schedule", "Constant", "StepDecay", "MultiStep", "Exponential", "InverseScaling",
    "Polynomial", "CosineAnnealing", "CosineWarmRestarts", "ReduceLROnPlateau",
    "warmup", "schedule_value", "as_schedule",
]
