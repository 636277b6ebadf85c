from .._validation import check_bool
from ..kernels import rmsprop_step
from .optimizer import Hyper, Optimizer, nonnegative


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton, 2012), as ``torch.optim.RMSprop``.

    The equations are in :func:`fastgd.kernels.rmsprop_step`.
    """

    alpha = Hyper(nonnegative)
    eps = Hyper(nonnegative)
    weight_decay = Hyper(nonnegative)
    momentum = Hyper(nonnegative)
    centered = Hyper(check_bool)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False, **options):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered, **options)

    def _check_combination(self, h):
        if h["alpha"] > 1:
            raise ValueError(f"Invalid alpha value: {h['alpha']!r} (must be in [0, 1])")

    def _init_state(self):
        empty = self.params[:0].copy()
        return {"square_avg": self._zeros(), "grad_avg": empty, "momentum_buffer": empty.copy()}

    def _update(self, grad, lr):
        h = self._hyper
        s = self.state
        grad_avg = self._lazy("grad_avg") if h["centered"] else s["grad_avg"]
        buf = self._lazy("momentum_buffer") if h["momentum"] > 0 else s["momentum_buffer"]
        rmsprop_step(self.params, grad, s["square_avg"], grad_avg, buf, self.step_count, lr,
                     h["alpha"], h["eps"], h["weight_decay"], h["momentum"], h["centered"])
