"""The machinery every optimizer shares: validation, state, clipping, state dicts.

An optimizer owns one flat parameter array (the caller's, updated in place),
a step counter, its hyperparameters and its state arrays. A subclass declares
its hyperparameters as :class:`Hyper` attributes, allocates its state in
``_init_state`` and calls its kernel from ``_update``. Everything else lives
here.
"""

import copy
import math

import numpy as np

from .._validation import check_flat_float_array, check_like, check_real
from ..kernels import all_finite, clip_by_global_norm_, clip_by_value_
from ..schedules import Schedule


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
        """Update ``params`` in place from ``grad``; return False if the guard skipped it."""
        params = self.params
        if not (type(grad) is np.ndarray and grad.dtype is params.dtype
                and grad.shape == params.shape and grad.flags.c_contiguous):
            grad = check_like("grad", grad, params)
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
        in lockstep, bit for bit."""
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
        """Restore from :meth:`state_dict`; validated whole before anything changes."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        want = {"optimizer", "dtype", "size", "step_count", "n_skipped", "skip_nonfinite",
                "hyperparams", "state"}
        missing = want - state_dict.keys()
        if missing:
            raise ValueError(f"state_dict is missing keys {sorted(missing)}")
        if state_dict["optimizer"] != type(self).__name__:
            raise ValueError(f"state_dict is from {state_dict['optimizer']}, not {type(self).__name__}")
        if state_dict["dtype"] != self.params.dtype.name or state_dict["size"] != self.params.size:
            raise ValueError(f"state_dict is for {state_dict['size']} {state_dict['dtype']} parameters, "
                             f"these are {self.params.size} {self.params.dtype.name}")
        hyper = dict(state_dict["hyperparams"])
        if hyper.keys() != self._hyper.keys():
            raise ValueError(f"state_dict hyperparams have keys {sorted(hyper)}, "
                             f"expected {sorted(self._hyper)}")
        hyper = self._checked_hyper(hyper)
        fresh = self._init_state()
        state = state_dict["state"]
        if state.keys() != fresh.keys():
            raise ValueError(f"state_dict state has keys {sorted(state)}, expected {sorted(fresh)}")
        new_state = {}
        for name, value in state.items():
            if isinstance(fresh[name], np.ndarray):
                if not isinstance(value, np.ndarray) or value.dtype != self.params.dtype \
                        or value.ndim != 1 or value.size not in (0, self.params.size):
                    raise ValueError(f"state_dict state[{name!r}] must be a 1-D {self.params.dtype} "
                                     f"array of size {self.params.size} (or 0)")
                new_state[name] = value.copy()
            else:
                v = float(value)
                if not math.isfinite(v):
                    raise ValueError(f"state_dict state[{name!r}] must be finite, got {value!r}")
                new_state[name] = v
        steps = state_dict["step_count"]
        if not isinstance(steps, (int, np.integer)) or steps < 0:
            raise ValueError(f"state_dict step_count must be an integer >= 0, got {steps!r}")
        self._hyper = copy.deepcopy(hyper)
        self.state = new_state
        self.step_count = int(steps)
        self.n_skipped = int(state_dict["n_skipped"])
        self.skip_nonfinite = bool(state_dict["skip_nonfinite"])

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper.items() if v is not None)
        return f"{type(self).__name__}({self.params.size} {self.params.dtype.name} params, {args})"

