"""asv: import time and the first fit of each model family, each in a fresh process.

A cold cache (a private, empty ``NUMBA_CACHE_DIR``) is what a new user's
first run pays: the compile time. A warm cache (filled by ``setup_cache``
in another process) is every later run: loading the compiled code from
disk. Compile time is tracked like speed, so a change that makes a first
fit compile longer shows up here.
"""

import os
import subprocess
import sys
import tempfile

# each family's first fit: LogisticRegression and LinearRegression share the engine's
# linear loss loop but not their update rule's defaults; the MLP has its own objective;
# minimize its own driver
FITS = {
    "LinearRegression": "fastgd.LinearRegression(max_epochs=2, tol=None).fit(X, X[:, 0])",
    "LogisticRegression": "fastgd.LogisticRegression(max_epochs=2, tol=None).fit(X, X[:, 0] > 0)",
    "MLPClassifier": "fastgd.MLPClassifier((16,), max_epochs=2, tol=None).fit(X, X[:, 0] > 0)",
    "minimize": ("fastgd.minimize(lambda w: float(w @ w), np.ones(5), jac=lambda w: 2 * w, "
                 "method='adam', maxiter=10)"),
}
DATA = ("import numpy as np, fastgd\n"
        "X = np.random.default_rng(0).standard_normal((500, 10)).astype(np.float32)\n")


def _cache_setup(path):
    return f"import os\nos.environ['NUMBA_CACHE_DIR'] = {path!r}\n"


class Compile:
    timeout = 600
    params = list(FITS)
    param_names = ["first"]

    def setup_cache(self):
        # a cache warmed by other processes, as a user's second run finds it
        path = tempfile.mkdtemp(prefix="fastgd-asv-cache-")
        env = dict(os.environ, NUMBA_CACHE_DIR=path)
        for code in FITS.values():
            subprocess.run([sys.executable, "-c", DATA + code], env=env, check=True,
                           capture_output=True)
        return path

    def timeraw_cold_cache(self, path, first):
        # a private, empty cache: the full compile time
        return FITS[first], _cache_setup(tempfile.mkdtemp()) + DATA

    def timeraw_warm_cache(self, path, first):
        return FITS[first], _cache_setup(path) + DATA


class CompileStep:
    """Importing fastgd, and its first optimizer step from Python (the README's first example)."""

    timeout = 300

    def timeraw_import_fastgd(self):
        return "import fastgd"

    def timeraw_first_adam_step_cold_cache(self):
        setup = (_cache_setup(tempfile.mkdtemp()) +
                 "import numpy as np, fastgd\nx = np.ones(10); g = np.ones(10)\n")
        return "fastgd.Adam(x, lr=0.1).step(g)", setup
