"""minimize: scipy.optimize.minimize's conventions, fastgd's update rules."""

import inspect
import math

import numpy as np

from .._validation import (as_float_vector, check_args, check_bool, check_callable, check_int,
                           check_real, real_scalar)
from ..gradients._kernels import central_gradient_into, central_gradient_into_python
from ..gradients.numerical import is_njit, numerical_gradient
from ..schedules import ReduceLROnPlateau, Schedule, as_schedule
from . import driver
from .driver import CALLBACK, DIVERGED, FTOL, GTOL, LINE_SEARCH_FAILED, MAXITER, RUNNING
from .result import OptimizeResult
from .rules import RULES, pack

METHODS = tuple(RULES)
STATUS = {
    GTOL: "converged: gradient norm <= gtol",
    MAXITER: "maxiter reached",
    FTOL: "converged: relative change of f <= ftol",
    DIVERGED: "diverged",
    LINE_SEARCH_FAILED: "line search failed",
    CALLBACK: "stopped by the callback",
}
_NEVER = np.iinfo(np.int64).max


def minimize(fun, x0, jac=None, method="adam", lr=None, *, args=(), options=None,
             line_search=False, gtol=1e-5, ftol=0.0, maxiter=10_000, max_growth=1e6,
             callback=None, n_starts=1, random_state=None, start_scale=1.0, start_bounds=None):
    r"""Minimise a scalar function by gradient descent with one of fastgd's update rules.

    Follows ``scipy.optimize.minimize``: ``fun(x, *args) -> float``, ``jac``,
    ``callback`` and the returned :class:`OptimizeResult`. Each iteration::

        g_k     = grad f(x_k)
        x_{k+1} = rule(x_k, g_k, lr_k)        # e.g. Adam, with its state
        stop when |g_k|_2 <= gtol, or |f_{k-1} - f_k| <= ftol max(|f_{k-1}|, |f_k|, 1),
        or after maxiter updates

    **Native speed.** When ``fun`` (and ``jac``, if a callable) are numba
    ``@njit`` functions the whole loop runs in nopython mode in one call, with
    no Python per iteration (with a ``callback``: one call per iteration, which
    is also the way to keep a long run interruptible with Ctrl-C).
    Any other callables run the same loop interpreted. The first call for a
    new function compiles the loop for it (about a second per method family);
    later calls with the same function and dtype reuse it.

    Parameters
    ----------
    fun : callable ``fun(x, *args) -> float`` (or ``-> (float, ndarray)`` with ``jac=True``)
        x is the optimizer's own array: fun must not keep or modify it.
    x0 : 1-D array of float32 or float64
        The starting point; never modified. float32 stays float32 (the
        iterates, the state and the result). Integer arrays are converted to
        float64, as scipy does; bool and complex x0 are refused (TypeError):
        gradient descent needs real floating-point coordinates, and silently
        dropping an imaginary part would hide a bug.
    jac : callable ``jac(x, *args) -> ndarray``, True, or None
        The gradient. True: fun returns (f, g). None (or False): central
        differences (:func:`fastgd.numerical_gradient`), 2n evaluations of fun
        per iteration, in parallel for an ``@njit`` fun.
    method : str
        "gd" (plain gradient descent; ``line_search=True`` adds Armijo
        backtracking), "momentum" and "nesterov" (SGD, momentum 0.9),
        "adagrad", "rmsprop", "adam", "adamw", "amsgrad", "adamax", "nadam",
        "radam", "asgd". Each is the kernel of the optimizer of the same
        name in :mod:`fastgd.optim`, with PyTorch's conventions.
    lr : float, :class:`fastgd.schedules.Schedule` or "auto", optional
        The learning rate, or a schedule of the iteration number. Default: the
        optimizer's (1e-3 for Adam and SGD, 1e-2 Adagrad/RMSprop/ASGD, 2e-3
        Adamax/NAdam), and 1.0 for "gd" with a line search, where it is the
        first step tried on each iteration. ``"auto"``: for "gd", "momentum",
        "nesterov" and "asgd" (whose step is lr times the gradient), (1 -
        momentum) / L with L the largest curvature at x0, from a power
        iteration on finite-difference Hessian-vector products (at most
        ``AUTO_ITERATIONS`` more gradients, counted in nfev/njev); for the
        adaptive rules (steps of about lr per coordinate), the rule's
        ``auto_lr`` times max(1, max|x0|). The rate chosen is ``result.lr``.
    args : tuple
        Extra arguments for fun and jac.
    options : dict, optional
        Hyperparameters of the rule, with the optimizer's names and
        defaults: ``betas``, ``eps``, ``weight_decay``, ``amsgrad`` (Adam);
        ``momentum``, ``dampening``, ``nesterov`` (SGD); ``alpha``,
        ``centered`` (RMSprop); ``lr_decay``, ``initial_accumulator_value``
        (Adagrad); ``momentum_decay``, ``decoupled_weight_decay`` (NAdam,
        RAdam); ``lambd``, ``alpha``, ``t0`` (ASGD) ...
    line_search : bool
        Armijo backtracking (c1 = 1e-4, halving, at most 60 halvings) for
        "gd" without momentum or weight decay.
    gtol : float >= 0
        Stop when the 2-norm of the gradient is at most gtol.
    ftol : float >= 0
        Stop when the relative change of f between two iterations is at most
        ftol. Off (0) by default: first-order methods crawl along flat valleys
        with tiny changes of f long before they converge.
    maxiter : int >= 0
        The most updates.
    max_growth : float > 0 or None
        Stop as diverged when f exceeds f(x0) + max_growth * max(1, |f(x0)|).
        f or x turning NaN or inf always stops the run as diverged. None
        turns the growth test off.
    callback : callable, optional
        ``callback(intermediate_result)`` after every iteration, with an
        :class:`OptimizeResult` holding ``x`` (a copy), ``fun`` and ``nit``
        (scipy's new style: the parameter must be named
        ``intermediate_result``); any other signature is called as
        ``callback(xk)``. Raising ``StopIteration`` or returning True stops
        the run (status 99).
    n_starts : int >= 1
        Run from several starting points and return the best (lowest f
        among the successful runs, else among all). Start 0 is x0; the others
        are ``x0 + start_scale * N(0, I)`` draws, or uniform in
        ``start_bounds`` when given. ``res.all_results`` holds every run.
    random_state : None, int or numpy.random.Generator
        Seeds the starting points.
    start_scale : float > 0
    start_bounds : sequence of (low, high) pairs, one per coordinate, optional
        The box the random starts are drawn from (it does not constrain the
        iterates).

    Returns
    -------
    :class:`OptimizeResult` with ``x``, ``fun``, ``jac``, ``nit``, ``nfev``,
    ``njev``, ``success``, ``status``, ``message``, ``fun_history`` and
    ``method``. After a divergence, ``x`` is the last iterate at which x and
    f were finite and below the growth limit, and the message says so and
    suggests a smaller learning rate.

    Examples
    --------
    >>> import numpy as np
    >>> import fastgd
    >>> def f(x):
    ...     return (x[0] - 1.0) ** 2 + 10.0 * (x[1] + 2.0) ** 2
    >>> def grad(x):
    ...     return np.array([2.0 * (x[0] - 1.0), 20.0 * (x[1] + 2.0)])
    >>> res = fastgd.minimize(f, np.zeros(2), jac=grad, method="adam", lr=0.05, gtol=1e-8)
    >>> res.success, res.x.round(6)
    (True, array([ 1., -2.]))
    """
    problem = _Problem(fun, x0, jac, method, lr, args, options, line_search, gtol, ftol, maxiter,
                       max_growth, callback)
    n_starts = check_int("n_starts", n_starts, low=1)
    starts = _starting_points(problem.x0, n_starts, random_state, start_scale, start_bounds)
    if n_starts == 1:
        return problem.run(starts[0], first=True)
    results = [problem.run(s, first=(i == 0)) for i, s in enumerate(starts)]
    pool = [i for i, r in enumerate(results) if r.success] or \
           [i for i, r in enumerate(results) if math.isfinite(r.fun)] or [0]
    best_index = min(pool, key=lambda i: results[i].fun)
    best = OptimizeResult(results[best_index])
    best.all_results = results
    best.best_start = best_index
    return best


def _starting_points(x0, n_starts, random_state, scale, bounds):
    scale = check_real("start_scale", scale, low=0.0, low_open=True)
    if bounds is not None:
        try:
            box = np.asarray(bounds, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("start_bounds must be a sequence of (low, high) pairs") from None
        if box.shape != (x0.size, 2):
            raise ValueError(f"start_bounds must have shape ({x0.size}, 2), one (low, high) pair "
                             f"per coordinate, got {box.shape}")
        if not (np.all(np.isfinite(box)) and np.all(box[:, 0] < box[:, 1])):
            raise ValueError("start_bounds must be finite with low < high in every pair")
    if isinstance(random_state, np.random.Generator):
        rng = random_state
    elif random_state is None or (isinstance(random_state, (int, np.integer))
                                  and not isinstance(random_state, bool) and random_state >= 0):
        rng = np.random.default_rng(random_state)
    else:
        raise TypeError(f"random_state must be None, an int >= 0 or a numpy Generator, "
                        f"got {random_state!r}")
    starts = [x0]
    for _ in range(n_starts - 1):
        if bounds is None:
            s = x0 + scale * rng.standard_normal(x0.size)
        else:
            s = rng.uniform(box[:, 0], box[:, 1])
        starts.append(s.astype(x0.dtype))
    return starts


class _Problem:
    """A validated minimize call: everything but the starting point."""

    def __init__(self, fun, x0, jac, method, lr, args, options, line_search, gtol, ftol,
                 maxiter, max_growth, callback):
        self.fun = check_callable("fun", fun)
        x0 = as_float_vector("x0", x0)
        if not np.all(np.isfinite(x0)):
            raise ValueError("x0 must be finite, it contains NaN or inf")
        self.x0 = x0
        if jac is False:
            jac = None
        if not (jac is None or jac is True or callable(jac)):
            raise TypeError(f"jac must be a callable, True or None, got {jac!r}")
        self.jac = jac
        if not isinstance(method, str) or method not in RULES:
            raise ValueError(f"method must be one of {list(RULES)}, got {method!r}")
        self.method = method
        self.rule = RULES[method]
        self.args = check_args("args", args)
        self.line_search = check_bool("line_search", line_search)
        self.auto = isinstance(lr, str) and lr == "auto"
        if isinstance(lr, str) and not self.auto:
            raise TypeError(f"lr must be a real number, a Schedule, 'auto' or None, got {lr!r}")
        if self.auto and self.line_search:
            raise ValueError("lr='auto' and line_search=True both choose the step: pass one")
        if self.auto:
            lr = None
        elif lr is None:
            lr = 1.0 if self.line_search else None
        if isinstance(lr, ReduceLROnPlateau):
            raise TypeError("lr: ReduceLROnPlateau needs report() calls between epochs, "
                            "which minimize does not make; use a schedule of the step")
        self.options = self._options(options, lr)
        self.gtol = check_real("gtol", gtol, low=0.0)
        self.ftol = check_real("ftol", ftol, low=0.0)
        self.maxiter = check_int("maxiter", maxiter, low=0)
        self.max_growth = math.inf if max_growth is None else \
            check_real("max_growth", max_growth, low=0.0, low_open=True)
        self.callback = None if callback is None else check_callable("callback", callback)
        self.new_style = callback is not None and _new_style(callback)
        self._callback_message = ""
        self.native = is_njit(fun) and (jac is None or jac is True or is_njit(jac))

    def _options(self, options, lr):
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise TypeError(f"options must be a dict, got {type(options).__name__}")
        cls = self.rule.optimizer
        allowed = list(self.rule.rule.param_names)
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise TypeError(f"options: unknown option(s) {unknown} for method {self.method!r}; "
                            f"it takes {allowed}")
        merged = {**self.rule.defaults, **options}
        if lr is not None:
            merged["lr"] = lr
        # the optimizer validates everything, with its own messages, and builds the state
        probe = cls(np.zeros(1, dtype=self.x0.dtype), **merged)
        self.lr = probe.lr
        if self.line_search:
            h = probe.hyperparameters
            if self.rule.rule.name != "sgd" or h["momentum"] != 0 or h["weight_decay"] != 0:
                raise ValueError(f"line_search=True needs method='gd' without momentum or "
                                 f"weight_decay, got method={self.method!r}")
        return merged

    # -- one run --------------------------------------------------------------

    def _first_evaluation(self, x, first):
        """f(x) and its gradient, checked; the path's evaluator and gradient argument."""
        fun, jac, args = self.fun, self.jac, self.args
        where = "x0" if first else "the starting point"
        out = fun(x, *args)
        if jac is True:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(f"with jac=True, fun must return a pair (f, gradient), "
                                f"got {type(out).__name__}")
            out, g = out
        f = real_scalar("fun", out, f" at {where}")
        if jac is True:
            evaluate, grad_arg, name = driver.eval_combined, fun, "the gradient returned by fun"
        elif jac is None:
            g = numerical_gradient(fun, x, args=args)
            evaluate, name = driver.eval_numeric, "the numerical gradient"
            grad_arg = central_gradient_into if self.native else central_gradient_into_python
        else:
            g = jac(x, *args)
            evaluate, grad_arg, name = driver.eval_separate, jac, "jac"
        g = np.asarray(g)
        if g.shape != x.shape:
            raise ValueError(f"{name} has shape {g.shape} at {where}, but x0 has shape {x.shape}")
        if g.dtype.kind not in "fiu":
            raise TypeError(f"{name} must be real, got dtype {g.dtype}")
        if not np.all(np.isfinite(g)):
            raise ValueError(f"{name} contains NaN or inf at {where}")
        if not self.native:
            evaluate = evaluate.py_func
        return f, g.astype(x.dtype), evaluate, grad_arg

    def run(self, start, first):
        x = start.copy()
        n = x.size
        try:
            f, g, evaluate, grad_arg = self._first_evaluation(x, first)
        except (TypeError, ValueError):
            if first:
                raise
            return self._failed_start(x)
        extra = 0
        if self.auto:
            extra = self._choose_lr(x, g)
        packed = pack(self.rule, x, self.options)
        spec = as_schedule(self.lr).spec
        hist = np.empty(self.maxiter + 1, dtype=np.float64)
        hist[0] = f
        grad_fevals = 2 * n if self.jac is None else 0
        counts = np.array([0, 1 + grad_fevals + extra * (1 if self.jac is True else grad_fevals
                                                          if self.jac is None else 0),
                           1 + extra * (self.jac is not None)], dtype=np.int64)
        drive = driver.driver_for(self.rule.rule)
        if not self.native:
            drive = drive.py_func
        call = (evaluate, self.fun, grad_arg, self.args, x, g, packed.s, packed.sc, packed.h, spec,
                hist, counts, self.jac is True, grad_fevals, self.line_search, self.maxiter,
                self.gtol, self.ftol, self.max_growth)
        if self.callback is None:
            status = drive(*call, _NEVER)
        else:
            while True:
                status = drive(*call, counts[0] + 1)
                if status != RUNNING:
                    break
                if self._callback_stops(x, hist[counts[0]], int(counts[0])):
                    status = CALLBACK
                    break
        return self._result(status, x, g, hist, counts)

    def _gradient(self, x):
        """The gradient at x, a float64 copy (for lr="auto"'s probes)."""
        if self.jac is True:
            return np.array(self.fun(x, *self.args)[1], dtype=np.float64)
        if self.jac is None:
            return np.array(numerical_gradient(self.fun, x, args=self.args), dtype=np.float64)
        return np.array(self.jac(x, *self.args), dtype=np.float64)

    def _choose_lr(self, x, g):
        """Set ``lr="auto"``'s rate (see minimize's doc); returns the gradients it took."""
        rule = self.rule.rule
        spec = rule.auto_lr
        used = 0
        if spec is None:             # a rule that finds its own scale: its default rate
            lr = rule.lr
        elif spec == "curvature":
            lam, used = curvature_at(self._gradient, x, g)
            momentum = float(self.options.get("momentum", 0.0))
            lr = (1.0 - momentum) / lam if lam > 0 else rule.lr
        else:
            lr = float(spec) * max(1.0, float(np.max(np.abs(x))))
        self.lr = lr
        self.options["lr"] = lr
        return used

    def _callback_stops(self, x, f, k):
        try:
            if self.new_style:
                stop = self.callback(intermediate_result=OptimizeResult(x=x.copy(), fun=float(f),
                                                                        nit=k))
            else:
                stop = self.callback(x.copy())
        except StopIteration:
            self._callback_message = "`callback` raised `StopIteration`."
            return True
        if stop is True:
            self._callback_message = "`callback` returned True."
            return True
        return False

    def _result(self, status, x, g, hist, counts):
        k = int(counts[0])
        f = float(hist[k])
        gnorm = float(np.sqrt(np.sum(g.astype(np.float64) ** 2)))
        if status == GTOL:
            message = (f"Optimization terminated successfully: the gradient norm {gnorm:.3g} "
                       f"<= gtol={self.gtol:g}.")
        elif status == FTOL:
            message = (f"Optimization terminated successfully: the relative change of f "
                       f"<= ftol={self.ftol:g}.")
        elif status == MAXITER:
            message = (f"Maximum number of iterations ({self.maxiter}) reached; the gradient "
                       f"norm is {gnorm:.3g} > gtol={self.gtol:g}.")
        elif status == DIVERGED:
            message = self._divergence_message(k, float(hist[0]), float(hist[k + 1]))
        elif status == LINE_SEARCH_FAILED:
            message = ("Line search failed: no step satisfied the Armijo condition after "
                       f"{driver.MAX_BACKTRACKS} halvings. f may be at a minimum to rounding "
                       "(gtol too small), or the gradient may be wrong: check it with "
                       "fastgd.check_grad.")
        else:
            message = self._callback_message
        end = k + 2 if status == DIVERGED else k + 1
        chosen = {"lr": self.lr} if self.auto else {}
        return OptimizeResult(
            x=x, fun=f, jac=g, nit=k, nfev=int(counts[1]), njev=int(counts[2]),
            success=status in (GTOL, FTOL), status=status, message=message,
            fun_history=hist[:end].copy(), method=self.method, **chosen)

    def _divergence_message(self, k, f0, f_bad):
        if not math.isfinite(f_bad):
            what = f"f became {f_bad!r}"
        elif f_bad > f0 + self.max_growth * max(1.0, abs(f0)):
            what = (f"f grew from {f0:.6g} at x0 to {f_bad:.6g}, more than "
                    f"max_growth={self.max_growth:g} times max(1, |f(x0)|)")
        else:
            what = "x became NaN or inf (or so large that |x|^2 overflows)"
        lr0 = self.lr(0) if isinstance(self.lr, Schedule) else self.lr
        hint = " or line_search=True" if self.method == "gd" and not self.line_search else ""
        return (f"Diverged at iteration {k + 1}: {what}. The learning rate is probably too "
                f"large for this problem: try a smaller lr (e.g. lr={lr0 / 10:g}){hint}. "
                f"x is the last finite iterate (iteration {k}).")

    def _failed_start(self, x):
        return OptimizeResult(
            x=x, fun=math.nan, jac=np.full_like(x, np.nan), nit=0, nfev=1, njev=0, success=False,
            status=DIVERGED, message="fun or its gradient is not finite at this starting point.",
            fun_history=np.empty(0), method=self.method)


AUTO_ITERATIONS = 20


def curvature_at(gradient, x, g, iterations=AUTO_ITERATIONS):
    """(|lambda|_max of the Hessian at x, gradients taken): power iteration on forward
    differences H v ~ (gradient(x + h v) - g) / h, h = sqrt(eps) max(1, max|x|), from v = g
    (the direction the first steps take); stops when the estimate changes by < 0.1%."""
    x64 = np.asarray(x, dtype=np.float64)
    g64 = np.asarray(g, dtype=np.float64)
    h = float(np.sqrt(np.finfo(np.asarray(x).dtype).eps)) * max(1.0, float(np.max(np.abs(x64))))
    norm = float(np.linalg.norm(g64))
    v = g64 / norm if norm > 0 else np.full(x64.size, 1.0 / np.sqrt(x64.size))
    lam = 0.0
    used = 0
    for _ in range(iterations):
        probe = (x64 + h * v).astype(np.asarray(x).dtype)
        hv = (gradient(probe) - g64) / h
        used += 1
        new = float(np.linalg.norm(hv))
        if not (new > 0 and np.isfinite(new)):
            break
        v = hv / new
        done = abs(new - lam) <= 1e-3 * new
        lam = new
        if done:
            break
    return lam, used


def _new_style(callback):
    try:
        params = inspect.signature(callback).parameters
    except (TypeError, ValueError):
        return False
    return "intermediate_result" in params
