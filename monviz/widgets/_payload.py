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
"""

from __future__ import annotations

import json
import linecache
from array import array
from itertools import chain
from typing import TYPE_CHECKING

from .. import _stream
from ..render.timeline import CODE_COLOURS, cap_notice, kind_colour, kind_meaning
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


def columns(trace: Trace) -> tuple[dict[str, bytes], dict[str, dict]]:
    """The binary buffers (name -> bytes) and their descriptions (type, length)."""
    buffers: dict[str, bytes] = {}
    described: dict[str, dict] = {}
    for name in COLUMNS:
        col = _column(trace, name)
        buffers[name] = col.tobytes()
        described[name] = {"type": TYPES[_stream.typecode(col)], "length": len(col)}
    buffers["values"] = json.dumps(text_list(trace._d.values), ensure_ascii=False).encode()
    return buffers, described


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


def build(trace: Trace) -> tuple[dict, dict[str, bytes]]:
    """``(meta, buffers)`` for the Timeline widget."""
    buffers, described = columns(trace)
    info = meta(trace, described)
    info["frame_values"], extra = frame_values(trace)
    buffers.update(extra)
    return info, buffers


def nbytes(payload: tuple[dict, dict[str, bytes]]) -> int:
    """Bytes sent: the buffers plus the JSON."""
    info, buffers = payload
    return sum(map(len, buffers.values())) + len(json.dumps(info))
