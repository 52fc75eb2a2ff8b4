"""The recorder's in-flight format, and the decoder that turns it into columns.

While recording, every event extends one flat Python list by exactly four
slots (one C call; no per-event object for the cyclic GC to walk). Slot 0 is
a negative *tag* (or, for LINE, the line number itself); the rest depend on
the event's shape::

    shape     events                         slots
    LINE      LINE                           line, line, 0, 0
    START     PY_START, PY_RESUME            tag, offset, clock, code_id
    THROW     PY_THROW                       tag, offset, exception, code_id
    EXIT      PY_RETURN, PY_YIELD            tag, offset, clock, value
    UNWIND    PY_UNWIND                      tag, offset, clock, exception
    EXC       RAISE, RERAISE, EXC._HANDLED   tag, offset, 0, exception
    VALUED    STOP_ITERATION                 tag, offset, 0, exception
    CALLISH   CALL, C_RETURN, C_RAISE        tag, offset, callable, arg0
    JUMPISH   JUMP, BRANCH(_LEFT/_RIGHT)     tag, offset, destination, 0
    BARE      INSTRUCTION (and unknown)      tag, offset, 0, 0
    markers   thread switch / with-block     THREAD, 0, 0, thread_id / ENTER, 0, 0, code_id

Fixed width is what makes decoding cheap: each slot is a column
(``buf[k::4]``), and every pass below is a C-level loop (slicing, ``map``,
``compress``, ``bytes.translate``); the only Python-level loop visits frame
events, to follow the call stack. Which code object an event belongs to is
implied by the frame events before it (per thread); only frame starts carry a
code id.

The result is compact: dense columns only for what every event has (kind,
offset-or-line) and *sparse* tables (row numbers plus data) for the rest:
stack segments (code, depth, thread change only at frame events), branch
destinations, values, calls and clocks.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from itertools import accumulate, chain, compress, count, repeat
from operator import sub

from .events import CATALOGUE
from .values import describe_callable, display

#: Event names in kind order; kind ``k`` is written as tag ``-(k + 1)``.
KINDS: tuple[str, ...] = tuple(CATALOGUE)
TAG: dict[str, int] = {name: -(k + 1) for k, name in enumerate(KINDS)}
THREAD = -100
ENTER = -101
WIDTH = 4

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
    """How an event is laid out in the stream (see the module docstring)."""
    return _SHAPE_OF.get(name, BARE)


SHAPES: tuple[int, ...] = tuple(shape(n) for n in KINDS)
_LINE_KIND = KINDS.index("LINE")
_THREAD_KIND = len(KINDS)
_ENTER_KIND = len(KINDS) + 1
#: slot 0 value -> kind index (a line number is not a key: it maps to LINE by default)
_KIND_OF = {TAG[n]: k for k, n in enumerate(KINDS)} | {THREAD: _THREAD_KIND, ENTER: _ENTER_KIND}


_NONE = -1  # "no value"


def _table(pred) -> bytes:
    """A ``bytes.translate`` table: kind index -> 1 where ``pred(shape)``, else 0."""
    flags = [1 if pred(s) else 0 for s in SHAPES] + [0, 0]  # markers: 0
    return bytes(flags + [0] * (256 - len(flags)))


_NONLINE = bytes([0 if k == _LINE_KIND else 1 for k in range(256)])
#: frame events, plus the THREAD and ENTER markers
_FRAME = bytes(f | (k in (_THREAD_KIND, _ENTER_KIND))
               for k, f in enumerate(_table(lambda s: s in (START, THROW, EXIT, UNWIND))))
_PUSH = _table(lambda s: s in (START, THROW))
_POP = _table(lambda s: s in (EXIT, UNWIND))
_TIMED = _table(lambda s: s in (START, EXIT, UNWIND))
_JUMP = _table(lambda s: s == JUMPISH)
_CALL = _table(lambda s: s == CALLISH)
_VALUE3 = _table(lambda s: s in (EXIT, UNWIND, EXC, VALUED))
_THROWN = _table(lambda s: s == THROW)
#: every row that has a value-table entry (PY_THROW's exception included)
_VALUED = _table(lambda s: s in (EXIT, UNWIND, EXC, VALUED, THROW))
#: where the row numbers of each sparse table come from
ROW_TABLES = {"jump_rows": _JUMP, "value_rows": _VALUED, "call_rows": _CALL, "time_rows": _TIMED}


def narrow(values, bound: int | None = None, signed: bool = True) -> array:
    """The narrowest array that holds every value (memory is paid per event).

    ``bound`` (the largest absolute value, when the caller knows it) saves a pass.
    """
    values = values if isinstance(values, list | array | bytes) else list(values)
    if bound is None:
        bound = max(values, default=0)
        if signed:
            bound = max(bound, -min(values, default=0))
    for code in ("b", "h", "i", "q") if signed else ("B", "H", "I", "Q"):
        bits = array(code).itemsize * 8 - (1 if signed else 0)
        if bound < (1 << bits):
            return array(code, values)
    raise OverflowError("value too large for a column")


class Decoded:
    """A decoded recording: dense kind/``a`` columns and sparse tables (see module docstring).

    While decoding, the sparse tables carry their row numbers (``*_rows``) and
    segments their first rows (``seg_start``). Packed (:func:`pack`), what a
    Trace keeps, row numbers are left out — they follow from the kind column
    (:func:`rows_for`) — and segments keep their lengths (``seg_len``), which
    fit in a byte or two.
    """

    __slots__ = (
        "a",
        "call_arg0",
        "call_func",
        "call_rows",
        "count",
        "dropped",
        "jump_dest",
        "jump_rows",
        "kind",
        "seg_code",
        "seg_depth",
        "seg_len",
        "seg_start",
        "seg_thread",
        "threads",
        "time_ns",
        "time_rows",
        "value_ids",
        "value_rows",
        "values",
    )


#: Packed arrays, in the order they are saved.
PACKED = ("kind", "a", "seg_len", "seg_code", "seg_depth", "seg_thread", "jump_dest",
          "value_ids", "call_func", "call_arg0", "time_ns")


def rows_for(kind: array | bytes, table: bytes) -> list[int]:
    """Rows whose kind is flagged in ``table`` (e.g. every JUMP/BRANCH row)."""
    kinds = kind.tobytes() if isinstance(kind, array) else kind
    return list(compress(count(), kinds.translate(table)))


def unpack(packed: Decoded) -> Decoded:
    """A copy of a packed recording with row numbers and segment starts, to edit rows."""
    d = Decoded()
    for name in Decoded.__slots__:
        if hasattr(packed, name):
            setattr(d, name, getattr(packed, name))
    d.kind = packed.kind.tobytes()
    d.a = list(packed.a)
    d.seg_start = list(accumulate(packed.seg_len[:-1], initial=0)) if len(packed.seg_len) else []
    for name, table in ROW_TABLES.items():
        setattr(d, name, rows_for(d.kind, table))
    for name in ("jump_dest", "value_ids", "call_func", "call_arg0", "time_ns",
                 "seg_code", "seg_depth", "seg_thread"):
        setattr(d, name, list(getattr(packed, name)))
    return d


def kinds_of(buf: list, start_row: int = 0) -> bytes:
    """The kind index of every row from ``start_row`` (markers included)."""
    return bytes(map(_KIND_OF.get, buf[start_row * WIDTH::WIDTH], repeat(_LINE_KIND)))


def decode(buf: list, keep_mask: int, main_thread: int, t0: int, max_events: int,
           bits_of_kind: list[int], a_bound: int | None = None,
           n_codes: int | None = None) -> Decoded:
    """Turn the raw stream into a :class:`Decoded`, keeping only the events asked for.

    ``keep_mask`` is the user's event bit set (the recorder also enables frame
    events it needs to follow the stack; those rows are dropped here unless
    asked for). At most ``max_events`` rows are kept; the rest are counted in
    ``dropped``. ``a_bound`` bounds offsets and lines and ``n_codes`` the code
    ids, to save passes.
    """
    rows = len(buf) // WIDTH
    del buf[rows * WIDTH:]
    kinds = kinds_of(buf)
    s1, s2, s3 = buf[1::WIDTH], buf[2::WIDTH], buf[3::WIDTH]
    other = list(compress(count(), kinds.translate(_NONLINE)))
    other_kinds = bytes(map(kinds.__getitem__, other))

    def rows_where(table: bytes) -> list[int]:
        return list(compress(other, other_kinds.translate(table)))

    out = Decoded()
    out.seg_start, out.seg_code, out.seg_depth, out.seg_thread, out.threads = _segments(
        rows_where(_FRAME), kinds, s3, main_thread)
    out.jump_rows = rows_where(_JUMP)
    out.jump_dest = list(map(s2.__getitem__, out.jump_rows))
    out.values = []
    out.value_rows = rows_where(_VALUE3)
    out.call_rows = rows_where(_CALL)
    throw_rows = rows_where(_THROWN)
    raw = list(chain(map(s3.__getitem__, out.value_rows), map(s3.__getitem__, out.call_rows),
                     map(s2.__getitem__, throw_rows)))
    ids = _intern(raw, out.values)
    nv, nc = len(out.value_rows), len(out.call_rows)
    out.call_arg0 = ids[nv:nv + nc]
    if throw_rows:  # rare: merge PY_THROW's exception into the value table, in row order
        pairs = sorted(zip(chain(out.value_rows, throw_rows), chain(ids[:nv], ids[nv + nc:])))
        out.value_rows = [r for r, _ in pairs]
        out.value_ids = [i for _, i in pairs]
    else:
        out.value_ids = ids[:nv]
    out.call_func = _intern_callables(list(map(s2.__getitem__, out.call_rows)), out.values)
    out.time_rows = rows_where(_TIMED)
    out.time_ns = list(map(sub, map(s2.__getitem__, out.time_rows), repeat(t0)))
    out.kind = kinds
    out.a = s1
    keep = kinds.translate(bytes([1 if bit & keep_mask else 0 for bit in bits_of_kind]
                                 + [0] * (256 - len(bits_of_kind))))
    if keep.count(0):
        drop_rows(out, keep)
    out.dropped = max(0, len(out.kind) - max_events)
    if out.dropped:
        cut(out, max_events)
    pack(out, a_bound, n_codes)
    return out


def drop_rows(out: Decoded, keep: bytes) -> None:
    """Remove the rows whose ``keep`` flag is 0, renumbering the sparse tables (unpacked)."""
    before = list(accumulate(keep, initial=0))  # kept rows before each row

    def renumber(rows: list[int], *data: list) -> tuple[list, ...]:
        flags = list(map(keep.__getitem__, rows))
        return (list(map(before.__getitem__, compress(rows, flags))),
                *(list(compress(d, flags)) for d in data))

    out.seg_start = list(map(before.__getitem__, out.seg_start))
    out.jump_rows, out.jump_dest = renumber(out.jump_rows, out.jump_dest)
    out.value_rows, out.value_ids = renumber(out.value_rows, out.value_ids)
    out.call_rows, out.call_func, out.call_arg0 = renumber(
        out.call_rows, out.call_func, out.call_arg0)
    out.time_rows, out.time_ns = renumber(out.time_rows, out.time_ns)
    out.kind = bytes(compress(out.kind, keep))
    out.a = list(compress(out.a, keep))


def cut(out: Decoded, n: int) -> None:
    """Keep the first ``n`` rows (unpacked)."""
    out.kind = out.kind[:n]
    out.a = out.a[:n]
    for rows_name, *data_names in (("jump_rows", "jump_dest"), ("value_rows", "value_ids"),
                                   ("call_rows", "call_func", "call_arg0"),
                                   ("time_rows", "time_ns")):
        rows = getattr(out, rows_name)
        end = bisect_left(rows, n)
        setattr(out, rows_name, rows[:end])
        for name in data_names:
            setattr(out, name, getattr(out, name)[:end])
    end = bisect_left(out.seg_start, n)
    for name in ("seg_start", "seg_code", "seg_depth", "seg_thread"):
        setattr(out, name, getattr(out, name)[:end])


def pack(out: Decoded, a_bound: int | None = None, n_codes: int | None = None) -> None:
    """Lists to narrow arrays, row numbers left out: what a Trace keeps.

    Known bounds (largest offset or line, number of code objects) save a pass each.
    """
    n = out.count = len(out.kind)
    out.kind = array("B", out.kind)
    out.a = narrow(out.a, a_bound)
    out.seg_len = narrow(list(map(sub, [*out.seg_start[1:], n], out.seg_start)), signed=False)
    out.seg_code = narrow(out.seg_code, n_codes)  # -1 (unknown code) is the only negative
    out.seg_depth = narrow(out.seg_depth, signed=False)
    out.seg_thread = narrow(out.seg_thread, len(out.threads), signed=False)
    out.jump_dest = narrow(out.jump_dest)
    nvalues = len(out.values)
    out.value_ids = narrow(out.value_ids, nvalues, signed=False)
    out.call_func = narrow(out.call_func, nvalues, signed=False)
    out.call_arg0 = narrow(out.call_arg0, nvalues, signed=False)
    out.time_ns = array("q", out.time_ns)
    for name in ("seg_start", *ROW_TABLES):
        if hasattr(out, name):
            delattr(out, name)


def _intern(raw: list, values: list[str]) -> list[int]:
    """Index of each recorded value in ``values`` (one display string per distinct value).

    Values are atoms (kept by reference while recording) or Snapshot strings;
    ``(type, value)`` keys keep ``1``, ``True`` and ``'1'`` apart.
    """
    seen: dict = {}
    first = list(map(seen.setdefault, zip(map(type, raw), raw), count()))
    dense = {}
    for (_, value), ordinal in seen.items():
        dense[ordinal] = len(values)
        values.append(display(value))
    return list(map(dense.__getitem__, first))


def _intern_callables(raw: list, values: list[str]) -> list[int]:
    """Like :func:`_intern`, by identity (callables are alive while decoding)."""
    seen: dict = {}
    first = list(map(seen.setdefault, map(id, raw), count()))
    dense = {}
    for ordinal in seen.values():
        dense[ordinal] = len(values)
        values.append(describe_callable(raw[ordinal]))
    return list(map(dense.__getitem__, first))


def _segments(frame_rows: list[int], kinds: bytes, s3: list, main_thread: int):
    """Stack segments: runs of rows with the same code object, depth and thread.

    A push (PY_START, PY_RESUME, PY_THROW) starts a segment at its own row (it
    belongs to the new frame); a pop (PY_RETURN, PY_YIELD, PY_UNWIND) starts one
    on the next row (it belongs to the frame it leaves); a marker starts one at
    its row. Only these rows are visited in Python, one tuple each.
    """
    if kinds.count(_THREAD_KIND):
        return _segments_threaded(frame_rows, kinds, s3, main_thread)
    stack: list[int] = []
    push = stack.append
    out = [(0, _NONE, 0)]
    add = out.append
    pop = _POP
    for p in frame_rows:
        if pop[kinds[p]]:
            if stack:
                stack.pop()
            add((p + 1, stack[-1], len(stack) - 1) if stack else (p + 1, _NONE, 0))
        else:  # a push, or the with-block's frame (ENTER)
            push(s3[p])
            add((p, s3[p], len(stack) - 1))
    starts, codes, depths = map(list, zip(*out))
    if min(depths) < 0:  # pops of frames entered before recording
        depths = [max(d, 0) for d in depths]
    return starts, codes, depths, [0] * len(out), [main_thread]


def _segments_threaded(frame_rows: list[int], kinds: bytes, s3: list, main_thread: int):
    """:func:`_segments` with a stack per thread (THREAD markers switch between them)."""
    stacks: dict[int, list[int]] = {main_thread: []}
    thread_ids = {main_thread: 0}
    stack = stacks[main_thread]
    thread = 0
    starts, codes, depths, threads = [0], [_NONE], [0], [0]
    for p in frame_rows:
        k = kinds[p]
        if k == _THREAD_KIND:
            tid = s3[p]
            thread = thread_ids.setdefault(tid, len(thread_ids))
            stack = stacks.setdefault(tid, [])
            starts.append(p)
        elif _POP[k]:
            if stack:
                stack.pop()
            starts.append(p + 1)
        else:
            stack.append(s3[p])
            starts.append(p)
        codes.append(stack[-1] if stack else _NONE)
        depths.append(len(stack) - 1 if stack else 0)
        threads.append(thread)
    return starts, codes, depths, threads, list(thread_ids)
