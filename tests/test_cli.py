"""The ``fastgd`` command line: demo, plot, fit/predict round trips, one-line errors, model files."""

import contextlib
import io
import json
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastgd
from fastgd import load_model, save_model
from fastgd.cli import main
from fastgd.losses.standardize import feature_statistics
from fastgd.models import persist
from fastgd.models.persist import META_KEY, ModelFileError, read_metadata

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_main(argv):
    """main(argv) in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def console_script():
    """The installed ``fastgd`` script next to this Python, else ``python -m fastgd``."""
    script = pathlib.Path(sys.executable).with_name("fastgd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fastgd"]


# -- the demo ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One quick demo through ``main``, with a plot when matplotlib is installed."""
    png = tmp_path_factory.mktemp("demo") / "curves.png"
    argv = ["demo", "--quick"] + (["--plot", png] if has_matplotlib() else [])
    status, out, err = run_main(argv)
    return status, out, err, png


def test_demo_runs_end_to_end(demo_run):
    status, out, err, _ = demo_run
    assert status == 0, err
    # experiment 1: the table has a row per method with a number of samples/s and a final loss
    for method in ("batch GD", "stochastic GD", "mini-batch GD", "Adam"):
        row = next(line for line in out.splitlines() if line.startswith(method + " "))
        assert len(row.split()) >= 7, row
    # experiment 2: the verdicts are computed from the runs, and the last one diverged
    for verdict in ("CRAWLS", "CONVERGES", "OSCILLATES", "DIVERGES"):
        assert verdict in out
    assert "DivergenceError in epoch" in out
    assert "Traceback" not in out + err


def test_demo_experiments_measure_what_they_claim():
    from fastgd.cli.demo import TARGET, learning_rate_sweep, make_problem, verdict

    problem = make_problem(n=500, d=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sweep = learning_rate_sweep(problem, epochs=100)
    crawl, good, oscillating, diverging = sweep
    target = problem.best_loss * (1 + TARGET)
    assert crawl.epochs_to(target) is None and not crawl.diverged_epoch
    assert good.epochs_to(target) is not None and good.reversals < 0.5
    assert oscillating.epochs_to(target) is not None and oscillating.reversals > 0.5
    assert diverging.diverged_epoch > 0 and "diverged" in diverging.error
    assert verdict(problem, diverging).startswith("DIVERGES")
    # the losses never go below the closed-form optimum
    assert min(min(r.losses) for r in sweep) >= problem.best_loss * (1 - 1e-9)


@pytest.mark.skipif(not has_matplotlib(), reason="matplotlib (the 'plot' extra) is not installed")
def test_demo_plot_is_a_png_with_content(demo_run):
    import matplotlib.image

    status, out, err, png = demo_run
    assert status == 0, err
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 30_000            # three panels of curves, not an empty canvas
    image = matplotlib.image.imread(png)
    assert image.shape[0] > 400 and image.shape[1] > 1000
    assert image[..., :3].std() > 0.05   # drawn, not blank
    assert str(png) in out


def test_demo_plot_without_matplotlib_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # import matplotlib -> ImportError
    status, out, err = run_main(["demo", "--quick", "--plot", tmp_path / "x.png"])
    assert status == 1
    assert len(err.strip().splitlines()) == 1 and 'pip install "fastgd[plot]"' in err
    assert out == ""                                        # failed before doing any work


def test_console_script_in_a_subprocess(tmp_path):
    # the installed entry point: its help, and a failing fit's one-line error and status (the
    # demo itself runs through main above, and as the README's first command)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    done = subprocess.run(console_script() + ["--help"], capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "usage: fastgd" in done.stdout and "demo" in done.stdout and "fit" in done.stdout
    bad = subprocess.run(console_script() + ["fit", "missing.csv", "--target", "y", "--model",
                                             "linear"], capture_output=True, text=True, env=env,
                         timeout=120, cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == ["fastgd fit: error: missing.csv: no such file"]


# -- fit and predict --------------------------------------------------------------------------------

def write_csv(path, header, rows):
    with open(path, "w") as fh:
        fh.write(",".join(header) + "\n")
        for row in rows:
            fh.write(",".join(str(v) for v in row) + "\n")
    return path


@pytest.fixture
def labelled_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 3))
    labels = np.where(X @ [1.0, -2.0, 0.5] + 0.3 * rng.standard_normal(400) > 0, "yes", "no")
    # the target sits between features: columns are picked by name
    path = write_csv(tmp_path / "train.csv", ["a", "b", "label", "c"],
                     [(r[0], r[1], lab, r[2]) for r, lab in zip(X, labels)])
    return path, X, labels


def read_prediction_csv(path):
    lines = pathlib.Path(path).read_text().splitlines()
    return lines[0], lines[1:]


def test_fit_predict_round_trip_csv(tmp_path, labelled_csv):
    path, X, labels = labelled_csv
    model = tmp_path / "m.npz"
    status, out, err = run_main(["fit", path, "--target", "label", "--model", "logistic",
                                 "--epochs", "8", "--batch-size", "64", "--lr", "0.05",
                                 "--out", model])
    assert status == 0, err
    assert out.count("  epoch ") == 8 and "accuracy" in out and str(model) in out
    # the same fit in Python, on the standardised features, gives the same model, bit for bit
    mu, s = feature_statistics(X, center=True)
    ref = fastgd.LogisticRegression(optimizer="adam", lr=0.05, batch_size=64, max_epochs=8,
                                    tol=1e-4, alpha=1e-4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit((X - mu) / s, labels)
    loaded = load_model(model)
    np.testing.assert_array_equal(loaded.coef_, ref.coef_)
    meta = read_metadata(model)
    assert meta["features"] == ["a", "b", "c"]
    assert meta["scale"] == {"method": "standard", "mean": mu.tolist(), "std": s.tolist()}

    pred = tmp_path / "p.csv"
    status, _, err = run_main(["predict", model, path, "--out", pred])
    assert status == 0, err
    header, rows = read_prediction_csv(pred)
    assert header == "label" and rows == list(ref.predict((X - mu) / s))

    # a prediction file without the target, columns in another order, to stdout
    other = write_csv(tmp_path / "new.csv", ["c", "a", "b"], [(r[2], r[0], r[1]) for r in X[:5]])
    status, out, err = run_main(["predict", model, other])
    assert status == 0, err
    assert out.splitlines() == ["label"] + list(ref.predict((X[:5] - mu) / s))
    status, out, err = run_main(["predict", model, other, "--proba"])
    assert status == 0, err
    proba = np.array([line.split(",") for line in out.splitlines()[1:]], dtype=float)
    np.testing.assert_array_equal(proba, ref.predict_proba((X[:5] - mu) / s))


def test_fit_predict_round_trip_npy_memmap(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((600, 4)).astype(np.float32)
    y = (X @ np.array([1.0, -1.0, 2.0, 0.5], dtype=np.float32) + 3).astype(np.float32)
    data = tmp_path / "train.npy"
    np.save(data, np.column_stack([y, X]))              # target first: features stay a memmap view
    model = tmp_path / "reg.npz"
    status, out, err = run_main(["fit", data, "--target", "0", "--model", "linear", "--epochs",
                                 "6", "--tol", "none", "--scale", "none", "--out", model])
    assert status == 0, err
    assert "memory-mapped float32" in out and "R^2" in out and "badly scaled" not in out
    assert "Stopped: ran the --epochs 6 epochs (--tol none)" in out
    ref = fastgd.LinearRegression(optimizer="adam", lr=0.01, batch_size=256, max_epochs=6,
                                  tol=None, alpha=1e-4, random_state=0)
    ref.fit(np.load(data, mmap_mode="r")[:, 1:], y)
    pred = tmp_path / "p.npy"
    status, _, err = run_main(["predict", model, data, "--out", pred])   # with the target column
    assert status == 0, err
    np.testing.assert_array_equal(np.load(pred), ref.predict(X))
    np.save(tmp_path / "X.npy", X)                                       # without it
    status, out, err = run_main(["predict", model, tmp_path / "X.npy"])
    assert status == 0, err
    values = np.array(out.splitlines()[1:], dtype=np.float64)
    np.testing.assert_array_equal(values, ref.predict(X))


@pytest.mark.skipif(not hasattr(fastgd, "MLPClassifier"), reason="no fastgd.MLPClassifier yet")
def test_fit_predict_mlp(tmp_path, labelled_csv):
    path, X, labels = labelled_csv
    model = tmp_path / "mlp.npz"
    status, out, err = run_main(["fit", path, "--target", "label", "--model", "mlp", "--hidden",
                                 "8", "--epochs", "3", "--out", model])
    assert status == 0, err
    assert "MLPClassifier" in out
    loaded = load_model(model)
    status, out, err = run_main(["predict", model, path])
    assert status == 0, err
    mu, s = feature_statistics(X, center=True)       # fit standardised the features
    assert out.splitlines()[1:] == list(loaded.predict((X - mu) / s))


# -- one-line errors ---------------------------------------------------------------------------------

def _bad_inputs(tmp):
    """(argv, words the one error line must contain) for each kind of bad input."""
    good = write_csv(tmp / "good.csv", ["x1", "x2", "y"], [(1, 2, 3), (4, 5, 6), (7, 8, 10)])
    text = write_csv(tmp / "text.csv", ["x1", "x2", "y"], [(1, 2, 3), (4, "abc", 6)])
    empty = write_csv(tmp / "empty.csv", ["x1", "x2", "y"], [(1, 2, 3), (4, "", 6)])
    ragged = write_csv(tmp / "ragged.csv", ["x1", "x2", "y"], [(1, 2, 3), (4, 5)])
    labels = write_csv(tmp / "labels.csv", ["x1", "y"], [(1, "cat"), (2, "dog")])
    headless = write_csv(tmp / "headless.csv", ["1", "2", "3"], [(4, 5, 6)])
    (tmp / "blank.csv").write_text("")
    (tmp / "binary.csv").write_bytes(b"\xff\xfe\x00\x01garbage")
    (tmp / "fake.npy").write_text("not an array")
    np.save(tmp / "vector.npy", np.arange(5.0))
    np.save(tmp / "words.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(tmp / "table.npy", np.ones((4, 3)))
    (tmp / "data.xlsx").write_text("")
    model = tmp / "model.npz"
    run_main(["fit", good, "--target", "y", "--model", "linear", "--epochs", "1", "--out", model])
    np.savez(tmp / "other.npz", a=np.ones(2))
    fake_model = tmp / "fake_model.npz"
    persist._write(str(fake_model), json.dumps(          # intact (its digest matches)
        {"format": "fastgd-model", "version": persist.VERSION, "class": "os.system"}), {})
    truncated = tmp / "truncated.npz"
    truncated.write_bytes(model.read_bytes()[:-100])
    flipped = bytearray(model.read_bytes())
    flipped[len(flipped) // 2] ^= 0x10
    (tmp / "flipped.npz").write_bytes(bytes(flipped))
    edited = tmp / "edited.npz"           # a digest that matches, metadata predict cannot use
    meta_text, arrays = _entries(model)
    meta = json.loads(meta_text)
    meta["metadata"]["features"] = 5
    persist._write(str(edited), json.dumps(meta), arrays)
    # a cell over the csv module's field limit, after a bad cell loadtxt stops at
    (tmp / "bigcell.csv").write_text("x1,x2,y\n1,2,3\n" + "9" * 200_000 + ",x,1\n")
    (tmp / "nul.csv").write_text("x1,x2,y\n1,2,3\n\0,5,6\n")
    fit = ["--model", "linear"]
    return [
        (["fit", tmp / "nope.csv", "--target", "y", *fit], "no such file"),
        (["fit", tmp / "bigcell.csv", "--target", "y", *fit],
         "line 3: field larger than field limit"),
        (["fit", tmp / "nul.csv", "--target", "y", *fit], "line 3, column 'x1'"),
        (["fit", good, "--target", "y", "--model", "mlp-regressor", "--hidden", "10000000000000"],
         "not enough memory"),
        (["fit", tmp, "--target", "y", *fit], "unsupported file type"),
        (["fit", tmp / "data.xlsx", "--target", "y", *fit], "unsupported file type '.xlsx'"),
        (["fit", good, "--target", "z", *fit], "no column named 'z'"),
        (["fit", good, "--target", "2", *fit], "not an index"),
        (["fit", text, "--target", "y", *fit], "line 3, column 'x2': 'abc' is not a number"),
        (["fit", empty, "--target", "y", *fit], "line 3, column 'x2': empty value"),
        (["fit", ragged, "--target", "y", *fit], "line 3 has 2 fields"),
        (["fit", labels, "--target", "y", *fit], "holds text ('cat')"),
        (["fit", headless, "--target", "1", *fit], "not column names"),
        (["fit", tmp / "blank.csv", "--target", "y", *fit], "empty"),
        (["fit", tmp / "binary.csv", "--target", "y", *fit], "not a text file"),
        (["fit", tmp / "fake.npy", "--target", "0", *fit], "not a .npy file"),
        (["fit", tmp / "vector.npy", "--target", "0", *fit], "1-D array"),
        (["fit", tmp / "words.npy", "--target", "0", *fit], "non-numeric"),
        (["fit", tmp / "table.npy", "--target", "y", *fit], "column index"),
        (["fit", tmp / "table.npy", "--target", "5", *fit], "out of range for 3 columns"),
        (["fit", good, "--target", "y", "--model", "linear", "--optimizer", "nadamw"],
         "optimizer must be one of"),
        (["fit", good, "--target", "y", "--model", "linear", "--lr", "1e6", "--optimizer", "sgd",
          "--batch-size", "full", "--tol", "none"], "diverged"),
        (["predict", good, good], "not a fastgd model file"),
        (["predict", tmp / "other.npz", good], "not a fastgd model file"),
        (["predict", fake_model, good], "cannot create"),
        (["predict", tmp / "nope.npz", good], "No such file"),
        (["predict", truncated, good], "damaged or truncated"),
        (["predict", tmp / "flipped.npz", good], "damaged or truncated"),
        (["predict", edited, good], "metadata is not what fastgd fit writes"),
        (["predict", model, labels], "missing column(s) 'x2'"),
        (["predict", model, tmp / "table.npy"], "expects 2 features"),
    ]


def _entries(path):
    """(JSON text, {name: array}) of a model file, without its digest."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.pop(persist.DIGEST_KEY)
    return str(arrays.pop(META_KEY)), arrays


def test_bad_inputs_give_one_line_and_status_1(tmp_path):
    for argv, words in _bad_inputs(tmp_path):
        status, out, err = run_main(argv)
        lines = err.strip().splitlines()
        assert status == 1, (argv, out, err)
        assert len(lines) == 1, (argv, err)
        assert lines[0].startswith(f"fastgd {argv[0]}: error: "), lines
        assert words in lines[0], (words, lines[0])


def test_bench_unknown_section_is_one_line():
    status, _, err = run_main(["bench", "no-such-section"])
    assert status == 1 and len(err.strip().splitlines()) == 1 and "unknown section" in err


def test_bench_lists_sections():
    status, out, _ = run_main(["bench", "--list"])
    assert status == 0 and "optim" in out.split()


# -- model files ------------------------------------------------------------------------------------

def test_saved_model_continues_training_exactly(tmp_path):
    from fastgd import schedules

    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 3))
    y = np.where(X[:, 0] > X[:, 1], "a", "b")     # binary: the kernel the CSV test compiled
    lr = schedules.warmup(schedules.CosineAnnealing(0.1, t_max=200), steps=10)
    est = fastgd.LogisticRegression(lr=lr, max_epochs=3, tol=None, random_state=0,
                                    optimizer_params={"betas": (0.8, 0.99)}).fit(X, y)
    path = save_model(est, tmp_path / "model.fastgd", metadata={"note": "test"})
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert loaded.get_params()["optimizer_params"] == {"betas": (0.8, 0.99)}
    assert read_metadata(path) == {"note": "test"}
    # the optimizer's moments, its step count, the schedule and the shuffling stream are restored
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.coef_, est.coef_)
    assert loaded.t_ == est.t_
    with np.load(path, allow_pickle=False) as data:            # plain arrays: no pickle inside
        assert META_KEY in data.files


def test_save_model_refuses_other_estimators(tmp_path):
    from sklearn.linear_model import Ridge

    with pytest.raises(TypeError, match="fastgd's estimators"):
        save_model(Ridge().fit([[0.0], [1.0]], [0.0, 1.0]), tmp_path / "r.npz")
    with pytest.raises(ModelFileError):
        load_model(write_csv(tmp_path / "x.csv", ["a"], [(1,)]))


# -- feature scaling and the stop line -----------------------------------------------------------------

@pytest.fixture(scope="module")
def breast_cancer_csv(tmp_path_factory):
    """scikit-learn's breast cancer table as a user would have it: unscaled, in a CSV."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    path = tmp_path_factory.mktemp("bc") / "cancer.csv"
    write_csv(path, names + ["diagnosis"],
              [[repr(float(v)) for v in row] + [int(t)] for row, t in zip(data.data, data.target)])
    return path


def _accuracy(out):
    return float(next(line for line in out.splitlines() if "accuracy" in line).split()[1])


def test_standard_scaling_is_the_default_and_the_better_one(tmp_path, breast_cancer_csv):
    fit = ["fit", breast_cancer_csv, "--target", "diagnosis", "--model", "logistic"]
    status, scaled, err = run_main(fit + ["--out", tmp_path / "s.npz"])
    assert status == 0, err
    status, raw, err = run_main(fit + ["--scale", "none", "--out", tmp_path / "n.npz"])
    assert status == 0, err
    assert "Standardised the 30 features" in scaled and "badly scaled" not in scaled
    assert "Warning: the features look badly scaled" in raw and "'worst_area'" in raw
    assert _accuracy(scaled) >= 0.97 and _accuracy(scaled) > _accuracy(raw) + 0.03
    for out in (scaled, raw):
        assert sum(line.startswith("Stopped: ") for line in out.splitlines()) == 1
    assert "Stopped: converged: the training loss improved by less than --tol" in raw
    assert "standard (the default)" in " ".join(_help("fit").split())
    assert "standard (the default)" in " ".join(_help("lr-find").split())


def _help(command):
    from fastgd.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return sub.format_help()


def test_scaling_of_a_memmap_is_stored_and_applied_by_predict(tmp_path):
    rng = np.random.default_rng(2)
    X = (rng.standard_normal((700, 3)) * [1.0, 1e3, 1e-3] + [0.0, 5e4, 0.0]).astype(np.float32)
    y = (X @ np.array([1.0, 2e-3, 800.0]) + 1.0).astype(np.float32)
    data = tmp_path / "train.npy"
    np.save(data, np.column_stack([y, X]))
    model = tmp_path / "m.npz"
    status, out, err = run_main(["fit", data, "--target", "0", "--model", "linear", "--epochs",
                                 "5", "--tol", "none", "--out", model])
    assert status == 0, err
    assert "a copy in a temporary file" in out and "float32" in out
    # the same fit in Python: standardised float32 rows, memory-mapped (so shuffled by blocks)
    mu, s = feature_statistics(np.load(data, mmap_mode="r")[:, 1:], center=True)
    np.save(tmp_path / "Z.npy", ((X.astype(np.float64) - mu) / s).astype(np.float32))
    Z = np.load(tmp_path / "Z.npy", mmap_mode="r")
    ref = fastgd.LinearRegression(optimizer="adam", lr=0.01, batch_size=256, max_epochs=5,
                                  tol=None, alpha=1e-4, random_state=0).fit(Z, y)
    loaded = load_model(model)
    np.testing.assert_array_equal(loaded.coef_, ref.coef_)
    assert loaded.coef_.dtype == np.float32
    np.testing.assert_array_equal(read_metadata(model)["scale"]["std"], s)
    pred = tmp_path / "p.npy"
    status, _, err = run_main(["predict", model, data, "--out", pred])
    assert status == 0, err
    np.testing.assert_array_equal(np.load(pred), ref.predict(Z))
    # --scale none on the same file: trained as is, with the warning naming both problems
    status, out, err = run_main(["fit", data, "--target", "0", "--model", "linear", "--epochs",
                                 "2", "--scale", "none", "--out", tmp_path / "raw.npz"])
    assert status == 0, err
    assert "standard deviations range from" in out and "standard deviations from 0" in out
    assert "scale" not in read_metadata(tmp_path / "raw.npz")


def test_a_model_file_with_a_malformed_scaling_is_refused(tmp_path, labelled_csv):
    path, _, _ = labelled_csv
    model = tmp_path / "m.npz"
    assert run_main(["fit", path, "--target", "label", "--model", "logistic", "--epochs", "1",
                     "--out", model])[0] == 0
    meta_text, arrays = _entries(model)
    for bad in ({"method": "standard", "mean": [0.0] * 3, "std": [1.0, 0.0, 1.0]},
                {"method": "standard", "mean": [0.0] * 2, "std": [1.0] * 2},
                {"method": "minmax", "mean": [0.0] * 3, "std": [1.0] * 3}):
        meta = json.loads(meta_text)
        meta["metadata"]["scale"] = bad
        edited = tmp_path / "edited.npz"
        persist._write(str(edited), json.dumps(meta), arrays)
        status, _, err = run_main(["predict", edited, path])
        assert status == 1 and len(err.strip().splitlines()) == 1
        assert "positive stds" in err


def test_the_stop_line_names_every_reason(tmp_path, labelled_csv):
    from fastgd.cli.fit import stop_line

    path, X, labels = labelled_csv
    status, out, err = run_main(["fit", path, "--target", "label", "--model", "logistic",
                                 "--early-stopping", "--epochs", "200", "--lr", "0.5",
                                 "--out", tmp_path / "m.npz"])
    assert status == 0, err
    assert "Stopped: no improvement on the validation set (10% of the rows)" in out
    status, out, err = run_main(["fit", path, "--target", "label", "--model", "logistic",
                                 "--epochs", "2", "--out", tmp_path / "m.npz"])
    assert "Stopped: reached --epochs 2 before the loss settled" in out

    def interrupt(info):
        if info.epoch == 2:
            raise KeyboardInterrupt

    est = fastgd.LogisticRegression(max_epochs=5, callback=interrupt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, labels)
    assert stop_line(est) == "interrupted (Ctrl-C); kept the last completed epoch"
    numbers = write_csv(tmp_path / "numbers.csv", ["a", "b", "y"],
                        [(r[0], r[1], r[2]) for r in X])
    status, _, err = run_main(["fit", numbers, "--target", "y", "--model", "linear", "--lr",
                               "1e6", "--optimizer", "sgd", "--batch-size", "full", "--tol",
                               "none"])
    assert status == 1 and "error: stopped: " in err and "diverged" in err


def test_lr_auto_on_the_command_line(tmp_path, labelled_csv):
    path, X, labels = labelled_csv
    model = tmp_path / "m.npz"
    status, out, err = run_main(["fit", path, "--target", "label", "--model", "logistic",
                                 "--epochs", "4", "--lr", "auto", "--out", model])
    assert status == 0, err
    assert "lr auto" in out
    mu, s = feature_statistics(X, center=True)
    ref = fastgd.LogisticRegression(lr="auto", batch_size=256, max_epochs=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit((X - mu) / s, labels)
    np.testing.assert_array_equal(load_model(model).coef_, ref.coef_)
    with pytest.raises(SystemExit) as exc:       # argparse's usage error
        run_main(["fit", path, "--target", "label", "--model", "logistic", "--lr", "fast"])
    assert exc.value.code == 2


def test_help_imports_neither_numba_nor_scikit_learn():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c",
                          "import sys\nfrom fastgd.cli.main import build_parser\n"
                          "build_parser().format_help()\n"
                          "print('numba' in sys.modules, 'sklearn' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
