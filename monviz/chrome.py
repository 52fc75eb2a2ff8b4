"""A trace as Chrome Trace Event JSON: what VizTracer writes, Perfetto and chrome://tracing open.

The JSON Object Format of Google's "Trace Event Format" document::

    {"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {...}}

* A **call** is a duration slice on its thread: a ``B`` event where a frame opens
  (PY_START, PY_RESUME, PY_THROW) and an ``E`` event where it closes (PY_RETURN,
  PY_YIELD, PY_UNWIND), named by the code object's qualname. A generator's frame is
  one slice per resumption, as sys.monitoring reports it. Frames still open when the
  trace ends (a capped trace, Ctrl-C) are closed at its last timestamp, innermost
  first, with ``"unfinished": true``.
* **Every other event** (LINE, BRANCH/JUMP, CALL, RAISE...) is an instant event
  (``"ph": "i"``, thread-scoped) named by its kind.
* ``args`` carry what monviz knows of the event (an ``E`` event's with ``end_`` before
  each name, as the viewers merge a slice's B and E args): its index in the trace, the code
  object (qualname and ``code_id``, which indexes ``otherData.codes``: file and first
  line), offset, line, the destination of a jump or branch, callable and arg0,
  value or exception (as recorded: reprs).
* ``tid`` is the trace's thread number (0 is the thread that recorded), ``pid``
  this process; ``M`` events name the process and threads.

**The clock.** monviz times frame events only (start, return, unwind: see
``Trace.time_of``), because reading a clock costs more than recording an event.
The others get times spread evenly between the timed events around them (by
index), so instants sit in order inside their slice. A trace that kept no frame
event (``events=["LINE"]``) has no time at all: it uses the event index, 1 µs per
event, and says so in ``otherData.clock``. ``ts`` is in microseconds, as the format requires.
"""

from __future__ import annotations

import gzip
import json
import os
import pathlib
from typing import TYPE_CHECKING

from . import _stream

if TYPE_CHECKING:
    from .trace import Trace

#: Instant events' category, by event (Perfetto and chrome://tracing filter on it).
CATEGORY = {"LINE": "line", "INSTRUCTION": "line", "JUMP": "branch", "BRANCH": "branch",
            "BRANCH_LEFT": "branch", "BRANCH_RIGHT": "branch", "CALL": "call",
            "C_RETURN": "call", "C_RAISE": "call", "RAISE": "exception",
            "RERAISE": "exception", "EXCEPTION_HANDLED": "exception",
            "STOP_ITERATION": "exception"}


def _clock(trace: Trace) -> tuple[list[float], str]:
    """A time in µs for every event (see the module docstring), and how it was found."""
    n = len(trace)
    rows = trace._rows("time_ns")
    times = trace._d.time_ns
    if not len(rows) or len(times) != len(rows):  # no times kept (or not for every row)
        return [float(i) for i in range(n)], "event index (1 µs per event): no times recorded"
    out = [0.0] * n
    last_i, last_t = 0, float(times[0])
    for j, i in enumerate(rows):
        t = max(float(times[j]), last_t)
        if i > last_i:  # spread the untimed events between the two timed ones
            step = (t - last_t) / (i - last_i)
            for k in range(last_i + 1, i):
                out[k] = last_t + step * (k - last_i)
        out[i] = t
        last_i, last_t = i, t
    for k in range(last_i + 1, n):  # after the last timed event: 1 ns apart
        out[k] = last_t + (k - last_i)
    for k in range(rows[0]):  # before the first: at the first
        out[k] = float(times[0])
    return [t / 1000.0 for t in out], ("ns since the recording started; untimed events "
                                       "spread between timed ones")


def chrome_trace(trace: Trace) -> dict:
    """The trace as a Chrome Trace Event JSON object (a dict ready for ``json.dump``)."""
    from . import __version__

    layout = _stream.Layout.of(trace.kind_names)
    ts, clock = _clock(trace)
    pid = os.getpid()
    infos = trace.code_infos()
    index = {id(info): cid for cid, info in enumerate(infos)}
    threads = trace.threads
    tid_of = {ident: k for k, ident in enumerate(threads)}
    events: list[dict] = [
        {"name": "process_name", "ph": "M", "pid": pid, "tid": 0,
         "args": {"name": f"monviz: Python {trace.python}"}}]
    for k, ident in enumerate(threads):
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": k,
                       "args": {"name": f"thread {k} (ident {ident})"}})
    stacks: dict[int, list[str]] = {}
    kind_of = {name: k for k, name in enumerate(trace.kind_names)}
    for ev in trace:
        tid = tid_of.get(ev.thread, 0)
        k = kind_of[ev.event]
        cid = index.get(id(ev.code), -1)
        args = {"index": ev.index, "code": ev.code.qualname, "code_id": cid}
        for name in ("offset", "line", "target", "callable", "arg0", "value", "exception"):
            value = getattr(ev, name)
            if value is not None:
                args["destination" if name == "target" else name] = value
        if layout.push[k]:
            stacks.setdefault(tid, []).append(ev.code.qualname)
            events.append({"name": ev.code.qualname, "cat": "frame", "ph": "B", "ts": ts[ev.index],
                           "pid": pid, "tid": tid, "args": {"event": ev.event, **args}})
        elif layout.pop[k] and stacks.get(tid):
            # the viewers merge B's and E's args into the slice's: E's keys must be others
            end = {f"end_{key}": value for key, value in args.items()
                   if key not in ("code", "code_id")}
            events.append({"name": stacks[tid].pop(), "cat": "frame", "ph": "E",
                           "ts": ts[ev.index], "pid": pid, "tid": tid,
                           "args": {"end_event": ev.event, **end}})
        else:  # every other event (and a close whose opening was not recorded)
            events.append({"name": ev.event, "cat": CATEGORY.get(ev.event, "frame"), "ph": "i",
                           "s": "t", "ts": ts[ev.index], "pid": pid, "tid": tid, "args": args})
    end = ts[-1] if ts else 0.0
    for tid, stack in stacks.items():
        while stack:
            events.append({"name": stack.pop(), "cat": "frame", "ph": "E", "ts": end,
                           "pid": pid, "tid": tid, "args": {"unfinished": True}})
    return {
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {
            "producer": f"monviz {__version__}", "python": trace.python,
            "events": len(trace), "recorded": list(trace.events), "clock": clock,
            "truncated": trace.truncated, "dropped": trace.dropped,
            "exception": trace.exception_repr,
            # args.code_id indexes this: each code object's file and first line, once
            "codes": [{"code_id": cid, "qualname": info.qualname, "file": info.filename,
                       "firstlineno": info.firstlineno} for cid, info in enumerate(infos)],
        },
    }


def save_chrome_trace(trace: Trace, path) -> pathlib.Path:
    """Write :func:`chrome_trace` as compact UTF-8 JSON, gzip'd when ``path`` ends in
    ``.gz`` (Perfetto and chrome://tracing open both; ~20x smaller); the path written."""
    path = pathlib.Path(path)
    # dumps, not dump: json.dump streams through the pure-Python encoder, ~5x slower
    data = json.dumps(chrome_trace(trace), ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=6, mtime=0)
    path.write_bytes(data)
    return path
