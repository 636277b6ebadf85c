"""Update-rule dispatch inside compiled loops: a rule id, a float64 array, three state arrays.

The optimizer objects of :mod:`fastgd.optim` stay the owners of the
hyperparameters (validated there) and of the state arrays (named there, so
``optimizer.state_dict()`` keeps working). :func:`pack` turns an optimizer
into what a jitted loop can take:

* ``rule``: a small integer (``RULES[name].rule_id``);
* ``h``: a float64 array ``[clip_norm, clip_value, skip_nonfinite, sgd_fresh, *rule hyper]``
  (0 means "off" for the clips; booleans are 0/1);
* ``s0, s1, s2``: the rule's state arrays, in the order of the kernel's
  arguments (empty where a rule has fewer, or where a lazy array is unused);
* ``sc``: a float64 array of scalar state (NAdam's mu_product, ASGD's eta and mu);
* ``kc``: a scratch array in the parameters' dtype for the step's constants.

One step is three serial pieces, so that a *parallel* loop (the fused epoch)
can run the element-wise part over chunks itself: :func:`prepare_grad` (the
non-finite guard and clipping), :func:`rule_constants` (the step's scalars,
from each kernel's own ``_<rule>_constants``) and :func:`rule_loop` (the
kernels' own serial loops, over whole arrays or views).
The parallel ``*_step`` kernels are not called: a parallel function called
from cached jitted code crashes numba's cache (see :mod:`fastgd._numba`).
:func:`update` chains the three serially. Together they match
``optimizer.step(grad)`` bit for bit (tested for every rule).

Adding a rule is one row in ``RULES`` and one branch in each of
:func:`rule_constants` and :func:`rule_loop`. All rules share one compiled
dispatch per dtype.
"""

from dataclasses import dataclass, field

import numpy as np

from .._numba import CHUNK, cast_like, jit, n_chunks
from ..kernels.adagrad import _adagrad_constants, _adagrad_loop
from ..kernels.adam import _adam_constants, _adam_loop
from ..kernels.adamax import _adamax_constants, _adamax_loop
from ..kernels.asgd import _asgd_constants, _asgd_loop, asgd_schedule
from ..kernels.clip import _sum_of_squares_1
from ..kernels.nadam import _nadam_constants, _nadam_loop
from ..kernels.radam import _radam_constants, _radam_loop
from ..kernels.rmsprop import _rmsprop_constants, _rmsprop_loop
from ..kernels.sgd import _sgd_constants, _sgd_loop
from ..schedules import schedule_value

SGD, ADAGRAD, RMSPROP, ADAM, ADAMW, ADAMAX, NADAM, RADAM, ASGD = range(9)
_COMMON = 4  # clip_norm, clip_value, skip_nonfinite, sgd_fresh
N_CONSTANTS = 12


@dataclass(frozen=True)
class Rule:
    """How an optimizer's hyperparameters and state map onto the compiled dispatch.

    ``hyper``: hyperparameter names in kernel order (``betas`` counts as two);
    ``state``: state-array names in kernel order; ``scalars``: scalar state
    names; ``lazy``: state array -> the hyperparameter that makes it needed.
    """

    rule_id: int
    hyper: tuple
    state: tuple = ()
    scalars: tuple = ()
    lazy: dict = field(default_factory=dict)


_ADAM = dict(hyper=("betas", "eps", "weight_decay", "amsgrad"),
             state=("exp_avg", "exp_avg_sq", "max_exp_avg_sq"), lazy={"max_exp_avg_sq": "amsgrad"})

RULES = {
    "sgd": Rule(SGD, ("momentum", "dampening", "nesterov", "weight_decay"), ("momentum_buffer",),
                lazy={"momentum_buffer": "momentum"}),
    "adagrad": Rule(ADAGRAD, ("lr_decay", "weight_decay", "eps"), ("sum",)),
    "rmsprop": Rule(RMSPROP, ("alpha", "eps", "weight_decay", "momentum", "centered"),
                    ("square_avg", "grad_avg", "momentum_buffer"),
                    lazy={"grad_avg": "centered", "momentum_buffer": "momentum"}),
    "adam": Rule(ADAM, **_ADAM),
    "adamw": Rule(ADAMW, **_ADAM),
    "adamax": Rule(ADAMAX, ("betas", "eps", "weight_decay"), ("exp_avg", "exp_inf")),
    "nadam": Rule(NADAM, ("betas", "eps", "weight_decay", "momentum_decay",
                          "decoupled_weight_decay"), ("exp_avg", "exp_avg_sq"), ("mu_product",)),
    "radam": Rule(RADAM, ("betas", "eps", "weight_decay", "decoupled_weight_decay"),
                  ("exp_avg", "exp_avg_sq")),
    "asgd": Rule(ASGD, ("lambd", "alpha", "t0", "weight_decay"), ("ax",), ("eta", "mu")),
}


@dataclass
class Packed:
    """An optimizer in the form a jitted loop takes (see the module docstring)."""

    rule: int
    h: np.ndarray
    s0: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    sc: np.ndarray
    spec: np.ndarray
    kc: np.ndarray


def rule_of(optimizer):
    """The :class:`Rule` row of an optimizer object (by its class name)."""
    name = type(optimizer).__name__.lower()
    if name not in RULES:
        raise TypeError(f"optimizer {type(optimizer).__name__} has no compiled dispatch; "
                        f"choose one of {sorted(RULES)}")
    return RULES[name]


def pack(optimizer):
    """Pack ``optimizer`` (a :class:`fastgd.optim.Optimizer`) for :func:`update`.

    Allocates the lazy state arrays the hyperparameters need, as the optimizer
    would on its next ``step``. The returned arrays are the optimizer's own
    (updated in place); write the scalars back with :func:`unpack`.
    """
    rule = rule_of(optimizer)
    hyper = optimizer._hyper
    params = optimizer.params
    fresh = False
    for name, switch in rule.lazy.items():
        if hyper[switch]:
            if rule.rule_id == SGD:
                fresh = optimizer.state[name].size != params.size
            optimizer._lazy(name)
    values = [hyper["clip_norm"] or 0.0, hyper["clip_value"] or 0.0,
              float(optimizer.skip_nonfinite), float(fresh)]
    for name in rule.hyper:
        v = hyper[name]
        values.extend(v if isinstance(v, tuple) else (float(v),))
    empty = params[:0]
    arrays = [optimizer.state[name] for name in rule.state] + [empty] * (3 - len(rule.state))
    sc = np.array([optimizer.state[name] for name in rule.scalars] + [0.0] * 4, dtype=np.float64)
    lr = hyper["lr"]
    spec = lr.spec if hasattr(lr, "spec") else np.array([0.0, lr, 0, 0, 0, 0, 0, 0])
    kc = np.zeros(N_CONSTANTS, dtype=params.dtype)
    return Packed(rule.rule_id, np.array(values, dtype=np.float64), *arrays, sc, spec, kc)


def unpack(optimizer, packed, step_count, n_skipped):
    """Write the scalar state and the counters of a compiled run back into ``optimizer``."""
    for k, name in enumerate(rule_of(optimizer).scalars):
        optimizer.state[name] = float(packed.sc[k])
    optimizer.step_count = int(step_count)
    optimizer.n_skipped += int(n_skipped)


@jit
def prepare_grad(g, h):
    """The optimizer's guard and clipping, serial; False when the step is to be skipped.

    h[2]: skip a gradient holding NaN/inf; h[1]: clamp to [-h[1], h[1]];
    h[0]: scale to global L2 norm <= h[0] (norm summed per CHUNK, in order,
    as :func:`fastgd.kernels.clip_by_global_norm_` does).
    """
    n = g.size
    if h[2] != 0.0:
        for i in range(n):
            if not np.isfinite(g[i]):
                return False
    if h[1] > 0.0:
        hi = cast_like(h[1], g)
        lo = -hi
        for i in range(n):
            v = g[i]
            if v > hi:
                g[i] = hi
            elif v < lo:
                g[i] = lo
    if h[0] > 0.0:
        total = 0.0
        for c in range(n_chunks(n)):
            total += _sum_of_squares_1(g[c * CHUNK:min(n, (c + 1) * CHUNK)])
        norm = np.sqrt(total)
        if norm > h[0]:
            f = cast_like(h[0] / (norm + 1e-6), g)
            for i in range(n):
                g[i] = g[i] * f
    return True


@jit
def rule_constants(rule, w, t, lr, h, sc, kc):
    """Fill ``kc`` with step t's constants (1-based t, rate lr); advance the scalar state.

    The constants come from each kernel's own ``_<rule>_constants`` function,
    so the compiled dispatch and ``optimizer.step`` compute them identically.
    """
    k = _COMMON
    if rule == SGD:
        first = h[3] != 0.0 or t <= 1
        h[3] = 0.0
        c = _sgd_constants(w, 1 if first else t, lr, h[k], h[k + 1], h[k + 2] != 0.0, h[k + 3])
        kc[0] = 1.0 if c[0] else 0.0
        kc[1], kc[2], kc[3] = c[1], c[2], c[3]
        kc[4] = 1.0 if c[4] else 0.0
        kc[5] = c[5]
    elif rule == ADAGRAD:
        kc[0], kc[1], kc[2] = _adagrad_constants(w, t, lr, h[k], h[k + 1], h[k + 2])
    elif rule == RMSPROP:
        c = _rmsprop_constants(w, lr, h[k], h[k + 1], h[k + 2], h[k + 3], h[k + 4] != 0.0)
        kc[0], kc[1], kc[2], kc[3], kc[4], kc[5] = c[0], c[1], c[2], c[3], c[4], c[5]
        kc[6] = 1.0 if c[6] else 0.0
    elif rule == ADAM or rule == ADAMW:
        wd = h[k + 3]
        c = _adam_constants(w, t, lr, h[k], h[k + 1], h[k + 2], wd if rule == ADAM else 0.0,
                            wd if rule == ADAMW else 0.0)
        kc[0], kc[1], kc[2], kc[3], kc[4], kc[5], kc[6], kc[7] = c
        kc[8] = h[k + 4]
    elif rule == ADAMAX:
        kc[0], kc[1], kc[2], kc[3], kc[4] = _adamax_constants(w, t, lr, h[k], h[k + 1], h[k + 2],
                                                              h[k + 3])
    elif rule == NADAM:
        sc[0], c = _nadam_constants(w, t, sc[0], lr, h[k], h[k + 1], h[k + 2], h[k + 3], h[k + 4],
                                    h[k + 5] != 0.0)
        kc[0], kc[1], kc[2], kc[3], kc[4], kc[5], kc[6], kc[7], kc[8] = c
    elif rule == RADAM:
        c = _radam_constants(w, t, lr, h[k], h[k + 1], h[k + 2], h[k + 3], h[k + 4] != 0.0)
        kc[0], kc[1], kc[2], kc[3], kc[4], kc[5], kc[6] = c[0], c[1], c[2], c[3], c[4], c[5], c[6]
        kc[7] = 1.0 if c[7] else 0.0
        kc[8], kc[9] = c[8], c[9]
    elif rule == ASGD:
        lambd, alpha, t0, wd = h[k], h[k + 1], h[k + 2], h[k + 3]
        kc[0], kc[1], kc[2], kc[3] = _asgd_constants(w, sc[0], sc[1], lambd, wd)
        sc[0], sc[1] = asgd_schedule(t, lr, lambd, alpha, t0)


@jit
def rule_loop(rule, w, g, s0, s1, s2, kc):
    """The element-wise part of the step, serial, over w and g (whole arrays or views)."""
    if rule == SGD:
        _sgd_loop(w, g, s0, kc[0] != 0, kc[1], kc[2], kc[3], kc[4] != 0, kc[5])
    elif rule == ADAGRAD:
        _adagrad_loop(w, g, s0, kc[0], kc[1], kc[2])
    elif rule == RMSPROP:
        _rmsprop_loop(w, g, s0, s1, s2, kc[0], kc[1], kc[2], kc[3], kc[4], kc[5], kc[6] != 0)
    elif rule == ADAM or rule == ADAMW:
        _adam_loop(w, g, s0, s1, s2, kc[0], kc[1], kc[2], kc[3], kc[4], kc[5], kc[6], kc[7],
                   kc[8] != 0)
    elif rule == ADAMAX:
        _adamax_loop(w, g, s0, s1, kc[0], kc[1], kc[2], kc[3], kc[4])
    elif rule == NADAM:
        _nadam_loop(w, g, s0, s1, kc[0], kc[1], kc[2], kc[3], kc[4], kc[5], kc[6], kc[7], kc[8])
    elif rule == RADAM:
        _radam_loop(w, g, s0, s1, kc[0], kc[1], kc[2], kc[3], kc[4], kc[5], kc[6], kc[7] != 0,
                    kc[8], kc[9])
    elif rule == ASGD:
        _asgd_loop(w, g, s0, kc[0], kc[1], kc[2], kc[3])


@jit
def update(w, g, rule, h, s0, s1, s2, sc, kc, spec, t):
    """``optimizer.step(g)`` in nopython mode, serial: t updates done before; returns (t, skipped).

    ``g`` may be modified (clipping). The rate is ``schedule_value(spec, t)``.
    """
    if not prepare_grad(g, h):
        return t, 1
    apply(rule, w, g, s0, s1, s2, h, sc, kc, t + 1, schedule_value(spec, t))
    return t + 1, 0


@jit
def apply(rule, w, g, s0, s1, s2, h, sc, kc, t, lr):
    """The update of step t (1-based) with rate lr, serial, without guard or clipping."""
    rule_constants(rule, w, t, lr, h, sc, kc)
    rule_loop(rule, w, g, s0, s1, s2, kc)
