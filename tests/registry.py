"""The one table of optimizers under test.

A new rule is tested by adding rows: ``CASES`` (hyperparameter settings that
exercise every branch of the rule) and ``BAD_INPUTS`` (arguments that must be
refused, the exception and a fragment of its message).
"""

from dataclasses import dataclass, field

import fastgd


@dataclass(frozen=True)
class Case:
    name: str                      # key in fastgd.OPTIMIZERS and in reference.REFERENCES
    kwargs: dict = field(default_factory=dict)

    @property
    def cls(self):
        return fastgd.OPTIMIZERS[self.name]

    @property
    def id(self):
        extra = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.name}({extra})"


CASES = [
    Case("sgd", dict(lr=0.05)),
    Case("sgd", dict(lr=0.05, momentum=0.9, dampening=0.1)),
    Case("sgd", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    Case("adagrad", dict(lr=0.1)),
    Case("adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    Case("rmsprop", dict(lr=0.01)),
    Case("rmsprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
    Case("adam", dict(lr=0.01)),
    Case("adam", dict(lr=0.01, weight_decay=0.01, amsgrad=True, betas=(0.8, 0.99))),
    Case("adamw", dict(lr=0.01)),
    Case("adamw", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    Case("adamax", dict(lr=0.01, weight_decay=0.01)),
    Case("nadam", dict(lr=0.01)),
    Case("nadam", dict(lr=0.01, weight_decay=0.01, decoupled_weight_decay=True)),
    Case("nadam", dict(lr=0.01, weight_decay=0.01, momentum_decay=0.01)),
    Case("radam", dict(lr=0.01)),
    Case("radam", dict(lr=0.01, weight_decay=0.01, decoupled_weight_decay=True)),
    Case("asgd", dict(lr=0.05, t0=10, lambd=1e-3)),
    Case("asgd", dict(lr=0.05, t0=10, weight_decay=0.01, alpha=0.5)),
]

# Bad arguments every optimizer refuses.
COMMON_BAD = [
    (dict(lr=0.0), ValueError, "lr"),
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(lr=float("inf")), ValueError, "lr"),
    (dict(lr="fast"), TypeError, "lr"),
    (dict(clip_norm=-1.0), ValueError, "clip_norm"),
    (dict(clip_value=0.0), ValueError, "clip_value"),
    (dict(skip_nonfinite="yes"), TypeError, "skip_nonfinite"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay"),
]

BAD_INPUTS = {
    "sgd": [
        (dict(momentum=-0.5), ValueError, "momentum"),
        (dict(dampening=-0.1), ValueError, "dampening"),
        (dict(nesterov=True), ValueError, "nesterov"),
        (dict(nesterov=True, momentum=0.9, dampening=0.1), ValueError, "dampening"),
    ],
    "adagrad": [
        (dict(lr_decay=-1.0), ValueError, "lr_decay"),
        (dict(eps=-1e-3), ValueError, "eps"),
        (dict(initial_accumulator_value=-1.0), ValueError, "initial_accumulator_value"),
    ],
    "rmsprop": [
        (dict(alpha=-0.1), ValueError, "alpha"),
        (dict(alpha=1.5), ValueError, "alpha"),
        (dict(eps=-1.0), ValueError, "eps"),
        (dict(momentum=-1.0), ValueError, "momentum"),
        (dict(centered=1), TypeError, "centered"),
    ],
    "adam": [
        (dict(betas=(1.0, 0.999)), ValueError, "index 0"),
        (dict(betas=(0.9, -0.1)), ValueError, "index 1"),
        (dict(betas=0.9), TypeError, "betas"),
        (dict(eps=-1e-8), ValueError, "eps"),
        (dict(amsgrad="no"), TypeError, "amsgrad"),
    ],
    "adamw": [(dict(betas=(0.9, 1.0)), ValueError, "index 1"), (dict(eps=-1.0), ValueError, "eps")],
    "adamax": [(dict(betas=(-0.1, 0.9)), ValueError, "index 0"), (dict(eps=-1.0), ValueError, "eps")],
    "nadam": [(dict(momentum_decay=-1.0), ValueError, "momentum_decay"),
              (dict(betas=(0.9, 1.5)), ValueError, "index 1")],
    "radam": [(dict(betas=(1.0, 0.9)), ValueError, "index 0"), (dict(eps=-1.0), ValueError, "eps")],
    "asgd": [(dict(lambd=-1.0), ValueError, "lambd"), (dict(alpha=-1.0), ValueError, "alpha"),
             (dict(t0=-1.0), ValueError, "t0")],
}
