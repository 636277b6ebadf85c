"""Data shared by the tests of fastgd.fit_many and fastgd.GridSearchCV."""

import numpy as np

import fastgd


def classification(n=1200, d=6, classes=2, seed=0, noise=0.5):
    """float32 X and integer labels of ``classes`` classes, linearly separable up to noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    z = X @ rng.standard_normal((d, classes)) + noise * rng.standard_normal((n, classes))
    y = z.argmax(axis=1) if classes > 2 else (z[:, 0] > 0).astype(int)
    return X, y


def diverging(n, seed, max_epochs):
    """(estimator, grid, X, y): plain SGD on unscaled features, its second rate diverges."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, 3)) * 1e3).astype(np.float32)
    y = X @ np.array([1.0, 2.0, 3.0], np.float32)
    est = fastgd.LinearRegression(optimizer="sgd", max_epochs=max_epochs, tol=None,
                                  random_state=0)
    return est, {"lr": [1e-9, 10.0]}, X, y
