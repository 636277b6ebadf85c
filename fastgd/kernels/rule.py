"""One record per update rule: what it takes, what it keeps, and its two jitted pieces.

Every update rule of fastgd is one :class:`Rule`, defined in the rule's own
module of :mod:`fastgd.kernels` next to its math. Everything else is derived
from the records: the optimizer classes (:mod:`fastgd.optim`), the rules
inside the fused epochs (:mod:`fastgd.engine`), the methods of
:func:`fastgd.minimize`, the test registry and the benchmarks. A new rule is
its kernel module (and its reference in ``tests/reference.py``).

A rule is two serial jitted functions with one shared signature:

``constants(w, t, lr, h, sc) -> k``
    the scalars of step ``t`` (1 for the first step) at learning rate ``lr``:
    ``h`` is the tuple of hyperparameter values in the record's order
    (a pair such as ``betas`` counts as two), ``sc`` the float64 array of scalar state
    (updated in place: NAdam's momentum product, ASGD's rates), ``w`` the
    parameters, for their dtype. Returns ``k``, a tuple of constants in
    ``w``'s dtype (float32 stays float32) for the loop.
``loop(w, g, s, k)``
    the element-wise update of ``w`` from ``g`` with the constants ``k``;
    ``s`` is the tuple of state arrays in the record's order. It runs over
    whole arrays or over views of one chunk of them, so it may not look at
    neighbours.

A rule that needs sums over the whole vector (Prodigy's dot product and
norm) adds a reduction stage before the loop, two more serial pieces:

``reduce(w, g, s, k, out)``
    the first pass over one chunk: it may update state arrays element by
    element, and writes its ``n_sums`` partial sums into the float64 row
    ``out``.
``combine(w, k, partial, sc) -> k``
    the constants of the loop (the same tuple type as ``k``, with the values
    the sums determine filled in) from ``partial``, the chunks' rows, which
    it sums in chunk order; it may update ``sc``.

The reduction always cuts the vector into the same ``CHUNK``-sized pieces,
serial or parallel, so the sums, and every bit of the step, are the same
whatever the thread count and on every path (optimizer, fused epoch,
minimize).

A rule whose sums are per parameter tensor (``layered``: LAMB's trust
ratio per layer, Adafactor's RMS scaling) runs the stage and the loop once
per segment of the parameters' layout (:mod:`fastgd.kernels.layout`), each
segment cut into its own ``CHUNK``-sized pieces from its start; a layered
rule whose math needs a segment's shape adds one more serial piece:

``matrix(w, g, s, k, cols)``
    the whole step of one 2-D segment (``w``, ``g`` its C-ordered
    ``size / cols`` x ``cols`` elements, ``s`` its parts of the state arrays),
    instead of the stage and the loop (Adafactor's factored moment).

Without a layout (and always for a rule that is not layered: Prodigy's
estimate is over the whole vector) the vector is one segment.

The parallel step around them is written once (``Rule.step``): below
``fastgd._numba.PARALLEL_THRESHOLD`` elements one serial call, above it a
``prange`` over ``CHUNK``-sized views. Each rule gets its own compiled copy
(:func:`fastgd._specialize.specialize`), so a program compiles only the
rules it uses.

State arrays have the parameters' dtype and, unless their ``State.shape``
says otherwise (a factored moment: one entry per row or column of each
matrix), their size. One that only some
settings need (AMSGrad's running maximum, a momentum buffer) names the
hyperparameter that switches it on (``State(when=...)``) and is an empty
array until then.
"""

import inspect
import math
import re
from dataclasses import dataclass, field

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, jit, n_chunks, views
from .._specialize import specialize
from .._validation import check_betas, check_bool, check_real
from .layout import COLS, SHAPES, SIZE, START, check_shapes, segment_table, segment_views, \
    state_sizes, whole_table

KINDS = ("real", "bool", "betas", "pair")


@dataclass(frozen=True)
class Param:
    """A hyperparameter: its name, default and valid values.

    ``kind``: "real" (a finite number in [low, high], ends open as asked),
    "bool", "betas" (a pair, each in [0, 1); two entries of ``h``), or
    "pair" (two finite numbers, two entries of ``h``: ``low``, ``high``,
    ``low_open`` and ``high_open`` are then pairs too, one per element, as
    Rprop's ``etas`` = (eta_minus in (0, 1), eta_plus in (1, inf))).
    """

    name: str
    default: object
    kind: str = "real"
    low: float = 0.0
    high: float = None
    low_open: bool = False
    high_open: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Param {self.name}: kind must be one of {KINDS}")

    def check(self, value):
        """The normalised value (float, bool or a pair of floats); raises naming the parameter."""
        if self.kind == "bool":
            return check_bool(self.name, value)
        if self.kind == "betas":
            return check_betas(self.name, value)
        if self.kind == "pair":
            return self._check_pair(value)
        return check_real(self.name, value, low=self.low, high=self.high,
                          low_open=self.low_open, high_open=self.high_open)

    def encode(self, value):
        """The entries of ``h`` for a checked value."""
        return tuple(value) if self.kind in ("betas", "pair") else (value,)

    def _bound(self, i):
        """(low, high, low_open, high_open) of element ``i`` of a "pair"."""
        return tuple(b[i] if isinstance(b, tuple) else b
                     for b in (self.low, self.high, self.low_open, self.high_open))

    def _check_pair(self, value):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
            raise TypeError(f"{self.name} must be a pair of real numbers, got {value!r}")
        out = []
        for i, v in enumerate(value):
            low, high, low_open, high_open = self._bound(i)
            out.append(check_real(f"{self.name}[{i}]", v, low=low, high=high,
                                  low_open=low_open, high_open=high_open))
        return tuple(out)

    def bad_values(self):
        """(value, exception, message regex) that :meth:`check` must refuse (for tests)."""
        if self.kind == "bool":
            return [(1, TypeError, self.name), ("yes", TypeError, self.name)]
        if self.kind == "betas":
            return [((1.0, 0.999), ValueError, "index 0"), ((0.9, -0.1), ValueError, "index 1"),
                    (0.9, TypeError, self.name)]
        if self.kind == "pair":
            bad = [(1.0, TypeError, self.name), (("x", 1.0), TypeError, re.escape(f"{self.name}[0]"))]
            for i in range(2):
                low, high, low_open, high_open = self._bound(i)
                for v in (math.nan,
                          None if low is None else (low if low_open else low - 1.0),
                          None if high is None else (high if high_open else high + 1.0)):
                    if v is not None:
                        pair = list(self.default)
                        pair[i] = v
                        bad.append((tuple(pair), ValueError, re.escape(f"{self.name}[{i}]")))
            return bad
        bad = [("x", TypeError, self.name), (math.nan, ValueError, self.name)]
        if self.low is not None:
            bad.append((self.low if self.low_open else self.low - 1.0, ValueError, self.name))
        if self.high is not None:
            bad.append((self.high if self.high_open else self.high + 1.0, ValueError, self.name))
        return bad


@dataclass(frozen=True)
class State:
    """A state array: its name, what it starts at, and when it is needed.

    ``init``: the starting value, a number or the name of a hyperparameter
    (Adagrad's ``initial_accumulator_value``). ``when``: the name of the
    hyperparameter that makes the array needed (it stays empty while that
    is 0 or False); None: always needed. ``nonnegative``: its values can
    never be negative in a real run (second moments, sums of squares);
    ``covers``: the name of a state array m with this one >= m**2 element by
    element (a second moment and its mean: the rule takes the root of their
    difference); ``resets``: the name of a scalar that starts again at its
    initial value whenever this array is allocated (SGD's
    ``momentum_started``: a new buffer starts at the next gradient);
    ``shape``: its size under a layout (:mod:`fastgd.kernels.layout`):
    "params" (the parameters', the default), "vector" (the elements of the
    1-D segments), "rows" or "cols" (the rows or columns of the 2-D ones). State
    from outside (``load_state_dict``) is checked against these facts; a
    switched-on array may also come empty, and is then allocated as for a
    fresh optimizer.
    """

    name: str
    init: object = 0.0
    when: str = None
    nonnegative: bool = False
    covers: str = None
    resets: str = None
    shape: str = "params"

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"State {self.name}: shape must be one of {SHAPES}")


@dataclass(frozen=True)
class Scalar:
    """A float of state (in ``sc``): its name, its starting value (a number,
    ``"lr"``: the starting learning rate, or the name of a hyperparameter:
    Prodigy's ``d0``) and its valid range (``low_open``: low itself is not
    valid)."""

    name: str
    init: object = 0.0
    low: float = None
    high: float = None
    low_open: bool = False


@dataclass(frozen=True)
class Rule:
    """Everything about one update rule (see the module docstring).

    ``name``: its key in :data:`fastgd.OPTIMIZERS`; ``class_name``: its
    optimizer class; ``lr``: the default learning rate; ``params``,
    ``state``, ``scalars``: :class:`Param`, :class:`State`, :class:`Scalar`
    in kernel order; ``constants``, ``loop``: the two jitted pieces;
    ``doc``: the equations and the paper (the class's and the kernel's
    docstring); ``check_combination(hyper)``: raises ValueError when
    hyperparameters contradict each other, with ``invalid``: examples of
    such settings (dicts) and a fragment of the message each raises;
    ``methods``: names of :func:`fastgd.minimize` methods and the options
    that make them; ``examples``: settings that together exercise every
    branch of the rule (the tests and benchmarks run them); ``torch``: the
    ``torch.optim`` class with the same semantics (for parity tests), if
    any; ``extras``: further attributes of the optimizer class (ASGD's
    ``averaged``); ``auto_lr``: the rate ``lr="auto"`` starts from (see
    :mod:`fastgd.models.auto`): ``"curvature"`` (1/L from the loss's
    curvature bound, for the rules whose step is lr times the gradient) or
    a number, the rate on standardized features for a target of unit scale
    (None: the default ``lr`` as it is, for the rules that find their own
    scale: Adadelta, Prodigy, Adafactor, SGDScheduleFree);
    ``eval_point``: the name of the state array that holds
    the point to evaluate the model at, when it is not ``params`` (where
    the gradient is taken): schedule-free's average ``x``
    (``Optimizer.eval_params``, what the estimators predict with);
    ``reduce``, ``combine``, ``n_sums``: the reduction stage of a rule
    that needs sums over the whole vector (see the module docstring);
    ``layered``: the stage runs once per segment of the parameters' layout
    (per layer: LAMB's trust ratio, Adafactor's scaling), not over the
    whole vector; ``matrix``: the serial step ``matrix(w, g, s, k, cols)``
    of one 2-D segment (``cols`` columns, C order) for a layered rule whose
    math uses the shape (Adafactor's factored moment), instead of the
    stage and the loop.
    """

    name: str
    class_name: str
    lr: float
    params: tuple
    state: tuple
    constants: object
    loop: object
    doc: str
    scalars: tuple = ()
    check_combination: object = None
    invalid: tuple = ()
    methods: dict = field(default_factory=dict)
    examples: tuple = ({},)
    torch: str = None
    extras: dict = field(default_factory=dict)
    auto_lr: object = None
    eval_point: str = None
    reduce: object = None
    combine: object = None
    n_sums: int = 0
    layered: bool = False
    matrix: object = None

    # -- hyperparameters ----------------------------------------------------------------

    @property
    def param_names(self):
        return tuple(p.name for p in self.params)

    def param(self, name):
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self):
        """{name: default} of every hyperparameter (not lr)."""
        return {p.name: p.default for p in self.params}

    def checked(self, hyper):
        """A dict of every hyperparameter, validated and normalised, defaults filled in.

        Unknown names raise TypeError; values are checked one by one, then
        together (``check_combination``). Changes nothing.
        """
        unknown = sorted(set(hyper) - set(self.param_names))
        if unknown:
            raise TypeError(f"{self.class_name}: unknown hyperparameter(s) {unknown}; it takes "
                            f"{list(self.param_names)}")
        out = {p.name: p.check(hyper.get(p.name, p.default)) for p in self.params}
        if self.check_combination is not None:
            self.check_combination(out)
        return out

    def hyper_tuple(self, hyper):
        """The tuple ``h`` the jitted pieces take, from a checked dict."""
        return tuple(v for p in self.params for v in p.encode(hyper[p.name]))

    def hyper(self, **hyper):
        """``h`` for the given hyperparameters (defaults for the others), validated.

        For calling the kernels from your own ``@numba.njit`` code.
        """
        return self.hyper_tuple(self.checked(hyper))

    # -- state ----------------------------------------------------------------------------------

    def needs(self, state, hyper):
        """Whether the State ``state`` must be allocated under the hyperparameters ``hyper``."""
        return state.when is None or bool(hyper[state.when])

    def _start(self, state, hyper):
        return float(hyper[state.init]) if isinstance(state.init, str) else float(state.init)

    def segments(self, params, shapes=None):
        """The segment table ``seg`` of this rule for the layout ``shapes`` of ``params``
        (see :mod:`fastgd.kernels.layout`; None: the whole vector), validated."""
        return segment_table(self, check_shapes(shapes, params.size), params.size)

    def new_state(self, params, hyper, lr=None, table=None):
        """A fresh state dict: arrays (empty where not yet needed) and scalars.

        ``hyper``: a checked dict; ``lr``: the starting learning rate (for
        scalars that start at it); ``table``: the segment table (None: the
        whole vector), which sets the arrays' sizes.
        """
        out = {s.name: params[:0].copy() for s in self.state}
        self.arrays(out, params, hyper, table)  # allocates those needed now
        for c in self.scalars:
            out[c.name] = self._scalar_start(c, hyper, lr)
        return out

    @staticmethod
    def _scalar_start(c, hyper, lr):
        if c.init == "lr":
            return float(lr)
        return float(hyper[c.init]) if isinstance(c.init, str) else float(c.init)

    def sizes(self, params, table=None):
        """{name: size} of the state arrays under the segment ``table`` (None: the whole vector)."""
        return state_sizes(self, self.segments(params) if table is None else table)

    def arrays(self, state, params, hyper, table=None):
        """The tuple ``s`` of state arrays for the kernels; allocates those ``hyper``
        now needs (in ``state``, the optimizer's dict) as a fresh optimizer would."""
        sizes = self.sizes(params, table)
        out = []
        for s in self.state:
            arr = state[s.name]
            if arr.size != sizes[s.name] and self.needs(s, hyper):
                arr = state[s.name] = np.full(sizes[s.name], self._start(s, hyper),
                                              dtype=params.dtype)
                if s.resets is not None:
                    c = next(c for c in self.scalars if c.name == s.resets)
                    state[c.name] = self._scalar_start(c, hyper, hyper.get("lr"))
            out.append(arr)
        return tuple(out)

    def init_state(self, params, shapes=None, **hyper):
        """``(s, sc)`` for the kernels over ``params`` laid out as ``shapes`` (None: one
        segment), with the given hyperparameters.

        For calling the kernels from your own ``@numba.njit`` code.
        """
        checked = self.checked(hyper)
        table = self.segments(params, shapes)
        state = self.new_state(params, checked, lr=self.lr, table=table)
        return self.arrays(state, params, checked, table), self.scalar_array(state)

    def scalar_array(self, state):
        """The float64 array ``sc`` from a state dict."""
        return np.array([state[c.name] for c in self.scalars], dtype=np.float64)

    # -- compiled pieces ------------------------------------------------------------------------

    @property
    def step(self):
        """The parallel step kernel ``step(params, grad, s, sc, t, lr, h[, seg])``: ``seg`` the
        segment table of a layout (:meth:`segments`; without it the whole vector)."""
        return _compiled(self, "step")

    @property
    def apply(self):
        """The serial step ``apply(w, g, s, sc, t, lr, h[, seg])``: constants, then the
        reduction stage (per segment) and the loop over whole arrays."""
        return _compiled(self, "apply")


_COMPILED = {}


def pieces(rule):
    """The bindings of the templates that run a rule's step (this module's, the fused
    epoch's): its pieces, with no-op reduction pieces and ``N_SUMS = 0`` (a frozen
    constant: the reduction is not compiled) for an element-wise rule, and
    ``segment_step``, the serial step of one segment of the layout."""
    reduce = rule.reduce or _no_reduce
    combine = rule.combine or _no_combine
    n_sums = int(rule.n_sums)
    reduce_serial = specialize(_reduce_serial, reduce=reduce, N_SUMS=n_sums)
    segment_step = specialize(_segment_step, loop=rule.loop, combine=combine,
                              reduce_serial=reduce_serial, matrix=rule.matrix or _no_matrix,
                              HAS_MATRIX=rule.matrix is not None)
    return dict(constants=rule.constants, loop=rule.loop, reduce=reduce, combine=combine,
                N_SUMS=n_sums, reduce_serial=reduce_serial, segment_step=segment_step,
                HAS_MATRIX=rule.matrix is not None)


@jit
def chunk_sum(partial, j):
    """Sum j of the reduction stage: column j of the chunks' rows, added in chunk order
    (the same bits whatever the thread count); for a rule's ``combine``."""
    total = 0.0
    for c in range(partial.shape[0]):
        total += partial[c, j]
    return total


@jit
def _no_reduce(w, g, s, k, out):
    pass


@jit
def _no_combine(w, k, partial, sc):
    return k


@jit
def _no_matrix(w, g, s, k, cols):
    pass


def _compiled(rule, what):
    key = (rule.name, what)
    if key not in _COMPILED:
        if what == "step":
            kernel = specialize(_step, parallel=True, **pieces(rule))
            kernel.__doc__ = _step_doc(rule)
        else:
            kernel = specialize(_apply, **pieces(rule))
        _COMPILED[key] = kernel
    return _COMPILED[key]


def _step(params, grad, s, sc, t, lr, h, seg=None):
    n = params.size
    k = constants(params, t, lr, h, sc)  # noqa: F821 (bound by specialize)
    if N_SUMS > 0:  # noqa: F821 (the reduction stage, per segment of the layout)
        table = whole_table(params, s) if seg is None else seg
        for j in range(table.shape[0]):
            row = table[j]
            size = row[SIZE]
            if size <= PARALLEL_THRESHOLD or (row[COLS] > 0 and HAS_MATRIX):  # noqa: F821
                segment_step(params, grad, s, k, sc, row)  # noqa: F821
                continue
            # the reduction stage and the loop under prange over the segment's chunks (a
            # prange runs in parallel in the parallel template itself only, not in a callee)
            lo = row[START]
            w = params[lo:lo + size]
            g = grad[lo:lo + size]
            sj = segment_views(s, row)
            partial = np.empty((n_chunks(size), N_SUMS))  # noqa: F821
            for c in prange(n_chunks(size)):
                a = c * CHUNK
                e = min(size, a + CHUNK)
                reduce(w[a:e], g[a:e], views(sj, a, e), k, partial[c])  # noqa: F821
            kj = combine(w, k, partial, sc)  # noqa: F821
            for c in prange(n_chunks(size)):
                a = c * CHUNK
                e = min(size, a + CHUNK)
                loop(w[a:e], g[a:e], views(sj, a, e), kj)  # noqa: F821
    elif n <= PARALLEL_THRESHOLD:
        loop(params, grad, s, k)  # noqa: F821
    else:
        for c in prange(n_chunks(n)):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            # views, not indices into the captured arrays: loops over views vectorise
            loop(params[lo:hi], grad[lo:hi], views(s, lo, hi), k)  # noqa: F821


def _apply(w, g, s, sc, t, lr, h, seg=None):
    k = constants(w, t, lr, h, sc)  # noqa: F821 (bound by specialize)
    if N_SUMS > 0:  # noqa: F821
        table = whole_table(w, s) if seg is None else seg
        for j in range(table.shape[0]):
            segment_step(w, g, s, k, sc, table[j])  # noqa: F821
    else:
        loop(w, g, s, k)  # noqa: F821


def _segment_step(params, grad, s, k, sc, row):
    """The serial step of the segment ``row`` of a segment table (see
    :mod:`fastgd.kernels.layout`): the rule's ``matrix`` step for a 2-D segment
    when it has one, else its reduction stage and loop over the segment."""
    lo = row[START]
    w = params[lo:lo + row[SIZE]]
    g = grad[lo:lo + row[SIZE]]
    sj = segment_views(s, row)
    if HAS_MATRIX and row[COLS] > 0:  # noqa: F821 (bound by specialize)
        matrix(w, g, sj, k, row[COLS])  # noqa: F821
    else:
        loop(w, g, sj, combine(w, k, reduce_serial(w, g, sj, k), sc))  # noqa: F821


def _reduce_serial(w, g, s, k):
    """The chunks' partial sums of the reduction stage, serially (the same chunks, and so
    the same bits, as the ``prange`` over them in the parallel templates)."""
    n = w.size
    nc = n_chunks(n)
    partial = np.empty((nc, N_SUMS))  # noqa: F821 (bound by specialize)
    for c in range(nc):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        reduce(w[lo:hi], g[lo:hi], views(s, lo, hi), k, partial[c])  # noqa: F821
    return partial


def _step_doc(rule):
    names = ", ".join(s.name for s in rule.state)
    args = "params, grad, s, sc, t, lr, h" + ("[, seg]" if rule.layered else "")
    return (f"One {rule.class_name} step, in place: ``step({args})``.\n\n"
            f"``s`` = ({names}) and ``sc`` are the state (``{rule.name.upper()}.init_state``), "
            f"``h`` the hyperparameters (``{rule.name.upper()}.hyper(...)``), ``t`` the step "
            f"(1 for the first)"
            + (f"; ``seg``, optional, the segment table of a layout "
               f"(``{rule.name.upper()}.segments(params, shapes)``)" if rule.layered else "")
            + ".\n\n" + inspect.cleandoc(rule.doc))
