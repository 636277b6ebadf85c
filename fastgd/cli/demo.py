"""``fastgd demo``: the optimizers and the learning rate, shown on real problems."""

import time

import numpy as np


def _rosenbrock_grad(x, out):
    out[0] = -2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2)
    out[1] = 200 * (x[1] - x[0] ** 2)


def _rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def compare_optimizers(steps):
    """Every update rule from (-1.2, 1) on Rosenbrock's valley."""
    import fastgd

    settings = {
        "SGD": dict(lr=1e-3), "SGD+momentum": dict(lr=1e-3, momentum=0.9),
        "Adagrad": dict(lr=0.5), "RMSprop": dict(lr=1e-3), "Adam": dict(lr=0.02),
        "AdamW": dict(lr=0.02, weight_decay=0.0), "Adamax": dict(lr=0.02),
        "NAdam": dict(lr=0.02), "RAdam": dict(lr=2e-3),
    }
    print(f"Rosenbrock from (-1.2, 1), {steps} steps; the minimum is f(1, 1) = 0")
    print(f"{'optimizer':<14}{'final f':>12}{'x':>24}{'steps/s':>12}")
    grad = np.empty(2)
    for label, kwargs in settings.items():
        x = np.array([-1.2, 1.0])
        cls = fastgd.OPTIMIZERS[label.split("+")[0].lower()]
        opt = cls(x, **kwargs)
        _rosenbrock_grad(x, grad)
        opt.step(grad)  # compile outside the timing
        t0 = time.perf_counter()
        for _ in range(steps):
            _rosenbrock_grad(x, grad)
            opt.step(grad)
        rate = steps / (time.perf_counter() - t0)
        print(f"{label:<14}{_rosenbrock(x):>12.3g}{str(np.round(x, 4)):>24}{rate:>12,.0f}")


def learning_rate_sweep(steps):
    """Gradient descent on f(x) = 0.5 * sum(s_i x_i^2) with growing learning rates."""
    import fastgd

    scales = np.array([1.0, 10.0])
    print(f"\nLearning rate on f(x) = 0.5*(x1^2 + 10 x2^2), {steps} steps of plain gradient descent")
    print("(stable only below 2/10 = 0.2)")
    for lr in (1e-3, 0.05, 0.19, 0.21):
        x = np.array([1.0, 1.0])
        opt = fastgd.SGD(x, lr=lr)
        verdict = "converged"
        for t in range(steps):
            opt.step(scales * x)
            f = 0.5 * float(np.sum(scales * x * x))
            if not np.isfinite(f) or f > 1e6:
                verdict = f"diverged at step {t + 1}: lr too large"
                break
        else:
            if f > 1e-8:
                verdict = "crawling: lr too small" if lr < 0.01 else "oscillating"
        print(f"  lr={lr:<6} f={f:<12.3g} {verdict}")


def run_demo(quick=False):
    steps = 2000 if quick else 20000
    compare_optimizers(steps)
    learning_rate_sweep(200 if quick else 1000)
    return 0
