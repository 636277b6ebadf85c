from ..kernels import asgd_schedule, asgd_step
from .optimizer import Hyper, Optimizer, nonnegative


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992), as ``torch.optim.ASGD``.

    ``params`` follows the SGD iterates; ``averaged`` (``state["ax"]``) is the
    Polyak-Ruppert average of the iterates after step ``t0``, the estimate to
    use at the end. The equations are in :func:`fastgd.kernels.asgd_step`.
    """

    lambd = Hyper(nonnegative)
    alpha = Hyper(nonnegative)
    t0 = Hyper(nonnegative)
    weight_decay = Hyper(nonnegative)

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
                 **options):
        super().__init__(params, lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                         weight_decay=weight_decay, **options)

    def _init_state(self):
        lr = self._hyper["lr"]
        return {"ax": self._zeros(), "eta": float(lr if isinstance(lr, float) else lr(0)),
                "mu": 1.0}

    @property
    def averaged(self):
        """The averaged parameters (a view of the state; copy it to keep it)."""
        return self.state["ax"]

    def _update(self, grad, lr):
        h = self._hyper
        s = self.state
        asgd_step(self.params, grad, s["ax"], s["eta"], s["mu"], h["lambd"], h["weight_decay"])
        s["eta"], s["mu"] = asgd_schedule(self.step_count, lr, h["lambd"], h["alpha"], h["t0"])
