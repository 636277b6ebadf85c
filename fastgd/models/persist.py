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
model file here is plain data: a zip of ``.npy`` arrays (any ``.npz`` reader
can inspect them, nothing is unpickled), the entry ``__fastgd__`` holds JSON
(format version, the estimator's class, its constructor parameters, scalar
fitted attributes, the optimizer's counters, schedules as their
constructors' arguments, and free-form metadata such as the column names
``fastgd fit`` trained on), and ``__fastgd_sha256__`` a SHA-256 digest of
all the rest. Only the classes of :data:`fastgd.models` (and the MLPs) can
be created.

What is saved: the constructor parameters (``get_params``), the fitted
attributes (``coef_``, ``classes_``, ``loss_curve_``, ...), the optimizer's
parameter vector, state and step count, the schedule's state and the
shuffling generator's state. So a loaded model predicts exactly as the
original, and ``partial_fit`` on it continues the run exactly as the
original would. Not saved: a ``callback`` (code; it is reset to None) and a
``random_state`` given as a RandomState/Generator object (reset to None).

What :func:`load_model` guarantees, whatever the file's bytes (a model file
is data you may receive from anyone): it returns an estimator or raises
:class:`ModelFileError` (OSError only when the file cannot be opened); it
never crashes the process, hangs, runs code from the file or allocates
more than the archive's entries declare (at most deflate's ratio of 1032
times their compressed size). In detail:

* Integrity: a file changed after :func:`save_model` wrote it (damaged,
  truncated, an entry edited by hand or by another program) does not match
  its digest and is refused. The digest is not a signature: anyone can
  recompute it, so it tells you that the file is what fastgd wrote, not who
  wrote it.
* Validation, for a file whose digest matches but whose content was made
  elsewhere: every entry is checked against what the estimator, optimizer
  and schedule code assume, whole, before the estimator is returned. The
  archive must hold exactly the entries the model needs (none missing, none
  extra, each ``.npy`` header consistent with its size); the parameters go
  through the estimator's own checks; schedules are rebuilt through their
  constructors; the parameter vector must be finite, of the dtype and size
  the architecture needs; the optimizer state goes through
  :meth:`fastgd.optim.Optimizer.load_state_dict`; the fitted attributes
  derived from the parameter vector (``coef_``, ``intercept_``,
  ``coefs_``, ``intercepts_``, the layer sizes, ...) are recomputed from it
  and must equal the saved ones; the others have their types and ranges
  checked. The error names the entry and what was expected.
"""

import copy
import hashlib
import json
import math
import numbers
import os
import struct
import zipfile
import zlib

import numpy as np

from .targets import check_n_targets

FORMAT = "fastgd-model"
VERSION = 2
META_KEY = "__fastgd__"
DIGEST_KEY = "__fastgd_sha256__"

_TOP = ("format", "version", "fastgd_version", "class", "params", "fitted", "optimizer", "rng",
        "metadata")
_OPTIMIZER = ("class", "params", "step_count", "n_skipped", "state", "lr")
_MAX_DEPTH = 32                 # nesting of JSON values; ours need 4
_DEFLATE_MAX_RATIO = 1032       # the largest expansion a deflate stream can encode
# errors of zipfile, zlib and numpy's .npy reader on a damaged archive
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError,
                   OSError, NotImplementedError, RuntimeError, struct.error, OverflowError,
                   SyntaxError, TypeError, KeyError, IndexError)


class ModelFileError(ValueError):
    """The file is not a fastgd model file, or one this version cannot read, or its content
    is damaged or inconsistent; the message names the entry."""


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


# the fitted attributes every estimator has (besides those recomputed from the parameter
# vector by its _store_params); feature_names_in_ is there when X had column names
_PRIMARY = ("n_features_in_", "n_iter_", "t_", "loss_curve_", "validation_scores_",
            "best_validation_score_", "best_loss_")
_OPTIONAL = ("feature_names_in_", "x_mean_", "x_scale_")   # x_*: after lr="auto"


def _primary_names(model):
    """The primary fitted attributes a file of ``model``'s class must hold."""
    return (list(_PRIMARY) + (["classes_"] if model._is_classifier() else [])
            + (["n_targets_"] if model._multi_output else []))


def _fitted_names(model):
    """(primary, derived) names of the fitted attributes of ``model`` that a file holds."""
    primary = _primary_names(model)
    primary += [k for k in _OPTIONAL if getattr(model, k, None) is not None]
    probe = object.__new__(type(model))
    probe.__dict__.update({k: v for k, v in vars(model).items()
                           if k in primary or not k.endswith("_")})
    before = set(vars(probe))
    probe._store_params(probe._data_params())
    return primary, sorted(set(vars(probe)) - before)


# -- encoding values as JSON + arrays -------------------------------------------------------------

class _Encoder:
    """Turns values into JSON, moving arrays into ``self.arrays`` under generated keys."""

    def __init__(self):
        self.arrays = {}

    def array(self, key, value):
        value = np.asarray(value)
        if value.dtype == object:
            value = _object_to_plain(value, key)
        if value.dtype.kind not in "biufU" or value.dtype.fields is not None:
            raise TypeError(f"cannot save {key}: arrays of dtype {value.dtype} are not stored")
        self.arrays[key] = value
        return {"__array__": key}

    def __call__(self, value, key):
        from fastgd.schedules import Schedule, schedule_config

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
            return {"__schedule__": schedule_config(value)}
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


class _Decoder:
    """JSON values back into Python values and arrays; remembers which arrays were used."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.used = set()

    def __call__(self, value, where, depth=0):
        from fastgd.schedules import schedule_from_config

        if depth > _MAX_DEPTH:
            raise ModelFileError(f"{where}: values nested too deeply")
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self(v, f"{where}/{i}", depth + 1) for i, v in enumerate(value)]
        if isinstance(value, dict) and len(value) == 1:
            (tag, body), = value.items()
            if tag == "__array__":
                return self.array(body, where)
            if tag == "__tuple__" and isinstance(body, list):
                return tuple(self(v, f"{where}/{i}", depth + 1) for i, v in enumerate(body))
            if tag == "__dict__" and isinstance(body, dict):
                return {k: self(v, f"{where}/{k}", depth + 1) for k, v in body.items()}
            if tag == "__pairs__" and isinstance(body, list):
                # a dict with keys that are not strings (a class_weight's labels)
                if not all(isinstance(p, list) and len(p) == 2
                           and isinstance(p[0], (bool, int, float, str)) for p in body):
                    raise ModelFileError(f"{where}: a damaged dictionary")
                return {k: self(v, f"{where}/{i}", depth + 1) for i, (k, v) in enumerate(body)}
            if tag == "__schedule__":
                try:
                    return schedule_from_config(body)
                except (TypeError, ValueError) as exc:
                    raise ModelFileError(f"{where}: not a valid schedule: {exc}") from None
        raise ModelFileError(f"{where}: unexpected value {_short(value)}")

    def array(self, key, where):
        if not isinstance(key, str) or key not in self.arrays:
            raise ModelFileError(f"{where}: the array {_short(key)} is missing from the file")
        if key in self.used:
            raise ModelFileError(f"{where}: the array {key!r} is used twice")
        self.used.add(key)
        return self.arrays[key]


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# -- the archive ----------------------------------------------------------------------------------

def _digest(meta_text, arrays):
    """SHA-256 (hex) of the JSON text and every array: key, dtype, shape and little-endian
    C-order bytes, in the order of the keys."""
    h = hashlib.sha256(meta_text.encode("utf-8", "surrogatepass"))
    for key in sorted(arrays):
        a = arrays[key]
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        h.update(b"\0" + key.encode("utf-8", "surrogatepass") + b"\0"
                 + f"{a.dtype.str}{a.shape}".encode() + b"\0")
        h.update(a.tobytes())
    return h.hexdigest()


def _write(path, meta_text, arrays):
    """Write the archive: the JSON text, the arrays and the digest of both."""
    digest = _digest(meta_text, arrays)
    with open(path, "wb") as fh:   # np.savez would append ".npz" to another suffix
        np.savez(fh, **{META_KEY: np.array(meta_text), DIGEST_KEY: np.array(digest)}, **arrays)


def _read_entry(zf, info, archive_size):
    """The array of one archive entry, after checking its sizes against the archive and
    its .npy header (so nothing larger than the entry declares is ever allocated)."""
    where = f"entry {info.filename!r}"
    if info.flag_bits & 0x1:
        raise ModelFileError(f"{where} is encrypted")
    if info.compress_type == zipfile.ZIP_STORED:
        sizes_ok = info.file_size == info.compress_size
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        sizes_ok = info.file_size <= _DEFLATE_MAX_RATIO * info.compress_size + 1024
    else:
        raise ModelFileError(f"{where} uses compression method {info.compress_type}; "
                             f"model files are stored or deflated")
    if not sizes_ok or info.header_offset + info.compress_size > archive_size:
        raise ModelFileError(f"{where}: its sizes in the archive's directory are inconsistent "
                             f"(a damaged or truncated file)")
    with zf.open(info) as fh:
        try:   # numpy parses the header text with tokenize and ast: any error means garbage
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ModelFileError(f"{where}: .npy format version {version} is not read")
        except ModelFileError:
            raise
        except Exception as exc:
            raise ModelFileError(f"{where}: not a valid .npy header ({type(exc).__name__})") from None
        header = fh.tell()
        if dtype.kind not in "biufU" or dtype.fields is not None or dtype.shape != () \
                or dtype.itemsize == 0:
            raise ModelFileError(f"{where}: arrays of dtype {dtype} are not part of a model file")
        if not all(isinstance(n, int) and n >= 0 for n in shape):
            raise ModelFileError(f"{where}: invalid shape {_short(shape)} in its .npy header")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if header + nbytes != info.file_size:
            raise ModelFileError(f"{where}: its .npy header describes {count} values of {dtype} "
                                 f"({nbytes} bytes), the entry holds {info.file_size - header}")
        data = fh.read(nbytes)
        if len(data) != nbytes or fh.read(1):   # reading to the end checks the CRC
            raise ModelFileError(f"{where} is truncated")
    arr = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return np.array(arr, dtype=dtype.newbyteorder("="), order="C")


def _read_archive(path):
    """{key: array} of every entry of the .npz archive at ``path``."""
    with open(path, "rb") as fh:   # OSError (missing, a directory, no permission) propagates
        magic = fh.read(4)
        size = os.fstat(fh.fileno()).st_size
    if magic != b"PK\x03\x04":   # every .npz is a zip archive
        raise ModelFileError(f"{path} is not a fastgd model file (not an .npz archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise ModelFileError(f"{path}: the archive holds an entry twice")
            arrays = {}
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise ModelFileError(f"{path}: unexpected entry {info.filename!r} in the "
                                         f"archive (a model file holds .npy arrays)")
                arrays[info.filename[:-4]] = _read_entry(zf, info, size)
    except ModelFileError as exc:
        raise ModelFileError(str(exc) if str(exc).startswith(path) else f"{path}: {exc}") from None
    except _ARCHIVE_ERRORS as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ModelFileError(f"{path} is not a readable fastgd model file (a damaged or "
                             f"truncated .npz archive: {type(exc).__name__}"
                             f"{': ' + first if first else ''})") from None
    return arrays


def _text_entry(arrays, key, path):
    value = arrays.pop(key, None)
    if value is None:
        return None
    if value.dtype.kind != "U" or value.shape != ():
        raise ModelFileError(f"{path}: the entry {key!r} must be a text scalar, got {value.dtype} "
                             f"of shape {value.shape}")
    try:
        return str(value[()])
    except ValueError as exc:
        raise ModelFileError(f"{path}: the entry {key!r} is not valid text ({exc})") from None


def _read(path):
    """(meta dict, arrays dict) of a model file whose digest matches; ModelFileError if not."""
    path = os.fspath(path)
    arrays = _read_archive(path)
    text = _text_entry(arrays, META_KEY, path)
    if text is None:
        raise ModelFileError(f"{path} is an .npz file but not a fastgd model file "
                             f"(no {META_KEY!r} entry)")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        raise ModelFileError(f"{path}: the {META_KEY!r} entry is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a fastgd model file")
    if meta.get("version") != VERSION:
        raise ModelFileError(f"{path} is a fastgd model file of format version "
                             f"{_short(meta.get('version'))}; this fastgd reads version {VERSION}")
    digest = _text_entry(arrays, DIGEST_KEY, path)
    if digest is None:
        raise ModelFileError(f"{path}: the entry {DIGEST_KEY!r} (the digest of the file's "
                             f"content) is missing")
    if digest != _digest(text, arrays):
        raise ModelFileError(f"{path}: the content does not match its SHA-256 digest: the file "
                             f"was changed or damaged after fastgd saved it")
    return meta, arrays


# -- checks of the decoded values -----------------------------------------------------------------

def _keys(value, want, where, optional=()):
    """``value`` is a dict with the keys ``want`` (and maybe ``optional``), nothing else."""
    if not isinstance(value, dict):
        raise ModelFileError(f"{where} must be a JSON object, got {_short(value)}")
    missing = [k for k in want if k not in value]
    if missing:
        raise ModelFileError(f"{where} lacks the entry {missing[0]!r}")
    extra = [k for k in value if k not in want and k not in optional]
    if extra:
        raise ModelFileError(f"{where} has an unexpected entry {_short(extra[0])}")
    return value


def _integer(value, where, low=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ModelFileError(f"{where} must be an integer >= {low}, got {_short(value)}")
    return value


def _real(value, where, finite=True, none=False):
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or (finite and math.isinf(value)):
        kind = "a finite number" if finite else "a number (not NaN)"
        raise ModelFileError(f"{where} must be {kind}{' or null' if none else ''}, "
                             f"got {_short(value)}")
    return float(value)


def _reals(value, where, none=False):
    if value is None and none:
        return None
    if not isinstance(value, list):
        raise ModelFileError(f"{where} must be a list of numbers, got {_short(value)}")
    return [_real(v, f"{where}/{i}") for i, v in enumerate(value)]


def _array(value, where, kinds, ndim):
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds or value.ndim != ndim:
        got = (f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray)
               else _short(value))
        raise ModelFileError(f"{where} must be a {ndim}-D array of {kinds!r} dtype kind, got {got}")
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise ModelFileError(f"{where} holds NaN or infinity")
    if value.dtype.kind == "U":
        try:
            value.tolist()
        except ValueError as exc:
            raise ModelFileError(f"{where} holds invalid text ({exc})") from None
    return value


def _checked_classes(model, value):
    classes = _array(value, "fitted/classes_", "biufU", 1)
    if classes.size < 2 or not np.all(classes[1:] > classes[:-1]):
        raise ModelFileError(f"fitted/classes_ must hold at least 2 labels, sorted and distinct "
                             f"(as numpy.unique gives them), got {_short(classes.tolist())}")
    try:
        model._check_n_classes(classes)
    except ValueError as exc:
        raise ModelFileError(f"fitted/classes_: {exc}") from None
    return classes


def _checked_primary(model, fitted):
    """The fitted attributes that are not derived from the parameter vector, checked."""
    out = {"n_features_in_": _integer(fitted["n_features_in_"], "fitted/n_features_in_", low=1),
           "n_iter_": _integer(fitted["n_iter_"], "fitted/n_iter_"),
           "t_": _integer(fitted["t_"], "fitted/t_"),
           "loss_curve_": _reals(fitted["loss_curve_"], "fitted/loss_curve_"),
           "validation_scores_": _reals(fitted["validation_scores_"],
                                        "fitted/validation_scores_", none=True),
           "best_validation_score_": _real(fitted["best_validation_score_"],
                                           "fitted/best_validation_score_", none=True),
           "best_loss_": _real(fitted["best_loss_"], "fitted/best_loss_", finite=False)}
    if "feature_names_in_" in fitted:
        names = _array(fitted["feature_names_in_"], "fitted/feature_names_in_", "U", 1)
        if names.size != out["n_features_in_"]:
            raise ModelFileError(f"fitted/feature_names_in_ has {names.size} names for "
                                 f"{out['n_features_in_']} features")
        out["feature_names_in_"] = names.astype(object)   # as scikit-learn keeps them
    auto = isinstance(model.lr, str) and model.lr == "auto"
    if auto != ("x_scale_" in fitted) or ("x_mean_" in fitted) != ("x_scale_" in fitted):
        raise ModelFileError("fitted/x_mean_ and fitted/x_scale_ must be there exactly when "
                             "params/lr is 'auto' (the standardized coordinates of its fit)")
    out["x_mean_"] = out["x_scale_"] = None
    if auto:
        for k in ("x_mean_", "x_scale_"):
            v = _array(fitted[k], f"fitted/{k}", "f", 1).astype(np.float64)
            if v.size != out["n_features_in_"]:
                raise ModelFileError(f"fitted/{k} has {v.size} entries for "
                                     f"{out['n_features_in_']} features")
            out[k] = v
        if not (out["x_scale_"] > 0).all():
            raise ModelFileError("fitted/x_scale_ must be positive")
    if model._is_classifier():
        out["classes_"] = _checked_classes(model, fitted["classes_"])
    if model._multi_output:
        try:
            out["n_targets_"] = check_n_targets(fitted["n_targets_"], "fitted/n_targets_")
        except ValueError as exc:
            raise ModelFileError(str(exc)) from None
    return out


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _same(saved, computed):
    """Is ``saved`` (from the file) exactly ``computed`` (recomputed)?"""
    if isinstance(computed, np.ndarray):
        return (isinstance(saved, np.ndarray) and saved.dtype == computed.dtype
                and saved.shape == computed.shape and np.array_equal(saved, computed))
    if isinstance(computed, (list, tuple)):
        return (isinstance(saved, type(computed)) and len(saved) == len(computed)
                and all(_same(a, b) for a, b in zip(saved, computed)))
    saved, computed = _plain(saved), _plain(computed)
    if isinstance(computed, numbers.Number) and not isinstance(computed, bool):
        return (isinstance(saved, numbers.Number) and not isinstance(saved, bool)
                and saved == computed)
    return type(saved) is type(computed) and saved == computed


def _checked_params_vector(model, value, n_features):
    w = _array(value, "optimizer/params", "f", 1)
    if w.dtype not in (np.float32, np.float64):
        raise ModelFileError(f"optimizer/params must be float32 or float64, got {w.dtype}")
    try:
        size = model._n_params(n_features, model._n_outputs())
    except (OverflowError, ValueError, MemoryError) as exc:
        raise ModelFileError(f"params: the architecture cannot be built ({exc})") from None
    if w.size != size:
        raise ModelFileError(f"optimizer/params has {w.size} values; a {type(model).__name__} "
                             f"with these parameters on {n_features} features needs {size}")
    return w


def _checked_rng(value):
    """The shuffling generator, from its saved PCG64 state (or a fresh one for null)."""
    rng = np.random.default_rng()
    if value is None:
        return rng
    _keys(value, ("bit_generator", "state", "has_uint32", "uinteger"), "rng")
    if value["bit_generator"] != "PCG64":
        raise ModelFileError(f"rng/bit_generator must be 'PCG64', "
                             f"got {_short(value['bit_generator'])}")
    state = _keys(value["state"], ("state", "inc"), "rng/state")
    for k in ("state", "inc"):
        if _integer(state[k], f"rng/state/{k}") >= 2 ** 128:
            raise ModelFileError(f"rng/state/{k} must be below 2**128")
    if value["has_uint32"] not in (0, 1) or isinstance(value["has_uint32"], bool):
        raise ModelFileError(f"rng/has_uint32 must be 0 or 1, got {_short(value['has_uint32'])}")
    if _integer(value["uinteger"], "rng/uinteger") >= 2 ** 32:
        raise ModelFileError("rng/uinteger must be below 2**32")
    try:
        rng.bit_generator.state = value
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"rng: not a PCG64 state ({exc})") from None
    return rng


def _build(meta, arrays):
    """The estimator a file describes; ModelFileError naming the first entry that is wrong."""
    classes = model_classes()
    name = meta.get("class")
    if not isinstance(name, str) or name not in classes:
        raise ModelFileError(f"class: {_short(name)} is an estimator this fastgd cannot create "
                             f"(known: {', '.join(sorted(classes))})")
    _keys(meta, _TOP, "the model file")
    cls = classes[name]
    dec = _Decoder(arrays)

    # the constructor parameters, through the estimator's own checks
    params = _keys(meta["params"], sorted(cls().get_params(deep=False)), "params")
    values = {k: dec(v, f"params/{k}") for k, v in params.items()}
    if values["callback"] is not None:
        raise ModelFileError("params/callback must be null (a callback is code; it is not saved)")
    model = cls(**values)
    try:
        checked = model._checked_params()
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"params: {exc}") from None

    # the fitted attributes not derived from the parameter vector
    fitted = meta["fitted"]
    if not isinstance(fitted, dict):
        raise ModelFileError(f"fitted must be a JSON object, got {_short(fitted)}")
    for k in _primary_names(model):
        if k not in fitted:
            raise ModelFileError(f"fitted lacks the entry {k!r}")
    decoded = {k: dec(v, f"fitted/{k}") for k, v in fitted.items()}
    primary = _checked_primary(model, decoded)
    model.__dict__.update(primary)

    # the optimizer: the parameter vector, then the state through load_state_dict
    saved = _keys(meta["optimizer"], _OPTIMIZER, "optimizer")
    w = _checked_params_vector(model, dec(saved["params"], "optimizer/params"),
                               primary["n_features_in_"])
    rule = model._optimizer_class(checked)
    if saved["class"] != rule.__name__:
        raise ModelFileError(f"optimizer/class is {_short(saved['class'])}, but the parameter "
                             f"optimizer={model.optimizer!r} builds {rule.__name__}")
    try:
        lr = 1.0 if checked["lr"] == "auto" else copy.deepcopy(checked["lr"])  # then the saved one
        opt = rule(w.copy(), lr=lr, **checked["optimizer_params"],
                   shapes=model._shapes(primary["n_features_in_"], model._n_outputs()))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"params/optimizer_params: {exc}") from None
    state = opt.state_dict()
    state["step_count"] = saved["step_count"]
    state["n_skipped"] = saved["n_skipped"]
    state["state"] = dec(saved["state"], "optimizer/state")
    state["hyperparams"]["lr"] = dec(saved["lr"], "optimizer/lr")
    try:
        opt.load_state_dict(state)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"optimizer: {exc}") from None
    model._optimizer = opt
    model._rng = _checked_rng(meta["rng"])
    model._params = checked

    # the attributes derived from the parameter vector: recomputed, and equal to the saved ones
    before = set(vars(model))
    model._store_params(model._data_params())
    derived = set(vars(model)) - before
    extra = sorted(set(decoded) - set(primary) - derived)
    if extra:
        raise ModelFileError(f"fitted has an unexpected entry {extra[0]!r}")
    for k in sorted(derived):
        if k not in decoded:
            raise ModelFileError(f"fitted lacks the entry {k!r}")
        if not _same(decoded[k], getattr(model, k)):
            raise ModelFileError(f"fitted/{k} does not match the parameter vector "
                                 f"(optimizer/params) it is computed from")

    if not isinstance(meta["metadata"], dict):
        raise ModelFileError(f"metadata must be a JSON object, got {_short(meta['metadata'])}")
    unused = sorted(set(arrays) - dec.used)
    if unused:
        raise ModelFileError(f"unexpected array {unused[0]!r} in the model file")
    return model


# -- save and load --------------------------------------------------------------------------------

def save_model(model, path, metadata=None):
    """Write the fitted fastgd estimator ``model`` to ``path`` (an ``.npz`` file); returns the path.

    ``metadata``: a JSON-serialisable dict stored with it (``fastgd fit`` keeps
    the column names there); read it back with :func:`read_metadata`.
    Raises TypeError for an estimator that is not fastgd's or a parameter
    that cannot be stored, sklearn's NotFittedError for an unfitted one, and
    ValueError when an argument that fixes the fitted layout (fit_intercept,
    hidden_layer_sizes, activation, optimizer) was changed since the fit.
    """
    from sklearn.utils.validation import check_is_fitted

    cls = type(model)
    if model_classes().get(cls.__name__) is not cls:
        raise TypeError(f"save_model saves fastgd's estimators "
                        f"({', '.join(sorted(model_classes()))}), not {cls.__name__}")
    check_is_fitted(model)
    opt = model._optimizer
    changed = model._coordinate_changes()
    if model._fitted_optimizer_name() != str(model.optimizer).lower():
        changed["optimizer"] = model._fitted_optimizer_name()
    if changed:
        raise ValueError(f"save_model: {', '.join(changed)} changed since fit (which used "
                         f"{', '.join(f'{k}={v!r}' for k, v in changed.items())}): fit again "
                         f"before saving, or set {'it' if len(changed) == 1 else 'them'} back")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    enc = _Encoder()
    params = {}
    for name, value in model.get_params(deep=False).items():
        if name == "callback" or (name == "random_state" and
                                  not (value is None or isinstance(value, (int, np.integer)))):
            value = None
        params[name] = enc(value, f"param/{name}")
    primary, derived = _fitted_names(model)
    fitted = {name: enc(getattr(model, name), f"attr/{name}") for name in primary + derived}
    optimizer = {"class": type(opt).__name__, "params": enc.array("optimizer/params", opt.params),
                 "step_count": int(opt.step_count), "n_skipped": int(opt.n_skipped),
                 "state": enc(dict(opt.state), "optimizer/state"),
                 "lr": enc(opt.lr, "optimizer/lr")}
    rng = getattr(model, "_rng", None)
    meta = {"format": FORMAT, "version": VERSION, "fastgd_version": _fastgd_version(),
            "class": cls.__name__, "params": params, "fitted": fitted, "optimizer": optimizer,
            "rng": rng.bit_generator.state if isinstance(rng, np.random.Generator) else None,
            "metadata": metadata or {}}
    path = os.fspath(path)
    _write(path, json.dumps(meta), enc.arrays)
    return path


def _fastgd_version():
    import fastgd
    return fastgd.__version__


def read_metadata(path):
    """The ``metadata`` dict saved with the model (``{}`` if none); ModelFileError as
    :func:`load_model` for a file that is not an intact model file."""
    meta = _read(path)[0]
    value = meta.get("metadata", {})
    if not isinstance(value, dict):
        raise ModelFileError(f"{os.fspath(path)}: metadata must be a JSON object, "
                             f"got {_short(value)}")
    return value


def load_model(path):
    """Read a model written by :func:`save_model` (or ``fastgd fit``); returns the estimator.

    Whatever the file holds, this returns an estimator that predicts as the
    saved one did, or raises :class:`ModelFileError` (a ValueError) naming
    what is wrong; OSError when the file cannot be opened. The file is never
    unpickled and may only name fastgd's estimator classes. See the module
    docstring for what is checked.
    """
    meta, arrays = _read(path)
    try:
        return _build(meta, arrays)
    except ModelFileError as exc:
        raise ModelFileError(f"{os.fspath(path)}: {exc}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # every entry has its own check above; this keeps the promise of one exception
        # type should a combination of values get past them
        raise ModelFileError(f"{os.fspath(path)}: inconsistent model file "
                             f"({type(exc).__name__}: {exc})") from None


__all__ = ["save_model", "load_model", "read_metadata", "model_classes", "ModelFileError",
           "FORMAT", "VERSION"]
