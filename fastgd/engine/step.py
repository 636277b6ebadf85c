"""One optimizer step inside compiled loops: the records the epoch takes, and the guard.

An optimizer of :mod:`fastgd.optim` stays the owner of its hyperparameters
(validated there) and of its state (named there, so ``state_dict()`` keeps
working). :func:`pack` turns it into an :class:`Update`, what a jitted loop
takes: its rule's state arrays, scalar state and hyperparameters, the
learning-rate schedule and the clipping options; :func:`unpack` writes the
scalars and counters back after the loop. Which rule runs is not in the
record: the epoch is compiled for one rule (see :mod:`fastgd.engine.epoch`).

Inside a loop a step is :func:`prepare_grad` (the guard and clipping, like
``optimizer.step``), the rate ``schedule_value(spec, t)``, the rule's
``constants`` and its element-wise ``loop``; together they match
``optimizer.step(grad)`` bit for bit (tested for every rule).
"""

from collections import namedtuple

import numpy as np

from .._numba import CHUNK, cast_like, jit, n_chunks
from ..kernels.clip import _sum_of_squares_1

#: the training rows of one call: X (2-D), y and the sample weights (empty: unit weights)
Data = namedtuple("Data", "X y sw")

#: an optimizer as a compiled loop takes it: its rule's state arrays ``s`` (a tuple)
#: and scalar state ``sc`` (updated in place), the hyperparameters ``h``, the schedule's
#: ``spec``, ``clip`` = (clip_norm, clip_value, skip_nonfinite), 0 for off, and ``seg``,
#: the rule's segment table of the parameters' layout (:mod:`fastgd.kernels.layout`)
Update = namedtuple("Update", "s sc h spec clip seg")


def pack(optimizer):
    """The :class:`Update` of ``optimizer``; its arrays are the optimizer's own.

    Allocates the state arrays the hyperparameters now need, as the
    optimizer would on its next ``step``.
    """
    s, sc = optimizer.kernel_state()
    hyper = optimizer._hyper
    lr = hyper["lr"]
    spec = lr.spec if hasattr(lr, "spec") else np.array([0.0, lr, 0, 0, 0, 0, 0, 0])
    clip = (float(hyper["clip_norm"] or 0.0), float(hyper["clip_value"] or 0.0),
            float(optimizer.skip_nonfinite))
    return Update(s, sc, optimizer._h, spec, clip, optimizer._segments)


def unpack(optimizer, update, step_count, n_skipped):
    """Write the scalar state and the counters of a compiled run back into ``optimizer``."""
    optimizer.store_scalars(update.sc)
    optimizer.step_count = int(step_count)
    optimizer.n_skipped += int(n_skipped)


@jit
def prepare_grad(g, clip):
    """The optimizer's guard and clipping, serial; False when the step is to be skipped.

    ``clip`` = (clip_norm, clip_value, skip_nonfinite): skip a gradient
    holding NaN/inf; clamp to [-clip_value, clip_value]; scale to global L2
    norm <= clip_norm (norm summed per CHUNK, in order, as
    :func:`fastgd.kernels.clip_by_global_norm_` does). 0 turns each off.
    """
    clip_norm, clip_value, skip = clip
    n = g.size
    if skip != 0.0:
        for i in range(n):
            if not np.isfinite(g[i]):
                return False
    if clip_value > 0.0:
        hi = cast_like(clip_value, g)
        lo = -hi
        for i in range(n):
            v = g[i]
            if v > hi:
                g[i] = hi
            elif v < lo:
                g[i] = lo
    if clip_norm > 0.0:
        total = 0.0
        for c in range(n_chunks(n)):
            total += _sum_of_squares_1(g[c * CHUNK:min(n, (c + 1) * CHUNK)])
        norm = np.sqrt(total)
        if norm > clip_norm:
            f = cast_like(clip_norm / (norm + 1e-6), g)
            for i in range(n):
                g[i] = g[i] * f
    return True
