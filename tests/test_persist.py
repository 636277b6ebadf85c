"""Model files from outside: what load_model refuses, and that it names the entry.

The cases of issue 12 one by one (``test_fuzz.py`` draws many more). "Sealed" files
have their digest recomputed after the edit, as someone editing a file on purpose
would do; they reach the validation behind the digest.
"""

import json
import zipfile

import numpy as np
import pytest

import fastgd
from fastgd import load_model, save_model
from fastgd import schedules as S
from fastgd.models import persist
from fastgd.models.persist import ModelFileError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]), np.where(X[:, 0] > X[:, 1], "a", "b")


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """A LinearRegression (Adam, a warmed-up SGDR schedule) and a LogisticRegression
    (NAdam, ReduceLROnPlateau), fitted and saved."""
    X, y, labels = data
    tmp = tmp_path_factory.mktemp("persist")
    reg = fastgd.LinearRegression(lr=S.warmup(S.CosineWarmRestarts(0.05, t_0=3), steps=2),
                                  batch_size=16, max_epochs=2, tol=None, random_state=0)
    clf = fastgd.LogisticRegression(optimizer="nadam", lr=S.ReduceLROnPlateau(0.05, patience=0),
                                    batch_size=16, max_epochs=2, tol=None, random_state=0)
    return {"reg": (reg.fit(X, y), save_model(reg, tmp / "reg.npz")),
            "clf": (clf.fit(X, labels), save_model(clf, tmp / "clf.npz"))}


def _entries(path):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    digest = str(arrays.pop(persist.DIGEST_KEY))
    return json.loads(str(arrays.pop(persist.META_KEY))), arrays, digest


def _sealed(tmp_path, meta, arrays):
    path = str(tmp_path / "edited.npz")
    persist._write(path, json.dumps(meta), arrays)
    return path


def _edited(saved, tmp_path, which, edit):
    meta, arrays, _ = _entries(saved[which][1])
    edit(meta, arrays)
    return _sealed(tmp_path, meta, arrays)


def test_round_trip_predicts_and_resumes_exactly(saved, data):
    X, y, labels = data
    for which, target in (("reg", y), ("clf", labels)):
        est, path = saved[which]
        loaded = load_model(path)
        np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
        again = load_model(path)
        loaded.partial_fit(X, target)
        again.partial_fit(X, target)
        np.testing.assert_array_equal(loaded.coef_, again.coef_)


def test_an_entry_changed_after_saving_does_not_match_the_digest(saved, tmp_path):
    meta, arrays, digest = _entries(saved["reg"][1])
    arrays["attr/coef_"] = arrays["attr/coef_"] * 2           # predicts something else
    path = str(tmp_path / "raw.npz")
    with open(path, "wb") as fh:
        np.savez(fh, **{persist.META_KEY: np.array(json.dumps(meta)),
                        persist.DIGEST_KEY: np.array(digest)}, **arrays)
    with pytest.raises(ModelFileError, match="does not match its SHA-256 digest"):
        load_model(path)
    del arrays["attr/coef_"]
    with open(path, "wb") as fh:
        np.savez(fh, **{persist.META_KEY: np.array(json.dumps(meta))}, **arrays)
    with pytest.raises(ModelFileError, match="digest"):
        load_model(path)


@pytest.mark.parametrize("size", [0, 3, 5])
def test_optimizer_state_of_the_wrong_size(saved, data, tmp_path, size):
    """The issue's 'free(): invalid size': a state array of another size reached the
    kernels through load_model(...).partial_fit(...)."""
    path = _edited(saved, tmp_path, "reg", lambda meta, arrays: arrays.__setitem__(
        "optimizer/state/exp_avg", np.zeros(size)))
    with pytest.raises(ModelFileError, match=r"optimizer: .*state\['exp_avg'\].*size 4"):
        load_model(path)


@pytest.mark.parametrize("args,fragment", [
    ({"lr": 0.05, "t_0": 3, "t_mult": 0, "eta_min": 0.0}, "t_mult"),    # hung at 100% CPU
    ({"lr": -0.05, "t_0": 3, "t_mult": 1, "eta_min": 0.0}, "lr"),       # gradient ascent
    ({"lr": 0.05, "t_0": 0, "t_mult": 1, "eta_min": 0.0}, "t_0"),
    ({"lr": 0.05, "t_0": 3}, None),                                     # defaults: valid
    ({"lr": 0.05, "t_0": 3, "foo": 1}, "foo"),
])
@pytest.mark.parametrize("where", ["params/lr", "optimizer/lr"])
def test_schedules_are_rebuilt_through_their_constructors(saved, tmp_path, data, where, args,
                                                          fragment):
    def edit(meta, arrays):
        node = meta["params"]["lr"] if where == "params/lr" else meta["optimizer"]["lr"]
        node["__schedule__"]["args"] = args
    path = _edited(saved, tmp_path, "reg", edit)
    if fragment is None:
        X, y, _ = data
        load_model(path).partial_fit(X, y)
    else:
        with pytest.raises(ModelFileError, match=f"{where}: not a valid schedule.*{fragment}"):
            load_model(path)


EDITS = [
    ("unknown class", lambda m, a: m.__setitem__("class", "os.system"), "cannot create"),
    ("missing entry", lambda m, a: m["fitted"].pop("n_iter_"), "fitted lacks the entry 'n_iter_'"),
    ("extra entry", lambda m, a: m["optimizer"].__setitem__("x", 1), "unexpected entry 'x'"),
    ("extra array", lambda m, a: a.__setitem__("extra", np.ones(2)), "unexpected array 'extra'"),
    ("missing array", lambda m, a: a.pop("optimizer/params"), "optimizer/params"),
    ("coef_ edited", lambda m, a: a.__setitem__("attr/coef_", a["attr/coef_"] + 1.0),
     "fitted/coef_ does not match the parameter vector"),
    ("NaN parameter", lambda m, a: a["optimizer/params"].__setitem__(0, np.nan), "NaN"),
    ("parameters too short", lambda m, a: a.__setitem__("optimizer/params",
                                                        a["optimizer/params"][:-1]), "needs 4"),
    ("parameters of int", lambda m, a: a.__setitem__("optimizer/params",
                                                     a["optimizer/params"].astype(np.int64)),
     "optimizer/params"),
    ("fit_intercept flipped", lambda m, a: m["params"].__setitem__("fit_intercept", False),
     "needs 3"),
    ("bad parameter", lambda m, a: m["params"].__setitem__("alpha", -1.0), "params: .*alpha"),
    ("callback", lambda m, a: m["params"].__setitem__("callback", "print"), "callback"),
    ("unknown optimizer param", lambda m, a: m["params"].__setitem__(
        "optimizer_params", {"__dict__": {"foo": 1}}), "optimizer_params"),
    ("other rule", lambda m, a: m["optimizer"].__setitem__("class", "SGD"), "builds Adam"),
    ("negative step count", lambda m, a: m["optimizer"].__setitem__("step_count", -1),
     "step_count"),
    ("negative second moment", lambda m, a: a["optimizer/state/exp_avg_sq"].__setitem__(0, -1.0),
     "negative"),
    ("n_features_in_ 0", lambda m, a: m["fitted"].__setitem__("n_features_in_", 0),
     "n_features_in_"),
    ("loss_curve_ NaN", lambda m, a: m["fitted"]["loss_curve_"].__setitem__(0, float("nan")),
     "loss_curve_"),
    ("rng state", lambda m, a: m["rng"]["state"].__setitem__("state", -1), "rng/state/state"),
    ("rng generator", lambda m, a: m["rng"].__setitem__("bit_generator", "MT19937"),
     "bit_generator"),
    ("metadata", lambda m, a: m.__setitem__("metadata", [1]), "metadata"),
    ("deep nesting", lambda m, a: m["params"].__setitem__("optimizer_params",
                                                          json.loads("[" * 60 + "]" * 60)),
     "nested too deeply"),
    ("array used twice", lambda m, a: m["fitted"].__setitem__(
        "intercept_", {"__array__": "attr/coef_"}), "used twice"),
    ("unknown tag", lambda m, a: m["fitted"].__setitem__("t_", {"__eval__": "1"}), "unexpected"),
    ("version 1", lambda m, a: m.__setitem__("version", 1), "format version 1"),
]


@pytest.mark.parametrize("what,edit,fragment", EDITS, ids=[e[0] for e in EDITS])
def test_sealed_edits_are_refused_naming_the_entry(saved, tmp_path, what, edit, fragment):
    with pytest.raises(ModelFileError, match=fragment):
        load_model(_edited(saved, tmp_path, "reg", edit))


CLASSIFIER_EDITS = [
    ("one class", lambda m, a: a.__setitem__("attr/classes_", a["attr/classes_"][:1]),
     "at least 2 labels"),
    ("unsorted classes", lambda m, a: a.__setitem__("attr/classes_", a["attr/classes_"][::-1]),
     "sorted"),
    ("mu_product above 1", lambda m, a: m["optimizer"]["state"]["__dict__"].__setitem__(
        "mu_product", 1.5), "mu_product"),
    ("plateau state", lambda m, a: m["optimizer"]["lr"]["__schedule__"]["state"].__setitem__(
        "num_bad_epochs", 7), "num_bad_epochs"),
]


@pytest.mark.parametrize("what,edit,fragment", CLASSIFIER_EDITS,
                         ids=[e[0] for e in CLASSIFIER_EDITS])
def test_sealed_classifier_edits_are_refused(saved, tmp_path, what, edit, fragment):
    with pytest.raises(ModelFileError, match=fragment):
        load_model(_edited(saved, tmp_path, "clf", edit))


def test_damaged_archives_are_model_file_errors(saved, tmp_path):
    raw = open(saved["reg"][1], "rb").read()
    path = tmp_path / "damaged.npz"
    cases = [raw[:n] for n in (4, 100, len(raw) // 2, len(raw) - 1)]
    for pos in (40, len(raw) // 3, len(raw) - 30):
        flipped = bytearray(raw)
        flipped[pos] ^= 0x04
        cases.append(bytes(flipped))
    for case in cases:
        path.write_bytes(case)
        with pytest.raises(ModelFileError):
            load_model(path)


def _forge_shape(member, shape):
    """The .npy bytes ``member`` with another shape in its header (same header length)."""
    start, end = member.index(b"{"), member.index(b"\n")
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    return member[:start] + header.ljust(end - start) + member[end:]


@pytest.mark.parametrize("shape,fragment", [
    ((10 ** 12,), "optimizer/params"), ((5,), "optimizer/params"), ((-4,), "optimizer/params"),
    ((2, 2), "digest"),             # the same 4 values in another shape: the digest sees it
])
def test_entries_that_lie_about_their_size_are_refused_before_allocating(saved, tmp_path, shape,
                                                                         fragment):
    """A .npy header claiming other values than the entry holds (10**12 of them, say) is
    refused from the sizes alone, without allocating."""
    out = tmp_path / "forged.npz"
    with zipfile.ZipFile(saved["reg"][1]) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            member = src.read(info.filename)
            if info.filename == "optimizer/params.npy":
                member = _forge_shape(member, shape)
            dst.writestr(info.filename, member)
    with pytest.raises(ModelFileError, match=fragment):
        load_model(out)


def test_a_pickled_array_is_never_loaded(saved, tmp_path):
    import io

    path = tmp_path / "pickle.npz"
    with zipfile.ZipFile(path, "w") as zf:
        buf = io.BytesIO()
        np.save(buf, np.array([print], dtype=object), allow_pickle=True)
        zf.writestr("attr/coef_.npy", buf.getvalue())
    with pytest.raises(ModelFileError, match="dtype object"):
        load_model(path)


def test_save_refuses_a_layout_changed_since_fit(saved, tmp_path):
    est = load_model(saved["reg"][1])
    est.set_params(fit_intercept=False)
    with pytest.raises(ValueError, match="fit_intercept"):
        save_model(est, tmp_path / "m.npz")
    est.set_params(fit_intercept=True, optimizer="sgd")
    with pytest.raises(ValueError, match="optimizer"):
        save_model(est, tmp_path / "m.npz")
