"""class_weight for LogisticRegression, LinearSVC and MLPClassifier.

The weights become sample weights before anything else (scikit-learn's
rule: a row weighs sample_weight times its class's weight), so a fit with
``class_weight`` must equal, bit for bit, the fit with the equivalent
``sample_weight``.
"""

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

import fastgd

KW = dict(max_epochs=4, tol=None, random_state=0, batch_size=16)
CLASSIFIERS = {
    "logistic": lambda **kw: fastgd.LogisticRegression(**KW, **kw),
    "svc": lambda **kw: fastgd.LinearSVC(**KW, **kw),
    "svc_modified_huber": lambda **kw: fastgd.LinearSVC(loss="modified_huber", **KW, **kw),
    "mlp": lambda **kw: fastgd.MLPClassifier(hidden_layer_sizes=(4,), **KW, **kw),
}


def _data(n_classes=2, n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    # imbalanced: class frequencies about 60%, 30%, 10%
    y = np.digitize(X[:, 0] + 0.3 * rng.standard_normal(n), [0.25, 1.3][:n_classes - 1])
    labels = np.array(["no", "yes", "maybe"])[:n_classes]
    return X, labels[y]


def _params(est):
    return est.optimizer_.params


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_balanced_equals_the_equivalent_sample_weight_bit_for_bit(name):
    X, y = _data(3 if name in ("logistic", "mlp") else 2)
    balanced = CLASSIFIERS[name](class_weight="balanced").fit(X, y)
    weighted = CLASSIFIERS[name]().fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    assert np.array_equal(_params(balanced), _params(weighted))
    # and a dict with scikit-learn's balanced weights gives the same model
    classes = np.unique(y)
    as_dict = dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y)))
    manual = CLASSIFIERS[name](class_weight=as_dict).fit(X, y)
    assert np.array_equal(_params(manual), _params(balanced))


def test_balanced_weights_are_sklearns_definition():
    _, y = _data(3)
    classes, counts = np.unique(y, return_counts=True)
    want = len(y) / (len(classes) * counts)
    np.testing.assert_allclose(compute_class_weight("balanced", classes=classes, y=y), want)


def test_class_weight_multiplies_sample_weight():
    X, y = _data(2)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    cw = {"no": 0.5, "yes": 3.0}
    both = fastgd.LogisticRegression(class_weight=cw, **KW).fit(X, y, sample_weight=sw)
    row = np.where(y == "yes", 3.0, 0.5)
    product = fastgd.LogisticRegression(**KW).fit(X, y, sample_weight=sw * row)
    assert np.array_equal(_params(both), _params(product))
    # a label left out of the dict weighs 1
    partial = fastgd.LogisticRegression(class_weight={"yes": 3.0}, **KW).fit(X, y)
    want = fastgd.LogisticRegression(**KW).fit(X, y, sample_weight=np.where(y == "yes", 3.0, 1.0))
    assert np.array_equal(_params(partial), _params(want))


def test_heavy_class_weight_moves_the_decisions():
    X, y = _data(2, n=400)
    plain = fastgd.LinearSVC(**KW).fit(X, y)
    heavy = fastgd.LinearSVC(class_weight={"yes": 20.0}, **KW).fit(X, y)
    assert np.mean(heavy.predict(X) == "yes") > np.mean(plain.predict(X) == "yes") + 0.05


@pytest.mark.parametrize("name", ["logistic", "mlp"])
def test_partial_fit_takes_a_dict_and_refuses_balanced(name):
    X, y = _data(2)
    classes = ["no", "yes"]
    cw = {"yes": 2.0}
    a = CLASSIFIERS[name](class_weight=cw)
    b = CLASSIFIERS[name]()
    for _ in range(2):
        a.partial_fit(X, y, classes=classes)
        b.partial_fit(X, y, classes=classes, sample_weight=np.where(y == "yes", 2.0, 1.0))
    assert np.array_equal(_params(a), _params(b))
    # labels of the dict must be among the classes given
    with pytest.raises(ValueError, match="not classes: \\['maybe'\\]"):
        CLASSIFIERS[name](class_weight={"maybe": 2.0}).partial_fit(X, y, classes=classes)
    est = CLASSIFIERS[name](class_weight="balanced")
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        est.partial_fit(X, y, classes=classes)
    assert not hasattr(est, "classes_")
    fitted = CLASSIFIERS[name](class_weight="balanced").fit(X, y)
    before = _params(fitted).copy()
    with pytest.raises(ValueError, match="compute_class_weight"):
        fitted.partial_fit(X, y)
    assert np.array_equal(_params(fitted), before)


BAD = [
    ({"nope": 1.0}, ValueError, "not classes: \\['nope'\\]"),
    ({"yes": -1.0}, ValueError, "finite and >= 0"),
    ({"yes": np.nan}, ValueError, "finite and >= 0"),
    ({"yes": np.inf}, ValueError, "finite and >= 0"),
    ({"yes": True}, TypeError, "real number"),
    ({"yes": "2"}, TypeError, "real number"),
    ("auto", ValueError, "'balanced' or a dict"),
    ([1.0, 2.0], TypeError, "'balanced' or a dict"),
    ({"yes": 0.0, "no": 0.0}, ValueError, "every row a weight of 0"),
]


@pytest.mark.parametrize("name", ["logistic", "svc", "mlp"])
@pytest.mark.parametrize("class_weight, exc, match", BAD, ids=[b[2] for b in BAD])
def test_bad_class_weight_is_refused_and_changes_nothing(name, class_weight, exc, match):
    X, y = _data(2)
    est = CLASSIFIERS[name](class_weight=class_weight)
    y_before = y.copy()
    with pytest.raises(exc, match=match):
        est.fit(X, y)
    assert not hasattr(est, "classes_") and not hasattr(est, "n_features_in_")
    assert np.array_equal(y, y_before)


@pytest.mark.parametrize("class_weight, y", [
    ({0: 1.0, 1: 2.5}, np.r_[np.zeros(30), np.ones(30)].astype(int)),
    ({0.0: 1.0, 1.0: 2.5}, np.r_[np.zeros(30), np.ones(30)]),
    ({"a": 2.0}, np.array(["a", "b"] * 30)),
    ({np.int64(-1): 3.0}, np.array([-1, 1] * 30)),
    ("balanced", np.array([0] * 40 + [1] * 20)),
])
@pytest.mark.parametrize("name", ["logistic", "mlp"])
def test_class_weight_survives_save_and_load(tmp_path, name, class_weight, y):
    X = np.random.default_rng(0).standard_normal((len(y), 2))
    est = CLASSIFIERS[name](class_weight=class_weight).fit(X, y)
    loaded = fastgd.load_model(fastgd.save_model(est, tmp_path / "m.npz"))
    assert loaded.class_weight == class_weight
    if isinstance(class_weight, dict):
        assert [type(k) for k in loaded.class_weight] == [type(k.item() if isinstance(k, np.generic)
                                                                else k) for k in class_weight]
        loaded.partial_fit(X, y)
        est.partial_fit(X, y)
        assert np.array_equal(_params(loaded), _params(est))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
