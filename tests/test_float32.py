"""float32 in, float32 all the way: the compiled float32 loops hold no float64 math."""

import re

import numpy as np
import pytest

from fastgd._numba import jit

from .registry import CASES

# one example per rule: the loop's types, and so its code, are the same for all its examples
# (that every state array stays float32 is checked by test_optimizers::test_matches_reference)
FIRST = [c for i, c in enumerate(CASES) if all(c.name != d.name for d in CASES[:i])]

DOUBLE_MATH = re.compile(r"= (fadd|fsub|fmul|fdiv|fcmp \w+) (fast |nsz |arcp |contract |afn |reassoc )*"
                         r"(<\d+ x )?double|@llvm\.sqrt\.(v\d+)?f64")


@pytest.mark.parametrize("case", FIRST, ids=[c.name for c in FIRST])
def test_float32_loop_has_no_double_arithmetic(case):
    # each rule's loop, with the constants its own constants() makes for float32 parameters,
    # compiled privately (uncached) so that its LLVM IR is available
    rule = case.rule
    w = np.ones(8, np.float32)
    s = tuple(np.ones(8, np.float32) for _ in rule.state)
    kw = {k: v for k, v in case.kwargs.items() if k != "lr"}
    sc = rule.init_state(w, **kw)[1]
    k = rule.constants(w, 1, 0.5, rule.hyper(**kw), sc)
    # numba returns float32 scalars to Python as floats: make them float32 again, as they
    # are when constants() hands them to the loop inside compiled code
    k = tuple(np.float32(v) if isinstance(v, float) else v for v in k)
    loop = jit(rule.loop.py_func, cache=False)
    loop(w, np.ones(8, np.float32), s, k)
    (ir,) = loop.inspect_llvm().values()
    bad = DOUBLE_MATH.findall(ir)
    assert not bad, f"{rule.name}'s loop does float64 arithmetic on float32 data: {bad[:3]}"
