"""Import compiles nothing; numba's on-disk cache round-trips in fresh processes.

Each check runs in a subprocess with a private NUMBA_CACHE_DIR: the first
process compiles and writes the cache, the second loads everything from it.
Loading is where numba's caching bugs bite (a parallel kernel nested in two
cached callers segfaulted here), so the second run must exercise every kernel.
"""

import os
import subprocess
import sys
import textwrap
import time

import pytest

from fastgd.kernels import RULES

STEP_RULES = textwrap.dedent("""
    import sys
    import numpy as np, fastgd
    from fastgd._numba import PARALLEL_THRESHOLD
    for name in sys.argv[1:]:
        for n in (10, PARALLEL_THRESHOLD + 10):
            x = np.ones(n, np.float32)
            opt = fastgd.OPTIMIZERS[name](x, lr=1e-3)
            opt.step(np.ones(n, np.float32))
            opt.step(np.ones(n, np.float32))
            assert np.isfinite(x).all(), name
    print("ok")
""")


CLIPPED_STEP = textwrap.dedent("""
    import numpy as np, fastgd
    for n in (10, 10**6):
        x = np.ones(n)
        opt = fastgd.Adam(x, lr=1e-3, clip_norm=1.0, clip_value=5.0, skip_nonfinite=True)
        opt.step(np.ones(n))
    print("ok")
""")


def run_fresh(code, cache_dir, *args):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_import_loads_no_numba_and_compiles_nothing(tmp_path):
    out = run_fresh("import sys, fastgd; print('numba' in sys.modules, "
                    "any(m.startswith('fastgd.') for m in sys.modules))", tmp_path)
    assert out.split() == ["False", "False"]


# every step kernel is one template with a rule's serial pieces bound in: a process per
# kind of rule (plain, the Adam family with the AdamW-after-Adam case that once segfaulted, a
# reduction stage, an evaluation point, sign rules compiled without fused multiply-adds)
CACHE_RULES = [r for r in ("sgd", "adam", "adamw", "rmsprop", "prodigy", "adamwschedulefree",
                           "lion") if r in RULES]


@pytest.mark.slow
def test_every_optimizer_loads_from_cache(tmp_path):
    # One process per rule writes the cache, each loading what the ones before
    # it wrote; then one process per rule loads its kernels back, each as the
    # first parallel code of its process (the case that exposed the
    # nested-parallel segfault: AdamW loaded back after Adam had been cached).
    for rule in CACHE_RULES:
        assert run_fresh(STEP_RULES, tmp_path, rule).strip() == "ok"
    assert any(tmp_path.rglob("*.nbc")), "nothing was cached"
    for rule in CACHE_RULES:
        assert run_fresh(STEP_RULES, tmp_path, rule).strip() == "ok"
    assert run_fresh(CLIPPED_STEP, tmp_path).strip() == "ok"


RACE = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from fastgd.schedules import schedule_value
    ready, go = sys.argv[1], sys.argv[2]
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.005)
    schedule_value(np.zeros(8), 3)
    stats = schedule_value.stats
    print(sum(stats.cache_misses.values()), sum(stats.cache_hits.values()))
""")


def test_processes_that_share_the_cache_compile_a_kernel_once(tmp_path):
    # two processes reach the same kernel together: one compiles it, the other waits for it
    # (fastgd._numba._CompileOnce) and loads it from the cache, whatever the timing
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RACE, str(tmp_path / f"ready{i}"), str(go)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    go.touch()
    counts = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        counts.append([int(v) for v in out.split()])
    misses, hits = (sum(c[i] for c in counts) for i in (0, 1))
    assert (misses, hits) == (1, 1), counts
