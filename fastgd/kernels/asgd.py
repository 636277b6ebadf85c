"""Averaged SGD: plain SGD steps plus a Polyak-Ruppert running average."""

from .._numba import cast_like, jit
from .rule import Param, Rule, Scalar, State

ETA, MU = 0, 1  # sc: the rate and the averaging weight of the next step


@jit
def asgd_loop(w, g, s, k):
    (ax,) = s
    shrink, eta, mu, weight_decay = k
    for i in range(w.size):
        gi = g[i]
        p = w[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p
        p = p * shrink
        p = p - eta * gi
        w[i] = p
        if mu != 1:
            ax[i] = ax[i] + (p - ax[i]) * mu
        else:
            ax[i] = p


@jit
def asgd_schedule(t, lr, lambd, alpha, t0):
    """(eta, mu) to use on step ``t + 1``, after ``t`` steps are done."""
    eta = lr / (1.0 + lambd * lr * t) ** alpha
    mu = 1.0 / max(1.0, t - t0)
    return eta, mu


@jit
def asgd_constants(w, t, lr, h, sc):
    lambd, alpha, t0, weight_decay = h
    eta, mu = sc[ETA], sc[MU]
    sc[ETA], sc[MU] = asgd_schedule(t, lr, lambd, alpha, t0)
    return (cast_like(1.0 - lambd * eta, w), cast_like(eta, w), cast_like(mu, w),
            cast_like(weight_decay, w))


def _averaged(self):
    """The averaged parameters (a view of the state; copy it to keep it)."""
    return self.state["ax"]


ASGD = Rule(
    "asgd", "ASGD", lr=1e-2, auto_lr="curvature",
    params=(Param("lambd", 1e-4), Param("alpha", 0.75), Param("t0", 1e6),
            Param("weight_decay", 0.0)),
    state=(State("ax"),),
    scalars=(Scalar("eta", "lr", low=0.0), Scalar("mu", 1.0, low=0.0, high=1.0, low_open=True)),
    constants=asgd_constants, loop=asgd_loop,
    methods={"asgd": {}},
    examples=({"lr": 0.05, "t0": 10, "lambd": 1e-3},
              {"lr": 0.05, "t0": 10, "weight_decay": 0.01, "alpha": 0.5}),
    torch="ASGD",
    extras={"averaged": property(_averaged)},
    doc=r"""Averaged SGD (Polyak & Juditsky, 1992; Bottou, 2012), as ``torch.optim.ASGD``.

    ``params`` follows the SGD iterates; ``averaged`` (``state["ax"]``) is the
    Polyak-Ruppert average of the iterates after step ``t0``, the estimate to
    use at the end. The step's eta and mu are scalar state (eta_1 = lr, mu_1 = 1)::

        g_t     = g_t + lambda_wd * theta_{t-1}          (if weight_decay != 0)
        theta_t = theta_{t-1} * (1 - lambd * eta_t) - eta_t * g_t
        ax_t    = ax_{t-1} + mu_t * (theta_t - ax_{t-1})   (ax_t = theta_t when mu_t = 1)
        eta_{t+1} = lr / (1 + lambd * lr * t)**alpha
        mu_{t+1}  = 1 / max(1, t - t0)
    """)

asgd_step = ASGD.step
