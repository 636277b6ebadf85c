from .._validation import check_betas, check_bool
from ..kernels import adam_step, adamw_step
from .optimizer import Hyper, Optimizer, nonnegative


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with the AMSGrad option, as ``torch.optim.Adam``.

    The equations, and where frameworks put eps, are in
    :func:`fastgd.kernels.adam_step`. ``weight_decay`` is L2 added to the
    gradient; :class:`AdamW` decouples it.

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0], dtype=np.float32)
    >>> opt = fastgd.Adam(x, lr=0.05)
    >>> for _ in range(500):
    ...     _ = opt.step(2 * x)
    >>> x.dtype, bool(np.abs(x).max() < 1e-2)
    (dtype('float32'), True)
    """

    betas = Hyper(check_betas)
    eps = Hyper(nonnegative)
    weight_decay = Hyper(nonnegative)
    amsgrad = Hyper(check_bool)
    _kernel = staticmethod(adam_step)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, **options):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, **options)

    def _init_state(self):
        empty = self.params[:0].copy()
        return {"exp_avg": self._zeros(), "exp_avg_sq": self._zeros(),
                "max_exp_avg_sq": self._zeros() if self._hyper["amsgrad"] else empty}

    def _update(self, grad, lr):
        h = self._hyper
        s = self.state
        vmax = self._lazy("max_exp_avg_sq") if h["amsgrad"] else s["max_exp_avg_sq"]
        beta1, beta2 = h["betas"]
        self._kernel(self.params, grad, s["exp_avg"], s["exp_avg_sq"], vmax, self.step_count,
                     lr, beta1, beta2, h["eps"], h["weight_decay"], h["amsgrad"])


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay,
    as ``torch.optim.AdamW`` (default ``weight_decay=1e-2``).

    The equations are in :func:`fastgd.kernels.adamw_step`.
    """

    _kernel = staticmethod(adamw_step)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, **options):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, **options)
