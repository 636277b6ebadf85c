import numpy as np

from ..kernels import adagrad_step
from .optimizer import Hyper, Optimizer, nonnegative


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.

    The equations are in :func:`fastgd.kernels.adagrad_step`.
    """

    lr_decay = Hyper(nonnegative)
    weight_decay = Hyper(nonnegative)
    initial_accumulator_value = Hyper(nonnegative)
    eps = Hyper(nonnegative)

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, **options):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps, **options)

    def _init_state(self):
        return {"sum": np.full_like(self.params, self._hyper["initial_accumulator_value"])}

    def _update(self, grad, lr):
        h = self._hyper
        adagrad_step(self.params, grad, self.state["sum"], self.step_count, lr,
                     h["lr_decay"], h["weight_decay"], h["eps"])
