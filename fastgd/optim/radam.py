from .._validation import check_betas, check_bool
from ..kernels import radam_step
from .optimizer import Hyper, Optimizer, nonnegative


class RAdam(Optimizer):
    """RAdam (Liu et al., 2020): Adam with a rectified adaptive step, as ``torch.optim.RAdam``.

    The equations are in :func:`fastgd.kernels.radam_step`.
    """

    betas = Hyper(check_betas)
    eps = Hyper(nonnegative)
    weight_decay = Hyper(nonnegative)
    decoupled_weight_decay = Hyper(check_bool)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, **options):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, **options)

    def _init_state(self):
        return {"exp_avg": self._zeros(), "exp_avg_sq": self._zeros()}

    def _update(self, grad, lr):
        h = self._hyper
        beta1, beta2 = h["betas"]
        radam_step(self.params, grad, self.state["exp_avg"], self.state["exp_avg_sq"],
                   self.step_count, lr, beta1, beta2, h["eps"], h["weight_decay"],
                   h["decoupled_weight_decay"])
