"""Saving and loading fitted fastgd estimators: ``.npz`` arrays plus one JSON entry.

    >>> import numpy as np, fastgd
    >>> from fastgd.models.persist import save_model, load_model
    >>> X = np.random.default_rng(0).standard_normal((50, 2)); y = X @ [1.0, 2.0]
    >>> model = fastgd.LinearRegression(max_epochs=5, tol=None).fit(X, y)
    >>> import tempfile, os; path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> _ = save_model(model, path)
    >>> np.array_equal(load_model(path).predict(X), model.predict(X))
    True

Why not pickle (or joblib)? Loading a pickle runs whatever code the file
names, so a model file from someone else is a program you execute; and a
pickle breaks when the class's module moves or its attributes change. A
model file here is plain data: ``numpy.load(path, allow_pickle=False)``
reads the arrays (any ``.npz`` reader can inspect them), the entry
``__fastgd__`` holds JSON (format version, the estimator's class, its
constructor parameters, scalar fitted attributes and free-form metadata such
as the column names ``fastgd fit`` trained on), and only the classes of
:data:`fastgd.models` (and the MLPs, when present) can be created. Nothing in
the file can make the loader execute code.

What is saved: the constructor parameters (``get_params``), every public
fitted attribute (``coef_``, ``classes_``, ``loss_curve_``, ...), the
optimizer's parameter vector, state and step count, the schedule's state and
the shuffling generator's state. So a loaded model predicts exactly as the
original, and ``partial_fit`` on it continues the run exactly as the
original would. Not saved: a ``callback`` (code; it is reset to None) and a
``random_state`` given as a RandomState/Generator object (reset to None).
"""

import copy
import json
import os

import numpy as np

FORMAT = "fastgd-model"
VERSION = 1
META_KEY = "__fastgd__"


class ModelFileError(ValueError):
    """The file is not a fastgd model file, or one this version cannot read."""


# -- the classes a file may name ------------------------------------------------------------------

def model_classes():
    """{class name: class} of the estimators a model file may create."""
    import fastgd
    from fastgd import models

    classes = {name: getattr(models, name) for name in
               ("LinearRegression", "PoissonRegressor", "LogisticRegression", "LinearSVC")}
    for name in ("MLPClassifier", "MLPRegressor"):
        if hasattr(fastgd, name):
            classes[name] = getattr(fastgd, name)
    return classes


def _schedule_classes():
    from fastgd import schedules
    return {cls.__name__: cls for cls in vars(schedules).values()
            if isinstance(cls, type) and issubclass(cls, schedules.Schedule)}


# -- encoding values as JSON + arrays -----------------------------------------------------------------

class _Encoder:
    """Turns values into JSON, moving arrays into ``self.arrays`` under generated keys."""

    def __init__(self):
        self.arrays = {}

    def array(self, key, value):
        value = np.asarray(value)
        if value.dtype == object:
            value = _object_to_plain(value, key)
        self.arrays[key] = value
        return {"__array__": key}

    def __call__(self, value, key):
        from fastgd.schedules import Schedule

        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
            return value.item() if isinstance(value, np.generic) else value
        if isinstance(value, np.ndarray):
            return self.array(key, value)
        if isinstance(value, tuple):
            return {"__tuple__": [self(v, f"{key}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self(v, f"{key}/{i}") for i, v in enumerate(value)]
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"__dict__": {k: self(v, f"{key}/{k}") for k, v in value.items()}}
        if isinstance(value, dict):
            # other keys (class labels of a class_weight: ints, floats, bools), as pairs
            return {"__pairs__": [[self._key(k, key), self(v, f"{key}/{i}")]
                                  for i, (k, v) in enumerate(value.items())]}
        if isinstance(value, Schedule):
            return {"__schedule__": type(value).__name__,
                    "state": self(dict(vars(value)), f"{key}/schedule")}
        raise TypeError(f"cannot save {key.split('/')[-1]}={value!r} "
                        f"({type(value).__name__}) in a model file")


    def _key(self, k, key):
        if k is None or isinstance(k, (bool, str, int, float, np.integer, np.floating, np.bool_)):
            return self(k, key)
        raise TypeError(f"cannot save {key.split('/')[-1]}: its key {k!r} "
                        f"({type(k).__name__}) is not a number, string or bool")


def _object_to_plain(value, key):
    """An object array (labels) as a unicode or float array, or an error."""
    flat = value.ravel().tolist()
    if all(isinstance(v, str) for v in flat):
        return value.astype(str)
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
           for v in flat):
        return value.astype(np.float64)
    raise TypeError(f"cannot save {key}: an object array mixing {sorted({type(v).__name__ for v in flat})}")


def _decode(value, arrays):
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        key = value["__array__"]
        if key not in arrays:
            raise ModelFileError(f"the model file lacks the array {key!r}")
        return arrays[key]
    if "__tuple__" in value:
        return tuple(_decode(v, arrays) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, arrays) for k, v in value["__dict__"].items()}
    if "__pairs__" in value:
        pairs = value["__pairs__"]
        if not all(isinstance(p, list) and len(p) == 2 and not isinstance(p[0], (dict, list))
                   for p in pairs):
            raise ModelFileError("a damaged dictionary in the model file")
        return {k: _decode(v, arrays) for k, v in pairs}
    if "__schedule__" in value:
        classes = _schedule_classes()
        name = value["__schedule__"]
        if name not in classes:
            raise ModelFileError(f"unknown schedule {name!r} in the model file")
        schedule = object.__new__(classes[name])
        state = _decode(value["state"], arrays)
        if not isinstance(state, dict) or "spec" not in state:
            raise ModelFileError(f"the schedule {name!r} in the model file has no 'spec'")
        schedule.__dict__.update(state)
        schedule.spec = np.array(schedule.spec, dtype=np.float64)
        return schedule
    raise ModelFileError(f"unexpected entry {sorted(value)} in the model file")


# -- save and load --------------------------------------------------------------------------------------

def save_model(model, path, metadata=None):
    """Write the fitted fastgd estimator ``model`` to ``path`` (an ``.npz`` file); returns the path.

    ``metadata``: a JSON-serialisable dict stored with it (``fastgd fit`` keeps
    the column names there); read it back with :func:`read_metadata`.
    Raises TypeError for an estimator that is not fastgd's or a parameter
    that cannot be stored, and sklearn's NotFittedError for an unfitted one.
    """
    from sklearn.utils.validation import check_is_fitted

    cls = type(model)
    if model_classes().get(cls.__name__) is not cls:
        raise TypeError(f"save_model saves fastgd's estimators "
                        f"({', '.join(sorted(model_classes()))}), not {cls.__name__}")
    check_is_fitted(model)
    enc = _Encoder()
    params = {}
    for name, value in model.get_params(deep=False).items():
        if name == "callback" or (name == "random_state" and
                                  not (value is None or isinstance(value, (int, np.integer)))):
            value = None
        params[name] = enc(value, f"param/{name}")
    fitted = {}
    skip = {"_optimizer", "_rng", "_params"}
    for name, value in vars(model).items():
        if name in params or name in skip or name.startswith("__"):
            continue
        if name.endswith("_") or name.startswith("_"):
            fitted[name] = enc(value, f"attr/{name}")
    opt = model._optimizer
    enc.array("optimizer/params", opt.params)
    optimizer = {"class": type(opt).__name__, "step_count": int(opt.step_count),
                 "n_skipped": int(opt.n_skipped),
                 "state": enc({k: v for k, v in opt.state.items()}, "optimizer/state"),
                 "lr": enc(opt.lr, "optimizer/lr")}
    rng = getattr(model, "_rng", None)
    meta = {"format": FORMAT, "version": VERSION, "fastgd_version": _fastgd_version(),
            "class": cls.__name__, "params": params, "fitted": fitted, "optimizer": optimizer,
            "rng": rng.bit_generator.state if isinstance(rng, np.random.Generator) else None,
            "metadata": metadata or {}}
    text = json.dumps(meta)
    path = os.fspath(path)
    with open(path, "wb") as fh:   # np.savez would append ".npz" to another suffix
        np.savez(fh, **{META_KEY: np.array(text)}, **enc.arrays)
    return path


def _fastgd_version():
    import fastgd
    return fastgd.__version__


def _read(path):
    """(meta dict, arrays dict) of a model file; ModelFileError if it is not one."""
    path = os.fspath(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":   # every .npz is a zip archive
        raise ModelFileError(f"{path} is not a fastgd model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ModelFileError(f"{path} is a single .npy array, not a fastgd model file")
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError) as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{path} is not a fastgd model file (not a readable .npz: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if META_KEY not in arrays:
        raise ModelFileError(f"{path} is an .npz file but not a fastgd model file "
                             f"(no {META_KEY!r} entry)")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except ValueError:
        raise ModelFileError(f"{path}: the {META_KEY!r} entry is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a fastgd model file")
    if meta.get("version") != VERSION:
        raise ModelFileError(f"{path} is a fastgd model file of format version "
                             f"{meta.get('version')}; this fastgd reads version {VERSION}")
    return meta, arrays


def read_metadata(path):
    """The ``metadata`` dict saved with the model (``{}`` if none)."""
    return _read(path)[0].get("metadata", {})


def load_model(path):
    """Read a model written by :func:`save_model` (or ``fastgd fit``); returns the estimator.

    The file is read with ``allow_pickle=False`` and may only name fastgd's
    estimator classes: loading never runs code from the file. Raises
    :class:`ModelFileError` (a ValueError) for a file that is not a fastgd
    model, and OSError when the file cannot be read.
    """
    meta, arrays = _read(path)
    classes = model_classes()
    name = meta.get("class")
    if name not in classes:
        raise ModelFileError(f"{os.fspath(path)} holds a {name!r}, which this fastgd cannot create "
                             f"(known: {', '.join(sorted(classes))})")
    try:
        params = {k: _decode(v, arrays) for k, v in meta["params"].items()}
        model = classes[name](**params)
        for attr, value in meta["fitted"].items():
            setattr(model, attr, _decode(value, arrays))
        model._optimizer = _rebuild_optimizer(model, meta["optimizer"], arrays)
        model._rng = np.random.default_rng()
        if meta.get("rng") is not None:
            model._rng.bit_generator.state = meta["rng"]
        model._params = model._checked_params()
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{os.fspath(path)}: damaged fastgd model file "
                             f"({type(exc).__name__}: {exc})") from None
    return model


def _rebuild_optimizer(model, saved, arrays):
    from fastgd.optim import OPTIMIZERS

    params = np.array(arrays["optimizer/params"])          # a writable copy, owned by the model
    opt = OPTIMIZERS[model.optimizer.lower()](params, lr=copy.deepcopy(model.lr),
                                             **(model.optimizer_params or {}))
    if type(opt).__name__ != saved["class"]:
        raise ModelFileError(f"the model file's optimizer is {saved['class']}, but its "
                             f"optimizer parameter builds {type(opt).__name__}")
    state = opt.state_dict()
    state["step_count"] = saved["step_count"]
    state["n_skipped"] = saved["n_skipped"]
    state["state"] = {k: np.array(v) for k, v in _decode(saved["state"], arrays).items()}
    state["hyperparams"]["lr"] = _decode(saved["lr"], arrays)
    opt.load_state_dict(state)
    return opt


__all__ = ["save_model", "load_model", "read_metadata", "model_classes", "ModelFileError",
           "FORMAT", "VERSION"]
