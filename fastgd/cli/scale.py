"""Feature scaling for the command line: ``--scale standard`` and ``--scale none``.

Gradient descent converges slowly when features differ in scale by orders of
magnitude or sit far from 0 (the loss's Hessian is ill-conditioned), so
``fit`` standardises by default (the README gives the figures): z_j = (x_j - mu_j) / s_j with the columns' means and
standard deviations from one streaming pass over the rows
(:func:`fastgd.losses.standardize.feature_statistics`: a memmap is read block
by block; a constant column gets s = 1). The statistics are stored in the
model file's metadata and ``predict`` applies them to its rows.

The standardised rows the model trains on are a copy in X's dtype (float32
stays float32): in memory for an in-memory table, in a temporary file (then
memory-mapped and streamed like the original) for a memory-mapped ``.npy``.
"""

import os
import tempfile

import numpy as np

from .errors import SCALES
from ..losses.standardize import feature_statistics
from ..models.base import is_memmap, iter_row_blocks

#: warn (with --scale none) when the largest column std is this many times the smallest
STD_RATIO_LIMIT = 1e3
#: ... or a column's mean is this many of its standard deviations away from 0
MEAN_LIMIT = 10.0


def column_statistics(X):
    """(mu, s): float64 means and standard deviations of X's columns, one pass."""
    return feature_statistics(X, center=True)


def scaling_problems(mu, s, names):
    """A sentence on what looks badly scaled for gradient descent, or None."""
    varying = s != 1.0   # feature_statistics gives constant columns s = 1
    found = []
    if np.count_nonzero(varying) >= 2:
        idx = np.flatnonzero(varying)
        big, small = idx[np.argmax(s[idx])], idx[np.argmin(s[idx])]
        if s[big] > STD_RATIO_LIMIT * s[small]:
            found.append(f"standard deviations range from {s[small]:.3g} ({names[small]!r}) to "
                         f"{s[big]:.3g} ({names[big]!r})")
    far = np.abs(mu) / s
    j = int(np.argmax(far))
    if far[j] > MEAN_LIMIT:
        found.append(f"column {names[j]!r} has mean {mu[j]:.4g}, {far[j]:.3g} standard "
                     f"deviations from 0")
    return "; ".join(found) or None


def standardize(X, mu, s, workdir):
    """(X - mu) / s in X's dtype, block by block; a memmap X gives a memmap in ``workdir``."""
    if not is_memmap(X):
        out = np.empty(X.shape, dtype=X.dtype)
    else:
        fd, path = tempfile.mkstemp(suffix=".npy", dir=workdir)
        os.close(fd)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=X.dtype, shape=X.shape)
    for a, b, block in iter_row_blocks(X):
        out[a:b] = (np.asarray(block, dtype=np.float64) - mu) / s
    if isinstance(out, np.memmap):
        out.flush()
        out = np.load(path, mmap_mode="r")
    return out


def predict_scaled(predict, X, mu, s):
    """``predict`` of the standardised rows of X, block by block (bounded memory)."""
    parts = [predict(((np.asarray(block, dtype=np.float64) - mu) / s).astype(X.dtype))
             for _, _, block in iter_row_blocks(X)]
    return np.concatenate(parts) if parts else predict(X)


def scale_metadata(mu, s):
    """The entry ``scale`` of the model file's metadata."""
    return {"method": "standard", "mean": [float(v) for v in mu], "std": [float(v) for v in s]}


def checked_scale(value, n_features):
    """(mu, s) float64 arrays from a ``scale`` metadata entry, or None when it is malformed."""
    if not isinstance(value, dict) or value.get("method") != "standard" \
            or set(value) != {"method", "mean", "std"}:
        return None
    mu, s = value["mean"], value["std"]
    if not all(isinstance(v, list) and len(v) == n_features
               and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
               for v in (mu, s)):
        return None
    mu, s = np.array(mu, dtype=np.float64), np.array(s, dtype=np.float64)
    if not (np.isfinite(mu).all() and np.isfinite(s).all() and (s > 0).all()):
        return None
    return mu, s
