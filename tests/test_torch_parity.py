"""Trajectories match torch.optim, or the reference package of a rule torch.optim does not
have, with the same hyperparameters (optional: needs torch, and the package)."""

import numpy as np
import pytest

import fastgd

from .registry import CASES

torch = pytest.importorskip("torch")

#: rule name -> (module, class name) of the package with the same semantics, for the
#: rules without a ``torch.optim`` class (``Rule.torch``)
PACKAGES = {
    "lion": ("lion_pytorch", "Lion"),
    "sgdschedulefree": ("schedulefree", "SGDScheduleFreeReference"),
    "adamwschedulefree": ("schedulefree", "AdamWScheduleFreeReference"),
    "prodigy": ("prodigyopt", "Prodigy"),
}

PARITY_CASES = [c for c in CASES if c.rule.torch is not None or c.name in PACKAGES]


def _reference_optimizer(case, param):
    if case.rule.torch is not None:
        return getattr(torch.optim, case.rule.torch)([param], **case.kwargs)
    module, name = PACKAGES[case.name]
    opt = getattr(pytest.importorskip(module), name)([param], **case.kwargs)
    if hasattr(opt, "train"):  # schedulefree's: steps only in train mode
        opt.train()
    return opt


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", PARITY_CASES, ids=[c.id for c in PARITY_CASES])
def test_matches_torch(case, dtype):
    rng = np.random.default_rng(7)
    n = 64
    theta0 = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(60)]

    x = theta0.copy()
    opt = case.cls(x, **case.kwargs)
    tp = torch.nn.Parameter(torch.from_numpy(theta0.copy()))
    topt = _reference_optimizer(case, tp)
    for g in grads:
        opt.step(g)
        tp.grad = torch.from_numpy(g.copy())
        topt.step()
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    if case.name in ("asgd", "nadam") and dtype == np.float64:
        # torch keeps ASGD's eta and mu and NAdam's mu_product as float32 scalars
        # (its default scalar dtype) even for float64 parameters; fastgd keeps float64.
        tol = dict(rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(x, tp.detach().numpy(), **tol)
    tstate = topt.state[tp]
    for name, value in opt.state.items():
        if isinstance(value, np.ndarray) and value.size and name in tstate:
            np.testing.assert_allclose(value, tstate[name].numpy(), **tol, err_msg=name)


def test_package_rules_are_fastgd_rules_without_a_torch_class():
    for name in PACKAGES:
        assert name in fastgd.OPTIMIZERS and fastgd.OPTIMIZERS[name].rule.torch is None
