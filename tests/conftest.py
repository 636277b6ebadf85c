import os
import pathlib

import numpy as np
import pytest

import fastgd


def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject.toml): one test process per core, at most four.

    The suite's time is mostly numba compiling, one function at a time per
    process, so a second process on a second core nearly halves it. Each
    process compiles the kernels its files use (``--dist loadfile`` keeps a
    file in one process) or loads those another process has already
    cached; beyond four processes the same kernels would be compiled over
    and over.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def pytest_sessionstart(session):
    """Drop numba's on-disk caches of fastgd and of the tests when a source is newer.

    numba checks only the file of the function it caches, not the files of the
    functions that function calls: after an edit to, say, ``losses/logistic.py``
    the cached fused epoch (``engine/epoch.py``) still holds the old loss, and
    the tests would test old code. The tests' own jitted helpers inline
    fastgd's functions too (``test_vecmath`` compiles ``exp_nonpositive`` into
    its loops). A fresh install has no caches, so this only matters in a
    working copy.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the main process did it, before they started
        return
    roots = [pathlib.Path(fastgd.__file__).parent, pathlib.Path(__file__).parent]
    try:
        caches = [p for root in roots for glob in ("*.nbi", "*.nbc") for p in root.rglob(glob)]
        if not caches:
            return
        newest_source = max(p.stat().st_mtime for root in roots for p in root.rglob("*.py"))
        if any(p.stat().st_mtime < newest_source for p in caches):
            for p in caches:
                p.unlink(missing_ok=True)
    except OSError:  # a read-only install: its caches came with it
        pass


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_configure(config):
    """``FASTGD_COMPILE_LOG=FILE python -m pytest``: where the suite's compile time goes.

    Writes one line per test that compiled: the seconds numba spent in
    top-level compiles (a kernel and everything it pulled in) during the
    test, then the test id, then the kernels, slowest first. Compile time
    dominates the suite; this is how to find which tests pay it (with
    ``-n``, one file per test process: FILE.gw0, FILE.gw1, ...).
    """
    path = os.environ.get("FASTGD_COMPILE_LOG")
    if path:
        config.pluginmanager.register(_CompileLog(path), "fastgd-compile-log")


class _CompileLog:
    def __init__(self, path):
        import time

        from numba.core import event

        worker = os.environ.get("PYTEST_XDIST_WORKER")
        self.path = f"{path}.{worker}" if worker else path
        self.kernels = []
        log = self

        class Listener(event.Listener):
            depth_started = []

            def on_start(self, ev):
                self.depth_started.append(time.perf_counter())

            def on_end(self, ev):
                start = self.depth_started.pop()
                if not self.depth_started:  # top level: a kernel and all it pulled in
                    func = ev.data["dispatcher"].py_func
                    log.kernels.append((time.perf_counter() - start, func.__qualname__))

        self.listener = Listener()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        from numba.core import event
        self.kernels = []
        with event.install_listener("numba:compile", self.listener):
            yield
        if self.kernels:
            total = sum(t for t, _ in self.kernels)
            names = ", ".join(f"{n[:70]} {t:.1f}" for t, n in sorted(self.kernels)[::-1])
            with open(self.path, "a") as f:
                f.write(f"{total:7.2f}  {item.nodeid}  {names}\n")
