"""The layout of a flat parameter vector: its segments (layers) and their shapes.

fastgd keeps every model's parameters in one flat vector. A model that knows
more (an MLP: each layer's weight matrix and bias) says so with ``shapes``:
the segments of the vector in order, each 1-D (``n`` or ``(n,)``) or 2-D
(``(rows, cols)``, C order), their sizes adding up to the vector's, like the
parameter tensors of one torch param group. Without ``shapes`` the vector is
one 1-D segment.

Rules whose math is per parameter tensor (``Rule.layered``: LAMB's trust
ratio, Adafactor's RMS scaling and factored moment) run their reduction
stage once per segment; the others see the whole vector. In the compiled
code a layout is the segment table of a rule, an int64 array with one row
per segment::

    start, size, cols, (offset, length) of each state array

(``cols`` 0: a 1-D segment) so that the kernels take each segment's part of
the parameters, the gradient and every state array as views. A state array
is either parameter-sized (``State.shape`` "params", the default) or holds
one entry per element of the 1-D segments ("vector": Adafactor's
variance), per row or per column of the 2-D ones ("rows", "cols": its
factored moment), in segment order. The whole vector's table (no layout, or
a rule that is not layered) is one row.
"""

import numbers

import numpy as np
from numba import types
from numba.extending import overload

from .._numba import jit

SHAPES = ("params", "vector", "rows", "cols")
START, SIZE, COLS, STATE = 0, 1, 2, 3   # columns of a segment table


def check_shapes(shapes, size):
    """``shapes`` as a tuple of (n,) and (rows, cols) tuples of ints; raises naming it.

    The segments must cover ``size`` parameters exactly. None stays None.
    """
    if shapes is None:
        return None
    if isinstance(shapes, (str, bytes, np.ndarray)) or not hasattr(shapes, "__iter__"):
        raise TypeError(f"shapes must be a sequence of shapes (ints or tuples of 1 or 2 ints), "
                        f"got {shapes!r}")
    out = []
    for i, shape in enumerate(shapes):
        dims = (shape,) if _is_int(shape) else shape
        if not isinstance(dims, (tuple, list)) or not all(_is_int(d) for d in dims):
            raise TypeError(f"shapes[{i}] must be an int or a tuple of ints, got {shape!r}")
        if len(dims) not in (1, 2) or min(dims) < 1:
            raise ValueError(f"shapes[{i}] must be 1-D or 2-D with positive sizes, got {shape!r}")
        out.append(tuple(int(d) for d in dims))
    total = sum(int(np.prod(s)) for s in out)
    if total != size:
        raise ValueError(f"shapes cover {total} parameters, but params has {size}")
    return tuple(out)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def segment_table(rule, shapes, size):
    """The int64 segment table of ``rule`` for ``shapes`` (checked) over ``size`` parameters.

    A rule that is not layered, or no shapes, gets the whole vector as one
    1-D segment.
    """
    if shapes is None or not rule.layered:
        shapes = ((size,),)
    kinds = [s.shape for s in rule.state]
    used = dict.fromkeys(SHAPES, 0)
    rows = []
    start = 0
    for shape in shapes:
        n = int(np.prod(shape))
        cols = shape[1] if len(shape) == 2 else 0
        length = {"params": n, "vector": 0 if cols else n,
                  "rows": shape[0] if cols else 0, "cols": cols}
        row = [start, n, cols]
        for kind in kinds:
            row += [used[kind] if kind != "params" else start, length[kind]]
            if kind != "params":
                used[kind] += length[kind]
        rows.append(row)
        start += n
    return np.array(rows, dtype=np.int64).reshape(len(rows), STATE + 2 * len(kinds))


def state_sizes(rule, table):
    """{name: size} of each of ``rule``'s state arrays under the segment ``table``."""
    return {s.name: int(table[:, STATE + 2 * i + 1].sum()) for i, s in enumerate(rule.state)}


@jit
def whole_table(w, s):
    """The segment table of the whole vector ``w`` with the state arrays ``s`` as they are."""
    n_state = len(s)
    table = np.empty((1, STATE + 2 * n_state), dtype=np.int64)
    table[0, START] = 0
    table[0, SIZE] = w.size
    table[0, COLS] = 0
    for i in range(n_state):
        table[0, STATE + 2 * i] = 0
        table[0, STATE + 2 * i + 1] = s[i].size
    return table


def segment_views(arrays, row):
    """The tuple of each state array's part for one row of a segment table, in compiled code."""
    return tuple(_part(a, row, i) for i, a in enumerate(arrays))


@jit(inline="always")
def _part(a, row, i):
    """State array ``a``'s part for the segment table ``row``, ``a`` being the i-th."""
    lo = row[STATE + 2 * i]
    return a[lo:lo + row[STATE + 2 * i + 1]]


@overload(segment_views, jit_options={"cache": True})
def _segment_views_impl(arrays, row):
    if not isinstance(arrays, types.BaseTuple):
        return None
    n = len(arrays)
    if n == 0:
        return lambda arrays, row: ()
    if n == 1:
        return lambda arrays, row: (_part(arrays[0], row, 0),)
    if n == 2:
        return lambda arrays, row: (_part(arrays[0], row, 0), _part(arrays[1], row, 1))
    if n == 3:
        return lambda arrays, row: (_part(arrays[0], row, 0), _part(arrays[1], row, 1),
                                    _part(arrays[2], row, 2))
    if n == 4:
        return lambda arrays, row: (_part(arrays[0], row, 0), _part(arrays[1], row, 1),
                                    _part(arrays[2], row, 2), _part(arrays[3], row, 3))
    if n == 5:
        return lambda arrays, row: (_part(arrays[0], row, 0), _part(arrays[1], row, 1),
                                    _part(arrays[2], row, 2), _part(arrays[3], row, 3),
                                    _part(arrays[4], row, 4))
    if n == 6:
        return lambda arrays, row: (_part(arrays[0], row, 0), _part(arrays[1], row, 1),
                                    _part(arrays[2], row, 2), _part(arrays[3], row, 3),
                                    _part(arrays[4], row, 4), _part(arrays[5], row, 5))
    raise TypeError(f"segment_views: at most 6 arrays, got {n}")
