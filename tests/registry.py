"""The one table of optimizers under test, derived from the rules' records.

Every record of :mod:`fastgd.kernels` brings its own test settings:
``Rule.examples`` (hyperparameter settings that exercise every branch of
the rule) become ``CASES``; its hyperparameters' declared domains give the
bad values every constructor must refuse, and ``Rule.invalid`` the bad
combinations. A new rule is tested by adding its module and its reference
(``reference.py``); nothing here changes.
"""

from dataclasses import dataclass, field

import fastgd
from fastgd.kernels import RULES


@dataclass(frozen=True)
class Case:
    name: str                      # key in fastgd.OPTIMIZERS and in reference.REFERENCES
    kwargs: dict = field(default_factory=dict)

    @property
    def cls(self):
        return fastgd.OPTIMIZERS[self.name]

    @property
    def rule(self):
        return RULES[self.name]

    @property
    def id(self):
        extra = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.name}({extra})"


#: one rule for each thing a rule's record can ask of the code that runs it: no state (sgd),
#: scalar state (asgd), state arrays (adam), a reduction stage and scalar state (prodigy).
#: The rules' own tests (test_optimizers, test_engine, test_torch_parity, test_cache,
#: test_eval_point) take every rule; the tests of how an estimator, a data path or a wrapper
#: carries a rule take these, so that a new rule costs the suite a few compiles, not dozens.
REPRESENTATIVE = ("sgd", "asgd", "adam", "prodigy")

CASES = [Case(name, dict(example)) for name, rule in RULES.items() for example in rule.examples]

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
    (dict(foo=1.0), TypeError, "foo"),
]

BAD_INPUTS = {
    name: [({p.name: value}, exc, fragment) for p in rule.params
           for value, exc, fragment in p.bad_values()]
    + [(dict(settings), ValueError, fragment) for settings, fragment in rule.invalid]
    for name, rule in RULES.items()
}
