"""scikit-learn-style estimators trained by :mod:`fastgd.engine`.

* :class:`GDEstimator` (:mod:`fastgd.models.base`): the base class, with the
  epoch loop, early stopping, partial_fit, interrupts and large-data support;
  subclass it for a new model (see its module docstring for the hooks).
* :class:`LinearRegression`, :class:`PoissonRegressor`, :class:`LogisticRegression`,
  :class:`LinearSVC`; the classifiers take ``class_weight``
  (:mod:`fastgd.models.class_weight`).

* :func:`fastgd.fit_many` (:mod:`fastgd.models.many`) and
  :class:`fastgd.GridSearchCV` (:mod:`fastgd.models.search`): grids of
  configurations, and their cross-validation, trained in shared passes.

This subpackage needs scikit-learn (a dependency of fastgd).
"""

from .base import EpochInfo, GDEstimator
from .linear import LinearModel, LinearRegression, LinearSVC, LogisticRegression, PoissonRegressor

__all__ = ["GDEstimator", "EpochInfo", "LinearModel", "LinearRegression", "PoissonRegressor",
           "LogisticRegression", "LinearSVC"]
