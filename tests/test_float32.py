"""float32 in, float32 all the way: the compiled float32 loops hold no float64 math."""

import importlib
import re

import numpy as np
import pytest

from fastgd._numba import jit

from .registry import CASES

RANGE_FUNCTIONS = [
    ("sgd", "_sgd_loop"), ("adagrad", "_adagrad_loop"), ("rmsprop", "_rmsprop_loop"),
    ("adam", "_adam_loop"), ("adamax", "_adamax_loop"), ("nadam", "_nadam_loop"),
    ("radam", "_radam_loop"), ("asgd", "_asgd_loop"),
]
DOUBLE_MATH = re.compile(r"= (fadd|fsub|fmul|fdiv|fcmp \w+) (fast |nsz |arcp |contract |afn |reassoc )*"
                         r"(<\d+ x )?double|@llvm\.sqrt\.(v\d+)?f64")


ARRAYS = {"params", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer",
          "state_sum", "square_avg", "grad_avg", "exp_inf", "ax"}
FLAGS = {"first", "nesterov", "centered", "amsgrad", "adaptive"}


def _float32_arguments(py_func):
    """Arguments of the types the kernels pass: float32 arrays and float32 scalars."""
    names = py_func.__code__.co_varnames[:py_func.__code__.co_argcount]
    args = []
    for name in names:
        if name in ARRAYS:
            args.append(np.ones(8, np.float32))
        elif name in FLAGS:
            args.append(True)
        else:
            args.append(np.float32(0.5))
    return args


@pytest.mark.parametrize("module,name", RANGE_FUNCTIONS)
def test_float32_loop_has_no_double_arithmetic(module, name):
    # a private, uncached compile so the LLVM IR is available
    func = jit(getattr(importlib.import_module(f"fastgd.kernels.{module}"), name).py_func,
               cache=False)
    func(*_float32_arguments(func.py_func))
    (ir,) = func.inspect_llvm().values()
    bad = DOUBLE_MATH.findall(ir)
    assert not bad, f"{name} does float64 arithmetic on float32 data: {bad[:3]}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_state_stays_float32(case):
    x = np.ones(8, np.float32)
    opt = case.cls(x, **case.kwargs)
    opt.step(np.ones(8, np.float32))
    assert x.dtype == np.float32
    for name, value in opt.state.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32, name
