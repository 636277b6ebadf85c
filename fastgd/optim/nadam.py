from .._validation import check_betas, check_bool
from ..kernels import nadam_step
from .optimizer import Hyper, Optimizer, nonnegative


class NAdam(Optimizer):
    """NAdam (Dozat, 2016): Adam with Nesterov momentum, as ``torch.optim.NAdam``.

    The equations are in :func:`fastgd.kernels.nadam_step`.
    """

    betas = Hyper(check_betas)
    eps = Hyper(nonnegative)
    weight_decay = Hyper(nonnegative)
    momentum_decay = Hyper(nonnegative)
    decoupled_weight_decay = Hyper(check_bool)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, **options):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         momentum_decay=momentum_decay,
                         decoupled_weight_decay=decoupled_weight_decay, **options)

    def _init_state(self):
        return {"exp_avg": self._zeros(), "exp_avg_sq": self._zeros(), "mu_product": 1.0}

    def _update(self, grad, lr):
        h = self._hyper
        s = self.state
        beta1, beta2 = h["betas"]
        s["mu_product"] = nadam_step(self.params, grad, s["exp_avg"], s["exp_avg_sq"],
                                     self.step_count, s["mu_product"], lr, beta1, beta2, h["eps"],
                                     h["weight_decay"], h["momentum_decay"],
                                     h["decoupled_weight_decay"])
