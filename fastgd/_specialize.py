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

import re
import types

from ._numba import jit, jit_parallel


def specialize(template, parallel=False, **bindings):
    """A jitted copy of ``template`` with ``bindings`` as its globals.

    ``template`` is a plain Python function; each binding is usually a jitted
    function. The copy is named ``<template>__<binding qualnames>`` (that name
    keys its cache file). ``parallel`` selects :func:`fastgd._numba.jit_parallel`.
    """
    namespace = dict(template.__globals__)
    namespace.update(bindings)
    func = types.FunctionType(template.__code__, namespace, template.__name__,
                              template.__defaults__, template.__closure__)
    tags = "__".join(_name(b) for b in bindings.values())
    func.__qualname__ = template.__qualname__ + "__" + re.sub(r"[^A-Za-z0-9_]", "_", tags)
    func.__module__ = template.__module__
    func.__doc__ = template.__doc__
    return (jit_parallel if parallel else jit)(func)


def _name(obj):
    """module.qualname of a function or of a numba dispatcher's Python function."""
    func = getattr(obj, "py_func", obj)
    return f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', repr(func))}"
