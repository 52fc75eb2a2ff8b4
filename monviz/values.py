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

import itertools
import sys
import types

MISSING = sys.monitoring.MISSING

#: Types whose instances cannot change and whose repr is cheap to take later.
#: Exact types only: a subclass may define a mutable ``__repr__``.
ATOM_TYPES = (int, str, type(None), bool, float, bytes, complex)  # most frequent first
ATOMS = frozenset(ATOM_TYPES)

#: The longest text shown for one value.
MAX_REPR = 120


class Snapshot(str):
    """A repr taken when the event happened (so it is told apart from a str value)."""

    __slots__ = ()


#: How much of a container or string a repr shows.
MAX_ITEMS = 8
MAX_DEPTH = 3
MAX_STRING = 80


def _walk(value: object, depth: int) -> str:
    """A repr of built-in containers and strings that stops early, keeping Python's
    own order and punctuation (``reprlib`` sorts dicts and sets, which would lie)."""
    kind = type(value)
    if kind is str or kind is bytes:
        if len(value) <= MAX_STRING:
            return repr(value)
        return repr(value[:MAX_STRING]) + "..."
    if kind is int and value.bit_length() > 4000:  # huge ints are slow (or refuse) to print
        return f"<int of {value.bit_length()} bits>"
    if kind is dict:
        if not value:
            return "{}"
        if depth >= MAX_DEPTH:
            return "{...}"
        items = [f"{_walk(k, depth + 1)}: {_walk(v, depth + 1)}"
                 for k, v in itertools.islice(value.items(), MAX_ITEMS)]
        return "{" + ", ".join(items) + (", ..." if len(value) > MAX_ITEMS else "") + "}"
    if kind in _SEQUENCES:
        empty, open_, close = _SEQUENCES[kind]
        if not value:
            return empty
        if depth >= MAX_DEPTH:
            return f"{open_}...{close}"
        items = [_walk(v, depth + 1) for v in itertools.islice(value, MAX_ITEMS)]
        more = ", ..." if len(value) > MAX_ITEMS else ""
        single = "," if kind is tuple and len(value) == 1 else ""
        return open_ + ", ".join(items) + more + single + close
    return repr(value)


_SEQUENCES = {list: ("[]", "[", "]"), tuple: ("()", "(", ")"), set: ("set()", "{", "}"),
              frozenset: ("frozenset()", "frozenset({", "})")}


def bounded_repr(value: object) -> str:
    """``repr(value)`` cut to :data:`MAX_REPR` characters.

    Built-in containers and strings are cut while they are walked (a list of a
    million items costs no more than one of ten); other objects use their own
    ``repr``, which is then cut. A repr that raises is shown as
    ``<T object; repr failed: E>`` rather than breaking the recording.
    """
    if value is MISSING:
        return "MISSING"
    try:
        text = _walk(value, 0)
    except Exception as exc:  # a user __repr__ can do anything
        return f"<{type(value).__qualname__} object; repr failed: {type(exc).__name__}>"
    if len(text) > MAX_REPR:
        text = text[: MAX_REPR - 3] + "..."
    return text


_object_repr = object.__repr__


def snapshot(value: object) -> object:
    """Called on the hot path for a value that is not an atom: freeze it now.

    An object whose type keeps ``object.__repr__`` shows only its type and
    identity, which cannot change: it is kept by reference until the recording
    ends (a repr with an address costs ~1 µs). So is MISSING.
    """
    if value is MISSING or type(value).__repr__ is _object_repr:
        return value
    return Snapshot(bounded_repr(value))


def display(value: object) -> str:
    """The text shown for a recorded value (an atom, a :class:`Snapshot`, or an object
    whose repr cannot change)."""
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


class DeferredTexts:
    """A recording's value texts in which small immutable atoms are still the objects.

    The compiled backend ends a recording without a pass over its values: an int,
    float, short str... is kept as it is (it cannot change, and it keeps nothing else
    alive), so is a built-in exception's (type, atom args); each becomes its text when
    first read. Everything else is text already. Reads like a list of str.
    """

    __slots__ = ("_items", "_pending")

    def __init__(self, items: list, pending: bytearray):
        self._items = items
        self._pending = pending  # 1 where _items holds an atom, not yet its text

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.tolist()[i]
        if self._pending[i]:
            from .backends import speedups

            flags = bytearray([self._pending[i] - 1])
            self._items[i] = speedups.texts([self._items[i]], flags, display, describe_callable,
                                            MAX_REPR, MAX_STRING)[0]
            self._pending[i] = 0
        return self._items[i]

    def __iter__(self):
        return iter(self.tolist())

    def __eq__(self, other) -> bool:
        return self.tolist() == (other.tolist() if isinstance(other, DeferredTexts) else other)

    __hash__ = None

    def __repr__(self) -> str:
        return f"DeferredTexts({self.tolist()!r})"

    def tolist(self) -> list[str]:
        """Every text (made in C for the atoms still pending, once); the list itself."""
        if self._pending.count(0) < len(self._pending):
            from .backends import speedups

            flags = self._pending.translate(_PENDING_TO_FLAG)
            self._items = speedups.texts(self._items, flags, display, describe_callable,
                                         MAX_REPR, MAX_STRING)
            self._pending = bytearray(len(self._items))
        return self._items


# pending is the entry's flag + 1 (_speedups.c: F_VALUE 0, F_EXC 3), 0 for a text (F_TEXT 2)
_PENDING_TO_FLAG = bytes([2, 0, 1, 2, 3] + [2] * 251)


def text_list(values: list[str] | DeferredTexts) -> list[str]:
    """A trace's value texts as a plain list (for JSON)."""
    return values.tolist() if isinstance(values, DeferredTexts) else values
