"""The ``fastgd`` command line.

* :func:`main` -- ``fastgd demo | fit | predict | bench`` (:mod:`fastgd.cli.main`);
* :mod:`fastgd.cli.demo` -- the demo's experiments, :mod:`fastgd.cli.plot` its PNG;
* :mod:`fastgd.cli.fit` and :mod:`fastgd.cli.data` -- ``fit``/``predict`` and their file reading.

Model files are written and read by :mod:`fastgd.models.persist`
(``fastgd.save_model`` / ``fastgd.load_model``). Importing this package
imports neither numba nor scikit-learn.
"""

from .main import main

__all__ = ["main"]
