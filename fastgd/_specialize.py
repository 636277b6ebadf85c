"""Build one cached jitted function per choice of the functions it calls.

Numba cannot cache a function that receives another jitted function as an
argument, nor a closure over one (the cache key pickles the closure, which
differs between processes; numba issues 2956, 4534). fastgd therefore writes
a loop once, as a *template*: a plain Python function whose free names (say
``objective``) are bound per use. :func:`specialize` copies the template with
those names bound as globals and gives the copy its own qualified name, so
numba compiles and caches it like any module-level function: one cache file
per binding, found again by the next process.

Caveat, as for every cached numba function: the cache notices changes to the
template's own source file, not to the bound functions or anything they
call. After editing one, delete the caches (``find fastgd -name "*.nb[ic]"
-delete``); ``tests/conftest.py`` does so when a source is newer than them.
Bind only functions of fastgd: a user's function could change unnoticed.
"""

import hashlib
import re
import types

from ._numba import jit, jit_parallel


def specialize(template, parallel=False, jit_options=None, **bindings):
    """A jitted copy of ``template`` with ``bindings`` as its globals.

    ``template`` is a plain Python function; each binding is a jitted
    function or a constant (a bool or int: numba freezes global constants,
    so a branch on one is compiled only when taken). The copy is named
    ``<template>__<short binding names>_<hash of their full names>``; that
    name keys its cache file, so it must differ for every choice of
    bindings, and stay short enough for a file name. ``parallel`` selects
    :func:`fastgd._numba.jit_parallel`; ``jit_options`` go to the decorator
    (``cache=False`` for copies that take the user's functions as arguments:
    their types never match a cache entry of another process).
    """
    namespace = dict(template.__globals__)
    namespace.update(bindings)
    func = types.FunctionType(template.__code__, namespace, template.__name__,
                              template.__defaults__, template.__closure__)
    full = "__".join(f"{key}={_name(b)}" for key, b in bindings.items())
    short = "__".join(_name(b, short=True) for b in bindings.values())[:80]
    digest = hashlib.sha1(full.encode()).hexdigest()[:10]
    func.__qualname__ = (template.__qualname__ + "__"
                         + re.sub(r"[^A-Za-z0-9_]", "_", short) + "_" + digest)
    func.__module__ = template.__module__
    func.__doc__ = template.__doc__
    return (jit_parallel if parallel else jit)(func, **(jit_options or {}))


def _name(obj, short=False):
    """module.qualname of a function or of a numba dispatcher's Python function (or repr)."""
    func = getattr(obj, "py_func", obj)
    qualname = getattr(func, "__qualname__", None)
    if qualname is None:
        return repr(obj)
    return qualname if short else f"{getattr(func, '__module__', '')}.{qualname}"
