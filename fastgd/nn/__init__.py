"""Neural networks: multi-layer perceptrons trained by backpropagation in nopython mode.

* :mod:`fastgd.nn.kernels` -- forward pass, backpropagation and prediction
  over one flat parameter vector, as an objective of the engine;
* :mod:`fastgd.nn.mlp` -- :class:`MLPClassifier` and :class:`MLPRegressor`,
  scikit-learn estimators on :class:`fastgd.models.GDEstimator`.
"""

from .mlp import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
