"""The optimizer object every rule shares: validation, state, clipping, state dicts.

An optimizer owns one flat parameter array (the caller's, updated in place),
a step counter, its hyperparameters and its state. What a rule takes and
keeps comes from its record (:class:`fastgd.kernels.Rule`);
:func:`optimizer_class` turns a record into a class with PyTorch's argument
names and defaults, and everything else lives here.
"""

import copy
import inspect
import threading

import numpy as np

from .._validation import check_flat_float_array, check_like, check_real
from ..kernels import all_finite, clip_by_global_norm_, clip_by_value_
from ..kernels.layout import check_shapes
from ..schedules import MAX_STEPS, Schedule, check_schedule


class Hyper:
    """A validated hyperparameter: ``opt.name = value`` checks before it stores.

    ``check(name, value)`` returns the normalised value or raises. After it, the
    rule's combination check sees the candidate set of all hyperparameters,
    so rules across arguments (Nesterov needs momentum) hold whatever the
    order of assignments; nothing is stored when a check fails.
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
        obj._set_hyper(candidate)


def _check_lr(name, value):
    if isinstance(value, Schedule):
        return value
    return check_real(name, value, low=0.0, low_open=True)


def _check_optional_positive(name, value):
    return None if value is None else check_real(name, value, low=0.0, low_open=True)


_COMMON = ("clip_norm", "clip_value", "skip_nonfinite")


class Optimizer:
    """Base class of the optimizers; each subclass is made from one rule's record.

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
    shapes : sequence of shapes or None
        The layout of ``params`` (:mod:`fastgd.kernels.layout`): its segments
        in order, each an int or ``(n,)`` (1-D) or ``(rows, cols)`` (a C-ordered
        matrix), covering it exactly, as the tensors of a torch param group.
        The rules whose math is per tensor use it: LAMB's trust ratio and
        Adafactor's scaling per segment, Adafactor's factored moment for the
        matrices; the others ignore it. None (default): one 1-D segment.

    Clipping works on a private copy: the caller's gradient is never modified.
    ``step`` may be called from several threads: the steps of one optimizer
    are serialised by a lock (each is applied whole, none is lost).
    """

    rule = None  # the Rule record, set by optimizer_class
    lr = Hyper(_check_lr)
    clip_norm = Hyper(_check_optional_positive)
    clip_value = Hyper(_check_optional_positive)

    def __init__(self, params, *args, **kwargs):
        try:
            bound = self.__signature__.bind(params, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}: {exc}; it takes "
                            f"{list(self.__signature__.parameters)[1:]}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        params = check_flat_float_array("params", values.pop("params"), writeable=True)
        skip = values.pop("skip_nonfinite")
        if not isinstance(skip, (bool, np.bool_)):
            raise TypeError(f"skip_nonfinite must be True or False, got {skip!r}")
        shapes = check_shapes(values.pop("shapes"), params.size)
        checked = self._checked_hyper(values)
        self.params = params
        self.shapes = shapes
        self._segments = self.rule.segments(params, shapes)
        # the segment table goes to the kernels of the rules with a reduction stage only
        self._segment_arg = (self._segments,) if self.rule.n_sums else ()
        self.skip_nonfinite = bool(skip)
        self._lock = threading.Lock()
        self._set_hyper(checked)
        self.step_count = 0
        self.n_skipped = 0
        self.state = self.rule.new_state(params, checked, lr=self._initial_lr(checked["lr"]),
                                         table=self._segments)
        self._grad_buffer = None

    # -- hyperparameters ------------------------------------------------------------------

    def _checked_hyper(self, hyper):
        checked = {name: getattr(type(self), name).check(name, value)
                   for name, value in hyper.items()}
        self._check_combination(checked)
        return checked

    def _check_combination(self, hyper):
        if self.rule.check_combination is not None:
            self.rule.check_combination(hyper)

    def _set_hyper(self, hyper):
        self._hyper = hyper
        self._h = self.rule.hyper_tuple(hyper)
        self._arrays = None

    @staticmethod
    def _initial_lr(lr):
        return lr(0) if isinstance(lr, Schedule) else lr

    @property
    def hyperparameters(self):
        """A copy of the rule's hyperparameters (not lr or the clipping options), by name."""
        return {name: self._hyper[name] for name in self.rule.param_names}

    # -- state ----------------------------------------------------------------------------

    @property
    def state(self):
        """The rule's state, by name: arrays (empty until needed) and scalars."""
        return self._state

    @state.setter
    def state(self, value):
        self._state = value
        self._arrays = None

    def kernel_state(self):
        """``(s, sc)``: the state as the kernels take it (arrays now needed are allocated).

        ``s`` holds the optimizer's own arrays; ``sc`` is the float64 array of
        the scalar state, filled from :attr:`state`: write it back with
        :meth:`store_scalars` after a kernel changed it.
        """
        if self._arrays is None:
            self._arrays = self.rule.arrays(self._state, self.params, self._hyper, self._segments)
            self._sc = self.rule.scalar_array(self._state)
        sc = self._sc
        for k, c in enumerate(self.rule.scalars):
            sc[k] = self._state[c.name]
        return self._arrays, sc

    def store_scalars(self, sc):
        for k, c in enumerate(self.rule.scalars):
            self._state[c.name] = float(sc[k])

    # -- the public API -------------------------------------------------------------------

    @property
    def current_lr(self):
        """The learning rate the next step will use."""
        lr = self._hyper["lr"]
        if isinstance(lr, Schedule):
            return lr(self.step_count)
        return lr

    def eval_params(self):
        """The point to evaluate the model at: ``params``, or for a rule that keeps it
        apart (``Rule.eval_point``: schedule-free's average x) that state array once a
        step was made. The array itself, not a copy: copy it to keep it."""
        name = self.rule.eval_point
        if name is None or self.step_count == 0:
            return self.params
        return self._state[name]

    def step(self, grad):
        """Update ``params`` in place from ``grad``; return False if the guard skipped it."""
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
            if self._arrays is None or self.rule.scalars:
                s, sc = self.kernel_state()
            else:  # the common case, without a Python loop
                s, sc = self._arrays, self._sc
            self._kernel(params, grad, s, sc, self.step_count + 1, lr, self._h, *self._segment_arg)
            self.step_count += 1
            if sc.size:
                self.store_scalars(sc)
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

    def state_dict(self):
        """A deep copy of everything the optimizer needs to resume: load it into a
        fresh optimizer over parameters of the same size, dtype and ``shapes``, and
        both step in lockstep, bit for bit. Taken between steps (under the step lock)."""
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
            "state": {k: (v.copy() if isinstance(v, np.ndarray) else v)
                      for k, v in self._state.items()},
        }

    def load_state_dict(self, state_dict):
        """Restore from :meth:`state_dict`; validated whole before anything changes.

        Every entry is checked against what the rule's kernels assume (the
        facts are the rule record's): the hyperparameters as the constructor
        checks them (a schedule is rebuilt through its constructor,
        :func:`fastgd.schedules.check_schedule`), each state array's dtype
        and exact size under this optimizer's ``shapes`` (an array a setting
        switches on may be empty while the setting is off), finite values, values that cannot be negative and
        variance pairs (``State.covers``), the scalar state's range, and the
        counters (integers in [0, 2**53]). A refused dict raises ValueError or
        TypeError naming the entry and leaves the optimizer as it was; the
        arrays are copied, so the dict can be reused.
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
        if state_dict["optimizer"] != type(self).__name__:
            raise ValueError(f"state_dict is from {state_dict['optimizer']}, not {type(self).__name__}")
        size = state_dict["size"]
        if state_dict["dtype"] != self.params.dtype.name or not _is_int(size) \
                or size != self.params.size:
            raise ValueError(f"state_dict is for {size!r} {state_dict['dtype']!r} parameters, "
                             f"these are {self.params.size} {self.params.dtype.name}")
        hyper = state_dict["hyperparams"]
        if not isinstance(hyper, dict) or hyper.keys() != self._hyper.keys():
            got = sorted(map(str, hyper)) if isinstance(hyper, dict) else type(hyper).__name__
            raise ValueError(f"state_dict hyperparams must have the keys {sorted(self._hyper)}, "
                             f"got {got}")
        hyper = dict(hyper)
        if isinstance(hyper["lr"], Schedule):
            hyper["lr"] = check_schedule(hyper["lr"], "state_dict hyperparams['lr']")
        try:
            hyper = self._checked_hyper(hyper)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"state_dict hyperparams: {exc}") from None
        state = self._checked_state(state_dict["state"], hyper)
        steps = _counter("step_count", state_dict["step_count"])
        skipped = _counter("n_skipped", state_dict["n_skipped"])
        skip = state_dict["skip_nonfinite"]
        if not isinstance(skip, (bool, np.bool_)):
            raise TypeError(f"state_dict skip_nonfinite must be True or False, got {skip!r}")
        with self._lock:
            self._set_hyper(copy.deepcopy(hyper))
            self.state = state
            self.step_count = steps
            self.n_skipped = skipped
            self.skip_nonfinite = bool(skip)

    def _checked_state(self, state, hyper):
        """A validated copy of a state dict from outside (see :meth:`load_state_dict`)."""
        rule, params = self.rule, self.params
        names = [s.name for s in rule.state] + [c.name for c in rule.scalars]
        if not isinstance(state, dict) or set(state) != set(names):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"state_dict state must have the keys {sorted(names)}, got {got}")
        out = {}
        want = rule.sizes(params, self._segments)
        for s in rule.state:
            value = state[s.name]
            size = want[s.name]
            sizes = (size,) if s.when is None else (0, size)
            if not (isinstance(value, np.ndarray) and value.dtype == params.dtype
                    and value.ndim == 1 and value.size in sizes):
                got = (f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray)
                       else type(value).__name__)
                lazy = " (or 0: it is allocated when first needed)" if s.when else ""
                layout = f" (its {s.shape} under shapes={self.shapes})" if s.shape != "params" else ""
                raise ValueError(f"state_dict state[{s.name!r}] must be a 1-D {params.dtype} array of "
                                 f"size {size}{layout}{lazy}, got a {got}")
            value = np.array(value, order="C")       # a private copy, a plain ndarray
            if not np.isfinite(value).all():
                raise ValueError(f"state_dict state[{s.name!r}] holds NaN or infinity")
            if s.nonnegative and (value < 0).any():
                raise ValueError(f"state_dict state[{s.name!r}] holds negative values: it is a "
                                 f"sum or average of squares or magnitudes, which the rule "
                                 f"divides by or takes the root of")
            out[s.name] = value
        for s in rule.state:
            if s.covers is None:
                continue
            v, m = out[s.name], out[s.covers]
            if v.size and m.size and (v - m * m < -8 * np.finfo(v.dtype).eps * v).any():
                raise ValueError(f"state_dict state[{s.name!r}] must be at least "
                                 f"state[{s.covers!r}]**2 element by element (their difference "
                                 f"is a variance, whose square root the rule takes)")
        for c in rule.scalars:
            value = state[c.name]
            name = f"state_dict state[{c.name!r}]"
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = value[()]
            out[c.name] = check_real(name, value, low=c.low, high=c.high, low_open=c.low_open)
        return out

    def __getstate__(self):  # pickle and deepcopy: a lock is the object's own, not copied
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyper.items() if v is not None)
        return f"{type(self).__name__}({self.params.size} {self.params.dtype.name} params, {args})"


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _counter(name, value):
    if not _is_int(value) or not 0 <= value <= MAX_STEPS:
        raise ValueError(f"state_dict {name} must be an integer in [0, 2**53], got {value!r}")
    return int(value)


def optimizer_class(rule):
    """The optimizer class of a :class:`fastgd.kernels.Rule`: PyTorch's names and defaults.

    ``cls(params, lr=rule.lr, <hyperparameters>, *, clip_norm=None,
    clip_value=None, skip_nonfinite=False, shapes=None)``; every hyperparameter is a
    validated attribute (``opt.lr = 0.01``), and ``rule.extras`` are added.
    """
    P = inspect.Parameter
    signature = inspect.Signature(
        [P("params", P.POSITIONAL_OR_KEYWORD), P("lr", P.POSITIONAL_OR_KEYWORD, default=rule.lr)]
        + [P(p.name, P.POSITIONAL_OR_KEYWORD, default=p.default) for p in rule.params]
        + [P("clip_norm", P.KEYWORD_ONLY, default=None),
           P("clip_value", P.KEYWORD_ONLY, default=None),
           P("skip_nonfinite", P.KEYWORD_ONLY, default=False),
           P("shapes", P.KEYWORD_ONLY, default=None)])
    namespace = {p.name: Hyper(lambda name, value, p=p: p.check(value)) for p in rule.params}
    namespace.update(rule.extras)
    namespace.update(rule=rule, _kernel=staticmethod(rule.step), __signature__=signature,
                     __module__="fastgd.optim",
                     __qualname__=rule.class_name,
                     __doc__=inspect.cleandoc(rule.doc) + "\n\n" + _SIGNATURE_DOC)
    cls = type(rule.class_name, (Optimizer,), namespace)
    for name in namespace:
        if isinstance(namespace[name], Hyper):
            namespace[name].__set_name__(cls, name)
    return cls


_SIGNATURE_DOC = """\
Every optimizer also takes ``clip_norm=``, ``clip_value=``,
``skip_nonfinite=`` and ``shapes=`` (see :class:`fastgd.optim.Optimizer`)."""
