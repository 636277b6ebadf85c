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

A spec is trusted by :func:`schedule_value` (it runs in nopython mode, without
checks). Specs made by the constructors are valid; one from elsewhere (a
file, a state dict, your own code) is checked by :func:`check_spec`, and a
schedule object by :func:`check_schedule`. :func:`schedule_config` and
:func:`schedule_from_config` turn a schedule into plain data (its
constructor's arguments, its warm-up and, for ReduceLROnPlateau, its state)
and back through the constructors: this is how model files store them.

Example
-------
>>> import fastgd
>>> sched = fastgd.schedules.warmup(fastgd.schedules.CosineAnnealing(0.1, t_max=1000), steps=100)
>>> round(sched(0), 4), round(sched(100), 4), round(sched(1100), 4)
(0.0, 0.1, 0.0)
"""

import copy
import math
import numbers

import numpy as np

from ._numba import jit
from ._validation import check_int, check_real

# spec layout: [kind, lr, warmup_steps, warmup_start_factor, a, b, c, d, milestones...]
CONSTANT, STEP, MULTISTEP, EXPONENTIAL, INVSCALING, POLYNOMIAL, COSINE, COSINE_RESTARTS = range(8)
_HEADER = 8
#: step counts (and every integer argument stored in a spec) stay below 2**53, where
#: float64 holds integers exactly and int64 arithmetic cannot overflow
MAX_STEPS = 2 ** 53


def check_steps(name, value, low=0):
    """An integer in [low, MAX_STEPS], as int (for step counts and spec integers)."""
    v = check_int(name, value, low=low)
    if v > MAX_STEPS:
        raise ValueError(f"Invalid {name}: {v} (must be <= 2**53)")
    return v


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
    if c == 1.0:  # equal periods: a remainder, not one loop turn per period
        t_cur = float(t % int(a))
    else:  # periods grow at least twofold: under 64 turns for any t < 2**63
        t_cur = float(t)
        while t_cur >= t_i:
            t_cur -= t_i
            t_i *= c
    return b + (lr - b) * (1.0 + math.cos(math.pi * t_cur / t_i)) / 2.0


@jit
def schedule_value(spec, t):
    """The learning rate of schedule ``spec`` at step ``t`` (0-based), in nopython mode.

    ``spec`` is trusted: pass one made by a constructor, or checked by
    :func:`check_spec`. For such a spec and 0 <= t <= MAX_STEPS the value is
    computed in a bounded number of operations, without reading past the spec.
    """
    warm = spec[2]
    if t < warm:
        start = spec[3]
        return _base_value(spec, 0) * (start + (1.0 - start) * t / warm)
    return _base_value(spec, t - int(warm))


class Schedule:
    """Base class: a learning rate as a function of the step count ``t``.

    Subclasses fill ``self.spec`` (see :func:`schedule_value`) and return their
    constructor's arguments from ``_args()`` (what :func:`schedule_config`
    stores and the constructor rebuilds from).
    """

    def __init__(self, kind, lr, a=0.0, b=0.0, c=0.0, d=0.0, tail=()):
        lr = check_real("lr", lr, low=0.0, low_open=True)
        self.spec = np.array([kind, lr, 0.0, 0.0, a, b, c, d, *tail], dtype=np.float64)

    @property
    def base_lr(self):
        return float(self.spec[1])

    def __call__(self, t):
        t = check_steps("t", t)
        return float(schedule_value(self.spec, t))

    def values(self, n):
        """The first ``n`` learning rates, as a float64 array (for plots and tests)."""
        return np.array([self(t) for t in range(n)])

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{type(self).__name__}({args})"

    def _args(self):
        return {"lr": self.base_lr}


class Constant(Schedule):
    """lr_t = lr."""

    def __init__(self, lr):
        super().__init__(CONSTANT, lr)


class StepDecay(Schedule):
    """lr_t = lr * gamma ** (t // step_size), like ``torch.optim.lr_scheduler.StepLR``."""

    def __init__(self, lr, step_size, gamma=0.1):
        self.step_size = check_steps("step_size", step_size, low=1)
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)
        super().__init__(STEP, lr, a=self.step_size, b=self.gamma)

    def _args(self):
        return {"lr": self.base_lr, "step_size": self.step_size, "gamma": self.gamma}


class MultiStep(Schedule):
    """lr_t = lr * gamma ** (number of milestones <= t), like ``MultiStepLR``."""

    def __init__(self, lr, milestones, gamma=0.1):
        if isinstance(milestones, (str, bytes, dict)):
            raise TypeError(f"milestones must be a sequence of integers, got {milestones!r}")
        ms = [check_steps(f"milestones[{i}]", m) for i, m in enumerate(milestones)]
        if ms != sorted(ms):
            raise ValueError(f"milestones must be increasing, got {ms}")
        self.milestones = ms
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)
        super().__init__(MULTISTEP, lr, b=self.gamma, tail=ms)

    def _args(self):
        return {"lr": self.base_lr, "milestones": list(self.milestones), "gamma": self.gamma}


class Exponential(Schedule):
    """lr_t = lr * gamma ** t, like ``ExponentialLR``."""

    def __init__(self, lr, gamma):
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)
        super().__init__(EXPONENTIAL, lr, b=self.gamma)

    def _args(self):
        return {"lr": self.base_lr, "gamma": self.gamma}


class InverseScaling(Schedule):
    """lr_t = lr / (t + 1) ** power: scikit-learn's ``learning_rate='invscaling'``
    (``eta0 / pow(t, power_t)`` with its t counting from 1)."""

    def __init__(self, lr, power=0.5):
        self.power = check_real("power", power, low=0.0)
        super().__init__(INVSCALING, lr, a=self.power)

    def _args(self):
        return {"lr": self.base_lr, "power": self.power}


class Polynomial(Schedule):
    """lr_t = (lr - end_lr) * (1 - min(t, total_steps) / total_steps) ** power + end_lr."""

    def __init__(self, lr, total_steps, end_lr=0.0, power=1.0):
        self.total_steps = check_steps("total_steps", total_steps, low=1)
        self.end_lr = check_real("end_lr", end_lr, low=0.0)
        self.power = check_real("power", power, low=0.0)
        super().__init__(POLYNOMIAL, lr, a=self.total_steps, b=self.end_lr, c=self.power)

    def _args(self):
        return {"lr": self.base_lr, "total_steps": self.total_steps,
                "end_lr": self.end_lr, "power": self.power}


class CosineAnnealing(Schedule):
    """lr_t = eta_min + (lr - eta_min) * (1 + cos(pi * min(t, t_max) / t_max)) / 2.

    Loshchilov & Hutter (2017), without restarts; it stays at eta_min after t_max.
    """

    def __init__(self, lr, t_max, eta_min=0.0):
        self.t_max = check_steps("t_max", t_max, low=1)
        self.eta_min = check_real("eta_min", eta_min, low=0.0)
        super().__init__(COSINE, lr, a=self.t_max, b=self.eta_min)

    def _args(self):
        return {"lr": self.base_lr, "t_max": self.t_max, "eta_min": self.eta_min}


class CosineWarmRestarts(Schedule):
    """SGDR (Loshchilov & Hutter, 2017): cosine annealing restarted after t_0,
    t_0 * t_mult, t_0 * t_mult**2, ... steps, like ``CosineAnnealingWarmRestarts``."""

    def __init__(self, lr, t_0, t_mult=1, eta_min=0.0):
        self.t_0 = check_steps("t_0", t_0, low=1)
        self.t_mult = check_steps("t_mult", t_mult, low=1)
        self.eta_min = check_real("eta_min", eta_min, low=0.0)
        super().__init__(COSINE_RESTARTS, lr, a=self.t_0, b=self.eta_min, c=self.t_mult)

    def _args(self):
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
    steps = check_steps("steps", steps)
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
    Its ``spec`` is the current rate as a constant schedule; ``initial_lr``
    is the rate it started from.
    """

    _STATE = ("lr", "best", "num_bad_epochs", "cooldown_counter", "n_reductions")

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
        self.initial_lr = self.base_lr
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

    def _args(self):
        return {"lr": self.initial_lr, "mode": self.mode, "factor": self.factor,
                "patience": self.patience, "threshold": self.threshold,
                "threshold_mode": self.threshold_mode, "cooldown": self.cooldown,
                "min_lr": self.min_lr}

    def _state(self):
        return {"lr": self.lr, "best": self.best, "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter, "n_reductions": self.n_reductions}

    def _set_state(self, state):
        """Install the dynamic state ``state`` (as from ``_state()``), validated whole first."""
        if not isinstance(state, dict) or set(state) != set(self._STATE):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"ReduceLROnPlateau state must have the entries {list(self._STATE)}, "
                             f"got {got}")
        lr = check_real("ReduceLROnPlateau state lr", state["lr"], low=0.0, low_open=True,
                        high=self.initial_lr)
        best = state["best"]
        if isinstance(best, (bool, np.bool_)) or not isinstance(best, numbers.Real):
            raise TypeError(f"ReduceLROnPlateau state best must be a real number, got {best!r}")
        best = float(best)
        if math.isnan(best) or best == (-math.inf if self.mode == "min" else math.inf):
            raise ValueError(f"Invalid ReduceLROnPlateau state best: {best!r} (mode {self.mode!r})")
        bad = check_int("ReduceLROnPlateau state num_bad_epochs", state["num_bad_epochs"], low=0)
        if bad > self.patience:
            raise ValueError(f"Invalid ReduceLROnPlateau state num_bad_epochs: {bad} "
                             f"(must be <= patience = {self.patience})")
        cool = check_int("ReduceLROnPlateau state cooldown_counter", state["cooldown_counter"],
                         low=0)
        if cool > self.cooldown:
            raise ValueError(f"Invalid ReduceLROnPlateau state cooldown_counter: {cool} "
                             f"(must be <= cooldown = {self.cooldown})")
        n = check_int("ReduceLROnPlateau state n_reductions", state["n_reductions"], low=0)
        self.spec[1] = lr
        self.best, self.num_bad_epochs, self.cooldown_counter, self.n_reductions = best, bad, cool, n


def as_schedule(lr, name="lr"):
    """A Schedule from a positive finite number or a Schedule (returned as is)."""
    if isinstance(lr, Schedule):
        return lr
    return Constant(check_real(name, lr, low=0.0, low_open=True))


# -- schedules from outside: plain data, rebuilt through the constructors -----------------------

_CLASSES = {cls.__name__: cls for cls in (Constant, StepDecay, MultiStep, Exponential,
                                          InverseScaling, Polynomial, CosineAnnealing,
                                          CosineWarmRestarts, ReduceLROnPlateau)}
_CONFIG_KEYS = ("class", "args", "warmup", "state")


def _integral(x):
    """``x`` as an int when it is an integer-valued float (spec slots hold integers as floats)."""
    x = float(x)
    return int(x) if math.isfinite(x) and x.is_integer() else x


def schedule_config(schedule):
    """A fastgd schedule as plain data: ``{"class", "args", "warmup", "state"}``.

    ``args`` are its constructor's arguments, ``warmup`` is ``{"steps",
    "start_factor"}`` or None, ``state`` the dynamic state of a
    ReduceLROnPlateau (else None). :func:`schedule_from_config` rebuilds it.
    TypeError for a schedule class that is not one of this module's.
    """
    cls = type(schedule)
    if _CLASSES.get(cls.__name__) is not cls:
        raise TypeError(f"only fastgd's schedules ({', '.join(_CLASSES)}) can be stored as "
                        f"data, not {cls.__name__}")
    spec = schedule.spec
    warm = None
    if spec[2] != 0 or spec[3] != 0:
        warm = {"steps": _integral(spec[2]), "start_factor": float(spec[3])}
    state = schedule._state() if isinstance(schedule, ReduceLROnPlateau) else None
    return {"class": cls.__name__, "args": schedule._args(), "warmup": warm, "state": state}


def schedule_from_config(config):
    """The schedule described by ``config`` (as from :func:`schedule_config`), built through
    its constructor, :func:`warmup` and ReduceLROnPlateau's state check: every argument is
    validated as when you write it. ValueError/TypeError naming the problem."""
    if not isinstance(config, dict) or set(config) != set(_CONFIG_KEYS):
        got = sorted(config) if isinstance(config, dict) else type(config).__name__
        raise ValueError(f"a schedule config has the entries {list(_CONFIG_KEYS)}, got {got}")
    name, args = config["class"], config["args"]
    if not isinstance(name, str) or name not in _CLASSES:
        raise ValueError(f"unknown schedule {name!r} (known: {', '.join(_CLASSES)})")
    if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
        raise TypeError(f"the arguments of schedule {name} must be a dict of names, got {args!r}")
    schedule = _CLASSES[name](**args)
    warm = config["warmup"]
    if warm is not None:
        if not isinstance(warm, dict) or set(warm) != {"steps", "start_factor"}:
            raise ValueError(f"the warm-up of schedule {name} must be None or "
                             f"{{'steps', 'start_factor'}}, got {warm!r}")
        schedule = warmup(schedule, warm["steps"], warm["start_factor"])
    state = config["state"]
    if isinstance(schedule, ReduceLROnPlateau):
        schedule._set_state(state)
    elif state is not None:
        raise ValueError(f"schedule {name} has no state, got {state!r}")
    return schedule


def _same_spec(a, b):
    return (isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == b.shape
            and np.array_equal(a, b))


def _from_spec(spec):
    """The schedule a spec describes, through the constructors (the spec alone, no object)."""
    kind, lr = _integral(spec[0]), spec[1]
    a, b, c = spec[4], spec[5], spec[6]
    build = {
        CONSTANT: lambda: Constant(lr),
        STEP: lambda: StepDecay(lr, _integral(a), b),
        MULTISTEP: lambda: MultiStep(lr, [_integral(m) for m in spec[_HEADER:]], b),
        EXPONENTIAL: lambda: Exponential(lr, b),
        INVSCALING: lambda: InverseScaling(lr, a),
        POLYNOMIAL: lambda: Polynomial(lr, _integral(a), b, c),
        COSINE: lambda: CosineAnnealing(lr, _integral(a), b),
        COSINE_RESTARTS: lambda: CosineWarmRestarts(lr, _integral(a), _integral(c), b),
    }
    if kind not in build:
        raise ValueError(f"spec[0] = {spec[0]!r} is not a schedule kind (0 to {len(build) - 1})")
    schedule = build[kind]()
    if spec[2] != 0 or spec[3] != 0:
        schedule = warmup(schedule, _integral(spec[2]), spec[3])
    return schedule


def check_spec(spec, name="spec"):
    """``spec`` if :func:`schedule_value` may be given it, else ValueError/TypeError.

    A valid spec is one a constructor makes: a 1-D float64 array of size 8
    (more for MultiStep's milestones), a known kind, every argument in the
    range its constructor accepts, integers where integers belong, and zeros
    in the slots the kind does not use. It is checked by rebuilding the
    schedule from the spec through the constructors and comparing.
    """
    if not isinstance(spec, np.ndarray) or spec.dtype != np.float64 or spec.ndim != 1:
        raise TypeError(f"{name} must be a 1-D float64 array, got "
                        f"{getattr(spec, 'dtype', type(spec).__name__)} "
                        f"of shape {getattr(spec, 'shape', '?')}")
    if spec.size < _HEADER:
        raise ValueError(f"{name} must have at least {_HEADER} entries, got {spec.size}")
    try:
        rebuilt = _from_spec(spec)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not a valid schedule spec: {exc}") from None
    if not _same_spec(spec, rebuilt.spec):
        raise ValueError(f"{name} is not a valid schedule spec: its unused or integer slots "
                         f"hold {spec.tolist()}, a {type(rebuilt).__name__} spec is "
                         f"{rebuilt.spec.tolist()}")
    return spec


def check_schedule(schedule, name="lr"):
    """A validated copy of the schedule object ``schedule`` (from a state dict, say).

    One of this module's classes is rebuilt from :func:`schedule_config`
    through its constructor, and its spec must come out the same (so the
    arguments it would be saved with are the ones it computes with); any
    other Schedule subclass must hold a valid spec (:func:`check_spec`).
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"{name} must be a Schedule, got {type(schedule).__name__}")
    if _CLASSES.get(type(schedule).__name__) is not type(schedule):
        check_spec(schedule.spec, f"{name}.spec")
        return copy.deepcopy(schedule)
    try:
        rebuilt = schedule_from_config(schedule_config(schedule))
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ValueError(f"{name}: invalid {type(schedule).__name__}: {exc}") from None
    if not _same_spec(schedule.spec, rebuilt.spec):
        raise ValueError(f"{name}: the spec of this {type(schedule).__name__} does not match its "
                         f"arguments {rebuilt._args()}")
    return rebuilt


__all__ = [
    "Schedule", "Constant", "StepDecay", "MultiStep", "Exponential", "InverseScaling",
    "Polynomial", "CosineAnnealing", "CosineWarmRestarts", "ReduceLROnPlateau",
    "warmup", "schedule_value", "as_schedule", "check_spec", "check_schedule",
    "schedule_config", "schedule_from_config", "MAX_STEPS",
]
