"""The PNG of ``fastgd demo --plot FILE``: the loss curves of both experiments.

matplotlib is an optional extra (``pip install "fastgd[plot]"``); it is
imported only here, with the Agg backend (no display needed).

The y-axis is the *excess* loss ``f(w) - f(w*)`` on a log scale (``w*`` the
least-squares optimum): linear convergence is then a straight line, a noise
floor is a flat band, and divergence leaves the top of the panel.
"""

import numpy as np

FLOOR = 1e-9          # excess losses below this (float32 rounding) are drawn at it


def require_matplotlib():
    """Import matplotlib (Agg backend) or raise ImportError saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError('--plot needs matplotlib: pip install "fastgd[plot]" '
                          '(or pip install matplotlib)') from None
    matplotlib.use("Agg", force=True)
    return matplotlib


def _excess(problem, losses):
    values = np.asarray(losses, dtype=np.float64) - problem.best_loss
    return np.maximum(values, FLOOR)


def plot_demo(result, path):
    """Draw a :class:`fastgd.cli.demo.DemoResult` into the PNG ``path``.

    Three panels: the four methods' loss curves; the learning-rate sweep's
    loss curves; and, for the same sweep, the steep coordinate ``coef_[0]``
    against its optimum, where the oscillation of a large rate is visible
    (on a quadratic the loss itself falls smoothly even while the iterates
    zig-zag).
    """
    require_matplotlib()
    import matplotlib.pyplot as plt

    problem = result.problem
    fig, (left, middle, right) = plt.subplots(
        1, 3, figsize=(18, 5.6), constrained_layout=True, gridspec_kw={"width_ratios": [5, 5, 4]})
    fig.suptitle(f"fastgd demo: least squares on {problem.n:,} rows x {problem.X.shape[1]} "
                 f"features (float32), fitted with fastgd.LinearRegression", fontsize=13)
    ylabel = "training loss above the optimum,  f(w) - f(w*)  (log scale)"

    # 1. four methods
    curves = [_excess(problem, r.losses) for r in result.methods]
    for run, y in zip(result.methods, curves):
        batch = "all rows" if run.batch_size is None else f"batch {run.batch_size}"
        left.plot(np.arange(run.epochs + 1), y, marker="o", markersize=3, linewidth=1.6,
                  label=f"{run.label} ({batch}, {run.optimizer}, lr={run.lr:.3g})")
    left.axhline(problem.best_loss * 0.01, color="grey", linestyle=":", linewidth=1.2,
                 label="1% above the optimum")
    low = min(float(y.min()) for y in curves)
    high = max(float(y.max()) for y in curves)
    left.set(yscale="log", ylim=(max(FLOOR, low / 3), high * 3),
             xlabel="epoch (one pass over the data)", ylabel=ylabel,
             title="1. Four methods, same problem, same epochs")
    left.legend(loc="upper right", fontsize=9)
    left.grid(True, which="major", alpha=0.3)

    # 2. the learning rate: loss
    start = max(_excess(problem, r.losses[:1])[0] for r in result.sweep)
    top = start * 1e3
    colors = {}
    for run in result.sweep:
        y = _excess(problem, run.losses)
        epochs = np.arange(run.epochs + 1)
        label = f"lr = {run.k} / L = {run.lr:.3g}"
        if run.diverged_epoch:
            shown = np.nonzero(y < top)[0]
            shown = shown[: int(np.argmax(np.diff(shown) > 1)) + 1] if np.any(np.diff(shown) > 1) \
                else shown
            line, = middle.plot(epochs[shown], y[shown], linewidth=1.8, marker="o", markersize=3,
                                label=f"{label}: DivergenceError in epoch {run.diverged_epoch}")
            last = int(shown[-1])
            middle.annotate(f"leaves the plot, overflows,\nDivergenceError in epoch "
                            f"{run.diverged_epoch}", xy=(epochs[last], y[last]),
                            xytext=(25, -8), textcoords="offset points", fontsize=8,
                            color=line.get_color(), va="top",
                            arrowprops=dict(arrowstyle="->", color=line.get_color()))
        else:
            line, = middle.plot(epochs, y, linewidth=1.8, label=label)
        colors[run.k] = line.get_color()
    middle.set(yscale="log", ylim=(FLOOR, top), xlabel="epoch (batch GD: one step per epoch)",
               ylabel=ylabel,
               title=f"2. Learning rate: stable only for lr < 2 / L  (L = {problem.L:.2f})")
    middle.set_xlim(0, max(r.epochs for r in result.sweep if not r.diverged_epoch) + 1)
    middle.legend(loc="lower left", fontsize=9)
    middle.grid(True, which="major", alpha=0.3)

    # 3. the learning rate: the steep coordinate oscillates
    best = problem.solution[0]
    span = 30
    for run in result.sweep:
        steep = np.asarray(run.steep[:span + 1]) - best
        if run.diverged_epoch:
            limit = abs(best) * 4
            steep = steep[: int(np.argmax(np.abs(steep) > limit)) + 1] \
                if np.any(np.abs(steep) > limit) else steep
        right.plot(np.arange(steep.size), steep, marker="o", markersize=3, linewidth=1.4,
                   color=colors[run.k], label=f"lr = {run.k} / L")
    right.axhline(0.0, color="black", linewidth=0.8)
    right.set(ylim=(-abs(best) * 4, abs(best) * 4), xlim=(0, span),
              xlabel="epoch", ylabel="coef_[0] - its optimum  (the steep direction)",
              title="3. Why: steps beyond 1 / L overshoot and zig-zag")
    right.legend(loc="upper right", fontsize=9)
    right.grid(True, alpha=0.3)

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["plot_demo", "require_matplotlib"]
