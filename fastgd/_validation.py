"""Argument checks shared by the public API.

Every check names the argument and the offending value, and raises before
anything is modified. Kernels never validate: the Python layer does it here.
"""

import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_ndarray(name, x):
    """A float32/float64 numpy.ndarray (any shape), returned as is (no copy)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    return x


def check_flat_float_array(name, x, *, writeable=False):
    """A 1-D, C-contiguous float32/float64 ndarray, returned as is (no copy)."""
    check_float_ndarray(name, x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D (flatten it, e.g. with .ravel()), got shape {x.shape}")
    if not x.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (np.ascontiguousarray), got a strided view")
    if writeable and not x.flags.writeable:
        raise ValueError(f"{name} must be writeable: it is updated in place")
    return x


def check_like(name, x, like, like_name="params"):
    """An array with the shape and dtype of ``like``; a contiguous copy if strided."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype != like.dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but {like_name} has dtype {like.dtype}: "
                        f"convert it explicitly")
    if x.shape != like.shape:
        raise ValueError(f"{name} has shape {x.shape} but {like_name} has shape {like.shape}")
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    return x


def check_real(name, value, *, low=None, high=None, low_open=False, high_open=False):
    """A finite real number within [low, high] (ends open as asked), as float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    if low is not None and (v < low or (low_open and v == low)):
        bound = f"> {low}" if low_open else f">= {low}"
        raise ValueError(f"Invalid {name}: {v!r} (must be {bound})")
    if high is not None and (v > high or (high_open and v == high)):
        bound = f"< {high}" if high_open else f"<= {high}"
        raise ValueError(f"Invalid {name}: {v!r} (must be {bound})")
    return v


def check_int(name, value, *, low=None):
    """An integer (not bool) >= low, as int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"Invalid {name}: {v} (must be >= {low})")
    return v


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_betas(name, value):
    """A pair (beta1, beta2), each in [0, 1)."""
    try:
        b1, b2 = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (beta1, beta2), got {value!r}") from None
    out = []
    for i, b in enumerate((b1, b2)):
        if isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Real):
            raise TypeError(f"Invalid beta parameter at index {i}: {b!r} (must be a real number)")
        b = float(b)
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b!r} (must be in [0, 1))")
        out.append(b)
    return tuple(out)


def as_float_vector(name, x):
    """A 1-D, non-empty float32/float64 ndarray from an array-like.

    float32 and float64 arrays come back as they are (no copy, no upcast);
    integer arrays are converted to float64, as ``scipy.optimize`` does, since
    an integer starting point is a common spelling of a float one. bool,
    complex, float16, object and string data are refused with TypeError:
    they are almost always a mistake, and a silent conversion would hide it.
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 1-D array of real numbers: {exc}") from None
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    elif arr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must hold float32 or float64 numbers (integers are converted "
                        f"to float64), got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (flatten it, e.g. with .ravel()), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    return arr


def check_callable(name, f):
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    return f


def check_args(name, args):
    """Extra positional arguments for a user function: a tuple (a bare value is refused)."""
    if not isinstance(args, tuple):
        raise TypeError(f"{name} must be a tuple of extra arguments, got {type(args).__name__}")
    return args


def real_scalar(name, value, where="", *, finite=True):
    """The output of user function ``name`` (evaluated ``where``) as a float.

    A real number or a 0-d real array; finite unless ``finite=False``.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        shape = f" of shape {value.shape}" if isinstance(value, np.ndarray) else ""
        raise TypeError(f"{name} must return a real scalar, got {type(value).__name__}{shape}"
                        f"{where}")
    v = float(value)
    if finite and not math.isfinite(v):
        raise ValueError(f"{name} returned {v!r}{where}: it must be finite there")
    return v
