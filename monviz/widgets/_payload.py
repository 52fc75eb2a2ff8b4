"""A Trace as the Timeline widget receives it: some JSON and a few binary buffers.

The Trace already keeps its events as narrow ``array`` columns (see
:mod:`monviz._stream`), so the buffers are those columns' bytes — one memcpy
each, no per-event Python work, about 4-10 bytes per event on the wire. The
browser widens the runs (code object, thread) into dense columns and derives
what it needs (spans, line of each event, ranks into the sparse tables) in a
few typed-array passes.

What the JavaScript side relies on:

* ``kind`` (one byte per event) indexes ``meta["kinds"]``, which says per kind:
  its name, colour and catalogue meaning, whether ``a`` is a line (LINE) or a
  bytecode offset, whether it opens a frame (``push``), and which value field
  (``value``/``exception``) its entry in ``value_ids`` fills.
* ``jump_dest``, ``time_ns``, ``value_ids``, ``call_func`` and ``call_arg0`` are
  rank-ordered: the n-th entry belongs to the n-th event whose kind is listed
  for that table in ``meta["tables"]``.
* ``code_start``/``code_id`` and ``thread_start``/``thread_idx`` are runs.
* ``values`` is the UTF-8 JSON list of value strings the tables index.

Chunks (issue 17). The columns are cut into chunks of consecutive events
(:class:`Chunks`): chunk ``k`` holds events ``[start, end)`` — the dense columns'
slices, the runs that cover them (the first one's start moved to ``start``), and
each rank-ordered table's slice from the chunk's first rank (``ranks``). A trace
of at most :data:`STREAM_ABOVE` events is one chunk: the buffers are then exactly
the columns (a report always is). Past that, the Timeline widget sends chunk 0 and
``meta["stream"]`` (chunk size and count, each table's full length, the deepest
depth and the count per kind, so the view lays out for the whole trace at once);
the browser draws and steps at once and asks for the other chunks (and the value
strings) with custom messages, in order, appending each as it comes. Measured at
10M events in JupyterLab (benchmarks/widgets.py): sending it all at once took 11.7 s
before the first draw, almost all of it the comm carrying 75 MB.

A browser that can inflate (``DecompressionStream``) asks for the later chunks and the
value strings deflated: each buffer zlib-compressed (:data:`DEFLATE_LEVEL`), about a
tenth of the bytes for the mixed program of benchmarks/report.py. In JupyterLab, Chromium
spends ~100 ms of the page's main thread receiving a 7 MB message, and a step waits for
it: at 10M events, with the chunks received and thrown away unread, steps while loading
took p95 87 ms as sent and 26 ms deflated.
"""

from __future__ import annotations

import bisect
import json
import linecache
import zlib
from array import array
from itertools import chain
from typing import TYPE_CHECKING

from .. import _stream
from ..render.timeline import CODE_COLOURS, cap_notice, kind_colour, kind_meaning
from ..trace import kinds_present
from ..values import text_list

if TYPE_CHECKING:
    from ..trace import Trace

FORMAT_VERSION = 1

#: array typecode -> the name of the JavaScript typed array it becomes
TYPES = {"b": "i8", "B": "u8", "h": "i16", "H": "u16", "i": "i32", "I": "u32",
         "l": "i64", "L": "u64", "q": "i64", "Q": "u64"}

#: The columns sent, in the order they are listed in the payload.
COLUMNS = ("kind", "a", "depth", "code_start", "code_id", "thread_start", "thread_idx",
           "jump_dest", "time_ns", "value_ids", "call_func", "call_arg0")

#: Source text sent for files the trace did not keep (live code of other files), at most.
SOURCE_BUDGET = 4 << 20

#: A Timeline of more events than this streams its columns in chunks (a report never does).
STREAM_ABOVE = 2_000_000
#: Events per chunk when streaming (about 7 MB of columns).
CHUNK = 1 << 20
#: The rank-ordered tables (``meta["tables"]`` names which kinds have a row in each).
TABLES = ("jump_dest", "time_ns", "value_ids", "call_func", "call_arg0")
DENSE = ("kind", "a", "depth")
#: The run columns: (first row of each run, its value).
RUNS = (("code_start", "code_id"), ("thread_start", "thread_idx"))
#: zlib level of the chunks sent deflated (1: ~80 ms per 1M-event chunk in the kernel, ~10x
#: smaller; higher levels gain a few percent for several times the time)
DEFLATE_LEVEL = 1


def deflate(data: bytes) -> bytes:
    """``data`` zlib-compressed, as the browser's ``DecompressionStream("deflate")`` reads it."""
    return zlib.compress(data, DEFLATE_LEVEL)


def _depth_column(trace: Trace) -> array | memoryview:
    depth = trace.depths()
    if isinstance(depth, array | memoryview):
        return depth
    return _stream.narrow(depth, max(depth, default=0), signed=False)


def _column(trace: Trace, name: str) -> array | memoryview:
    """A column as stored: an ``array``, or a ``memoryview`` of the compiled backend's."""
    if name == "depth":
        return _depth_column(trace)
    col = getattr(trace._d, name)
    return col if isinstance(col, array | memoryview) else array("q", col)


def values_buffer(trace: Trace) -> bytes:
    """The value strings the tables index, as UTF-8 JSON."""
    return json.dumps(text_list(trace._d.values), ensure_ascii=False).encode()


def columns(trace: Trace) -> tuple[dict[str, bytes], dict[str, dict]]:
    """The binary buffers (name -> bytes) and their descriptions (type, length), whole."""
    head, buffers = Chunks(trace, max(len(trace), 1)).chunk(0)
    buffers["values"] = values_buffer(trace)
    return buffers, head["columns"]


class Chunks:
    """The trace's columns cut into chunks of ``size`` events (see the module docstring).

    Nothing is copied until a chunk is asked for; the ranks at the chunk boundaries
    come from ``bytes.count`` per kind and chunk, so no Python loop runs per event.
    """

    def __init__(self, trace: Trace, size: int) -> None:
        self.trace = trace
        self.size = size
        n = len(trace)
        self.count = max(1, -(-n // size))
        self.cols = {name: _column(trace, name) for name in COLUMNS}
        kinds = _stream.as_bytes(trace._d.kind)
        present = range(len(trace.kind_names))
        totals = [kinds.count(bytes([k])) for k in present]
        if sum(totals) != n:  # kinds the names do not cover (never recorded; cheap check)
            present = range(max(kinds) + 1)
            totals = [kinds.count(bytes([k])) for k in present]
        present = [k for k in present if totals[k]]
        layout = _stream.Layout.of(trace.kind_names)
        #: per table, its first rank in each chunk (and its length at the end)
        self.ranks = {name: [0] for name in TABLES}
        for c in range(self.count):
            s, e = self.bounds(c)
            per = ({k: totals[k] for k in present} if self.count == 1
                   else {k: kinds.count(bytes([k]), s, e) for k in present})
            for name in TABLES:
                flags = layout.tables[name]
                self.ranks[name].append(self.ranks[name][-1]
                                        + sum(v for k, v in per.items() if flags[k]))
        self.kind_counts = totals

    def bounds(self, c: int) -> tuple[int, int]:
        return c * self.size, min((c + 1) * self.size, len(self.trace))

    def _runs(self, starts_name: str, ids_name: str, s: int, e: int) -> tuple[array, array]:
        starts, ids = self.cols[starts_name], self.cols[ids_name]
        code = _stream.typecode(starts)
        if not len(starts) or s >= e:
            return array(code), array(_stream.typecode(ids))
        j0 = max(bisect.bisect_right(starts, s) - 1, 0)
        j1 = bisect.bisect_left(starts, e)
        try:
            first = array(code, [s])
        except OverflowError:  # a chunk can start past the last run's start: widen
            first = array("I", [s])
            first.extend(list(starts[j0 + 1:j1]))
        else:
            first.frombytes(starts[j0 + 1:j1].tobytes())
        return first, array(_stream.typecode(ids), ids[j0:j1].tobytes())

    def chunk(self, c: int, deflated: bool = False) -> tuple[dict, dict[str, bytes]]:
        """Chunk ``c``: its header (``start``, ``end``, ``ranks``, ``columns``) and buffers
        (each one :func:`deflate`-d if ``deflated``: the header then says ``deflate``)."""
        s, e = self.bounds(c)
        buffers: dict[str, bytes] = {}
        described: dict[str, dict] = {}

        def put(name: str, col) -> None:
            buffers[name] = col.tobytes()
            described[name] = {"type": TYPES[_stream.typecode(col)], "length": len(col)}

        for name in DENSE:
            put(name, self.cols[name][s:e])
        for starts, ids in RUNS:
            first, values = self._runs(starts, ids, s, e)
            put(starts, first)
            put(ids, values)
        ranks = {}
        for name in TABLES:
            r0, r1 = self.ranks[name][c], self.ranks[name][c + 1]
            put(name, self.cols[name][r0:r1])
            ranks[name] = r0
        head = {"index": c, "start": s, "end": e, "ranks": ranks, "columns": described,
                "names": list(buffers)}
        if deflated:
            buffers = {name: deflate(data) for name, data in buffers.items()}
            head["deflate"] = True
        return head, buffers

    def plan(self) -> dict:
        """What the browser needs to lay out the whole trace before it has all of it."""
        depth = self.cols["depth"]
        return {"size": self.size, "chunks": self.count,
                "totals": {name: self.ranks[name][-1] for name in TABLES},
                "max_depth": _max(depth), "kind_counts": self.kind_counts}


def _max(col) -> int:
    """The largest value of a column (one-byte columns: a memchr per value, no Python pass)."""
    if not len(col):
        return 0
    if _stream.typecode(col) == "B":
        return kinds_present(_stream.as_bytes(col), 256)[-1]
    return max(col)


def _kinds(trace: Trace) -> tuple[list[dict], dict[str, list[int]]]:
    layout = _stream.Layout.of(trace.kind_names)
    kinds = []
    for k, name in enumerate(trace.kind_names):
        shape = _stream.shape(name)
        field = None
        if layout.values[k]:
            field = "value" if shape == _stream.EXIT else "exception"
        kinds.append({"name": name, "colour": kind_colour(name), "meaning": kind_meaning(name),
                      "line": shape == _stream.LINE, "push": bool(layout.push[k]),
                      "pop": bool(layout.pop[k]), "field": field})
    tables = {name: [k for k in range(len(trace.kind_names)) if table[k]]
              for name, table in layout.tables.items()}
    return kinds, tables


def _flat(rows, none: int = -1) -> list[int]:
    return [none if v is None else v for v in chain.from_iterable(rows)]


def _codes(trace: Trace) -> tuple[list[dict], list[dict]]:
    """Code objects (line tables; ``co_positions`` of those that ran) and their files' text."""
    used = set(trace._d.code_id)
    files: dict[str, int] = {}
    texts: list[dict] = []
    budget = SOURCE_BUDGET
    codes = []
    for cid, info in enumerate(trace.code_infos()):
        entry = {"qualname": info.qualname, "filename": info.filename,
                 "firstlineno": info.firstlineno, "lines": _flat(info.line_table),
                 "positions": None, "file": -1}
        if cid in used:
            if info.code is not None:
                entry["positions"] = _flat(info.code.co_positions())
            if info.filename not in files:
                files[info.filename] = len(texts)
                text = trace.source_of(info)
                if text is None and info.code is not None and budget > 0:
                    text = "".join(linecache.getlines(info.filename)) or None
                    budget -= len(text or "")
                texts.append({"name": info.filename, "source": text})
            entry["file"] = files[info.filename]
        codes.append(entry)
    return codes, texts


def meta(trace: Trace, described: dict[str, dict]) -> dict:
    """Everything but the buffers, as JSON-able values."""
    kinds, tables = _kinds(trace)
    codes, files = _codes(trace)
    return {
        "version": FORMAT_VERSION, "n": len(trace), "python": trace.python,
        "truncated": trace.truncated, "dropped": trace.dropped, "cap": cap_notice(trace),
        "exception": trace.exception_repr, "threads": list(trace._d.threads),
        "kinds": kinds, "tables": tables, "codes": codes, "files": files,
        "columns": described, "code_colours": list(CODE_COLOURS),
    }


#: The columns of a values recording (:class:`monviz.frames.FrameValues`), as int32.
VALUE_COLUMNS = ("point_event", "point_frame", "parents", "changes", "heap")


def frame_values(trace: Trace) -> tuple[dict | None, dict[str, bytes]]:
    """The variables per step of a ``values=True`` trace: meta and ``fv_*`` buffers.

    The browser answers "frames and locals at step i" from these the way
    :meth:`FrameValues.frames_at` does (bisect into per-frame and per-object changes).
    """
    values = trace.values
    if values is None:
        return None, {}
    buffers = {f"fv_{name}": array("i", getattr(values, name)).tobytes()
               for name in VALUE_COLUMNS}
    buffers["fv_texts"] = json.dumps(values.texts, ensure_ascii=False).encode()
    info = {"names": values.names, "frame_code": values.frame_code,
            "frame_module": values.frame_module,
            "point_kind": list(values.point_kind), "points": len(values)}
    return info, buffers


def build(trace: Trace, chunk: int | None = None) -> tuple[dict, dict[str, bytes]]:
    """``(meta, buffers)`` for the Timeline widget: the whole trace, or (``chunk`` events
    per chunk, fewer than the trace has) its first chunk and the plan of the rest."""
    return build_chunked(trace, chunk)[:2]


def build_chunked(trace: Trace, chunk: int | None = None
                  ) -> tuple[dict, dict[str, bytes], Chunks]:
    """:func:`build`, and the :class:`Chunks` that answer for the other chunks."""
    size = max(len(trace), 1) if chunk is None or chunk >= len(trace) else chunk
    cuts = Chunks(trace, size)
    head, buffers = cuts.chunk(0)
    info = meta(trace, head["columns"])
    info["stream"] = cuts.plan()
    info["first"] = head
    if cuts.count == 1:
        buffers["values"] = values_buffer(trace)
    info["frame_values"], extra = frame_values(trace)
    buffers.update(extra)
    return info, buffers, cuts


def nbytes(payload: tuple[dict, dict[str, bytes]]) -> int:
    """Bytes sent: the buffers plus the JSON."""
    info, buffers = payload
    return sum(map(len, buffers.values())) + len(json.dumps(info))
