"""``fastgd fit`` and ``fastgd predict``: train on a file, save the model, predict with it.

``fit`` reads a CSV (target column by name) or a ``.npy`` array (target
column by index; memory-mapped), trains one of fastgd's estimators with a
line of progress per epoch, prints the final training metrics, and saves the
model (see :mod:`fastgd.models.persist` for the format). ``predict`` loads it,
reads the same kind of file (the target column may be there or not) and
writes one prediction per row.

Problems with the input (files, columns, values, a diverging fit) raise
:class:`CLIError`; ``fastgd``'s ``main`` prints its one-line message and
exits with status 1.
"""

import os
import sys
import tempfile
import time
import warnings

import numpy as np

from .data import DataError, file_kind, read_table
from .errors import MODELS, CLIError, one_line
from .scale import (checked_scale, column_statistics, predict_scaled, scale_metadata,
                    scaling_problems, standardize)
from ..engine.loop import CONVERGED, INTERRUPTED, MAX_EPOCHS, NO_IMPROVEMENT
from ..engine.trainer import DivergenceError, compile_messages
from ..sparse import is_sparse
from ..models.persist import ModelFileError, load_model, read_metadata, save_model

_LINEAR = {"logistic": "LogisticRegression", "linear": "LinearRegression", "svm": "LinearSVC"}


#: a fit whose epoch loss exceeds this multiple of the first epoch's is stopped as diverging
#: (the rule of fastgd.minimize; the estimators themselves stop only at NaN or inf)
GROWTH_LIMIT = 1e6


class _Diverging(Exception):
    pass


# -- choosing the estimator -----------------------------------------------------------------------------

def _is_classification_target(y):
    """Text labels, or integers with few distinct values."""
    if y.dtype.kind in "USO":
        return True
    if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
        return False
    return np.unique(y).size <= max(2, min(50, y.size // 10))


def estimator_class(model, y):
    """The fastgd class for ``--model``, and whether it is a classifier."""
    import fastgd

    if model in _LINEAR:
        return getattr(fastgd, _LINEAR[model]), model != "linear"
    if model == "mlp":
        model = "mlp-classifier" if _is_classification_target(y) else "mlp-regressor"
    name = "MLPClassifier" if model == "mlp-classifier" else "MLPRegressor"
    if not hasattr(fastgd, name):
        raise CLIError(f"--model {model}: this fastgd has no {name} yet (fastgd.{name} is "
                       f"missing); use --model logistic, linear or svm")
    return getattr(fastgd, name), name == "MLPClassifier"


def _hidden_sizes(text):
    try:
        sizes = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise CLIError(f"--hidden must be layer widths separated by commas, like 64,32; "
                       f"got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise CLIError(f"--hidden must be positive layer widths, got {text!r}")
    return sizes


def build_estimator(args, cls, n_rows):
    """The estimator with the command line's settings."""
    batch = args.batch_size
    if isinstance(batch, int):
        batch = min(batch, n_rows)
    params = dict(optimizer=args.optimizer, lr=args.lr, batch_size=batch, max_epochs=args.epochs,
                  tol=args.tol, random_state=args.seed, alpha=args.alpha,
                  early_stopping=bool(getattr(args, "early_stopping", False)))
    if args.hidden is not None:
        if not cls.__name__.startswith("MLP"):
            raise CLIError("--hidden applies to --model mlp only")
        params["hidden_layer_sizes"] = _hidden_sizes(args.hidden)
    accepted = cls().get_params()
    unknown = [k for k in params if k not in accepted]
    for k in unknown:
        if k == "hidden_layer_sizes":
            raise CLIError(f"--hidden: {cls.__name__} has no hidden_layer_sizes parameter")
        params.pop(k)
    return cls(**params)


# -- fit ------------------------------------------------------------------------------------------------

def default_model_path(data, model):
    """``<data stem>.<model>.npz`` in the current directory."""
    stem = os.path.splitext(os.path.basename(data))[0]
    return f"{stem}.{model}.npz"


def read_training_data(args, out=print):
    """(table, estimator class, is a classifier, y) for ``fit`` and ``lr-find``; checked."""
    dtype = None if args.dtype == "auto" else np.dtype(args.dtype)
    t0 = time.perf_counter()
    try:
        fmt = getattr(args, "format", "auto")
        if args.target is None and file_kind(args.data, fmt) != "svmlight":
            raise CLIError("--target is required (the target column) for CSV and .npy files")
        table = read_table(args.data, target=args.target, dtype=dtype, fmt=fmt)
    except DataError as exc:
        raise CLIError(str(exc)) from None
    kind = "memory-mapped " if isinstance(table.X, np.memmap) or _is_mapped(table.X) else ""
    out(f"Read {table.X.shape[0]:,} rows x {table.X.shape[1]} features ({kind}{table.X.dtype}) "
        f"from {args.data} in {time.perf_counter() - t0:.2f} s; target {table.target!r}")
    if table.note:
        out(f"Note: {table.note}")
    cls, classifier = estimator_class(args.model, table.y)
    y = table.y
    if not classifier and y.dtype.kind in "US":
        bad = str(next(v for v in y if not _float_or_none(v)))
        raise CLIError(f"{args.data}: the target {table.target!r} holds text ({bad!r}); "
                       f"--model {args.model} needs numbers (a classifier takes labels)")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise CLIError(f"{args.data}: the target {table.target!r} contains NaN or infinity")
    if classifier and y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)                   # labels 0/1, not 0.0/1.0
    return table, cls, classifier, y


def scaled_features(args, table, workdir, out=print):
    """(X to train on, (mu, s) or None): ``--scale`` applied to the table's features.

    The column statistics take one pass over the rows either way: with
    ``--scale none`` they only decide whether to warn that the features
    look badly scaled for gradient descent.
    """
    if is_sparse(table.X):        # an svmlight file: centring would fill it in
        if args.scale != "none":
            out("Note: the sparse features are used as they are (--scale standard needs dense "
                "data)")
        return table.X, None
    mu, s = column_statistics(table.X)
    if args.scale == "none":
        problem = scaling_problems(mu, s, table.feature_names)
        if problem:
            out(f"Warning: the features look badly scaled for gradient descent ({problem}); "
                f"it converges slowly on them: drop --scale none (standardise)")
        return table.X, None
    where = "a temporary file" if _is_mapped(table.X) else "memory"
    out(f"Standardised the {table.X.shape[1]} features (mean 0, std 1, from one pass over the "
        f"rows; a copy in {where}); predict applies the same scaling")
    return standardize(table.X, mu, s, workdir), (mu, s)


def stop_line(est):
    """The line that says why the fit stopped (from the estimator's ``stop_reason_``)."""
    reason = est.stop_reason_
    patience = est.n_iter_no_change
    if reason == CONVERGED:
        return (f"converged: the training loss improved by less than --tol {est.tol:g} for "
                f"{patience} epochs")
    if reason == NO_IMPROVEMENT:
        return (f"no improvement on the validation set ({est.validation_fraction:.0%} of the "
                f"rows) by --tol {est.tol:g} for {patience} epochs; kept the best epoch "
                f"({int(np.argmax(est.validation_scores_)) + 1})")
    if reason == MAX_EPOCHS:
        if est.tol is None:
            return f"ran the --epochs {est.max_epochs} epochs (--tol none)"
        return (f"reached --epochs {est.max_epochs} before the loss settled (raise --epochs, "
                f"or --tol)")
    if reason == INTERRUPTED:
        return "interrupted (Ctrl-C); kept the last completed epoch"
    return reason


def run_fit(args, out=print):
    """``fastgd fit``: returns the fitted estimator (after saving it)."""
    table, cls, classifier, y = read_training_data(args, out)
    with tempfile.TemporaryDirectory(prefix="fastgd-fit-") as workdir:
        X, scale = scaled_features(args, table, workdir, out)
        est = _fit_and_report(args, table, X, cls, classifier, y, out)
        del X
    path = args.out or default_model_path(args.data, args.model)
    meta = {"kind": table.kind, "features": table.feature_names, "target": _plain(table.target),
            "n_columns": table.n_columns, "classifier": classifier}
    if scale is not None:
        meta["scale"] = scale_metadata(*scale)
    if table.kind == "svmlight":
        meta["zero_based"] = table.zero_based
    try:
        save_model(est, path, metadata=meta)
    except OSError as exc:
        raise CLIError(f"cannot write the model to {path}: {exc.strerror or exc}") from None
    out(f"Saved the model to {path}  (fastgd predict {path} DATA; in Python: "
        f"fastgd.load_model({path!r})" + ("" if scale is None else
                                          ", which takes standardised rows: the means and stds "
                                          "are in the file's metadata, read_metadata") + ")")
    return est


def _fit_and_report(args, table, X, cls, classifier, y, out):
    est = build_estimator(args, cls, X.shape[0])
    batch = "all rows (batch GD)" if est.batch_size is None else f"batch size {est.batch_size}"
    out(f"Fitting {cls.__name__}: optimizer {est.optimizer}, lr {est.lr}, {batch}, up to "
        f"{est.max_epochs} epochs")

    width = len(str(est.max_epochs))
    first = []

    def progress(info):
        out(f"  epoch {info.epoch:>{width}}/{est.max_epochs}  loss {info.loss:<12.6g} "
            f"{info.samples_per_second:>12,.0f} samples/s  {info.seconds * 1e3:8.1f} ms")
        first.append(info.loss)
        if info.loss > GROWTH_LIMIT * max(first[0], 1e-12):
            raise _Diverging(f"training diverged: the loss grew from {first[0]:.4g} (epoch 1) to "
                             f"{info.loss:.4g} (epoch {info.epoch})")

    est.set_params(callback=progress)
    t1 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with compile_messages(lambda message: out(f"  {message}")):
                est.fit(X, y)
        except _Diverging as exc:
            now = args.lr if isinstance(args.lr, str) else f"{args.lr:g}"
            raise CLIError(f"stopped: {exc}; try a smaller --lr (now {now})"
                           f"{' or --scale standard' if args.scale == 'none' else ''}") from None
        except MemoryError as exc:                # a model far too large for this machine
            raise CLIError(f"not enough memory for this model ({one_line(exc) or 'MemoryError'}); "
                           f"try smaller --hidden layers") from None
        except DivergenceError as exc:
            raise CLIError(f"stopped: {one_line(exc)}") from None
        except Exception as exc:                  # bad values, one class, ...
            if isinstance(exc, (ValueError, TypeError, ArithmeticError)):
                raise CLIError(one_line(exc)) from None
            raise
    seconds = time.perf_counter() - t1
    est.set_params(callback=None)
    for w in caught:
        msg = one_line(w.message)
        if "maximum number of epochs" in msg:
            continue                              # the stop line says it
        out(f"Note: {msg}")
    out(f"Done: {est.n_iter_} epochs in {seconds:.2f} s")
    out(f"Stopped: {stop_line(est)}")
    out(f"  loss      {est.loss_curve_[-1]:.6g}   (training objective, mean over the last epoch)")
    score = est.score(X, y)
    out(f"  {'accuracy' if classifier else 'R^2':<9} {score:.6g}   (on the {X.shape[0]:,} "
        f"training rows)")
    return est


def run_lr_find(args, out=print):
    """``fastgd lr-find``: the learning-rate range test; returns its result."""
    from ..models.lr_find import lr_find

    table, cls, classifier, y = read_training_data(args, out)
    args.lr, args.epochs, args.tol = 1e-3, 1, None   # the rate is the test's own
    est = build_estimator(args, cls, table.X.shape[0])
    with tempfile.TemporaryDirectory(prefix="fastgd-lr-find-") as workdir:
        X, _ = scaled_features(args, table, workdir, out)   # the rate suits fit's scaling
        out(f"Range test: {cls.__name__}, optimizer {est.optimizer}, "
            f"{'full batches' if est.batch_size is None else f'batch size {est.batch_size}'}, "
            f"{args.steps} steps from lr {args.min_lr:g} to {args.max_lr:g}")
        try:
            with compile_messages(lambda message: out(f"  {message}")):
                result = lr_find(est, X, y, min_lr=args.min_lr, max_lr=args.max_lr,
                                 steps=args.steps, random_state=args.seed)
        except (ValueError, TypeError) as exc:
            raise CLIError(one_line(exc)) from None
        del X
    out(f"  {'lr':>10}  {'loss':>12}  {'smoothed':>12}")
    for i in np.unique(np.linspace(0, result.lrs.size - 1, min(12, result.lrs.size)).astype(int)):
        out(f"  {result.lrs[i]:>10.3g}  {result.losses[i]:>12.6g}  {result.smoothed[i]:>12.6g}")
    if result.stopped:
        out(f"Stopped: {result.stopped}")
    out(f"Suggested: --lr {result.suggestion:.3g} ({result.rule}); the loss fell fastest at "
        f"lr {result.steepest:.3g}")
    if args.plot:
        try:
            result.plot(args.plot)
        except ImportError as exc:
            raise CLIError(str(exc)) from None
        out(f"Wrote {args.plot}")
    return result


def _float_or_none(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_mapped(X):
    base = X
    while base is not None:
        if isinstance(base, np.memmap):
            return True
        base = getattr(base, "base", None)
    return False


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


# -- predict ------------------------------------------------------------------------------------------

def run_predict(args, out=print):
    """``fastgd predict``: returns the predictions (and writes them)."""
    try:
        model = load_model(args.model)
        meta = _checked_metadata(read_metadata(args.model), model, args.model)
    except ModelFileError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"{args.model}: {exc.strerror or exc}") from None
    except MemoryError:
        raise CLIError(f"{args.model}: not enough memory to load this model") from None
    kind = meta.get("kind")
    try:
        fmt = getattr(args, "format", "auto")
        if kind == "svmlight" or file_kind(args.data, fmt) == "svmlight":
            table = read_table(args.data, n_features=model.n_features_in_, fmt="svmlight",
                               zero_based=meta.get("zero_based"))
        elif kind == "csv" and os.path.splitext(args.data)[1].lower() != ".npy":
            table = read_table(args.data, features=meta["features"])
        else:
            target = meta.get("target") if kind == "npy" else None
            table = read_table(args.data, target=None if target is None else str(target),
                               n_features=model.n_features_in_,
                               features=meta.get("features") if kind == "csv" else None)
    except DataError as exc:
        raise CLIError(str(exc)) from None
    if table.X.shape[1] != model.n_features_in_:
        raise CLIError(f"{args.data}: {table.X.shape[1]} feature columns, but the model was "
                       f"trained on {model.n_features_in_}")
    scale = meta.get("scale")

    def run(predict):
        return predict(table.X) if scale is None else predict_scaled(predict, table.X, *scale)

    try:
        if args.proba:
            if not hasattr(model, "predict_proba"):
                raise CLIError(f"--proba: {type(model).__name__} gives no probabilities")
            values = run(model.predict_proba)
            header = [f"P({c})" for c in model.classes_]
        else:
            values = run(model.predict)
            header = [str(meta.get("target") if kind == "csv" else "prediction")]
    except ValueError as exc:
        raise CLIError(f"{args.data}: {one_line(exc)}") from None
    write_predictions(values, header, args.out)
    if args.out:
        out(f"Wrote {len(values):,} predictions to {args.out}", file=sys.stderr)
    return values


def _checked_metadata(meta, model, path):
    """The metadata ``fastgd fit`` stores (kind, features, target), as predict uses it.

    A model saved from Python has none (``{}``); anything else must have the
    types fit writes, else ModelFileError.
    """
    kind = meta.get("kind")
    if kind is None:
        return {}
    features, target = meta.get("features"), meta.get("target")
    if kind == "svmlight" and features == [] and target == "label" \
            and isinstance(meta.get("zero_based"), bool):
        return meta
    ok = kind in ("csv", "npy") and isinstance(features, list) \
        and len(features) == model.n_features_in_ and all(isinstance(f, str) for f in features)
    if kind == "csv":
        ok = ok and isinstance(target, str)
    elif kind == "npy":
        ok = ok and (target is None or (isinstance(target, int) and not isinstance(target, bool)))
    scale = None
    if ok and "scale" in meta:
        scale = checked_scale(meta["scale"], model.n_features_in_)
        ok = scale is not None
    if not ok:
        raise ModelFileError(f"{path}: its metadata is not what fastgd fit writes (kind "
                             f"'csv' or 'npy', {model.n_features_in_} feature names, the target, "
                             f"the scaling's {model.n_features_in_} means and positive stds)")
    return dict(meta, scale=scale)


def write_predictions(values, header, path):
    """CSV to ``path`` (or stdout when None), or a .npy array when ``path`` ends in .npy."""
    values = np.asarray(values)
    if path is not None and path.lower().endswith(".npy"):
        try:
            np.save(path, values if values.dtype != object else values.astype(str))
        except OSError as exc:
            raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None
        return
    rows = values.reshape(len(values), -1)
    fh = sys.stdout if path is None else None
    try:
        if fh is None:
            fh = open(path, "w", newline="")
        fh.write(",".join(header) + "\n")
        fmt = _formatter(rows.dtype)
        for row in rows:
            fh.write(",".join(fmt(v) for v in row) + "\n")
        fh.flush()
    except BrokenPipeError:
        if path is not None:
            raise CLIError(f"cannot write {path}: broken pipe") from None
        # the reader went away (``fastgd predict ... | head``): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if path is not None and fh is not None:
            fh.close()


def _formatter(dtype):
    if dtype.kind == "f":
        return lambda v: repr(float(v))
    if dtype.kind in "iub":
        return lambda v: str(int(v))
    return str


__all__ = ["run_fit", "run_predict", "run_lr_find", "CLIError", "MODELS", "estimator_class",
           "write_predictions"]
