from .._validation import check_betas
from ..kernels import adamax_step
from .optimizer import Hyper, Optimizer, nonnegative


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015, section 7.1), as ``torch.optim.Adamax``.

    The equations are in :func:`fastgd.kernels.adamax_step`.
    """

    betas = Hyper(check_betas)
    eps = Hyper(nonnegative)
    weight_decay = Hyper(nonnegative)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, **options):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, **options)

    def _init_state(self):
        return {"exp_avg": self._zeros(), "exp_inf": self._zeros()}

    def _update(self, grad, lr):
        h = self._hyper
        beta1, beta2 = h["betas"]
        adamax_step(self.params, grad, self.state["exp_avg"], self.state["exp_inf"],
                    self.step_count, lr, beta1, beta2, h["eps"], h["weight_decay"])
