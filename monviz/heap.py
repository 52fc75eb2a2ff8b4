"""What a variable holds, as Python Tutor draws it: bounded texts, and objects by identity.

A local's value is kept as a *text*. Immutable values (numbers, strings, tuples
of them...) are their bounded repr. A mutable container (list, dict, set,
bytearray, deque, an instance with a ``__dict__``) is a reference to an
*object* of the heap, written ``\\ue000<tag>\\ue001`` in the text, and the object
has a text of its own that changes when it is mutated. Two names bound to one
list hold the same reference, so aliasing, and a mutation through an alias, are
visible; a list inside a list is an object of its own, up to :data:`MAX_DEPTH`.

Faithful: nothing here runs the program's code. Containers are walked by monviz
(Python's own order and punctuation, cut at :data:`MAX_ITEMS`); an instance of a
class defined in Python is shown from its ``__dict__`` (no ``__repr__``, no
property, no ``__getattr__`` is called); ``repr`` is called only for types
known to have a C repr that calls nothing else (numbers, strings, ranges...);
anything else shows as ``<TypeName object>``.

Tags are stable within a recording: the heap keeps a reference to an object
while a frame's locals or another tagged object refer to it, and lets go when
they stop (so an id cannot be reused for another object under the same tag).
"""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import operator
import re
import types
from collections.abc import Callable
from itertools import chain, islice

#: How much of a container or string a text shows.
MAX_ITEMS = 8
MAX_DEPTH = 3
MAX_STRING = 80
MAX_TEXT = 200

OPEN, CLOSE = "\ue000", "\ue001"  # repr() escapes both (not printable), so no user text holds them
REF = re.compile(f"{OPEN}(\\d+){CLOSE}")

_NUMBERS = (int, float, complex, bool, type(None))
#: Types whose repr is C code that calls nothing of the program's.
_SAFE_REPR = frozenset({float, complex, bool, type(None), bytes, range, slice, type(Ellipsis),
                        type(NotImplemented), datetime.date, datetime.datetime, datetime.time,
                        datetime.timedelta, datetime.timezone, decimal.Decimal, fractions.Fraction,
                        memoryview})
_MUTABLE_SEQUENCES = {list: ("[", "]"), collections.deque: ("deque([", "])"),
                      bytearray: None}
_SETS = {set: ("set()", "{", "}"), frozenset: ("frozenset()", "frozenset({", "})")}
_CALLABLES = frozenset({types.FunctionType, types.BuiltinFunctionType, types.MethodDescriptorType,
                        types.WrapperDescriptorType, types.MethodWrapperType})
_SUSPENDABLE = frozenset({types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType})
_NO_FIELDS = frozenset({types.ModuleType, types.FunctionType})


def ref(tag: int) -> str:
    """The text of a reference to heap object ``tag``."""
    return f"{OPEN}{tag}{CLOSE}"


def tags_in(text: str) -> list[int]:
    """The heap objects a text refers to."""
    return [int(m) for m in REF.findall(text)] if OPEN in text else []


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def atom_text(value: object) -> str | None:
    """The text of an immutable scalar, or None if ``value`` is not one."""
    kind = type(value)
    if kind is int:
        return repr(value) if value.bit_length() <= 4000 else f"<int of {value.bit_length()} bits>"
    if kind is str:
        return repr(value) if len(value) <= MAX_STRING else repr(value[:MAX_STRING]) + "..."
    if kind in _SAFE_REPR:
        if kind is bytes and len(value) > MAX_STRING:
            return repr(value[:MAX_STRING]) + "..."
        return _cut(repr(value))
    return None


def _name_of(value: object) -> str | None:
    """Functions, classes, modules and the like: by name, never by repr."""
    kind = type(value)  # issubclass, not isinstance: that would read value.__class__
    if issubclass(kind, type):
        return f"<class '{type.__dict__['__qualname__'].__get__(value)}'>"
    if kind is types.ModuleType:
        return f"<module '{value.__name__}'>"
    if kind is types.MethodType:
        return f"<bound method {getattr(value.__func__, '__qualname__', '?')}>"
    if kind in _CALLABLES:
        return f"<function {value.__qualname__}>"
    if kind in _SUSPENDABLE:
        return f"<{kind.__name__} {value.__qualname__}>"
    return None


# How a type's values are shown (found once per type, see :func:`_how`)
ATOM, TUPLE, FROZEN, NAMED, EXCEPTION, OWN, CONTAINER, INSTANCE, OTHER = range(9)


def _how(kind: type) -> int:
    """Which way values of ``kind`` are shown. Reads the type's own slots only."""
    if kind in _SAFE_REPR or kind is int or kind is str:
        return ATOM
    if kind is tuple:
        return TUPLE
    if kind is frozenset:
        return FROZEN
    if issubclass(kind, type) or kind in _NO_FIELDS or kind in _CALLABLES \
            or kind in _SUSPENDABLE or kind is types.MethodType:
        return NAMED
    if issubclass(kind, BaseException):
        return EXCEPTION
    if str(type.__dict__["__module__"].__get__(kind)).startswith("monviz"):
        return OWN  # the recorder itself, in a with block
    if _is_container(kind):
        return CONTAINER
    if type.__dict__["__dictoffset__"].__get__(kind) != 0:  # instances have a __dict__
        return INSTANCE
    return OTHER


_is = operator.is_


class Heap:
    """The objects seen in one recording's frames: a tag each, and their text per step.

    :meth:`text_of` is called on the hot path of a values recording; it writes a
    heap change ``(point, tag, text id)`` whenever an object's text differs from
    the one it had, and walks each object once per point. An object whose shown
    items are the very same objects as last time (and as many) keeps its text
    without being written again: only its mutable children are looked at.
    """

    def __init__(self, intern: Callable[[str], int]):
        self.intern = intern
        self.tag_of: dict[int, int] = {}  # id(obj) -> tag, while held
        self.objects: list[object] = []   # tag -> obj (None once let go)
        self.texts: list[int] = []        # tag -> its current text id
        self.kids: list[list[int]] = []   # tag -> tags its current text refers to
        self.keys: list = []              # tag -> (len, shown items) its text was made of
        self.holders: list[int] = []      # tag -> how many texts refer to it
        self.walked: list[int] = []       # tag -> the point it was last walked at
        self.changes: list[int] = []      # flat (point, tag, text id)
        self.point = -1
        self._how: dict[type, int] = {}

    # -- texts ---------------------------------------------------------------
    def text_of(self, value: object, depth: int = 0) -> str:
        """The text of a value as of this point (objects by reference)."""
        kind = type(value)
        how = self._how.get(kind)
        if how is None:
            how = self._how[kind] = _how(kind)
        if how == ATOM:
            return atom_text(value)
        if how in (CONTAINER, INSTANCE):
            if depth >= MAX_DEPTH:
                return "..."
            if how == INSTANCE and _instance_dict(value) is None:
                return f"<{kind.__qualname__} object>"
            return ref(self._object(value, depth))
        if how == TUPLE:
            if depth >= MAX_DEPTH:
                return "(...)" if value else "()"
            items = [self.text_of(v, depth + 1) for v in value[:MAX_ITEMS]]
            more = ", ..." if len(value) > MAX_ITEMS else ""
            return "(" + ", ".join(items) + more + ("," if len(value) == 1 else "") + ")"
        if how == FROZEN:
            return self._set_text(value, kind, depth)
        if how == NAMED:
            return _name_of(value) or f"<{kind.__qualname__} object>"
        if how == EXCEPTION:
            if kind.__repr__ is BaseException.__repr__:
                args = value.args
                inner = (f"({self.text_of(args[0], depth + 1)})" if len(args) == 1
                         else self.text_of(args, depth))
                return _cut(kind.__name__ + inner)
            return f"<{kind.__qualname__} object>"
        if how == OWN:
            return f"<monviz.{kind.__qualname__} object>"
        return f"<{kind.__qualname__} object>"

    def _object(self, value: object, depth: int) -> int:
        """The tag of a mutable object, its text brought up to date at this point."""
        tag = self.tag_of.get(id(value))
        if tag is None:
            tag = len(self.objects)
            self.tag_of[id(value)] = tag
            self.objects.append(value)
            self.texts.append(-1)
            self.kids.append([])
            self.keys.append(None)
            self.holders.append(0)
            self.walked.append(-1)
        if self.walked[tag] == self.point:
            return tag
        self.walked[tag] = self.point
        key = _key(value)
        old = self.keys[tag]
        if old is not None and key[0] == old[0] and len(key[1]) == len(old[1]) \
                and all(map(_is, key[1], old[1])):
            for kid in self.kids[tag]:  # the same items: only they can have changed
                child = self.objects[kid]
                if child is not None:
                    self._object(child, depth + 1)
            return tag
        self.keys[tag] = key
        text = _cut(self._contents(value, depth))
        tid = self.intern(text)
        if tid != self.texts[tag]:
            self.texts[tag] = tid
            self.changes += (self.point, tag, tid)
            old_kids, new = self.kids[tag], tags_in(text)
            self.kids[tag] = new
            self.hold(new)
            self.let_go(old_kids)
        return tag

    def _contents(self, value: object, depth: int) -> str:
        kind = type(value)
        d = depth + 1
        if kind is bytearray:
            return repr(value) if len(value) <= MAX_STRING else repr(value[:MAX_STRING]) + "..."
        if kind in _MUTABLE_SEQUENCES:
            open_, close = _MUTABLE_SEQUENCES[kind]
            items = [self.text_of(v, d) for v in _first(value)]
            return open_ + ", ".join(items) + (", ..." if len(value) > MAX_ITEMS else "") + close
        if kind in _SETS:
            return self._set_text(value, kind, depth)
        if issubclass(kind, dict):
            items = [f"{self.text_of(k, d)}: {self.text_of(v, d)}"
                     for k, v in _first(dict.items(value))]
            body = "{" + ", ".join(items) + (", ..." if len(value) > MAX_ITEMS else "") + "}"
            return body if kind is dict else f"{kind.__qualname__}({body})"
        fields = _instance_dict(value)
        if fields is None:
            return f"<{kind.__qualname__} object>"
        items = [f"{k}={self.text_of(v, d)}" for k, v in _first(fields.items())
                 if type(k) is str]
        more = ", ..." if len(fields) > MAX_ITEMS else ""
        return f"{kind.__qualname__}(" + ", ".join(items) + more + ")"

    def _set_text(self, value, kind, depth: int) -> str:
        empty, open_, close = _SETS.get(kind, _SETS[set])
        if not value:
            return empty
        if depth >= MAX_DEPTH:
            return f"{open_}...{close}"
        items = [self.text_of(v, depth + 1) for v in _first(value)]
        return open_ + ", ".join(items) + (", ..." if len(value) > MAX_ITEMS else "") + close

    # -- holding -------------------------------------------------------------
    def hold(self, tags: list[int]) -> None:
        for tag in tags:
            self.holders[tag] += 1

    def let_go(self, tags: list[int]) -> None:
        """One text fewer refers to each tag; an object no text refers to is released."""
        stack = list(tags)
        while stack:
            tag = stack.pop()
            self.holders[tag] -= 1
            if self.holders[tag] == 0 and self.objects[tag] is not None:
                self.tag_of.pop(id(self.objects[tag]), None)
                self.objects[tag] = None
                self.keys[tag] = None
                stack += self.kids[tag]
                self.kids[tag] = []

    def release(self) -> None:
        """The recording ended: keep no user object."""
        self.tag_of.clear()
        self.objects = [None] * len(self.objects)
        self.keys = []
        self.kids = []


def _is_container(kind: type) -> bool:
    return kind in _MUTABLE_SEQUENCES or kind in _SETS or issubclass(kind, dict)


def _key(value: object) -> tuple[int, tuple]:
    """What an object's text is made of: its length and the items it shows (compared by
    identity: the same atoms have the same text, and mutable items are objects of their
    own). Keys and values, for a dict or an instance's ``__dict__``."""
    kind = type(value)
    if kind is bytearray:  # its text shows MAX_STRING bytes: a new bytes object, never "same"
        return (len(value), (bytes(value[:MAX_STRING]),))
    if _is_container(kind):
        if issubclass(kind, dict):
            items = dict.items(value)
            return (len(value), tuple(islice(chain.from_iterable(items), 2 * MAX_ITEMS)))
        return (len(value), tuple(islice(value, MAX_ITEMS)))
    fields = _instance_dict(value)
    if fields is None:
        return (0, ())
    return (len(fields), tuple(islice(chain.from_iterable(fields.items()), 2 * MAX_ITEMS)))


def _first(items) -> tuple:
    return tuple(islice(items, MAX_ITEMS))


def _instance_dict(value: object) -> dict | None:
    """The ``__dict__`` of an instance of a class defined in Python (read without
    running its code), or None."""
    if issubclass(type(value), type) or type(value) in _NO_FIELDS:
        return None
    try:
        fields = object.__getattribute__(value, "__dict__")
    except Exception:  # no __dict__ (slots, C types)
        return None
    return fields if type(fields) is dict else None


def resolve(text: str, text_at: Callable[[int], str | None], depth: int = 0,
            seen: tuple[int, ...] = ()) -> str:
    """A text with its references replaced by the objects' texts (as ``text_at`` gives
    them), recursively; an object inside itself shows as ``[...]``."""
    if OPEN not in text:
        return text

    def sub(m: re.Match) -> str:
        tag = int(m.group(1))
        inner = text_at(tag)
        if inner is None or tag in seen or depth >= MAX_DEPTH:
            return "[...]"
        return resolve(inner, text_at, depth + 1, (*seen, tag))

    return REF.sub(sub, text)
