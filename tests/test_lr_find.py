"""The learning-rate range test: fastgd.lr_find and `fastgd lr-find`."""

import numpy as np
import pytest

import fastgd


def _regression(n=600, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, 0] *= 3.0                               # L is about 9: GD diverges above 2 / L
    y = X @ rng.standard_normal(d) + 1.0 + 0.1 * rng.standard_normal(n)
    Xb = np.c_[X, np.ones(n)]
    L = np.linalg.eigvalsh(Xb.T @ Xb / n).max()
    return X, y, L


def test_batch_gd_suggestion_is_stable_and_converges():
    X, y, L = _regression()
    est = fastgd.LinearRegression(optimizer="sgd", batch_size=None, alpha=0.0)
    result = fastgd.lr_find(est, X, y, min_lr=1e-4, max_lr=10.0, steps=60)
    # the rates grow geometrically from min_lr; every step's loss is recorded
    np.testing.assert_allclose(result.lrs[1:] / result.lrs[:-1], (1e5) ** (1 / 59), rtol=1e-12)
    assert result.lrs[0] == 1e-4 and np.isfinite(result.losses).all()
    # full-batch GD on a quadratic diverges above 2 / L: the test sees it, and suggests
    # a rate below it
    assert result.stopped is not None and result.lrs[-1] > 2 / L
    assert result.suggestion < 2 / L
    fit = fastgd.LinearRegression(optimizer="sgd", batch_size=None, alpha=0.0,
                                  lr=result.suggestion, max_epochs=300, tol=None).fit(X, y)
    assert fit.loss_curve_[-1] < 0.01 * fit.loss_curve_[0]


def test_leaves_estimator_and_data_alone():
    X, y, _ = _regression()
    X0, y0 = X.copy(), y.copy()
    est = fastgd.LogisticRegression(batch_size=32, lr=0.5)
    params = est.get_params()
    result = fastgd.lr_find(est, X, y > 1, steps=30)
    assert not hasattr(est, "_optimizer") and est.get_params() == params
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert result.suggestion > 0 and result.rule


def test_mlp_and_float32():
    X, y, _ = _regression(n=300)
    X = X.astype(np.float32)
    result = fastgd.lr_find(fastgd.MLPClassifier((8,), batch_size=32, random_state=0), X,
                            y > 1, steps=20, max_lr=1.0)
    assert result.lrs.size >= 10


@pytest.mark.parametrize("kwargs, exc, fragment", [
    (dict(min_lr=1.0, max_lr=0.5), ValueError, "min_lr must be smaller"),
    (dict(min_lr=0.0), ValueError, "min_lr"),
    (dict(steps=3), ValueError, "steps"),
    (dict(smoothing=1.0), ValueError, "smoothing"),
    (dict(diverge=1.0), ValueError, "diverge"),
    (dict(random_state="x"), TypeError, "random_state"),
])
def test_bad_arguments(kwargs, exc, fragment):
    X, y, _ = _regression(n=50)
    with pytest.raises(exc, match=fragment):
        fastgd.lr_find(fastgd.LinearRegression(), X, y, **kwargs)


def test_bad_estimator_and_data():
    X, y, _ = _regression(n=50)
    from sklearn.linear_model import SGDRegressor
    with pytest.raises(TypeError, match="fastgd estimator"):
        fastgd.lr_find(SGDRegressor(), X, y)
    with pytest.raises(ValueError, match="one per row"):
        fastgd.lr_find(fastgd.LinearRegression(), X, y[:10])
    with pytest.raises(ValueError, match="2-D"):
        fastgd.lr_find(fastgd.LinearRegression(), X[:, 0], y)
    with pytest.raises(ValueError, match="optimizer"):
        fastgd.lr_find(fastgd.LinearRegression(optimizer="nope"), X, y)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    X, y, _ = _regression(n=200)
    result = fastgd.lr_find(fastgd.LinearRegression(optimizer="sgd"), X, y, steps=20)
    result.plot(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


def test_command_line(tmp_path, capsys):
    from fastgd.cli import main
    X, y, _ = _regression(n=300)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", header="a,b,c,d,target", comments="")
    assert main(["lr-find", str(path), "--target", "target", "--model", "linear",
                 "--optimizer", "sgd", "--batch-size", "32", "--steps", "30"]) == 0
    out = capsys.readouterr().out
    assert "Suggested: --lr" in out and "smoothed" in out
    assert main(["lr-find", str(path), "--target", "target", "--model", "linear",
                 "--min-lr", "1", "--max-lr", "0.1"]) == 1
    assert "min_lr must be smaller" in capsys.readouterr().err
