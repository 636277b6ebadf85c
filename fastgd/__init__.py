"""fastgd: gradient descent at native speed.

The package is laid out by what each part is:

* :mod:`fastgd.kernels` -- update rules as ``@njit`` kernels over flat arrays;
* :mod:`fastgd.optim` -- optimizer objects (``fastgd.Adam`` ...) around them;
* :mod:`fastgd.schedules` -- learning rates as functions of the step;
* :mod:`fastgd.losses` -- loss-and-gradient kernels of linear models, dense or sparse X;
* :mod:`fastgd.sparse` -- CSR data for compiled code: validation, gathered rows;
* :mod:`fastgd.gradients` -- numerical gradients and gradient checks;
* :mod:`fastgd.minimizer` -- ``fastgd.minimize``, scipy-style minimisation;
* :mod:`fastgd.nn` -- multi-layer perceptrons (``fastgd.MLPClassifier`` ...);
* :mod:`fastgd.dask` -- fits on dask arrays over a cluster (``fastgd.DataParallel``).

``import fastgd`` is cheap: it imports neither numba nor any submodule, and
compiles nothing. Names are loaded the first time they are used.
"""

import importlib

__version__ = "0.1.0"

# public name -> submodule that defines it
_LAZY = {
    "Optimizer": "fastgd.optim",
    "OPTIMIZERS": "fastgd.optim",
    **{name: "fastgd.models" for name in
       ("LinearRegression", "PoissonRegressor", "LogisticRegression", "LinearSVC",
        "GDEstimator")},
    **{name: "fastgd.nn" for name in ("MLPClassifier", "MLPRegressor")},
    "DataParallel": "fastgd.dask",
    "DivergenceError": "fastgd.engine",
    "lr_find": "fastgd.models.lr_find",
    "fit_many": "fastgd.models.many",
    "GridSearchCV": "fastgd.models.search",
    "LRFindResult": "fastgd.models.lr_find",
    "save_model": "fastgd.models.persist",
    "load_model": "fastgd.models.persist",
    "numerical_gradient": "fastgd.gradients",
    "check_grad": "fastgd.gradients",
    "minimize": "fastgd.minimizer",
    "OptimizeResult": "fastgd.minimizer",
}
_SUBMODULES = {"kernels", "optim", "schedules", "losses", "engine", "models", "gradients",
               "minimizer", "nn", "dask", "sparse"}


def _optimizer_classes():
    """{class name: class} of the update rules (finding them imports numba)."""
    from .optim import OPTIMIZERS
    return {cls.__name__: cls for cls in OPTIMIZERS.values()}


def __getattr__(name):
    # the optimizer classes (fastgd.Adam, ...) are made from the rules' records, so their
    # names are only known once fastgd.optim is imported: any other public name is looked
    # up there
    if name in _SUBMODULES:
        return importlib.import_module(f"fastgd.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name == "__all__":
        value = sorted([*_LAZY, *_SUBMODULES, *_optimizer_classes()])
    elif not name.startswith("_") and name in _optimizer_classes():
        value = _optimizer_classes()[name]
    else:
        raise AttributeError(f"module 'fastgd' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __getattr__("__all__")
