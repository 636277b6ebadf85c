"""The process the fuzz tests (``test_fuzz.py``) run their cases in, so that a crash or a
hang of one case is seen (the process dies, or stops answering) instead of killing pytest.

Protocol on stdin/stdout: length-prefixed pickles. The first message is the set-up (a
directory); the worker fits and saves the base model files there and builds the base
state dicts (so the pytest process runs no kernel), loads, predicts and trains each
model once (later cases run warm), and answers with the artefacts. Each further message is one
case; the answer is ``{"outcome": "refused" | "loaded", "error": None or a description
of what went wrong}``. Everything a case prints goes to /dev/null.

A case is one of:

* ``{"kind": "state", ...}``: a (mutated) state dict loaded into a fresh optimizer. A
  refused dict must raise TypeError/ValueError and leave the optimizer as it was; an
  accepted one must step as the NumPy reference (``tests/reference.py``) says from the
  state it was given.
* ``{"kind": "exit"}`` and ``{"kind": "sleep"}``: a segfault and a hang, for the test
  of the harness itself.
* ``{"kind": "model", "mode": "raw" | "sealed", ...}``: a (mutated) model file. It must
  load or raise ModelFileError. ``raw``: the file kept the digest of the original, so a
  model that loads must predict exactly as the original; ``sealed``: the digest was
  recomputed, so the model may differ, but it must be consistent (fitted attributes
  equal to its parameter vector, predictions those of the reference forward pass) and
  ``partial_fit`` must end in a result or a ValueError/TypeError.
"""

import os
import pickle
import signal
import struct
import sys
import time
import traceback
import warnings

import numpy as np


def send(stream, obj):
    data = pickle.dumps(obj)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def receive(stream):
    head = stream.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    return pickle.loads(stream.read(n))


# -- the artefacts the mutations start from -------------------------------------------------------

def _data():
    """A small problem: X (60 x 3) and regression, binary (text) and 3-class targets."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y_reg = X @ np.array([1.0, -2.0, 0.5]) + 0.1
    y_bin = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    y_3 = np.digitize(X[:, 0], [-0.5, 0.5])
    return X, y_reg, y_bin, y_3


def estimators():
    """Every estimator, each with other settings, so that the files hold every kind of
    entry: schedules (with warm-up, with state), scalar optimizer state, lazy arrays,
    labels as text and as integers, no intercept, float32, early stopping."""
    import fastgd
    from fastgd import schedules as S

    X, y_reg, y_bin, y_3 = _data()
    common = dict(batch_size=16, tol=None, random_state=0)
    return {
        "linear": (fastgd.LinearRegression(
            lr=S.warmup(S.CosineWarmRestarts(0.05, t_0=3, t_mult=2), steps=2), max_epochs=2,
            **common), X, y_reg),
        "logistic": (fastgd.LogisticRegression(
            optimizer="nadam", lr=S.ReduceLROnPlateau(0.05, patience=0), max_epochs=3,
            **common), X, y_bin),
        "softmax": (fastgd.LogisticRegression(
            optimizer="asgd", optimizer_params={"t0": 2}, fit_intercept=False, max_epochs=2,
            **common), X, y_3),
        "svc": (fastgd.LinearSVC(
            optimizer="rmsprop", optimizer_params={"centered": True, "momentum": 0.5},
            lr=S.MultiStep(0.01, [3, 6]), max_epochs=2, **common), X, y_bin),
        "mlp_classifier": (fastgd.MLPClassifier(
            (4,), optimizer="sgd", optimizer_params={"momentum": 0.9}, lr=0.05, max_epochs=3,
            early_stopping=True, **common), X, y_3),
        "mlp_regressor": (fastgd.MLPRegressor(
            (4, 3), activation="tanh", optimizer_params={"amsgrad": True},
            lr=S.StepDecay(0.01, 5, 0.5), max_epochs=2, **common),
            X.astype(np.float32), y_reg.astype(np.float32)),
    }


# a state dict of every rule, some with the lazy arrays allocated, some with schedules
RULE_SETTINGS = [
    ("sgd", {}), ("sgd", {"momentum": 0.9, "nesterov": True}), ("adagrad", {"lr_decay": 0.01}),
    ("rmsprop", {}), ("rmsprop", {"centered": True, "momentum": 0.5}), ("adam", {}),
    ("adam", {"amsgrad": True}), ("adamw", {"amsgrad": True}), ("adamax", {}), ("nadam", {}),
    ("radam", {}), ("asgd", {"t0": 2}), ("adadelta", {"weight_decay": 0.1}),
    ("rprop", {"step_sizes": (1e-3, 1.0)}), ("lion", {"weight_decay": 0.1}),
    ("sgdschedulefree", {"warmup_steps": 2}), ("adamwschedulefree", {"weight_decay": 0.1}),
    ("prodigy", {"weight_decay": 0.01}), ("lamb", {"weight_decay": 0.01}),
    ("adafactor", {"weight_decay": 0.01}),
]
SIZE = 7


# float64 for every setting, float32 too for two rules (each dtype compiles its own kernel)
STATE_KEYS = [(name, i, dtype) for i, (name, _) in enumerate(RULE_SETTINGS)
              for dtype in (("float64", "float32") if name in ("sgd", "adam") else ("float64",))]


def state_dicts():
    """{key: (constructor kwargs, state dict after 4 steps)}; lr a schedule for 2 rules in 3."""
    import fastgd
    from fastgd import schedules as S

    out = {}
    for name, i, dtype in STATE_KEYS:
        kwargs = RULE_SETTINGS[i][1]
        lr = (S.warmup(S.CosineWarmRestarts(0.05, t_0=2, t_mult=1), steps=1) if i % 3 == 0
              else S.ReduceLROnPlateau(0.05) if i % 3 == 1 else 0.05)
        x = np.linspace(-1.0, 2.0, SIZE).astype(dtype)
        opt = fastgd.OPTIMIZERS[name](x, lr=lr, **kwargs)
        for t in range(4):
            opt.step(np.sin(np.arange(SIZE) * (t + 1.0)).astype(dtype))
        out[(name, i, dtype)] = (kwargs, opt.state_dict())
    return out




def build_artefacts(directory):
    """The base model files (in ``directory``; a restarted worker keeps the first one's)
    with their data, and the base state dicts."""
    from fastgd import save_model

    bases = {}
    for name, (est, X, y) in estimators().items():
        path = os.path.join(directory, f"{name}.npz")
        if not os.path.exists(path):
            est.fit(X, y)
            save_model(est, path)
        bases[name] = {"path": path, "X": X, "y": y}
    return bases, state_dicts()


# -- state dicts ----------------------------------------------------------------------------------

def _same_state_dict(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, dict):
            if not isinstance(y, dict) or not _same_state_dict(x, y):
                return False
        elif isinstance(x, np.ndarray):
            if not (isinstance(y, np.ndarray) and x.dtype == y.dtype and x.shape == y.shape
                    and np.array_equal(x, y, equal_nan=True)):
                return False
        elif hasattr(x, "spec"):
            if type(x) is not type(y) or not np.array_equal(x.spec, y.spec) \
                    or vars(x).keys() != vars(y).keys():
                return False
        elif x != y:
            return False
    return True


def _reference_step(name, loaded, theta, g):
    """The step the equations prescribe from the state dict ``loaded`` (as accepted)."""
    from reference import REFERENCES

    hyper = dict(loaded["hyperparams"])
    lr = hyper.pop("lr")
    t = loaded["step_count"]
    lr = lr if isinstance(lr, float) else lr(t)
    clip_norm, clip_value = hyper.pop("clip_norm"), hyper.pop("clip_value")
    g = g.copy()
    if clip_value is not None:
        g = np.clip(g, -clip_value, clip_value).astype(g.dtype)
    if clip_norm is not None:
        norm = float(np.sqrt(np.sum(g.astype(np.float64) ** 2)))
        if norm > clip_norm:
            g = (g * (clip_norm / (norm + 1e-6))).astype(g.dtype)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v)
             for k, v in loaded["state"].items()
             if not (isinstance(v, np.ndarray) and v.size == 0)}   # lazy: not allocated yet
    want = REFERENCES[name](theta.copy(), g, state, t + 1, lr, **hyper)
    conditioned = np.ones(theta.size, dtype=bool)
    if name == "rmsprop" and hyper["centered"]:
        # sqrt(v - a**2) at a variance that is zero up to rounding (alpha = 0 makes it
        # exactly zero): any rounding of the same equation may give NaN there, or g / eps
        v, a = state["square_avg"], state["grad_avg"]
        with np.errstate(all="ignore"):
            conditioned = v - a * a > 8 * np.finfo(v.dtype).eps * np.abs(v)
    return want, conditioned


def run_state_case(case):
    import fastgd

    name, dtype, n = case["rule"], np.dtype(case["dtype"]), case["size"]
    cls = fastgd.OPTIMIZERS[name]
    params = np.linspace(-1.0, 1.0, n).astype(dtype)
    opt = cls(params, lr=0.5, **case["kwargs"])
    before = opt.state_dict()
    try:
        opt.load_state_dict(case["sd"])
    except (TypeError, ValueError):
        if not _same_state_dict(opt.state_dict(), before):
            return {"outcome": "refused", "error": "a refused state dict changed the optimizer"}
        return {"outcome": "refused", "error": None}
    loaded = opt.state_dict()
    g = np.cos(np.arange(n) + 1.0).astype(dtype)
    want, conditioned = _reference_step(name, loaded, params, g)
    opt.step(g)
    # where the reference overflows (or nearly), the kernel's other order of the same
    # operations may not: compare the rest
    with np.errstate(all="ignore"):
        moderate = np.isfinite(want) & (np.abs(want) < np.finfo(dtype).max * 1e-6) & conditioned
    rtol = 1e-9 if dtype == np.float64 else 2e-5
    try:
        np.testing.assert_allclose(params[moderate], want[moderate], rtol=rtol, atol=0)
    except AssertionError as exc:
        return {"outcome": "loaded", "error": f"the step differs from the reference: {exc}"}
    return {"outcome": "loaded", "error": None}


# -- model files ----------------------------------------------------------------------------------

def _outputs(model, X):
    """Everything the model predicts for X."""
    out = {"predict": model.predict(X)}
    for method in ("predict_proba", "decision_function"):
        if hasattr(model, method):
            out[method] = getattr(model, method)(X)
    return out


def _consistent(model, X):
    """None if the loaded model is what its parameter vector says, else what is not."""
    import reference_mlp

    from fastgd.nn.kernels import layer_offsets
    from fastgd.nn.mlp import _check_hidden_layer_sizes

    w = model.optimizer_.params
    if hasattr(model, "coefs_"):
        hidden = _check_hidden_layer_sizes(model.hidden_layer_sizes)
        sizes = [model.n_features_in_, *hidden, model.n_outputs_]
        if int(layer_offsets(sizes)[-1]) != w.size:
            return "the parameter vector does not fit the architecture"
        for l, (W, b) in enumerate(reference_mlp.unflatten(w, sizes)):
            if not (np.array_equal(model.coefs_[l], W) and np.array_equal(model.intercepts_[l], b)):
                return f"coefs_[{l}] / intercepts_[{l}] differ from the parameter vector"
        if model.out_activation_ == "identity":
            got, kind = model.predict(X), "identity"
        else:
            got = model.predict_proba(X)
            kind = model.out_activation_
            got = got[:, 1:] if kind == "logistic" else got
        want = reference_mlp.predict(w, sizes, X, model.activation, kind).reshape(got.shape)
        ok = np.isfinite(want) & (np.abs(want) < 1e30)
        if not np.allclose(got[ok], want[ok], rtol=1e-5, atol=1e-6):
            return "predictions differ from the reference forward pass"
    else:
        k = 1 if model.coef_.ndim == 1 else model.coef_.shape[0]
        d = model.n_features_in_
        coef = w[:k * d].reshape(k, d)
        b = w[k * d:] if model.fit_intercept else np.zeros(k, dtype=w.dtype)
        if not (np.array_equal(model.coef_.reshape(k, d), coef) and b.shape == (k,)
                and np.array_equal(model.intercept_, b)):
            return "coef_ / intercept_ differ from the parameter vector"
        got = model.decision_function(X) if hasattr(model, "decision_function") else model.predict(X)
        with np.errstate(all="ignore"):
            want = (X @ coef.T + b).reshape(got.shape)
        if not np.array_equal(got, want, equal_nan=True):
            return "predictions differ from X @ coef_.T + intercept_"
    pred = model.predict(X)
    if pred.shape != (X.shape[0],):
        return f"predict returned shape {pred.shape}"
    if hasattr(model, "classes_") and not np.isin(pred, model.classes_).all():
        return "predict returned labels outside classes_"
    return None


def run_model_case(case, bases):
    from fastgd import load_model
    from fastgd.models.persist import ModelFileError

    base = bases[case["base"]]
    X, y = base["X"], base["y"]
    try:
        model = load_model(case["path"])
    except ModelFileError as exc:
        if "inconsistent model file (" in str(exc):   # load_model's safety net, not a check
            return {"outcome": "refused", "error": f"no check named the problem: {exc}"}
        return {"outcome": "refused", "error": None}
    except BaseException as exc:  # noqa: BLE001 - any other exception is the finding
        return {"outcome": "load", "error": f"load_model raised {type(exc).__name__}: {exc}"}
    if case["mode"] == "raw":
        got = _outputs(model, X)
        for k, v in base["outputs"].items():
            if not np.array_equal(got.get(k), v):
                return {"outcome": "loaded", "error": f"a modified file loaded and its {k} "
                                                      f"differs from the original's"}
    else:
        problem = _consistent(model, X)
        if problem:
            return {"outcome": "loaded", "error": problem}
    try:
        model.partial_fit(X, y)
    except (ValueError, TypeError):
        pass
    except BaseException as exc:  # noqa: BLE001
        return {"outcome": "loaded", "error": f"partial_fit raised {type(exc).__name__}: {exc}"}
    else:
        if model.predict(X).shape != (X.shape[0],):
            return {"outcome": "loaded", "error": "predict after partial_fit has the wrong shape"}
    return {"outcome": "loaded", "error": None}


def warm_up(bases):
    """Load, predict and train every base once, and clip and guard a step in both dtypes
    (a mutated state dict may switch them on), so that no case waits for a compilation;
    record what the originals predict."""
    import fastgd
    from fastgd import load_model

    for base in bases.values():
        model = load_model(base["path"])
        base["outputs"] = _outputs(model, base["X"])
        model.partial_fit(base["X"], base["y"])
    for dtype in (np.float64, np.float32):
        opt = fastgd.SGD(np.zeros(3, dtype), lr=0.1, clip_norm=1.0, clip_value=1.0,
                         skip_nonfinite=True)
        opt.step(np.ones(3, dtype))


def main():
    out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")
    inp = sys.stdin.buffer
    warnings.simplefilter("ignore")
    setup = receive(inp)
    bases, states = ({}, {})
    if setup.get("build", True):
        bases, states = build_artefacts(setup["dir"])
        warm_up(bases)
    artefacts = {"bases": {k: {n: v[n] for n in ("path", "X", "y")} for k, v in bases.items()},
                 "state_dicts": states}
    send(out, artefacts)
    while True:
        case = receive(inp)
        if case is None:
            return
        if case["kind"] == "exit":      # the harness's own test: a crash ...
            os.kill(os.getpid(), signal.SIGKILL)
        if case["kind"] == "sleep":     # ... and a hang
            time.sleep(3600)
        try:
            run = {"state": run_state_case, "model": lambda c: run_model_case(c, bases)}
            result = run[case["kind"]](case)
        except BaseException:  # noqa: BLE001 - reported, the worker carries on
            result = {"outcome": "error", "error": traceback.format_exc(limit=8)}
        send(out, result)


if __name__ == "__main__":
    main()
