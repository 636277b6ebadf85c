"""The comparison harness: sections, timing, and the ratios table."""

import argparse
import importlib
import os
import platform
import time
from dataclasses import dataclass

SECTIONS = {}

# modules that register sections; a missing one (not written yet) is skipped
SECTION_MODULES = ["optim", "losses", "minimize", "linear", "mlp", "dask", "sparse", "grid", "auto"]


@dataclass
class Row:
    """One measurement: ``impl`` did ``task`` in ``seconds``.

    ``ratio`` is peer time / fastgd time on the same task (> 1: fastgd is
    faster); for fastgd's own rows it is empty. ``note`` carries extra figures
    (bandwidth, loss, accuracy) so a faster-but-worse result is visible.
    """

    section: str
    task: str
    impl: str
    seconds: float
    note: str = ""
    ratio: float = float("nan")


def section(name):
    """Register ``func() -> list[Row]`` as comparison section ``name``."""
    def register(func):
        SECTIONS[name] = func
        return func
    return register


def best_of(fn, repeat=5, number=1):
    """Best wall-clock seconds of ``number`` calls, over ``repeat`` rounds, after a warm-up."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def with_ratios(rows, baseline_impl="fastgd"):
    """Fill ``ratio`` = row time / fastgd time for rows that share a task."""
    base = {r.task: r.seconds for r in rows if r.impl == baseline_impl}
    for r in rows:
        if r.impl != baseline_impl and r.task in base:
            r.ratio = r.seconds / base[r.task]
    return rows


def optional(module):
    """Import ``module`` or return None (peers are optional)."""
    try:
        return importlib.import_module(module)
    except Exception:
        return None


def torch_epochs(torch, model, opt, X, y, batch, epochs):
    """The same training loop for every torch peer: shuffled mini-batches of
    binary cross-entropy with logits; returns the seconds of each epoch."""
    crit = torch.nn.BCEWithLogitsLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    seconds = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(Xt.shape[0])
        for a in range(0, Xt.shape[0], batch):
            idx = perm[a:a + batch]
            loss = crit(model(Xt[idx]).squeeze(1), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        seconds.append(time.perf_counter() - t0)
    return seconds


def machine_line():
    import numba
    import numpy
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, numpy {numpy.__version__}, numba {numba.__version__}, "
            f"{numba.config.NUMBA_NUM_THREADS} numba threads")


def format_table(rows):
    # columns as wide as their longest entry, so long task names stay readable
    task_w = max([len("task")] + [len(r.task) for r in rows]) + 2
    impl_w = max([len("impl")] + [len(r.impl) for r in rows]) + 2
    lines = [f"{'section':<9}{'task':<{task_w}}{'impl':<{impl_w}}{'seconds':>12}"
             f"{'peer/fastgd':>13}  note"]
    for r in rows:
        ratio = "" if r.ratio != r.ratio else f"{r.ratio:.2f}x"
        lines.append(f"{r.section:<9}{r.task:<{task_w}}{r.impl:<{impl_w}}{r.seconds:>12.6f}"
                     f"{ratio:>13}  {r.note}")
    return "\n".join(lines)


def run(names=None, out=print):
    for mod in SECTION_MODULES:
        try:
            importlib.import_module(f"fastgd.bench.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name != f"fastgd.bench.{mod}":
                raise
    names = list(SECTIONS) if not names else names
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown section(s) {unknown}; choose from {sorted(SECTIONS)}")
    out(machine_line())
    rows = []
    for name in names:
        out(f"-- {name} ...")
        new = SECTIONS[name]()
        rows += new
        out(format_table(new))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description="fastgd against its peers, side by side")
    parser.add_argument("sections", nargs="*", help="sections to run (default: all)")
    args = parser.parse_args(argv)
    run(args.sections)
    return 0
