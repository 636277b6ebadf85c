import pathlib

import numpy as np
import pytest

import fastgd


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
