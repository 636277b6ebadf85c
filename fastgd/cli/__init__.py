"""The ``fastgd`` command line, and the model files it writes.

* :func:`main` -- ``fastgd demo | fit | predict | bench`` (:mod:`fastgd.cli.main`);
* :mod:`fastgd.cli.demo` -- the demo's experiments, :mod:`fastgd.cli.plot` its PNG;
* :mod:`fastgd.cli.fit` and :mod:`fastgd.cli.data` -- ``fit``/``predict`` and their file reading;
* :func:`save_model` / :func:`load_model` -- fitted estimators as ``.npz`` + JSON, no pickle
  (:mod:`fastgd.cli.modelfile`).

Importing this package imports neither numba nor scikit-learn.
"""

from .main import main
from .modelfile import load_model, read_metadata, save_model

__all__ = ["main", "load_model", "save_model", "read_metadata"]
