"""Client side of the data: check the dask arrays, turn their chunks into shards on the workers.

Nothing here moves data to the client. X's row chunks stay where Dask
computes them; y and the sample weights are aligned to them (rechunked on the
workers, or split from an in-memory array when X's chunk sizes are known). A
first task per chunk reports a few facts (rows, finiteness, labels, weight
sum); the client checks them all before anything is trained, then a second
task per chunk builds the :class:`~fastgd.dask._worker.Shard` the kernels
take. Chunks with no rows (boolean indexing makes them) are dropped.
scipy.sparse chunks become CSR on their workers and are validated there by
:func:`fastgd.sparse.as_csr`, as a sparse X on one machine is.
"""

import math
from dataclasses import dataclass

import numpy as np

from . import _worker

INSTALL_HINT = "fastgd.dask needs dask[array] and distributed: pip install 'fastgd[dask]'"


def require_dask():
    """(dask.array, distributed), or ImportError saying how to install them."""
    try:
        import dask.array as da
        import distributed
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return da, distributed


def is_dask_array(X):
    try:
        import dask.array as da
    except ImportError:
        return False
    return isinstance(X, da.Array)


def _known(chunks):
    return not any(math.isnan(c) for c in chunks)


def has_sparse_chunks(X):
    """True when the dask array X holds scipy.sparse chunks (its ``_meta`` is sparse)."""
    return hasattr(getattr(X, "_meta", None), "tocsr")


def check_X(X, name="X"):
    """X as a 2-D dask array with one column chunk, and the float dtype it is trained in.

    Its chunks may be numpy arrays or scipy.sparse matrices (any format:
    converted to CSR on the workers, once per chunk).
    """
    da, _ = require_dask()
    if not isinstance(X, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array (for in-memory data call the "
                        f"estimator's own fit), got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got {X.ndim}-D with "
                         f"shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.shape[1] < 1:
        raise ValueError(f"{name} has 0 features: at least 1 is required")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    if dtype != X.dtype and has_sparse_chunks(X):   # integer sparse chunks, for predict too
        X = X.astype(dtype)
    if X.numblocks[1] > 1:  # the kernels take whole rows: one chunk across the columns
        X = X.rechunk({1: -1})
    return X, np.dtype(dtype)


def align(name, v, X):
    """``v`` (y or sample_weight) as a 1-D dask array with X's row chunks, or None."""
    da, _ = require_dask()
    if v is None:
        return None
    rows = X.chunks[0]
    if isinstance(v, da.Array):
        if v.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {v.shape}")
        if _known(rows) and _known(v.chunks[0]):
            if v.shape[0] != X.shape[0]:
                raise ValueError(f"{name} has {v.shape[0]} rows but X has {X.shape[0]}")
            return v if v.chunks[0] == rows else v.rechunk((rows,))
        if v.numblocks[0] != X.numblocks[0]:
            raise ValueError(
                f"X and {name} have unknown chunk sizes (after boolean indexing, say) and "
                f"different numbers of row chunks ({X.numblocks[0]} and {v.numblocks[0]}): index "
                f"both with the same mask, or call .compute_chunk_sizes() on both")
        return v  # rows per chunk are checked on the workers
    if not _known(rows):
        raise ValueError(f"X has unknown chunk sizes (after boolean indexing, say): pass {name} "
                         f"as a dask array indexed the same way, or call X.compute_chunk_sizes()")
    arr = np.asarray(v)
    if arr.ndim != 1 or arr.shape[0] != X.shape[0]:
        raise ValueError(f"{name} must be 1-D with {X.shape[0]} entries (one per row of X), "
                         f"got shape {arr.shape}")
    return da.from_array(arr, chunks=(rows,))


@dataclass
class Prepared:
    """The checked data: one raw future per non-empty chunk, and what the fit needs to know."""

    raws: list          # futures of (X, y, sw) per non-empty chunk, in chunk order
    rows: list          # rows per non-empty chunk
    n_features: int
    dtype: np.dtype
    classes: object     # sorted labels (classifiers) or None
    sw_scale: object    # n / sum(sample_weight), or None for unit weights
    class_weights: object = None  # the weight of each class (class_weight), or None
    y_min: float = None           # a regressor's smallest target
    y_mean: float = None          # ... and its (weighted) mean
    sparse: bool = False          # scipy.sparse chunks

    @property
    def n_samples(self):
        return sum(self.rows)


def prepare(client, X, y, sample_weight, classifier, key, class_weight=None):
    """Compute X's chunks on the workers and check everything; returns :class:`Prepared`.

    ``class_weight`` (a classifier's, checked): each row's weight is its
    sample weight times its class's, then all are scaled to mean 1, as
    :mod:`fastgd.models.class_weight` does on one machine; "balanced" from
    the class counts of all chunks.

    Raises ValueError/TypeError (naming the argument and the chunk) before any
    training; the raw chunks are released when a check fails.
    """
    import dask

    X, dtype = check_X(X)
    if y is None:
        raise ValueError("y is required (got None)")
    y = align("y", y, X)
    sw = align("sample_weight", sample_weight, X)
    xs = X.to_delayed().ravel()
    ys = y.to_delayed().ravel()
    ss = [None] * len(xs) if sw is None else list(sw.to_delayed().ravel())
    raw = dask.delayed(_worker.raw_block, pure=True)
    raws = client.compute([raw(xb, yb, sb, dtype, dask_key_name=f"{key}-raw-{b}")
                           for b, (xb, yb, sb) in enumerate(zip(xs, ys, ss))])
    try:
        infos = client.gather([client.submit(_worker.inspect_block, r, classifier,
                                             key=f"{key}-inspect-{b}")
                               for b, r in enumerate(raws)])
        classes, sw_scale = _check_infos(infos, classifier, sw is not None)
        class_weights = None
        if classifier and class_weight is not None:
            class_weights, sw_scale = _class_weights(infos, classes, class_weight)
    except BaseException:
        client.cancel(raws)
        raise
    keep = [b for b, info in enumerate(infos) if info["rows"] > 0]
    empty = [r for r, info in zip(raws, infos) if info["rows"] == 0]
    if empty:
        client.cancel(empty)
    y_min = y_mean = None
    if not classifier:
        full = [info for info in infos if info["rows"] > 0]
        y_min = min(info["y_min"] for info in full)
        if sw is None:
            y_mean = math.fsum(info["y_sum"] for info in full) / sum(i["rows"] for i in full)
        else:
            y_mean = (math.fsum(info["y_wsum"] for info in full)
                      / math.fsum(info["sw_sum"] for info in full))
    return Prepared([raws[b] for b in keep], [infos[b]["rows"] for b in keep],
                    infos[keep[0]]["cols"], dtype, classes, sw_scale, class_weights, y_min,
                    y_mean, has_sparse_chunks(X))


def _class_weights(infos, classes, class_weight):
    """(weight of each class, the factor that scales the rows' weights to mean 1)."""
    from ..models.class_weight import class_weights_of

    counts, sums = np.zeros(classes.size), np.zeros(classes.size)
    for info in infos:
        if info["rows"] > 0:
            idx = np.searchsorted(classes, info["labels"])
            counts[idx] += info["label_counts"]
            sums[idx] += info["label_weights"]
    n = counts.sum()
    if class_weight == "balanced":   # scikit-learn's compute_class_weight("balanced")
        weights = n / (classes.size * counts)
    else:
        weights = class_weights_of(class_weight, classes, None)
    total = math.fsum(weights * sums)
    if not total > 0:
        raise ValueError(f"class_weight={class_weight!r} gives every row a weight of 0")
    return weights, n / total


def _check_infos(infos, classifier, weighted):
    n = 0
    for b, info in enumerate(infos):
        if info["ndim"] != 2:
            raise ValueError(f"X chunk {b} is {info['ndim']}-D: X must be 2-D")
        if info["y_ndim"] != 1 or info["y_rows"] != info["rows"]:
            raise ValueError(f"chunk {b}: X has {info['rows']} rows but y has "
                             f"{info['y_rows']} (y must be 1-D and aligned with X's rows)")
        if weighted and info["sw_rows"] != info["rows"]:
            raise ValueError(f"chunk {b}: X has {info['rows']} rows but sample_weight has "
                             f"{info['sw_rows']}")
        if info["x_error"] is not None:
            raise ValueError(f"{info['x_error']} (X chunk {b}; rows counted from the chunk's "
                             f"first)")
        if not info["x_finite"]:
            raise ValueError(f"Input X contains NaN or infinity (chunk {b}).")
        if not classifier:
            if not info["y_numeric"]:
                raise ValueError(f"y must be numeric for a regressor (chunk {b})")
            if not info["y_finite"]:
                raise ValueError(f"Input y contains NaN or infinity (chunk {b}).")
        if weighted and not info["sw_ok"]:
            raise ValueError(f"sample_weight must be finite and non-negative (chunk {b})")
        n += info["rows"]
    if n == 0:
        raise ValueError("Found array with 0 sample(s) (shape=(0, d)) while a minimum of 1 is "
                         "required: every chunk of X is empty")
    classes = None
    if classifier:
        from sklearn.utils.multiclass import check_classification_targets
        labels = np.concatenate([info["labels"] for info in infos])
        check_classification_targets(labels)
        classes = np.unique(labels)
    sw_scale = None
    if weighted:
        total = math.fsum(info["sw_sum"] for info in infos)
        if not total > 0:
            raise ValueError("sample_weight must not be all zero")
        sw_scale = n / total  # mean 1: the loss is a weighted mean, as in GDEstimator
        if classifier:
            present = np.unique(np.concatenate([info["labels_weighted"] for info in infos]))
            if present.size < 2 <= classes.size:
                raise ValueError("sample_weight leaves samples of only one class with a "
                                 "positive weight: at least 2 classes are needed")
    return classes, sw_scale


def release(futures):
    """Drop the client's references to the list ``futures`` (data is freed once nothing needs it)."""
    for f in futures:
        try:
            f.release()
        except Exception:  # the client is already closed: nothing left to release
            pass
    futures.clear()


def make_shards(client, prepared, estimator, key):
    """Futures of the :class:`~fastgd.dask._worker.Shard` of each chunk (built where it lives,
    its targets encoded by ``estimator``)."""
    return [client.submit(_worker.make_shard, r, estimator, prepared.classes, prepared.sw_scale,
                          prepared.class_weights,
                          key=f"{key}-shard-{b}")
            for b, r in enumerate(prepared.raws)]
