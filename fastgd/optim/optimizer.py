"""The machinery every optimizer shares: validation, state, clipping, state dicts.

An optimizer owns one flat parameter array (the caller's, updated in place),
a step counter, its hyperparameters and its state arrays. A subclass declares
its hyperparameters as :class:`Hyper` attributes, allocates its state in
``_init_state`` and calls its kernel from ``_update``. Everything else lives
here.
"""

import copy
import numbers
import threading

import numpy as np

from .._validation import check_flat_float_array, check_like, check_real
from ..kernels import all_finite, clip_by_global_norm_, clip_by_value_
from ..schedules import MAX_STEPS, Schedule, check_schedule

# What load_state_dict checks about each rule's state, beyond dtype, size and finiteness
# (keyed by the name in fastgd.OPTIMIZERS; to move into the rule records):
#   "lazy": state arrays allocated on first use, so empty until then;
#   "nonnegative": arrays the rule divides by or takes the square root of (sums and averages
#       of squares, infinity norms);
#   "variances": (second moment, first moment) pairs with second >= first**2, whose
#       difference the rule takes the square root of (centered RMSprop);
#   "scalars": check_real ranges of scalar state.
_ADAM_FACTS = {"lazy": ("max_exp_avg_sq",), "nonnegative": ("exp_avg_sq", "max_exp_avg_sq")}
STATE_FACTS = {
    "sgd": {"lazy": ("momentum_buffer",)},
    "adagrad": {"nonnegative": ("sum",)},
    "rmsprop": {"lazy": ("grad_avg", "momentum_buffer"), "nonnegative": ("square_avg",),
                "variances": (("square_avg", "grad_avg"),)},
    "adam": _ADAM_FACTS,
    "adamw": _ADAM_FACTS,
    "adamax": {"nonnegative": ("exp_inf",)},
    "nadam": {"nonnegative": ("exp_avg_sq",),
              # the product of momentum coefficients mu_t in [0, beta1]: 1 - prod * mu > 0
              "scalars": {"mu_product": {"low": 0.0, "high": 1.0}}},
    "radam": {"nonnegative": ("exp_avg_sq",)},
    "asgd": {"scalars": {"eta": {"low": 0.0}, "mu": {"low": 0.0, "low_open": True, "high": 1.0}}},
}


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _counter(name, value):
    if not _is_int(value) or not 0 <= value <= MAX_STEPS:
        raise ValueError(f"state_dict {name} must be an integer in [0, 2**53], got {value!r}")
    return int(value)


class Hyper:
    """A validated hyperparameter: ``opt.name = value`` checks before it stores.

    ``check(name, value)`` returns the normalised value or raises. After it, the
    optimizer's ``_check_combination`` sees the candidate set of all
    hyperparameters, so rules across arguments (Nesterov needs momentum) hold
    whatever the order of assignments; nothing is stored when a check fails.
    """

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj._hyper[self.name]

    def __set__(self, obj, value):
        candidate = dict(obj._hyper)
        candidate[self.name] = self.check(self.name, value)
        obj._check_combination(candidate)
        obj._hyper = candidate


def _check_lr(name, value):
    if isinstance(value, Schedule):
        return value
    return check_real(name, value, low=0.0, low_open=True)


def nonnegative(name, value):
    return check_real(name, value, low=0.0)


def _check_optional_positive(name, value):
    return None if value is None else check_real(name, value, low=0.0, low_open=True)


class Optimizer:
    """Base class. See :class:`fastgd.Adam` for a complete example of a rule.

    Common keyword arguments of every optimizer:

    clip_norm : float or None
        Before the update, scale the gradient so its global L2 norm is at
        most ``clip_norm`` (``torch.nn.utils.clip_grad_norm_``).
    clip_value : float or None
        Before the update, clamp every gradient element to ``[-clip_value, clip_value]``.
    skip_nonfinite : bool
        If True, a gradient holding NaN or inf is not applied: ``step`` returns
        False, parameters, state and step count stay as they were, and
        ``n_skipped`` counts it. If False (default), NaN and inf flow through
        the update as IEEE arithmetic says.

    Clipping works on a private copy: the caller's gradient is never modified.
    """

    lr = Hyper(_check_lr)
    clip_norm = Hyper(_check_optional_positive)
    clip_value = Hyper(_check_optional_positive)

    def __init__(self, params, *, clip_norm=None, clip_value=None, skip_nonfinite=False, **hyper):
        params = check_flat_float_array("params", params, writeable=True)
        checked = self._checked_hyper(dict(hyper, clip_norm=clip_norm, clip_value=clip_value))
        if not isinstance(skip_nonfinite, (bool, np.bool_)):
            raise TypeError(f"skip_nonfinite must be True or False, got {skip_nonfinite!r}")
        self.params = params
        self.skip_nonfinite = bool(skip_nonfinite)
        self._hyper = checked
        self.step_count = 0
        self.n_skipped = 0
        self.state = self._init_state()
        self._grad_buffer = None
        self._lock = threading.Lock()

    # the lock is not state: copies and pickles get their own
    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _checked_hyper(self, hyper):
        checked = {name: getattr(type(self), name).check(name, value)
                   for name, value in hyper.items()}
        self._check_combination(checked)
        return checked

    # -- what a rule provides ------------------------------------------------

    def _init_state(self):
        """Return the dict of state arrays (and scalars) for a fresh optimizer."""
        return {}

    def _update(self, grad, lr):
        """Apply the rule with learning rate ``lr``; step_count is already advanced."""
        raise NotImplementedError

    def _check_combination(self, hyper):
        """Raise ValueError when hyperparameters contradict each other."""

    # -- the public API -------------------------------------------------------

    @property
    def current_lr(self):
        """The learning rate the next step will use."""
        lr = self._hyper["lr"]
        if isinstance(lr, Schedule):
            return lr(self.step_count)
        return lr

    def step(self, grad):
        """Update ``params`` in place from ``grad``; return False if the guard skipped it.

        Thread-safe: steps on one optimizer from several threads are serialised
        by a lock (none is lost; their order is the order the threads get it).
        """
        params = self.params
        if not (type(grad) is np.ndarray and grad.dtype is params.dtype
                and grad.shape == params.shape and grad.flags.c_contiguous):
            grad = check_like("grad", grad, params)
        with self._lock:
            hyper = self._hyper
            if self.skip_nonfinite and not all_finite(grad):
                self.n_skipped += 1
                return False
            if hyper["clip_norm"] is not None or hyper["clip_value"] is not None:
                grad = self._clipped(grad, hyper["clip_norm"], hyper["clip_value"])
            lr = hyper["lr"]
            if type(lr) is not float:
                lr = lr(self.step_count)
            self.step_count += 1
            self._update(grad, lr)
            return True

    def _clipped(self, grad, clip_norm, clip_value):
        buf = self._grad_buffer
        if buf is None:
            buf = self._grad_buffer = np.empty_like(self.params)
        buf[...] = grad
        if clip_value is not None:
            clip_by_value_(buf, clip_value)
        if clip_norm is not None:
            clip_by_global_norm_(buf, clip_norm)
        return buf

    def _zeros(self):
        return np.zeros_like(self.params)

    def _lazy(self, name):
        """The state array ``name``, allocated (zeros) the first time it is needed."""
        arr = self.state[name]
        if arr.size != self.params.size:
            arr = self.state[name] = self._zeros()
        return arr

    def state_dict(self):
        """A deep copy of everything the optimizer needs to resume: load it into a
        fresh optimizer over parameters of the same size and dtype, and both step
        in lockstep, bit for bit. Taken between steps (under the step lock)."""
        with self._lock:
            return self._state_dict()

    def _state_dict(self):
        return {
            "optimizer": type(self).__name__,
            "dtype": self.params.dtype.name,
            "size": self.params.size,
            "step_count": self.step_count,
            "n_skipped": self.n_skipped,
            "skip_nonfinite": self.skip_nonfinite,
            "hyperparams": copy.deepcopy(self._hyper),
            "state": {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.state.items()},
        }

    def load_state_dict(self, state_dict):
        """Restore from :meth:`state_dict`: validated whole, then installed at once.

        Every entry is checked against what :meth:`step` and the kernels
        assume before anything changes: the optimizer class, the parameters'
        dtype and size, each state array (a 1-D array in the parameters'
        dtype of exactly their size; a lazily allocated one may instead be
        empty), finite state (and non-negative where the rule's math takes a
        square root or divides, see ``STATE_FACTS``), scalar state in its
        range, ``step_count`` and ``n_skipped`` integers in [0, 2**53],
        ``skip_nonfinite`` a bool, and the hyperparameters through the
        constructor's checks (a schedule is rebuilt through its constructor,
        :func:`fastgd.schedules.check_schedule`). A refused dict raises
        ValueError or TypeError naming the entry and leaves the optimizer as
        it was; the arrays are copied, so the dict can be reused.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        want = {"optimizer", "dtype", "size", "step_count", "n_skipped", "skip_nonfinite",
                "hyperparams", "state"}
        missing = want - state_dict.keys()
        if missing:
            raise ValueError(f"state_dict is missing keys {sorted(missing)}")
        extra = state_dict.keys() - want
        if extra:
            raise ValueError(f"state_dict has unexpected keys {sorted(map(str, extra))}")
        name = type(self).__name__
        if state_dict["optimizer"] != name:
            raise ValueError(f"state_dict is from {state_dict['optimizer']}, not {name}")
        params = self.params
        if state_dict["dtype"] != params.dtype.name or not _is_int(state_dict["size"]) \
                or state_dict["size"] != params.size:
            raise ValueError(f"state_dict is for {state_dict['size']!r} {state_dict['dtype']!r} "
                             f"parameters, these are {params.size} {params.dtype.name}")
        steps = _counter("step_count", state_dict["step_count"])
        skipped = _counter("n_skipped", state_dict["n_skipped"])
        skip = state_dict["skip_nonfinite"]
        if not isinstance(skip, (bool, np.bool_)):
            raise TypeError(f"state_dict skip_nonfinite must be True or False, got {skip!r}")
        hyper = state_dict["hyperparams"]
        if not isinstance(hyper, dict) or hyper.keys() != self._hyper.keys():
            got = sorted(map(str, hyper)) if isinstance(hyper, dict) else type(hyper).__name__
            raise ValueError(f"state_dict hyperparams have keys {got}, expected {sorted(self._hyper)}")
        hyper = dict(hyper)
        if isinstance(hyper["lr"], Schedule):
            hyper["lr"] = check_schedule(hyper["lr"], "state_dict hyperparams['lr']")
        try:
            hyper = copy.deepcopy(self._checked_hyper(hyper))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"state_dict hyperparams: {exc}") from None
        new_state = self._checked_state(state_dict["state"], hyper)
        # -- everything is valid: install it at once --
        with self._lock:
            self._hyper = hyper
            self.state = new_state
            self.step_count = steps
            self.n_skipped = skipped
            self.skip_nonfinite = bool(skip)

    def _checked_state(self, state, hyper):
        """A validated copy of the state entry of a state dict (see :meth:`load_state_dict`)."""
        fresh = self._init_state()
        if not isinstance(state, dict) or state.keys() != fresh.keys():
            got = sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"state_dict state has keys {got}, expected {sorted(fresh)}")
        facts = STATE_FACTS.get(type(self).__name__.lower(), {})
        params = self.params
        out = {}
        for key, value in state.items():
            where = f"state_dict state[{key!r}]"
            if isinstance(fresh[key], np.ndarray):
                lazy = key in facts.get("lazy", ())
                sizes = f"{params.size}" + (" (or 0: it is allocated when first needed)"
                                            if lazy else "")
                if not isinstance(value, np.ndarray) or value.dtype != params.dtype \
                        or value.ndim != 1 or not (value.size == params.size
                                                   or (lazy and value.size == 0)):
                    got = (f"{value.dtype} array of shape {value.shape}"
                           if isinstance(value, np.ndarray) else type(value).__name__)
                    raise ValueError(f"{where} must be a 1-D {params.dtype} array of size {sizes}, "
                                     f"got a {got}")
                value = np.array(value, order="C")       # a private copy, a plain ndarray
                if not np.isfinite(value).all():
                    raise ValueError(f"{where} holds NaN or infinity")
                if key in facts.get("nonnegative", ()) and (value < 0).any():
                    raise ValueError(f"{where} holds negative values: it is a sum or average of "
                                     f"squares, which the rule divides by or takes the root of")
                out[key] = value
            else:
                out[key] = check_real(where, value, **facts.get("scalars", {}).get(key, {}))
        for second, first in facts.get("variances", ()):
            v, m = out[second], out[first]
            if v.size and m.size and (v - m * m < -8 * np.finfo(v.dtype).eps * v).any():
                raise ValueError(f"state_dict state[{second!r}] must be at least "
                                 f"state[{first!r}]**2 element by element (a variance estimate "
                                 f"is its difference, and its square root is taken)")
        return out

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper.items() if v is not None)
        return f"{type(self).__name__}({self.params.size} {self.params.dtype.name} params, {args})"

