from .._validation import check_bool
from ..kernels import sgd_step
from .optimizer import Hyper, Optimizer, nonnegative


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (``torch.optim.SGD``).

    The equations are in :func:`fastgd.kernels.sgd_step`. ``params`` is one
    flat float32/float64 array, updated in place by ``step(grad)``.

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0])
    >>> opt = fastgd.SGD(x, lr=0.1, momentum=0.5)
    >>> for _ in range(200):
    ...     _ = opt.step(2 * x)          # gradient of |x|^2
    >>> bool(np.abs(x).max() < 1e-6)
    True
    """

    momentum = Hyper(nonnegative)
    dampening = Hyper(nonnegative)
    nesterov = Hyper(check_bool)
    weight_decay = Hyper(nonnegative)

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0, **options):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay, **options)

    def _check_combination(self, h):
        if h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening = 0, got "
                             f"momentum={h['momentum']!r}, dampening={h['dampening']!r}")

    def _init_state(self):
        # "momentum_buffer" is allocated by the first step with momentum; until then empty.
        return {"momentum_buffer": self.params[:0].copy()}

    def _update(self, grad, lr):
        h = self._hyper
        buf = self.state["momentum_buffer"]
        fresh = buf.size != self.params.size
        if h["momentum"] != 0 and fresh:
            buf = self._lazy("momentum_buffer")
        # the buffer starts at the first gradient it sees (PyTorch's rule)
        sgd_step(self.params, grad, buf, 1 if fresh else self.step_count, lr, h["momentum"],
                 h["dampening"], h["nesterov"], h["weight_decay"])
