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

_LOCK = threading.RLock()
_NO_LOCK = contextlib.nullcontext()
_layer = None


def threading_layer():
    """The name of numba's threading layer, starting it (under a lock) if needed.

    numba starts its layer on the first parallel call; starting it here
    (``_launch_threads``, what that first call does) costs no compilation,
    where running a parallel probe cost about a second of compile time.
    """
    global _layer
    if _layer is None:
        with _LOCK:
            if _layer is None:
                import numba
                from numba.np.ufunc import parallel
                parallel._launch_threads()
                _layer = numba.threading_layer()
    return _layer


def guard():
    """A context manager to hold around compiled calls: a lock only under ``workqueue``."""
    return _LOCK if threading_layer() == "workqueue" else _NO_LOCK
