"""The recorder's in-flight format, and the decoder that turns it into compact columns.

While recording, every event extends one flat Python list by exactly five
slots — one C call, and no per-event object for the cyclic GC to walk::

    kind, code, a, b, c

``kind`` is the event's index in :data:`KINDS` (plus, once a second thread
runs recorded code, the thread's index times 256, so that an event and its
thread are written in one atomic ``extend``); ``code`` is the code object the
callback received (kept by reference, so nothing is looked up on the hot path);
the meaning of ``a``, ``b`` and ``c`` depends on the event's *shape*::

    shape     events                          a         b          c
    LINE      LINE                            line      0          0
    START     PY_START, PY_RESUME             offset    clock      0
    EXIT      PY_RETURN, PY_YIELD             offset    clock      value
    UNWIND    PY_UNWIND                       offset    clock      exception
    THROW     PY_THROW                        offset    0          exception
    EXC       RAISE, RERAISE, EXC._HANDLED    offset    0          exception
    VALUED    STOP_ITERATION                  offset    0          exception
    CALLISH   CALL, C_RETURN, C_RAISE         offset    callable   arg0
    JUMPISH   JUMP, BRANCH(_LEFT/_RIGHT)      offset    dest       0
    BARE      INSTRUCTION (and unknown)       offset    0          0

Fixed width makes decoding a handful of C-level passes: each slot is a column
(``buf[k::5]``), and ``bytes.translate``, ``itertools.compress`` and ``map``
pick and convert without a Python-level loop per event.

What a Trace keeps (:func:`pack`): dense narrow arrays for what every event
has (kind, offset-or-line); *runs* for what changes rarely (the code object
and the thread: the first row of each run, and its value); and *rank-ordered*
tables for the rest — the n-th JUMP/BRANCH destination belongs to the n-th
JUMP/BRANCH row, and so on — so no row numbers are stored; they follow from
the kind column (:func:`rows_for`). The call depth follows from the frame
events in the kind column too (:func:`derive_depth`), and is only stored when
that is no longer possible (frame events dropped, or several threads).
"""

from __future__ import annotations

import functools
from array import array
from bisect import bisect_right
from itertools import accumulate, compress, count, islice, repeat
from operator import add, and_, is_, ne, rshift, sub

from .events import CATALOGUE
from .values import ATOMS, Snapshot, describe_callable, display, text_list

#: Event names in kind order; an event's kind is its index here.
KINDS: tuple[str, ...] = tuple(CATALOGUE)
KIND: dict[str, int] = {name: k for k, name in enumerate(KINDS)}
WIDTH = 5
#: ``kind + (thread index << THREAD_SHIFT)`` is written when several threads record.
THREAD_SHIFT = 8

LINE, START, EXIT, UNWIND, THROW, EXC, CALLISH, JUMPISH, VALUED, BARE = range(10)
_SHAPE_OF = {
    "LINE": LINE,
    "PY_START": START, "PY_RESUME": START,
    "PY_RETURN": EXIT, "PY_YIELD": EXIT,
    "PY_UNWIND": UNWIND,
    "PY_THROW": THROW,
    "RAISE": EXC, "RERAISE": EXC, "EXCEPTION_HANDLED": EXC,
    "CALL": CALLISH, "C_RETURN": CALLISH, "C_RAISE": CALLISH,
    "JUMP": JUMPISH, "BRANCH": JUMPISH, "BRANCH_LEFT": JUMPISH, "BRANCH_RIGHT": JUMPISH,
    "STOP_ITERATION": VALUED,
}


def shape(name: str) -> int:
    """How an event is laid out (see the module docstring)."""
    return _SHAPE_OF.get(name, BARE)


SHAPES: tuple[int, ...] = tuple(shape(n) for n in KINDS)
_NONE = -1  # "unknown code"


class Layout:
    """``bytes.translate`` tables (kind -> 1 or 0) for one interpreter's kinds.

    Kind numbers depend on the interpreter that recorded (3.14 added events), so
    a trace loaded from JSON or recorded by another Python brings its own.
    """

    def __init__(self, kind_names: tuple[str, ...]):
        shapes = [shape(n) for n in kind_names]

        def table(pred) -> bytes:
            flags = [1 if pred(s) else 0 for s in shapes]
            return bytes(flags + [0] * (256 - len(flags)))  # markers and spare kinds: 0

        self.push = table(lambda s: s in (START, THROW))
        self.pop = table(lambda s: s in (EXIT, UNWIND))
        self.timed = table(lambda s: s in (START, EXIT, UNWIND))
        self.jumps = table(lambda s: s == JUMPISH)
        self.calls = table(lambda s: s == CALLISH)
        #: rows with an entry in the value table (a return/yield value or an exception)
        self.values = table(lambda s: s in (EXIT, UNWIND, THROW, EXC, VALUED))
        #: the rank-ordered tables, with the kinds whose rows they belong to
        self.tables: dict[str, bytes] = {
            "jump_dest": self.jumps, "time_ns": self.timed, "value_ids": self.values,
            "call_func": self.calls, "call_arg0": self.calls}

    @staticmethod
    @functools.cache
    def of(kind_names: tuple[str, ...]) -> Layout:
        return LAYOUT if kind_names == KINDS else Layout(kind_names)


LAYOUT = Layout(KINDS)
_NOT = bytes([1, 0] + [0] * 254)

#: Dense per-row arrays.
DENSE = ("kind", "a", "depth")
#: Runs: (first rows, values) pairs.
RUNS = (("code_start", "code_id"), ("thread_start", "thread_idx"))
#: Every array a packed recording has, in the order they are saved.
PACKED = (*DENSE, *(name for pair in RUNS for name in pair), *LAYOUT.tables)


class Decoded:
    """A decoded recording (see the module docstring); lists while editing, arrays packed.

    ``depth`` is empty when it can be derived from the kinds (one thread, every
    frame event kept), starting from ``level0`` open frames.
    """

    __slots__ = ("a", "call_arg0", "call_func", "code_id", "code_start", "count", "depth",
                 "dropped", "jump_dest", "kind", "level0", "thread_idx", "thread_start",
                 "threads", "time_ns", "value_ids", "values")

    def __deepcopy__(self, memo: dict) -> Decoded:
        """A copy with arrays where the compiled backend's columns are memoryviews
        (which cannot be copied)."""
        import copy

        out = Decoded()
        for name in self.__slots__:
            value = getattr(self, name)
            if isinstance(value, memoryview):
                value = array(value.format, value.tobytes())
            else:
                value = copy.deepcopy(value, memo)
            setattr(out, name, value)
        return out


def narrow(values, bound: int | None = None, signed: bool = True) -> array:
    """The narrowest array that holds every value (memory is paid per event).

    ``bound`` (the largest absolute value, when the caller knows it) saves a pass.
    """
    if not isinstance(values, list | array | bytes):
        values = list(values)
    if bound is None:
        bound = max(values, default=0)
        if signed:
            bound = max(bound, -min(values, default=0))
    for code in ("b", "h", "i", "q") if signed else ("B", "H", "I", "Q"):
        if bound < 1 << (array(code).itemsize * 8 - signed):
            return array(code, values)
    raise OverflowError("value too large for a column")


def as_bytes(column: array | memoryview | bytes) -> bytes:
    """A one-byte column (the kinds) as ``bytes``, for ``translate`` and ``count``."""
    return column if isinstance(column, bytes) else column.tobytes()


def typecode(column: array | memoryview) -> str:
    """The ``array`` typecode of a column: an ``array`` (pure-Python backend, JSON) or a
    ``memoryview`` over the compiled backend's memory (its format is a typecode too)."""
    return column.typecode if isinstance(column, array) else column.format


def rows_for(kind: array | memoryview | bytes, table: bytes) -> list[int]:
    """Rows whose kind is flagged in ``table`` (e.g. every JUMP/BRANCH row), in order."""
    return list(compress(count(), as_bytes(kind).translate(table)))


def kinds_of(buf: list, start_row: int = 0, threaded: bool = False) -> bytes:
    """The kind of every row from ``start_row`` (thread bits masked off when ``threaded``)."""
    first = buf[start_row * WIDTH::WIDTH]
    return bytes(map(and_, first, repeat(255)) if threaded else first)


def derive_depth(kind: array | memoryview | bytes, level0: int = 0,
                 layout: Layout = LAYOUT) -> list[int]:
    """Call depth of every row from the frame events (one thread).

    A push (PY_START, PY_RESUME, PY_THROW) is at the depth of the frame it opens;
    every other event, pops included, at the depth of the innermost open frame.
    ``level0`` frames were open when recording started (a ``with`` block's own).
    """
    kinds = as_bytes(kind)
    push, pop = kinds.translate(layout.push), kinds.translate(layout.pop)
    levels = accumulate(map(sub, push, pop), initial=level0)  # open frames before each row
    depth = list(map(sub, map(add, levels, push), repeat(1)))
    if depth and min(depth) < 0:  # pops of frames opened before recording
        depth = [max(d, 0) for d in depth]
    return depth


def decode(buf: list, *, code_ids: dict[int, int], keep_mask: int, threads: list[int],
           t0: int, max_events: int, kind_bits: list[int], level0: int = 0,
           a_bound: int | None = None) -> Decoded:
    """Turn the raw stream into a packed :class:`Decoded`, keeping the events asked for.

    ``code_ids`` maps ``id(code)`` to the code's index; ``threads`` are the
    thread ids by thread index (the recording thread first); ``keep_mask`` is the
    user's event bit set (the recorder also enables frame events it needs; those
    rows are dropped here unless asked for). At most ``max_events`` rows are
    kept; the rest are counted in ``dropped``. ``a_bound`` bounds offsets and
    lines, to save a pass. The buffer is consumed (cleared), to free it early.
    """
    rows = len(buf) // WIDTH
    del buf[rows * WIDTH:]
    out = Decoded()
    threaded = len(threads) > 1
    kinds = out.kind = kinds_of(buf, threaded=threaded)
    out.level0 = level0
    out.depth = []
    out.threads = list(threads)
    out.thread_start, out.thread_idx = [0], [0]
    if threaded:
        _threads(out, list(map(rshift, buf[0::WIDTH], repeat(THREAD_SHIFT))))

    # Memory: the buffer (5 pointers a row, and the ints they hold) is the peak; each
    # slot is read in place (islice) into the short lists each table needs, then the
    # buffer is released before interning, so no full-length copy of a slot is added
    # to it but the offsets column.
    def slot(k: int):
        return islice(buf, k, None, WIDTH)

    def pick(k: int, table: bytes) -> list:
        return list(compress(slot(k), kinds.translate(table)))

    # a run of one code object starts where a row's code is not the previous row's
    starts = b"\x01" + bytes(map(is_, slot(1 + WIDTH), slot(1))).translate(_NOT) if rows else b""
    out.code_start = list(compress(count(), starts))
    out.code_id = list(map(code_ids.get, map(id, compress(slot(1), starts)), repeat(_NONE)))
    out.jump_dest = pick(3, LAYOUT.jumps)
    times = pick(3, LAYOUT.timed)
    funcs = pick(3, LAYOUT.calls)
    returned = pick(4, LAYOUT.values)
    args = pick(4, LAYOUT.calls)
    out.a = buf[2::WIDTH]
    buf.clear()  # what the tables need of it, they reference
    out.time_ns = list(map(sub, times, repeat(t0)))
    del times
    out.values = []
    out.value_ids = _intern(returned, out.values)
    del returned
    out.call_arg0 = _intern(args, out.values)
    del args
    out.call_func = _intern_callables(funcs, out.values)
    del funcs

    keep = kinds.translate(bytes([1 if bit & keep_mask else 0 for bit in kind_bits]
                                 + [0] * (256 - len(kind_bits))))
    if keep.count(0):
        drop_rows(out, keep)
    out.dropped = max(0, len(out.kind) - max_events)
    if out.dropped:
        cut(out, max_events)
    pack(out, a_bound, len(code_ids))
    return out


def _threads(out: Decoded, thread_of_row: list[int]) -> None:
    """Runs of rows of one thread, and the depth per thread (rare: a Python loop)."""
    change = bytes(map(ne, thread_of_row[1:], thread_of_row[:-1]))
    out.thread_start = [0, *compress(count(1), change)] if thread_of_row else [0]
    out.thread_idx = list(map(thread_of_row.__getitem__, out.thread_start)) or [0]
    levels = [0] * len(out.threads)
    levels[0] = out.level0
    depth = out.depth = []
    push, pop = LAYOUT.push, LAYOUT.pop
    for k, t in zip(out.kind, thread_of_row):
        level = levels[t]
        depth.append(max(level - 1 + push[k], 0))
        levels[t] = level + push[k] - pop[k]


def drop_rows(out: Decoded, keep: bytes, layout: Layout = LAYOUT) -> None:
    """Remove the rows whose ``keep`` flag is 0 (lists, before packing).

    The depth is made explicit first: once frame events are gone it can no
    longer be derived.
    """
    kinds = bytes(out.kind)
    if not out.depth:
        out.depth = derive_depth(kinds, out.level0, layout)
    for name, table in layout.tables.items():
        flags = compress(keep, kinds.translate(table))  # keep flags of this table's rows
        setattr(out, name, list(compress(getattr(out, name), flags)))
    before = list(accumulate(keep, initial=0))  # kept rows before each row
    for start, _ in RUNS:
        setattr(out, start, list(map(before.__getitem__, getattr(out, start))))
    for name in DENSE:
        setattr(out, name, list(compress(getattr(out, name), keep)))
    out.kind = bytes(out.kind)


def cut(out: Decoded, n: int, layout: Layout = LAYOUT) -> None:
    """Keep the first ``n`` rows (lists, before packing)."""
    head = bytes(out.kind[:n])
    for name, table in layout.tables.items():
        setattr(out, name, getattr(out, name)[:head.translate(table).count(1)])
    for name in DENSE:
        setattr(out, name, getattr(out, name)[:n])
    for start, value in RUNS:
        end = bisect_right(getattr(out, start), max(n - 1, 0))
        setattr(out, start, getattr(out, start)[:end])
        setattr(out, value, getattr(out, value)[:end])


def pack(out: Decoded, a_bound: int | None = None, n_codes: int | None = None) -> None:
    """Lists to narrow arrays: what a Trace keeps. Known bounds save a pass each."""
    n = out.count = len(out.kind)
    out.kind = array("B", out.kind)
    out.code_start = narrow(out.code_start, n, signed=False)
    out.code_id = narrow(out.code_id, n_codes)  # -1 (unknown code) is the only negative
    out.a = narrow(out.a, a_bound)
    out.depth = narrow(out.depth, signed=False)
    out.thread_start = narrow(out.thread_start, n, signed=False)
    out.thread_idx = narrow(out.thread_idx, len(out.threads), signed=False)
    out.jump_dest = narrow(out.jump_dest, a_bound)
    # ns since the start (never negative, but keep a sign should a clock step back)
    out.time_ns = narrow(out.time_ns, signed=min(out.time_ns, default=0) < 0)
    nvalues = len(out.values)
    for name in ("value_ids", "call_arg0", "call_func"):
        setattr(out, name, narrow(getattr(out, name), nvalues, signed=False))


def unpack(packed: Decoded) -> Decoded:
    """A copy with lists instead of arrays, to edit rows (then :func:`pack` again)."""
    d = Decoded()
    for name in Decoded.__slots__:
        value = getattr(packed, name)
        setattr(d, name, list(value) if isinstance(value, array | memoryview) else value)
    d.kind = bytes(d.kind)
    d.values = list(text_list(packed.values))
    return d


def _intern(raw: list, values: list[str]) -> list[int]:
    """Index of each recorded value in ``values``, which gains one display string per new value.

    Values are atoms or objects whose repr cannot change (kept by reference
    while recording), or Snapshot strings. Equal values of different types must
    stay apart (``1``, ``1.0``, ``True``; ``'x'`` and a snapshot reading x):
    when such a mix is present, keys are ``(type, value)`` pairs, which cost a
    tuple each. (``0.0`` and ``-0.0`` are equal and share an entry.)
    """
    types = set(map(type, raw))
    if types - _BY_VALUE:  # objects kept by reference (object.__repr__, MISSING) may be
        # unhashable or define __eq__: they are told apart by identity (alive meanwhile)
        return _intern_mixed(raw, values)
    if len(types & _NUMBERS) > 1 or len(types & _STRINGS) > 1:
        keys = list(zip(map(type, raw), raw))
    else:
        keys = raw
    seen: dict = {}
    first = list(map(seen.setdefault, keys, count()))
    dense = {}
    for ordinal in seen.values():
        dense[ordinal] = len(values)
        values.append(display(raw[ordinal]))
    return list(map(dense.__getitem__, first))


def _intern_mixed(raw: list, values: list[str]) -> list[int]:
    """:func:`_intern` when objects kept by reference are among the values: keys are
    ``(type, value)`` for atoms and ``(None, id)`` for those objects.

    Rows are interned by identity first (one C pass: every value is alive, so one id
    is one object), then only the distinct objects by key, in a Python loop: entries
    come out in the order of each key's first row, as a pass over every row would give.
    """
    by_id: dict = {}
    first = list(map(by_id.setdefault, map(id, raw), count()))
    keys: dict = {}
    dense = {}
    for ordinal in by_id.values():
        v = raw[ordinal]
        key = (type(v), v) if type(v) in _BY_VALUE else (None, id(v))
        j = keys.get(key)
        if j is None:
            j = keys[key] = len(values)
            values.append(display(v))
        dense[ordinal] = j
    return list(map(dense.__getitem__, first))


_NUMBERS = frozenset({int, float, complex, bool})
_STRINGS = frozenset({str, Snapshot})
_BY_VALUE = ATOMS | {Snapshot}


def _intern_callables(raw: list, values: list[str]) -> list[int]:
    """Like :func:`_intern`, by identity (callables are alive while decoding)."""
    seen: dict = {}
    first = list(map(seen.setdefault, map(id, raw), count()))
    dense = {}
    for ordinal in seen.values():
        dense[ordinal] = len(values)
        values.append(describe_callable(raw[ordinal]))
    return list(map(dense.__getitem__, first))
