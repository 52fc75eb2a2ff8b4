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
import re
import types
from collections.abc import Callable

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


class Heap:
    """The objects seen in one recording's frames: a tag each, and their text per step.

    :meth:`text_of` is called on the hot path of a values recording; it writes a
    heap change ``(point, tag, text id)`` whenever an object's text differs from
    the one it had, and walks each object once per point.
    """

    def __init__(self, intern: Callable[[str], int]):
        self.intern = intern
        self.tag_of: dict[int, int] = {}  # id(obj) -> tag, while held
        self.objects: list[object] = []   # tag -> obj (None once let go)
        self.texts: list[int] = []        # tag -> its current text id
        self.kids: list[list[int]] = []   # tag -> tags its current text refers to
        self.holders: list[int] = []      # tag -> how many texts refer to it
        self.walked: list[int] = []       # tag -> the point it was last walked at
        self.changes: list[int] = []      # flat (point, tag, text id)
        self.point = -1

    # -- texts ---------------------------------------------------------------
    def text_of(self, value: object, depth: int = 0) -> str:
        """The text of a value as of this point (objects by reference)."""
        text = atom_text(value)
        if text is not None:
            return text
        kind = type(value)
        if kind is tuple:
            if depth >= MAX_DEPTH:
                return "(...)" if value else "()"
            items = [self.text_of(v, depth + 1) for v in value[:MAX_ITEMS]]
            more = ", ..." if len(value) > MAX_ITEMS else ""
            return "(" + ", ".join(items) + more + ("," if len(value) == 1 else "") + ")"
        if kind is frozenset:
            return self._set_text(value, kind, depth)
        named = _name_of(value)
        if named is not None:
            return named
        if issubclass(kind, BaseException):
            if type(value).__repr__ is BaseException.__repr__:
                args = value.args
                inner = (f"({self.text_of(args[0], depth + 1)})" if len(args) == 1
                         else self.text_of(args, depth))
                return _cut(type(value).__name__ + inner)
            return f"<{type(value).__qualname__} object>"
        if str(type.__dict__["__module__"].__get__(kind)).startswith("monviz"):
            return f"<monviz.{kind.__qualname__} object>"  # the recorder itself, in a with block
        if (kind in _MUTABLE_SEQUENCES or kind in _SETS or issubclass(kind, dict)
                or _instance_dict(value) is not None):
            if depth >= MAX_DEPTH:
                return "..."
            return ref(self._object(value, depth))
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
            self.holders.append(0)
            self.walked.append(-1)
        if self.walked[tag] == self.point:
            return tag
        self.walked[tag] = self.point
        text = _cut(self._contents(value, depth))
        tid = self.intern(text)
        if tid != self.texts[tag]:
            self.texts[tag] = tid
            self.changes += (self.point, tag, tid)
            old, new = self.kids[tag], tags_in(text)
            self.kids[tag] = new
            self.hold(new)
            self.let_go(old)
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
                stack += self.kids[tag]
                self.kids[tag] = []

    def release(self) -> None:
        """The recording ended: keep no user object."""
        self.tag_of.clear()
        self.objects = [None] * len(self.objects)
        self.kids = []


_NO_FIELDS = frozenset({types.ModuleType, types.FunctionType})


def _first(items) -> list:
    out = []
    for i, item in enumerate(items):
        if i == MAX_ITEMS:
            break
        out.append(item)
    return out


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
