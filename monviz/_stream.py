"""The recorder's in-flight format, and the decoder that turns it into columns.

While recording, every event appends to one flat Python list (the fastest
container a Python callback can write to: one C call, no per-event object the
cyclic GC has to walk). A LINE event appends its bare line number; every other
event appends a tuple of slots that starts with a negative *tag*::

    LINE                        line
    PY_START, PY_RESUME         tag, code_id, offset, clock
    PY_RETURN, PY_YIELD         tag, offset, clock, value
    PY_UNWIND                   tag, code_id, offset, clock, exception
    PY_THROW                    tag, code_id, offset, exception
    RAISE, RERAISE, EXC._HANDLED tag, code_id, offset, exception
    CALL, C_RETURN, C_RAISE     tag, offset, callable, arg0
    JUMP, BRANCH(_LEFT/_RIGHT)  tag, offset, destination
    STOP_ITERATION              tag, offset, exception
    INSTRUCTION (and unknown)   tag, offset
    (thread switch)             THREAD, thread_id
    (with-block frame)          ENTER, code_id

Which code object an event without a ``code_id`` belongs to is implied by the
frame events before it, per thread: the decoder keeps a stack. Events that the
global-only callbacks see carry their code id because they also fire for code
outside the recording, which they filter out.
"""

from __future__ import annotations

from array import array
from itertools import repeat

from .events import CATALOGUE
from .values import describe_callable, display

#: Event names in kind order; kind ``k`` is written as tag ``-(k + 1)``.
KINDS: tuple[str, ...] = tuple(CATALOGUE)
TAG: dict[str, int] = {name: -(k + 1) for k, name in enumerate(KINDS)}
THREAD = -100
ENTER = -101

START, EXIT, UNWIND, THROW, EXC, CALLISH, JUMPISH, VALUED, BARE = range(9)
_SHAPE_OF = {
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


#: Most slots one event can take: a bound on events per slot for the cap.
MAX_SLOTS = 5

_NONE = -1  # "no value" in the int columns


def _narrow(values: list[int], signed: bool = True) -> array:
    """The narrowest array typecode that holds every value (memory is per event)."""
    if not values:
        return array("b" if signed else "B")
    lo, hi = min(values), max(values)
    for code in ("b", "h", "i", "q") if signed else ("B", "H", "I", "Q"):
        probe = array(code, [0])
        bits = probe.itemsize * 8
        if signed and -(1 << (bits - 1)) <= lo and hi < (1 << (bits - 1)):
            return array(code, values)
        if not signed and lo >= 0 and hi < (1 << bits):
            return array(code, values)
    raise OverflowError("value too large for a column")


class Decoded:
    """Columns decoded from a stream, ready to become a :class:`~monviz.trace.Trace`."""

    __slots__ = ("kind", "code", "a", "b", "c", "depth", "thread", "time_index", "time_ns",
                 "values", "threads", "count", "dropped")


def decode(buf: list, keep_mask: int, main_thread: int, t0: int, max_events: int,
           bits_of_kind: list[int]) -> Decoded:
    """Turn the raw stream into columns, keeping only the events the user asked for.

    ``keep_mask`` is the user's event bit set (the recorder also enables frame
    events it needs for the stack; those are dropped here unless asked for).
    At most ``max_events`` are kept; the rest are counted in ``dropped``.
    """
    kinds: list[int] = []
    codes: list[int] = []
    col_a: list[int] = []
    col_b: list[int] = []
    col_c: list[int] = []
    depths: list[int] = []
    threads_col: list[int] = []
    time_index: list[int] = []
    time_ns: list[int] = []
    values: list[str] = []
    value_ids: dict[object, int] = {}
    callable_ids: dict[int, int] = {}
    thread_ids: dict[int, int] = {main_thread: 0}
    keep = [bool(b & keep_mask) for b in bits_of_kind]
    shapes = [shape(name) for name in KINDS]
    line_kind = KINDS.index("LINE")
    keep_line = keep[line_kind]

    def value_index(v: object) -> int:
        key = (type(v), v)
        try:
            return value_ids[key]
        except KeyError:
            value_ids[key] = len(values)
            values.append(display(v))
            return value_ids[key]
        except TypeError:  # an unhashable atom cannot happen, but stay safe
            values.append(display(v))
            return len(values) - 1

    def callable_index(f: object) -> int:
        key = id(f)
        idx = callable_ids.get(key)
        if idx is None:
            idx = callable_ids[key] = len(values)
            values.append(describe_callable(f))
        return idx

    stacks: dict[int, list[int]] = {main_thread: []}
    stack = stacks[main_thread]
    thread = 0
    n = 0
    dropped = 0
    it = iter(buf)
    nxt = it.__next__
    for x in it:
        if x >= 0:  # LINE: the bare line number
            if keep_line:
                if n < max_events:
                    kinds.append(line_kind)
                    codes.append(stack[-1] if stack else _NONE)
                    col_a.append(x)
                    col_b.append(_NONE)
                    col_c.append(_NONE)
                    depths.append(len(stack) - 1)
                    threads_col.append(thread)
                    n += 1
                else:
                    dropped += 1
            continue
        if x == THREAD:
            tid = nxt()
            thread = thread_ids.setdefault(tid, len(thread_ids))
            stack = stacks.setdefault(tid, [])
            continue
        if x == ENTER:
            stack.append(nxt())
            continue
        k = -x - 1
        s = shapes[k]
        clock = None
        b = c = _NONE
        if s == START:
            cid = nxt()
            off = nxt()
            clock = nxt()
            stack.append(cid)
        elif s == EXIT:
            cid = stack[-1] if stack else _NONE
            off = nxt()
            clock = nxt()
            b = value_index(nxt())
        elif s == JUMPISH:
            cid = stack[-1] if stack else _NONE
            off = nxt()
            b = nxt()
        elif s == CALLISH:
            cid = stack[-1] if stack else _NONE
            off = nxt()
            b = callable_index(nxt())
            c = value_index(nxt())
        elif s == EXC:
            cid = nxt()
            off = nxt()
            b = value_index(nxt())
        elif s == UNWIND:
            cid = nxt()
            off = nxt()
            clock = nxt()
            b = value_index(nxt())
        elif s == THROW:
            cid = nxt()
            off = nxt()
            b = value_index(nxt())
            stack.append(cid)
        elif s == VALUED:
            cid = stack[-1] if stack else _NONE
            off = nxt()
            b = value_index(nxt())
        else:
            cid = stack[-1] if stack else _NONE
            off = nxt()
        depth = len(stack) - 1
        if s in (EXIT, UNWIND):
            if stack and (s == EXIT or stack[-1] == cid):
                stack.pop()
            else:  # an exit of a frame entered before recording (with-block's caller)
                depth = 0
        if not keep[k]:
            continue
        if n >= max_events:
            dropped += 1
            continue
        kinds.append(k)
        codes.append(cid)
        col_a.append(off)
        col_b.append(b)
        col_c.append(c)
        depths.append(depth)
        threads_col.append(thread)
        if clock is not None:
            time_index.append(n)
            time_ns.append(clock - t0)
        n += 1

    out = Decoded()
    out.kind = array("B", kinds)
    out.code = _narrow(codes)
    out.a = _narrow(col_a)
    out.b = _narrow(col_b)
    out.c = _narrow(col_c)
    out.depth = _narrow(depths)
    out.thread = _narrow(threads_col) if len(thread_ids) > 1 else array("b", repeat(0, n))
    out.time_index = array("I", time_index)
    out.time_ns = array("q", time_ns)
    out.values = values
    out.threads = list(thread_ids)
    out.count = n
    out.dropped = dropped
    return out
