"""``fastgd demo``: the lessons of gradient descent, shown with real fits.

One least-squares problem is generated locally (no download) and fitted with
fastgd's :class:`~fastgd.LinearRegression` in three experiments:

1. **Four methods on the same problem.** Batch gradient descent
   (``batch_size=None``: one step per epoch, exact gradient), stochastic
   gradient descent (``batch_size=1``), mini-batch gradient descent and Adam.
   Each runs the same number of epochs; the table gives the epochs and
   seconds each needed to come within 1% of the best possible loss (the
   least-squares optimum, computed in closed form), its throughput and its
   loss at the end.
2. **The learning rate.** Batch gradient descent on a quadratic is stable
   for ``lr < 2 / L``, L the largest eigenvalue of the Hessian (computed
   here). Too small a rate crawls; ``1 / L`` converges; just under ``2 / L``
   every step overshoots (the iterates oscillate) yet it converges; above
   ``2 / L`` the oscillation grows until the numbers overflow, and fastgd
   stops the fit with :class:`fastgd.DivergenceError`. Each verdict is
   computed from the run (the loss, the direction of successive steps, the
   exception), not assumed from the rate.
3. **Finding the learning rate.** The range test (:func:`fastgd.lr_find`)
   for mini-batch gradient descent and Adam, and a fit that starts at each
   suggested rate and anneals it, against the rates picked by hand for
   experiment 1 and against ``lr="auto"``, which needs neither.

The data are float32 (fastgd trains float32 as float32). The losses in the
tables and the plot are the full training objective ``0.5 * mean(r^2)``
after each epoch, evaluated the same way for every method (fastgd's own
``loss_curve_`` averages over the epoch's batches while the parameters move).

With ``--optimizers`` the demo also races every update rule on Rosenbrock's
valley (the optimizer objects of :mod:`fastgd.optim`, stepped from Python).
"""

import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

#: relative distance to the optimum that counts as "converged" in the tables
TARGET = 0.01


def say(*parts, end="\n"):
    """Print a progress line at once (flushed), so a slow first run shows what it does."""
    print(*parts, end=end, flush=True)


# -- the problem ------------------------------------------------------------------------------

@dataclass
class Problem:
    """A least-squares problem with its exact solution and curvature."""

    X: np.ndarray            # (n, d) float32
    y: np.ndarray            # (n,) float32
    best_loss: float         # min over (coef, intercept) of 0.5 * mean(r^2), in float64
    L: float                 # largest eigenvalue of the Hessian [X 1]^T [X 1] / n
    mu: float                # smallest eigenvalue
    solution: np.ndarray     # the optimum (coef..., intercept), float64

    @property
    def n(self):
        return self.X.shape[0]

    def loss(self, coef, intercept):
        """The training objective 0.5 * mean((X coef + b - y)^2), accumulated in float64."""
        r = self.X @ np.asarray(coef, dtype=np.float64) + float(intercept[0]) - self.y
        return 0.5 * float(np.mean(r * r))


def make_problem(n=20_000, d=20, seed=0):
    """y = X w + 2 + noise with unit-variance features, the first one scaled by 3.

    The scaled feature gives the Hessian one large eigenvalue (about 9, the
    others about 1): the learning rate is limited by it, while convergence is
    paced by the small ones, as in most real data.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, 0] *= 3.0
    y = X @ rng.standard_normal(d) + 2.0 + rng.standard_normal(n)
    X, y = X.astype(np.float32), y.astype(np.float32)
    # the optimum of the float32 data, solved in float64
    A = np.hstack([X.astype(np.float64), np.ones((n, 1))])
    solution = np.linalg.lstsq(A, y.astype(np.float64), rcond=None)[0]
    best = 0.5 * float(np.mean((A @ solution - y) ** 2))
    eig = np.linalg.eigvalsh(A.T @ A / n)
    return Problem(X, y, best, float(eig[-1]), float(eig[0]), solution)


# -- one tracked fit ----------------------------------------------------------------------------

@dataclass
class Run:
    """One fit: settings, loss after every epoch (index 0: before training), and the outcome."""

    label: str
    batch_size: object
    optimizer: str
    lr: float
    losses: list = field(default_factory=list)
    seconds: list = field(default_factory=list)       # wall-clock seconds at the end of each epoch
    engine_seconds: float = 0.0                        # time inside fastgd's epochs
    samples: int = 0
    reversals: float = float("nan")                    # share of steps that reverse the previous one
    steep: list = field(default_factory=list)          # coef_[0] (the steep direction) per epoch
    diverged_epoch: int = 0                            # > 0: DivergenceError in this epoch
    error: str = ""
    lr_used: float = float("nan")                      # the optimizer's rate (lr="auto"'s choice)

    @property
    def epochs(self):
        return len(self.losses) - 1

    @property
    def samples_per_second(self):
        return self.samples / self.engine_seconds if self.engine_seconds > 0 else float("nan")

    def epochs_to(self, level):
        """First epoch whose loss is <= level, or None."""
        for epoch, value in enumerate(self.losses):
            if value <= level:
                return epoch
        return None

    @property
    def final_loss(self):
        return self.losses[-1]


def fit_tracked(problem, label, *, batch_size, optimizer, lr, epochs, stop_below=None):
    """Fit ``fastgd.LinearRegression`` and record the full training loss after each epoch.

    The callback's own time (evaluating the loss, copying the parameters) is
    measured and taken out of the recorded seconds. ``stop_below``: stop once
    the loss is below it (for runs whose rest would add nothing).
    """
    import fastgd

    run = Run(label, batch_size, optimizer, lr)
    run.losses.append(problem.loss(np.zeros(problem.X.shape[1]), np.zeros(1)))
    run.seconds.append(0.0)
    run.steep.append(0.0)
    steps = []
    previous = [np.zeros(problem.X.shape[1] + 1)]
    overhead = [0.0]
    t0 = time.perf_counter()

    def record(info):
        t = time.perf_counter()
        est = info.estimator
        run.losses.append(problem.loss(est.coef_, est.intercept_))
        run.engine_seconds += info.seconds
        run.samples += problem.n
        w = np.concatenate([est.coef_, est.intercept_]).astype(np.float64)
        run.steep.append(float(w[0]))
        steps.append(w - previous[0])
        previous[0] = w
        run.seconds.append(t - t0 - overhead[0])
        overhead[0] += time.perf_counter() - t
        return stop_below is not None and run.losses[-1] <= stop_below

    model = fastgd.LinearRegression(optimizer=optimizer, lr=lr, batch_size=batch_size,
                                    max_epochs=epochs, alpha=0.0, tol=None, random_state=0,
                                    callback=record)
    try:
        model.fit(problem.X, problem.y)
    except fastgd.DivergenceError as exc:
        run.diverged_epoch = run.epochs + 1
        run.error = str(exc)
    if hasattr(model, "_optimizer") and isinstance(model.optimizer_.lr, float):
        run.lr_used = model.optimizer_.lr
    if len(steps) > 1:
        dots = [float(a @ b) for a, b in zip(steps[:-1], steps[1:])]
        run.reversals = sum(dot < 0 for dot in dots) / len(dots)
    return run


def warm_up(problem):
    """Load (or, on the first run, compile) the training loops outside every timing.

    The demo trains with five compiled epochs. On a first run they are
    compiled here, in two processes at once where there are two cores:
    this one compiles the plain epochs of experiments 1 and 2, a child
    compiles those of ``lr="auto"`` (experiment 3) into numba's disk cache,
    and experiment 3 loads them from there (numba compiles one function at
    a time in a process). Should the child fail (or hang: it is stopped
    after ten minutes), this process compiles them after its own.
    """
    import fastgd

    say("Loading fastgd's compiled training loops (the first run compiles them, once: "
        "several seconds) ... ", end="")
    t0 = time.perf_counter()
    child = _start_precompile() if _cores() > 1 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # batch GD over every row (the parallel gradient, on 20,000 rows), then batches
        for optimizer, batch, X, y in (("sgd", None, problem.X, problem.y),
                                       ("sgd", 8, problem.X[:64], problem.y[:64]),
                                       ("adam", 8, problem.X[:64], problem.y[:64])):
            fastgd.LinearRegression(optimizer=optimizer, batch_size=batch, max_epochs=1,
                                    tol=None, random_state=0).fit(X, y)
        if not _finished(child):
            precompile_auto()
    say(f"ready in {time.perf_counter() - t0:.1f} s")


def precompile_auto():
    """Fit ``lr="auto"`` on a small problem with each optimizer of experiment 3 (float32, 20
    features, batches of 64): compiles their epochs, or loads them from numba's cache."""
    import fastgd

    problem = make_problem(n=256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for optimizer in ("sgd", "adam"):
            fastgd.LinearRegression(optimizer=optimizer, lr="auto", batch_size=64, max_epochs=1,
                                    tol=None, random_state=0).fit(problem.X, problem.y)


def _start_precompile():
    """A child process running :func:`precompile_auto`, or None if it cannot start."""
    import subprocess
    try:
        return subprocess.Popen([sys.executable, "-c",
                                 "from fastgd.cli.demo import precompile_auto; precompile_auto()"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return None


def _finished(child, timeout=600):
    """True when the child process ran to success (killed if it hangs past ``timeout`` s)."""
    import subprocess
    if child is None:
        return False
    try:
        return child.wait(timeout=timeout) == 0
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        return False


def _cores():
    import os
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# -- experiment 1: four methods -------------------------------------------------------------------

def compare_methods(problem, epochs):
    """Batch, stochastic, mini-batch gradient descent and Adam, the same epochs each."""
    settings = [
        ("batch GD", None, "sgd", 1.0 / problem.L),
        ("stochastic GD", 1, "sgd", 5e-4),
        ("mini-batch GD", 64, "sgd", 0.02),
        ("Adam", 64, "adam", 0.01),
    ]
    runs = []
    for label, batch, optimizer, lr in settings:
        say(f"  {label:<14} batch_size={str(batch):<5} optimizer={optimizer:<5} lr={lr:<8.3g}",
            end="")
        run = fit_tracked(problem, label, batch_size=batch, optimizer=optimizer, lr=lr,
                          epochs=epochs)
        say(f" {run.epochs} epochs, {run.seconds[-1]:.2f} s")
        runs.append(run)
    return runs


def methods_table(problem, runs):
    """The comparison as text lines."""
    target = problem.best_loss * (1 + TARGET)
    lines = [f"{'method':<15}{'batch':>6}{'lr':>9}{'epochs':>8}{'seconds':>9}"
             f"{'samples/s':>13}{'final loss':>12}  {'vs optimum':>10}",
             f"{'':<15}{'':>6}{'':>9}{'to 1%':>8}{'to 1%':>9}"]
    for r in runs:
        reached = r.epochs_to(target)
        epochs = "-" if reached is None else str(reached)
        secs = "-" if reached is None else f"{r.seconds[reached]:.3f}"
        batch = "all" if r.batch_size is None else str(r.batch_size)
        gap = (r.final_loss / problem.best_loss - 1) * 100
        lines.append(f"{r.label:<15}{batch:>6}{r.lr:>9.3g}{epochs:>8}{secs:>9}"
                     f"{r.samples_per_second:>13,.0f}{r.final_loss:>12.5f}  {gap:>+9.2f}%")
    return lines


def methods_lessons(problem, runs):
    """What the comparison shows, in words, from the numbers."""
    target = problem.best_loss * (1 + TARGET)
    by = {r.label: r for r in runs}
    b, s = by["batch GD"], by["stochastic GD"]
    m, a = by["mini-batch GD"], by["Adam"]
    out = []
    reached = {r.label: r.epochs_to(target) for r in runs}
    if reached["batch GD"] is not None:
        out.append(f"- Batch GD takes one exact step per epoch: {reached['batch GD']} epochs to come "
                   f"within 1%, then it keeps converging (final loss "
                   f"{(b.final_loss / problem.best_loss - 1) * 100:+.3f}% from the optimum).")
    else:
        out.append(f"- Batch GD takes one exact step per epoch: after {b.epochs} epochs it is still "
                   f"{(b.final_loss / problem.best_loss - 1) * 100:.1f}% above the optimum.")
    if reached["stochastic GD"] is not None:
        out.append(f"- Stochastic GD takes {problem.n:,} noisy steps per epoch: within 1% after "
                   f"{reached['stochastic GD']} epoch(s), but with a constant rate it keeps "
                   f"jittering around the optimum ({(s.final_loss / problem.best_loss - 1) * 100:+.2f}% "
                   f"at the end): the noise floor shrinks with lr.")
    mini = (f"within 1% after {reached['mini-batch GD']} epoch(s)"
            if reached["mini-batch GD"] is not None else f"not within 1% in {m.epochs} epochs")
    out.append(f"- Mini-batch GD averages {m.batch_size} rows per step, so it makes "
               f"{m.batch_size}x fewer updates than SGD: {mini}, at {m.samples_per_second:,.0f} "
               f"samples/s against SGD's {s.samples_per_second:,.0f}.")
    out.append("- Adam adapts a step size per coordinate: "
               + (f"within 1% after {reached['Adam']} epoch(s)" if reached["Adam"] is not None
                  else "not within 1% in the budget")
               + f"; with a constant lr it also ends on a noise floor "
                 f"({(a.final_loss / problem.best_loss - 1) * 100:+.2f}%).")
    return out


# -- experiment 2: the learning rate -------------------------------------------------------------

def learning_rate_sweep(problem, epochs):
    """Batch gradient descent at lr = k / L for k below, at and above the stability limit 2."""
    runs = []
    stop = problem.best_loss * (1 + 1e-6)
    for k in (0.05, 1.0, 1.9, 3.0):
        lr = k / problem.L
        say(f"  lr = {k:<4} / L = {lr:<8.3g}", end="")
        # the diverging run needs room to overflow (about 130 epochs in float32)
        run = fit_tracked(problem, f"lr = {k} / L", batch_size=None, optimizer="sgd", lr=lr,
                          epochs=max(epochs, 400) if k > 2 else epochs, stop_below=stop)
        run.k = k
        say(f" {run.epochs} epochs" + (f", diverged in epoch {run.diverged_epoch}"
                                      if run.diverged_epoch else ""))
        runs.append(run)
    return runs


def verdict(problem, run):
    """The outcome of a sweep run in words, decided from what happened."""
    target = problem.best_loss * (1 + TARGET)
    reached = run.epochs_to(target)
    oscillates = run.reversals == run.reversals and run.reversals > 0.5
    if run.diverged_epoch:
        low = int(np.argmin(run.losses))
        grew = f"the loss grew from {run.losses[low]:.3g} (epoch {low})"
        finite = [v for v in run.losses if np.isfinite(v)]
        return (f"DIVERGES: every step overshoots further ({run.reversals:.0%} of the steps "
                f"reverse the previous one); {grew} to {max(finite):.3g}, then overflowed, and "
                f"fastgd stopped the fit with DivergenceError in epoch {run.diverged_epoch}.")
    if reached is None:
        ratio = run.final_loss / problem.best_loss
        return (f"CRAWLS: after {run.epochs} epochs the loss is still {ratio:.2f}x the optimum "
                f"(lr is too small).")
    if oscillates:
        return (f"OSCILLATES but converges: {run.reversals:.0%} of the steps reverse the previous "
                f"one; within 1% of the optimum after {reached} epochs.")
    return f"CONVERGES: within 1% of the optimum after {reached} epochs, steadily."


# -- experiment 3: finding the learning rate ------------------------------------------------------------

RANGE_STEPS = 120


def find_rates(problem, epochs):
    """The range test (:func:`fastgd.lr_find`) for mini-batch GD and Adam, then a fit that
    starts at each suggestion and anneals it (cosine) to 0 over the epochs, against the
    constant hand-picked rates of experiment 1."""
    import fastgd
    from fastgd import schedules

    out = []
    steps = epochs * -(-problem.n // 64)
    for label, optimizer, hand in (("mini-batch GD", "sgd", 0.02), ("Adam", "adam", 0.01)):
        est = fastgd.LinearRegression(optimizer=optimizer, batch_size=64, random_state=0)
        found = fastgd.lr_find(est, problem.X, problem.y, min_lr=1e-5, max_lr=10.0,
                               steps=RANGE_STEPS)
        say(f"  {label:<14} range test: the smoothed loss was lowest at "
            f"lr = {found.suggestion * 10:.3g}; suggested lr = {found.suggestion:.3g}", end="")
        run = fit_tracked(problem, f"{label}, found", batch_size=64, optimizer=optimizer,
                          lr=schedules.CosineAnnealing(found.suggestion, t_max=steps),
                          epochs=epochs)
        say(f"; fitted {run.epochs} epochs")
        auto = fit_tracked(problem, f"{label}, auto", batch_size=64, optimizer=optimizer,
                           lr="auto", epochs=epochs)
        out.append((label, hand, found, run, auto))
    return out


def found_lessons(problem, found, methods):
    """The range test's suggestions against the hand-picked rates, in words."""
    target = problem.best_loss * (1 + TARGET)
    by = {r.label: r for r in methods}
    lines = []
    for label, hand, result, run, auto in found:
        mine, theirs = run.epochs_to(target), by[label].epochs_to(target)
        reached = lambda k: "not within 1%" if k is None else f"within 1% after {k} epoch(s)"
        if mine is None or (theirs is not None and mine > theirs):
            pace = "slower than the hand-picked rate"
        elif theirs is None or mine < theirs:
            pace = "faster than the hand-picked rate"
        else:
            pace = "as fast as the hand-picked rate"
        lines.append(f"- {label} ({pace}): from the suggested lr = {result.suggestion:.3g}, "
                     f"annealed: "
                     f"{reached(mine)}, final loss "
                     f"{(run.final_loss / problem.best_loss - 1) * 100:+.2f}% from the optimum; "
                     f"at the constant hand-picked lr = {hand:g}: {reached(theirs)}, "
                     f"{(by[label].final_loss / problem.best_loss - 1) * 100:+.2f}%; with "
                     f"lr=\"auto\" (no test, no tuning: lr = {auto.lr_used:.3g}): "
                     f"{reached(auto.epochs_to(target))}, "
                     f"{(auto.final_loss / problem.best_loss - 1) * 100:+.2f}%.")
    lines.append(f"  The test took {RANGE_STEPS} mini-batch steps ({RANGE_STEPS * 64 / problem.n:.2g} "
                 f"epochs' worth of rows); its rate is where the loss falls fast, and annealing it "
                 f"lowers the noise floor that a constant rate leaves. "
                 f"`fastgd lr-find DATA --target ...` runs it on a file.")
    return lines


# -- optional: every optimizer on Rosenbrock ---------------------------------------------------------

def _rosenbrock_grad(x, out):
    out[0] = -2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2)
    out[1] = 200 * (x[1] - x[0] ** 2)


def _rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def compare_optimizers(steps):
    """Every update rule from (-1.2, 1) on Rosenbrock's valley, stepped from Python."""
    import fastgd

    settings = {
        "SGD": dict(lr=1e-3), "SGD+momentum": dict(lr=1e-3, momentum=0.9),
        "Adagrad": dict(lr=0.5), "RMSprop": dict(lr=1e-3), "Adam": dict(lr=0.02),
        "AdamW": dict(lr=0.02, weight_decay=0.0), "Adamax": dict(lr=0.02),
        "NAdam": dict(lr=0.02), "RAdam": dict(lr=2e-3),
    }
    say(f"\nEvery update rule on Rosenbrock's valley from (-1.2, 1), {steps:,} steps; "
        f"the minimum is f(1, 1) = 0")
    say(f"{'optimizer':<14}{'final f':>12}{'x':>24}{'steps/s':>12}")
    grad = np.empty(2)
    for label, kwargs in settings.items():
        x = np.array([-1.2, 1.0])
        opt = fastgd.OPTIMIZERS[label.split("+")[0].lower()](x, **kwargs)
        _rosenbrock_grad(x, grad)
        opt.step(grad)  # compile outside the timing
        t0 = time.perf_counter()
        for _ in range(steps):
            _rosenbrock_grad(x, grad)
            opt.step(grad)
        rate = steps / (time.perf_counter() - t0)
        say(f"{label:<14}{_rosenbrock(x):>12.3g}{str(np.round(x, 4)):>24}{rate:>12,.0f}")


# -- the whole demo -------------------------------------------------------------------------------

@dataclass
class DemoResult:
    """What :func:`run_demo` measured (for tests and for the plot)."""

    problem: Problem
    methods: list
    sweep: list
    found: list = field(default_factory=list)   # (label, hand-picked lr, LRFindResult, Run)
    plot: str = None


def run_demo(quick=False, plot=None, optimizers=False):
    """Run the demo, print its tables and lessons; write a PNG to ``plot`` if given.

    ``quick``: 2,000 rows instead of 20,000 (for tests and CI). Returns a
    :class:`DemoResult`. Raises ImportError (with the pip command) when
    ``plot`` is asked for without matplotlib, before any work is done.
    """
    t_start = time.perf_counter()
    if plot is not None:
        from .plot import require_matplotlib
        require_matplotlib()
    n, epochs = (2_000, 40) if quick else (20_000, 40)
    say(f"fastgd demo: least squares on {n:,} rows x 20 features (float32), generated locally")
    problem = make_problem(n=n)
    say(f"The best possible loss (closed form): {problem.best_loss:.5f}; Hessian eigenvalues "
        f"from {problem.mu:.2f} to L = {problem.L:.2f}")
    warm_up(problem)

    say(f"\n[1/3] The same problem, four ways: {epochs} epochs each")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        methods = compare_methods(problem, epochs)
    say("")
    for line in methods_table(problem, methods):
        say(line)
    say("")
    for line in methods_lessons(problem, methods):
        say(line)

    say(f"\n[2/3] The learning rate: batch GD is stable only for lr < 2 / L = "
        f"{2 / problem.L:.3g}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sweep = learning_rate_sweep(problem, epochs * 5)
    say("")
    for run in sweep:
        say(f"  lr = {run.k:<4} / L  {verdict(problem, run)}")

    say(f"\n[3/3] Finding the learning rate: the range test (Smith 2017), then {epochs} epochs "
        f"from its suggestion, annealed; and lr=\"auto\"")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = find_rates(problem, epochs)
    say("")
    for line in found_lessons(problem, found, methods):
        say(line)

    result = DemoResult(problem, methods, sweep, found)
    if optimizers:
        compare_optimizers(2_000 if quick else 20_000)
    if plot is not None:
        from .plot import plot_demo
        say(f"\nWriting the loss curves to {plot} ... ", end="")
        plot_demo(result, plot)
        result.plot = str(plot)
        say("done")
    say(f"\nDone in {time.perf_counter() - t_start:.1f} s."
        + ("" if plot is not None else " (`fastgd demo --plot curves.png` draws the loss curves.)"))
    return result


__all__ = ["make_problem", "fit_tracked", "compare_methods", "learning_rate_sweep", "verdict",
           "find_rates", "compare_optimizers", "run_demo", "Problem", "Run", "DemoResult", "TARGET"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo() and 0)
