"""Calls into compiled code from several Python threads at once.

fastgd's compiled functions release the GIL (``nogil=True``), so two fits
in two Python threads run truly in parallel. Their parallel regions
(``prange``) go through numba's threading layer: ``tbb`` and ``omp`` accept
concurrent calls from several threads; ``workqueue`` does not (numba docs,
"threading layers") and may crash or deadlock. :func:`guard` returns a
process-wide lock when the layer in use is ``workqueue`` (so compiled calls
are serialised, one fit at a time) and a no-op context otherwise.
"""

import contextlib
import threading

import numpy as np
from numba import prange

from .._numba import jit_parallel

_LOCK = threading.RLock()
_NO_LOCK = contextlib.nullcontext()
_layer = None


@jit_parallel
def _probe(x):
    s = 0.0
    for i in prange(x.size):
        s += x[i]
    return s


def threading_layer():
    """The name of numba's threading layer, starting it (under a lock) if needed."""
    global _layer
    if _layer is None:
        with _LOCK:
            if _layer is None:
                import numba
                _probe(np.ones(4))
                _layer = numba.threading_layer()
    return _layer


def guard():
    """A context manager to hold around compiled calls: a lock only under ``workqueue``."""
    return _LOCK if threading_layer() == "workqueue" else _NO_LOCK
