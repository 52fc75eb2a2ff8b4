"""How monviz keeps the values an event carries: as they were, bounded, never alive.

A PY_RETURN's value, a CALL's arg0 or a RAISE's exception can be any object. Keeping
the object itself would show a list's *later* contents (it may be mutated after the
event) and keep user objects alive. So, on the hot path, immutable atoms (ints,
strings, floats, ...) are kept by reference for the duration of the recording —
their display cannot change — and everything else is turned into a bounded repr at
once. When the recording ends, atoms are turned into reprs too and no reference to
a user value is kept.
"""

from __future__ import annotations

import reprlib
import sys
import types

MISSING = sys.monitoring.MISSING

#: Types whose instances cannot change and whose repr is cheap to take later.
#: Exact types only: a subclass may define a mutable ``__repr__``.
ATOMS = frozenset({int, float, complex, bool, str, bytes, type(None)})

#: The longest text shown for one value.
MAX_REPR = 120


class Snapshot(str):
    """A repr taken when the event happened (so it is told apart from a str value)."""

    __slots__ = ()


_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxstring = 80
_repr.maxother = MAX_REPR
_repr.maxlong = 60
for _attr in ("maxtuple", "maxlist", "maxarray", "maxset", "maxfrozenset", "maxdeque"):
    setattr(_repr, _attr, 8)
_repr.maxdict = 6


_WALKED = (list, tuple, dict, set, frozenset)


def bounded_repr(value: object) -> str:
    """``repr(value)`` cut to :data:`MAX_REPR` characters.

    Built-in containers are cut while they are walked (a list of a million items
    costs no more than one of ten); other objects use their own ``repr``, which
    is then cut. A repr that raises is shown as ``<T object; repr failed: E>``
    rather than breaking the recording.
    """
    if value is MISSING:
        return "MISSING"
    try:
        text = _repr.repr(value) if isinstance(value, _WALKED) else repr(value)
    except Exception as exc:  # a user __repr__ can do anything
        return f"<{type(value).__qualname__} object; repr failed: {type(exc).__name__}>"
    if len(text) > MAX_REPR:
        text = text[: MAX_REPR - 3] + "..."
    return text


def snapshot(value: object) -> object:
    """Called on the hot path for a value that is not an atom: freeze it now."""
    if value is MISSING:
        return MISSING
    return Snapshot(bounded_repr(value))


def display(value: object) -> str:
    """The text shown for a recorded value (an atom or a :class:`Snapshot`)."""
    if type(value) is Snapshot:
        return str(value)
    return bounded_repr(value)


_CALLABLE_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                   types.MethodDescriptorType, types.WrapperDescriptorType,
                   types.MethodWrapperType, types.ClassMethodDescriptorType, type)


def describe_callable(func: object) -> str:
    """A stable, address-free name for a CALL/C_RETURN/C_RAISE callable.

    Functions, builtins and classes are shown by qualified name (``fib``,
    ``len``, ``str.join``, ``list``); a bound method by its function's name with
    ``(bound)``; any other callable object by a bounded repr.
    """
    if isinstance(func, types.MethodType):
        return f"{describe_callable(func.__func__)} (bound)"
    if isinstance(func, _CALLABLE_TYPES):
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
        if isinstance(name, str):
            owner = getattr(func, "__objclass__", None)
            if owner is not None and "." not in name:
                name = f"{owner.__qualname__}.{name}"
            return name
    return bounded_repr(func)
