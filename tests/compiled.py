"""What numba has compiled so far: for the tests that promise a second call compiles nothing."""

import sys

from numba.core.registry import CPUDispatcher


def signatures():
    """{dispatcher name: number of compiled signatures} over every jitted function of fastgd:
    module-level ones and those built per objective, rule or path (epochs, sums, steps)."""
    from fastgd.engine.epoch import _CACHE as epochs
    from fastgd.kernels.rule import _COMPILED as steps
    from fastgd.losses._rows import _PARTS, _SUMS

    found = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("fastgd"):
            for attr, obj in vars(module).items():
                if isinstance(obj, CPUDispatcher):
                    found[f"{name}.{attr}"] = obj
    built = [entry[2] for entry in epochs.values()] + list(steps.values()) \
        + [entry[1] for entry in (*_SUMS.values(), *_PARTS.values())]
    for obj in built:
        found[obj.py_func.__qualname__] = obj
    return {name: len(obj.signatures) for name, obj in found.items()}
