"""The engine: batch, stochastic and mini-batch gradient descent, one compiled call per epoch.

* :class:`Trainer` drives epochs for one objective (the ``rows`` and
  ``penalty`` functions of a loss of :mod:`fastgd.losses`, or your own with
  the same contract) and one optimizer
  of :mod:`fastgd.optim`: ``batch_size=None`` is batch gradient descent, 1
  stochastic, k mini-batch. The loop over epochs (and over blocks of data
  that does not fit in memory) is Python, so Ctrl-C works between compiled
  calls, and an epoch is atomic (completed, or undone).
* :mod:`fastgd.engine.epoch`: the compiled epoch (gradient and update fused),
  one per objective and update rule.
* :mod:`fastgd.engine.step`: an optimizer as the compiled epoch takes it.
* :mod:`fastgd.engine.data`: shuffle modes and streaming of large data.
* :mod:`fastgd.engine.sparse`: epochs over a CSR X (gathered batches, lazy updates).
* :mod:`fastgd.engine.many`: the epochs of many models in one pass over the
  data (:func:`fastgd.fit_many`, :class:`fastgd.GridSearchCV`).

Determinism: same seed, same data, same settings => the same parameters bit
for bit, independent of the number of threads.
"""

from ._threads import guard, threading_layer
from .data import SHUFFLE_MODES
from .epoch import make_epoch
from .step import Data, Update, pack, unpack
from .trainer import DivergenceError, EpochResult, Snapshot, Trainer

__all__ = ["Trainer", "EpochResult", "Snapshot", "DivergenceError", "make_epoch", "Data",
           "Update", "pack", "unpack", "guard", "threading_layer", "SHUFFLE_MODES"]
