"""The event catalogue: the single source of truth about ``sys.monitoring`` events.

Everything else in monviz (the recorder, option parsing, widget legends,
tutorials) asks this module which events exist on the running interpreter,
what their callbacks receive and how they behave. Bits are read from
``sys.monitoring.events`` at import time, never written down, because they
change between versions (see :mod:`monviz.versions`).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

from . import versions
from .errors import UnknownEventError

__all__ = [
    "CATALOGUE",
    "GROUPS",
    "EventInfo",
    "bits_of",
    "describe",
    "names_of",
    "parse_events",
]

# What the docs call each event family. "local" events can be set per code
# object; "ancillary" ones (C_RETURN, C_RAISE) come with CALL; "other" events
# are global only (until 3.15, see versions.EXCEPTION_EVENTS_LOCAL).
LOCAL, ANCILLARY, OTHER = "local", "ancillary", "other"

# name: (callback arguments after ``code``, family, one-line meaning)
_FACTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "PY_START": (("instruction_offset",), LOCAL,
                 "a Python function starts (its first RESUME), or a generator's first next()"),
    "PY_RESUME": (("instruction_offset",), LOCAL,
                  "a generator or coroutine resumes after a yield or await"),
    "PY_RETURN": (("instruction_offset", "retval"), LOCAL,
                  "a Python function returns a value"),
    "PY_YIELD": (("instruction_offset", "retval"), LOCAL,
                 "a generator or coroutine yields a value"),
    "CALL": (("instruction_offset", "callable", "arg0"), LOCAL,
             "a call is about to be made from Python code (arg0 is MISSING with no arguments)"),
    "LINE": (("line_number",), LOCAL,
             "execution reaches an instruction on a different line"),
    "INSTRUCTION": (("instruction_offset",), LOCAL,
                    "a bytecode instruction is about to execute"),
    "JUMP": (("instruction_offset", "destination_offset"), LOCAL,
             "an unconditional jump (JUMP_FORWARD / JUMP_BACKWARD) is taken"),
    "BRANCH": (("instruction_offset", "destination_offset"), LOCAL,
               "a conditional branch (if, while, for) goes one way or the other"),
    "BRANCH_LEFT": (("instruction_offset", "destination_offset"), LOCAL,
                    "a conditional branch falls through (into the if body, the next loop item)"),
    "BRANCH_RIGHT": (("instruction_offset", "destination_offset"), LOCAL,
                     "a conditional branch jumps (to the else part, out of the loop)"),
    "STOP_ITERATION": (("instruction_offset", "exception"), LOCAL,
                       "an artificial StopIteration ends a yield from / await / for loop"),
    "RAISE": (("instruction_offset", "exception"), OTHER,
              "an exception is raised, or passes through a frame on its way out"),
    "EXCEPTION_HANDLED": (("instruction_offset", "exception"), OTHER,
                          "an exception is caught by an except (or cleanup) handler"),
    "PY_UNWIND": (("instruction_offset", "exception"), OTHER,
                  "a Python function exits because an exception escapes it"),
    "PY_THROW": (("instruction_offset", "exception"), OTHER,
                 "a generator or coroutine resumes through throw() or close()"),
    "RERAISE": (("instruction_offset", "exception"), OTHER,
                "an exception is re-raised (bare raise, end of finally, unmatched except)"),
    "C_RETURN": (("instruction_offset", "callable", "arg0"), ANCILLARY,
                 "a call to a non-Python callable (builtin, C method) returns"),
    "C_RAISE": (("instruction_offset", "callable", "arg0"), ANCILLARY,
                "a call to a non-Python callable raises"),
}


@dataclass(frozen=True)
class EventInfo:
    """What monviz knows about one ``sys.monitoring`` event on this interpreter."""

    name: str
    bit: int
    args: tuple[str, ...]
    kind: str
    local: bool
    can_disable: bool
    since: tuple[int, int]
    meaning: str
    deprecated: bool = False

    @property
    def since_str(self) -> str:
        return "{}.{}".format(*self.since)


def _build() -> dict[str, EventInfo]:
    catalogue = {}
    for name, bit in versions.EVENT_VALUES.items():
        if name not in _FACTS:  # an event newer than this module: still listed, honestly
            args, kind, meaning = ("instruction_offset",), OTHER, "(not yet described by monviz)"
        else:
            args, kind, meaning = _FACTS[name]
        local = kind == LOCAL or (kind == OTHER and versions.EXCEPTION_EVENTS_LOCAL)
        catalogue[name] = EventInfo(
            name=name,
            bit=bit,
            args=args,
            kind=kind,
            local=local,
            # DISABLE works for local events; for C_RETURN/C_RAISE and (before 3.15)
            # the exception events it raises ValueError("Cannot disable ... events").
            # 3.15 lets the exception events be local, and DISABLE no longer raises
            # for them (from a local callback it turns the event off for the code).
            can_disable=kind == LOCAL or (kind == OTHER and versions.EXCEPTION_EVENTS_LOCAL),
            since=versions.EVENT_SINCE.get(name, (3, 12)),
            meaning=meaning,
            deprecated=name in versions.DEPRECATED_ALIASES,
        )
    return catalogue


#: Every event of the running interpreter, by name, in bit order.
CATALOGUE: dict[str, EventInfo] = _build()

#: Events that are current (deprecated aliases left out).
CURRENT: tuple[str, ...] = tuple(n for n, e in CATALOGUE.items() if not e.deprecated)


def _group(*names: str) -> frozenset[str]:
    expanded: list[str] = []
    for name in names:
        expanded.extend(versions.DEPRECATED_ALIASES.get(name, (name,)))
    return frozenset(n for n in expanded if n in CATALOGUE)


#: Named groups of events accepted wherever event names are.
GROUPS: dict[str, frozenset[str]] = {
    "all": frozenset(CURRENT),
    "default": frozenset(CURRENT) - {"INSTRUCTION"},
    "calls": _group("CALL", "C_RETURN", "C_RAISE", "PY_START", "PY_RETURN"),
    "lines": _group("LINE"),
    "flow": _group("LINE", "JUMP", "BRANCH"),
    "exceptions": _group("RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW",
                         "C_RAISE", "STOP_ITERATION"),
    "generators": _group("PY_START", "PY_RESUME", "PY_YIELD", "PY_RETURN", "PY_THROW",
                         "STOP_ITERATION"),
}

_ALL_BITS = 0
for _info in CATALOGUE.values():
    _ALL_BITS |= _info.bit


def _unknown(word: object) -> UnknownEventError:
    choices = sorted(CATALOGUE) + sorted(GROUPS)
    text = str(word)
    close = difflib.get_close_matches(text.upper(), [c.upper() for c in choices], n=1, cutoff=0.6)
    hint = ""
    if close:
        match = next(c for c in choices if c.upper() == close[0])
        hint = f" Did you mean {match!r}?"
    return UnknownEventError(
        f"unknown event {text!r} on Python {versions.VERSION}.{hint} "
        f"Valid events: {', '.join(CATALOGUE)}. Groups: {', '.join(GROUPS)}."
    )


def parse_events(spec: str | int | Iterable[str | int] | None) -> int:
    """Turn a user's event spec into a bit set of this interpreter's events.

    Accepts ``None`` (the default group: every event but INSTRUCTION), an int bit
    set, an event or group name (case-insensitive; commas or spaces separate
    several), or an iterable of names and ints. A deprecated alias (BRANCH on
    3.14+) expands to what replaces it, with a warning saying so.
    """
    if spec is None:
        return bits_of(GROUPS["default"])
    if isinstance(spec, bool):
        raise _unknown(spec)
    if isinstance(spec, int):
        if spec <= 0 or spec & ~_ALL_BITS:
            raise UnknownEventError(
                f"invalid event bit set {spec:#x} on Python {versions.VERSION}: "
                f"valid bits are {_ALL_BITS:#x} "
                f"({', '.join(f'{n}={e.bit}' for n, e in CATALOGUE.items())})"
            )
        return _expand_deprecated_bits(spec)
    if isinstance(spec, str):
        words = spec.replace(",", " ").replace("|", " ").split()
        if not words:
            raise UnknownEventError("no events given: name at least one event or group")
        return parse_events(words)
    bits = 0
    try:
        items = list(spec)
    except TypeError:
        raise _unknown(spec) from None
    if not items:
        raise UnknownEventError("no events given: name at least one event or group")
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            bits |= parse_events(item)
        elif isinstance(item, str):
            bits |= _parse_word(item)
        else:
            raise _unknown(item)
    return bits


def _parse_word(word: str) -> int:
    key = word.strip()
    if key.lower() in GROUPS:
        return bits_of(GROUPS[key.lower()])
    name = key.upper()
    if name not in CATALOGUE:
        raise _unknown(word)
    if name in versions.DEPRECATED_ALIASES:
        return _expand_deprecated_bits(CATALOGUE[name].bit)
    return CATALOGUE[name].bit


def _expand_deprecated_bits(bits: int) -> int:
    for old, new in versions.DEPRECATED_ALIASES.items():
        if bits & CATALOGUE[old].bit:
            warnings.warn(
                f"{old} is deprecated on Python {versions.VERSION}; monviz records "
                f"{' and '.join(new)} instead (what {old} now stands for)",
                DeprecationWarning,
                stacklevel=4,
            )
            bits = (bits & ~CATALOGUE[old].bit) | bits_of(new)
    return bits


def bits_of(names: Iterable[str]) -> int:
    """The bit set of the given event names (exact, upper-case catalogue names)."""
    bits = 0
    for name in names:
        bits |= CATALOGUE[name].bit
    return bits


def names_of(bits: int) -> list[str]:
    """The catalogue names in a bit set, in bit order; unknown bits are shown as hex."""
    names = []
    for want_deprecated in (False, True):  # a deprecated alias only if set on its own
        for name, info in CATALOGUE.items():
            if info.deprecated == want_deprecated and bits & info.bit:
                names.append(name)
                bits &= ~info.bit
    if bits:
        names.append(hex(bits))
    return names


def describe() -> list[dict[str, object]]:
    """The catalogue as plain rows, for tables in docs and notebooks."""
    return [
        {
            "event": e.name,
            "bit": e.bit,
            "callback": f"({', '.join(('code', *e.args))})",
            "kind": e.kind,
            "local": e.local,
            "DISABLE": e.can_disable,
            "since": e.since_str,
            "meaning": e.meaning + (" (deprecated)" if e.deprecated else ""),
        }
        for e in CATALOGUE.values()
    ]
