"""The Trace: what a recording produced, stored as compact columns.

One row per event, in the order ``sys.monitoring`` delivered them. The columns
are ``array`` objects of the narrowest integer type that fits (about 10-20
bytes per event in all); values (reprs of return values, arguments,
exceptions, callables) live once each in a table of strings. Code objects are
described by :class:`CodeInfo`, which survives a JSON round trip, so a saved
trace can still be shown, with its source.
"""

from __future__ import annotations

import bisect
import json
import linecache
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from itertools import accumulate, chain, compress, repeat
from operator import or_, sub
from types import CodeType
from typing import NamedTuple

from . import _stream
from .scope import is_user_file
from .values import text_list

FORMAT = "monviz-trace"
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=True)
class CodeInfo:
    """A stable description of a code object: what a saved trace keeps of it."""

    qualname: str
    filename: str
    firstlineno: int
    #: ``(start, end, line)`` ranges of ``co_lines()``; offsets in cache entries included.
    line_table: tuple[tuple[int, int, int | None], ...] = field(repr=False, compare=False)
    code: CodeType | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, code: CodeType) -> CodeInfo:
        return cls(code.co_qualname, code.co_filename, code.co_firstlineno,
                   tuple(code.co_lines()), code)

    def line_for(self, offset: int) -> int | None:
        """The source line of a bytecode offset (``None`` for compiler plumbing)."""
        table = self.line_table
        i = bisect.bisect_right(table, (offset, sys.maxsize, sys.maxsize)) - 1
        if i >= 0 and table[i][0] <= offset < table[i][1]:
            return table[i][2]
        return None

    @property
    def location(self) -> str:
        return f"{self.filename}:{self.firstlineno}"

    def __str__(self) -> str:
        return f"{self.qualname} ({self.location})"

    def to_dict(self) -> dict:
        return {"qualname": self.qualname, "filename": self.filename,
                "firstlineno": self.firstlineno, "lines": [list(r) for r in self.line_table]}

    @classmethod
    def from_dict(cls, d: dict) -> CodeInfo:
        return cls(d["qualname"], d["filename"], d["firstlineno"],
                   tuple(tuple(r) for r in d["lines"]))


UNKNOWN_CODE = CodeInfo("<unknown>", "<unknown>", 0, ())


class Event(NamedTuple):
    """One event as ``sys.monitoring`` delivered it."""

    index: int
    event: str
    code: CodeInfo
    offset: int | None
    line: int | None
    target: int | None
    callable: str | None
    arg0: str | None
    value: str | None
    exception: str | None
    depth: int
    thread: int
    time_ns: int | None


FIELDS = Event._fields
#: Rows per block of the rank marks (:meth:`Trace._rank`): a lookup counts at most this
#: many kinds; the marks are one int per block and table.
_BLOCK = 1024
#: Within this many blocks of either end, a lookup counts from that end (no marks).
_NEAR_BLOCKS = 16
#: After ``len(trace) >> _WARM_SHIFT`` lookups (and at least ``_WARM_MIN``), the full
#: row indexes are built: what they cost is then repaid by lookups in O(log n).
_WARM_SHIFT, _WARM_MIN = 8, 256
#: Runs per group when counting (:meth:`Trace._run_counts`).
_CHUNK = 32
#: A run content longer than this is counted with one ``bytes.count`` per kind present.
_LONG_RUN = 64
_VALUE_FIELD = {_stream.EXIT: "value", _stream.EXC: "exception", _stream.UNWIND: "exception",
                _stream.THROW: "exception", _stream.VALUED: "exception"}
_ARRAYS = _stream.PACKED


class Trace:
    """The events of one recording. Index it, iterate it, query it, save it.

    Storage (see :mod:`monviz._stream`): dense arrays for each event's kind and
    offset (or line), sparse tables for the rest; about 10-20 bytes per event.
    """

    def __init__(self, data: _stream.Decoded, *, kind_names: Iterable[str],
                 codes: list[CodeInfo], sources: dict[str, str] | None = None,
                 truncated: bool = False, exception: BaseException | None = None,
                 exception_repr: str | None = None, python: str = "", events: Iterable[str] = ()):
        self._d = data
        self.kind_names = tuple(kind_names)
        self._codes = codes
        self.sources = dict(sources or {})
        self.truncated = truncated
        self.exception = exception
        self.exception_repr = exception_repr if exception is None else _exc_text(exception)
        self.python = python or "{}.{}.{}".format(*sys.version_info[:3])
        self.events = list(events)
        self._shapes = [_stream.shape(n) for n in self.kind_names]
        self._layout = _stream.Layout.of(self.kind_names)
        self._index: dict[str, list[int]] = {}
        self._lookups = 0
        #: the variables per step of a ``values=True`` recording (:mod:`monviz.frames`)
        self._values = None

    def _rows(self, name: str) -> list[int]:
        """Row numbers of a rank-ordered table, derived from the kinds once, on first use."""
        rows = self._index.get(name)
        if rows is None:
            rows = self._index[name] = _stream.rows_for(self._d.kind, self._layout.tables[name])
        return rows

    def _kinds(self) -> bytes:
        """The kind column as ``bytes`` (a copy: 1 byte per event), for C-level passes."""
        return _stream.as_bytes(self._d.kind)

    def _before(self, key: str, table: bytes, i: int, total: int | None = None) -> int:
        """How many rows before row ``i`` have a kind flagged in ``table`` (``total``:
        how many rows have, when known).

        Without building a per-row index: near either end (the first and last
        events a summary shows) the kinds between that end and row ``i`` are
        counted; elsewhere the count at every ``_BLOCK``-th row is kept (one
        ``translate`` and a ``bytes.count`` per block, once per table) and the
        rest of the block is counted on demand.
        """
        kind, near = self._d.kind, _NEAR_BLOCKS * _BLOCK
        if i <= near:
            return _stream.as_bytes(kind[:i]).translate(table).count(1)
        if total is not None and len(kind) - i <= near:
            return total - _stream.as_bytes(kind[i:]).translate(table).count(1)
        marks = self._index.get(key)
        if marks is None:
            flags = self._kinds().translate(table)
            starts = range(0, len(flags), _BLOCK)
            marks = self._index[key] = list(accumulate(
                map(flags.count, repeat(1), starts, range(_BLOCK, len(flags) + _BLOCK, _BLOCK)),
                initial=0))
        start = i - i % _BLOCK
        return marks[start // _BLOCK] + _stream.as_bytes(kind[start:i]).translate(table).count(1)

    def _rank(self, name: str, i: int, k: int, full: bool) -> int | None:
        """Position of row ``i`` (of kind ``k``) in a rank-ordered table, or None when
        rows of that kind have no entry there. ``full``: build the per-row index."""
        table = self._layout.tables[name]
        if not table[k]:
            return None
        rows = self._rows(name) if full else self._index.get(name)
        if rows is not None:
            return bisect.bisect_left(rows, i)
        return self._before(name + "@", table, i, len(getattr(self._d, name)))

    def _depth_at(self, i: int, k: int, full: bool) -> int:
        """The call depth of row ``i``: stored, or what :func:`_stream.derive_depth` gives
        (counted from the frame events before it, without deriving every row's)."""
        d = self._d
        if full or len(d.depth) == len(self) or "depth" in self._index:
            return self.depths()[i]
        layout = self._layout
        level = (d.level0 + self._before("push@", layout.push, i)
                 - self._before("pop@", layout.pop, i))
        return max(level + layout.push[k] - 1, 0)

    def depths(self) -> list[int] | array:
        """The call depth of every event (0 for the outermost recorded frame)."""
        if len(self._d.depth) == len(self):
            return self._d.depth
        depth = self._index.get("depth")
        if depth is None:
            depth = self._index["depth"] = _stream.derive_depth(self._d.kind, self._d.level0,
                                                                self._layout)
        return depth

    @property
    def dropped(self) -> int:
        """Events past ``max_events`` that were raised before monitoring stopped, not kept."""
        return self._d.dropped

    @property
    def threads(self) -> list[int]:
        """Ids (``threading.get_ident()``) of the threads that produced events, the
        recording thread first."""
        d = self._d
        lengths = map(sub, [*d.thread_start[1:], len(self)], d.thread_start)
        used = dict.fromkeys(t for t, n in zip(d.thread_idx, lengths) if n)
        return [d.threads[t] for t in sorted(used, key=lambda t: t != 0)]

    # -- construction --------------------------------------------------------
    @classmethod
    def _from_recording(cls, data: _stream.Decoded, codes: list[CodeType],
                        sources: dict[int, str], *, exception, truncated: bool,
                        events_bits: int) -> Trace:
        from .events import names_of

        infos = [CodeInfo.of(c) for c in codes]
        files: dict[str, str] = {}
        for code in codes:
            if id(code) in sources:
                files[code.co_filename] = sources[id(code)]
        for info in infos:
            if info.filename not in files and is_user_file(info.filename):
                text = "".join(linecache.getlines(info.filename))
                if text:
                    files[info.filename] = text
        return cls(data, kind_names=_stream.KINDS, codes=infos, sources=files,
                   truncated=truncated, exception=exception, events=names_of(events_bits))

    def _with(self, data: _stream.Decoded) -> Trace:
        return Trace(data, kind_names=self.kind_names, codes=self._codes, sources=self.sources,
                     truncated=self.truncated, exception=self.exception,
                     exception_repr=self.exception_repr, python=self.python, events=self.events)

    # -- sequence protocol ---------------------------------------------------
    def __len__(self) -> int:
        return len(self._d.kind)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"event index {i} out of range for a trace of {n} events")
        return self._event(i)

    def __iter__(self) -> Iterator[Event]:
        return (self._event(i) for i in range(len(self)))

    def _event(self, i: int) -> Event:
        d = self._d
        self._lookups += 1  # the first lookups use rank marks; many, the full indexes
        full = self._lookups > max(_WARM_MIN, len(d.kind) >> _WARM_SHIFT)
        k = d.kind[i]
        name, shape = self.kind_names[k], self._shapes[k]
        cid = d.code_id[bisect.bisect_right(d.code_start, i) - 1]
        info = self._codes[cid] if cid >= 0 else UNKNOWN_CODE
        a = d.a[i]
        value = exception = target = func = arg0 = None
        if shape == _stream.JUMPISH:
            target = d.jump_dest[self._rank("jump_dest", i, k, full)]
        elif shape == _stream.CALLISH:
            j = self._rank("call_func", i, k, full)
            func, arg0 = d.values[d.call_func[j]], d.values[d.call_arg0[j]]
        elif shape in _VALUE_FIELD:
            text = d.values[d.value_ids[self._rank("value_ids", i, k, full)]]
            if _VALUE_FIELD[shape] == "value":
                value = text
            else:
                exception = text
        is_line = shape == _stream.LINE
        thread = d.thread_idx[bisect.bisect_right(d.thread_start, i) - 1]
        j = self._rank("time_ns", i, k, full)
        return Event(i, name, info, None if is_line else a, a if is_line else info.line_for(a),
                     target, func, arg0, value, exception, self._depth_at(i, k, full),
                     d.threads[thread], None if j is None else d.time_ns[j])

    def time_of(self, i: int) -> int | None:
        """ns since the recording started, for frame events; ``None`` for others."""
        if not 0 <= i < len(self):
            return None
        j = self._rank("time_ns", i, self._d.kind[i], False)
        return None if j is None else self._d.time_ns[j]

    def _run_lengths(self) -> tuple[array | memoryview, bytes]:
        """The first rows of the runs of one code object, as a column whose lanes hold
        the row count too, and the length of each run in lanes of the same width."""
        n, column = len(self), self._d.code_start
        if n >> (8 * column.itemsize - 1):  # a hand-made file's starts: too narrow
            column = array("q", _ints(column))
        width = column.itemsize
        starts = _stream.as_bytes(column)
        ends = starts[width:] + n.to_bytes(width, sys.byteorder)
        # ends - starts, lane by lane: no lane borrows, since runs do not end before they start
        lengths = (int.from_bytes(ends, sys.byteorder)
                   - int.from_bytes(starts, sys.byteorder)).to_bytes(len(starts), sys.byteorder)
        return column, lengths

    def _code_runs(self) -> list[tuple[int, int]]:
        """(code index, length) of each run of events of one code object."""
        d = self._d
        return list(zip(d.code_id, map(sub, [*d.code_start[1:], len(self)], d.code_start)))

    def code_ids(self) -> list[int]:
        """The code index (into :meth:`code_infos`) of every event; -1 when unknown."""
        ids = self._index.get("code")
        if ids is None:
            runs = self._code_runs()
            ids = self._index["code"] = list(chain.from_iterable(repeat(c, n) for c, n in runs))
        return ids

    def code_infos(self) -> list[CodeInfo]:
        """Every code object the recording watched, by code index."""
        return list(self._codes)

    # -- queries -------------------------------------------------------------
    def to_records(self) -> list[dict]:
        """Plain dicts with the :class:`Event` field names; ``code`` is the qualname."""
        return [{**ev._asdict(), "code": ev.code.qualname} for ev in self]

    def codes(self) -> list[CodeInfo]:
        """The code objects that produced events, in order of first event.

        The code index of each run, less the empty runs (a filter leaves them): a
        run is empty when every byte of its length is 0 (the bytes ORed, plane by
        plane, as big integers).
        """
        column, lengths = self._run_lengths()
        w, runs, order = column.itemsize, len(column), sys.byteorder
        planes = (int.from_bytes(lengths[j::w], order) for j in range(w))
        used = reduce(or_, planes, 0).to_bytes(runs, order)
        ids = self._d.code_id
        if ids.itemsize == 1:  # the usual case: each distinct byte found by memchr
            flat = _stream.as_bytes(ids)
            if 0 in used:
                flat = bytes(compress(flat, used))
            seen = sorted(kinds_present(flat, len(self._codes)), key=flat.find)
            seen = array(_stream.typecode(ids), bytes(seen))
        else:
            seen = dict.fromkeys(compress(_ints(ids), used) if 0 in used else _ints(ids))
        return [self._codes[c] if c >= 0 else UNKNOWN_CODE for c in seen]

    def counts(self) -> dict[CodeInfo, dict[str, int]]:
        """Events per code object and event name.

        From the runs of one code object, never per event (see :meth:`_run_counts`):
        a ``Counter`` of each distinct run's kinds when short, a ``bytes.count`` per
        kind present when long.
        """
        kinds = self._kinds()
        runs = self._run_counts(kinds)
        long = any(len(r) > _LONG_RUN for _, r in runs)
        present = kinds_present(kinds, len(self.kind_names)) if long else ()
        per_code: dict[int, Counter] = {}
        for (cid, run), times in runs.items():
            row = per_code.setdefault(cid, Counter())
            if len(run) > _LONG_RUN:
                for k in present:
                    row[k] += run.count(k) * times
            else:
                for k, n in Counter(run).items():
                    row[k] += n * times
        merged: dict[CodeInfo, Counter] = {}
        for cid in sorted(per_code):  # code objects that look the same (IPython compiles
            # each top-level statement of a cell as its own <module>) share one row
            info = self._codes[cid] if cid >= 0 else UNKNOWN_CODE
            merged.setdefault(info, Counter()).update(per_code[cid])
        return {info: {self.kind_names[k]: n for k, n in sorted(row.items()) if n}
                for info, row in merged.items() if any(row.values())}

    def _run_counts(self, kinds: bytes) -> Counter:
        """How often each ``(code index, kinds of the run)`` occurs among the runs.

        A program repeats itself (loops, calls), and so do its runs: they are
        taken ``_CHUNK`` at a time, each group keyed by its code indexes, run
        lengths and kinds (three byte strings sliced from the columns: one
        Python-level step per group, none per run), and only the distinct groups
        are split into their runs.
        """
        d = self._d
        n = len(kinds)
        column, lengths = self._run_lengths()
        width = column.itemsize
        codes, cw = _stream.as_bytes(d.code_id), d.code_id.itemsize
        first = _ints(column[::_CHUNK])
        last = first[1:]
        last.append(n)
        runs = len(d.code_id)

        def cuts(data: bytes, w: int):  # the groups' slices of a run column (w bytes a run)
            step = _CHUNK * w
            return map(data.__getitem__, map(slice, range(0, runs * w, step),
                                             range(step, runs * w + step, step)))

        groups = Counter(zip(cuts(codes, cw), cuts(lengths, width),
                             map(kinds.__getitem__, map(slice, first, last))))
        out: Counter = Counter()
        code_type, length_type = _stream.typecode(d.code_id), _stream.typecode(column)
        for (ids, lens, group), times in groups.items():
            at = 0
            for cid, length in zip(array(code_type, ids), array(length_type, lens)):
                out[cid, group[at:at + length]] += times
                at += length
        return out

    def totals(self) -> dict[str, int]:
        """Events per event name, in catalogue order (a ``bytes.count`` per kind present)."""
        kinds = self._kinds()
        return {self.kind_names[k]: kinds.count(k)
                for k in kinds_present(kinds, len(self.kind_names))}

    def filter(self, events=None, code=None) -> Trace:
        """A new trace with only the given events (names or groups) and/or code objects.

        ``code`` may be a qualname, a :class:`CodeInfo`, a code object, a function,
        or a list of those.
        """
        keep = [1] * len(self)
        if events is not None:
            from .events import names_of, parse_events

            wanted = set(names_of(parse_events(events)))
            table = [1 if n in wanted else 0 for n in self.kind_names]
            keep = list(map(table.__getitem__, self._d.kind))
        if code is not None:
            cids = self._match_codes(code)
            keep = [kp and cid in cids for kp, cid in zip(keep, self.code_ids())]
        return self._subset(bytes(map(bool, keep)))

    def _match_codes(self, code) -> set[int]:
        items = code if isinstance(code, list | tuple | set) else [code]
        out = set()
        for item in items:
            item = getattr(item, "__code__", item)
            for cid, info in enumerate(self._codes):
                if (info == item or (isinstance(item, CodeType) and info.code is item)
                        or info.qualname == item):
                    out.add(cid)
        return out

    def _subset(self, keep: bytes) -> Trace:
        d = _stream.unpack(self._d)
        _stream.drop_rows(d, keep, self._layout)
        _stream.pack(d)
        return self._with(d)

    def _without_tail(self, drop) -> Trace:
        """This trace less its last events for which ``drop(event)`` holds."""
        n = len(self)
        while n and drop(self[n - 1]):
            n -= 1
        if n == len(self):
            return self
        d = _stream.unpack(self._d)
        _stream.cut(d, n, self._layout)
        _stream.pack(d)
        out = self._with(d)
        if self._values is not None:
            out._values = self._values.cut(n)
        return out

    def source_of(self, info: CodeInfo) -> str | None:
        """The source text of the file a code object came from, if known."""
        return self.sources.get(info.filename)

    @property
    def nbytes(self) -> int:
        """Bytes in the per-event arrays (not the values table, code infos or indexes)."""
        return sum(getattr(self._d, name).itemsize * len(getattr(self._d, name))
                   for name in _ARRAYS)

    # -- variables (values=True) ---------------------------------------------------
    @property
    def values(self):
        """The captured variables (a :class:`~monviz.frames.FrameValues`), or None if the
        recording was made without ``values=True`` (or this trace is a ``filter()`` of one)."""
        return self._values

    def _need_values(self):
        if self._values is None:
            from .errors import MonvizError

            raise MonvizError("this trace holds no variable values: record with values=True "
                              "(record(..., values=True), Recorder(values=True), "
                              "%%monitor --values, monviz run --values)")
        return self._values

    def frames_at(self, i: int) -> list:
        """The call stack at event ``i``, outermost first: each :class:`~monviz.frames.Frame`
        with its qualname, line and ``{name: repr}`` as they were at that step."""
        values = self._need_values()
        n = len(self)
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise IndexError(f"event index {i} out of range for a trace of {n} events")
        return values.frames_at(self, j)

    def values_of(self, name: str, code=None) -> list:
        """Every step at which variable ``name`` took a new value (bound, or its object
        mutated), as :class:`~monviz.frames.ValueChange` (index, line, value, frame);
        ``code`` (a qualname, function, code object or CodeInfo) limits it to that code."""
        values = self._need_values()
        cids = None if code is None else self._match_codes(code)
        return values.values_of(self, name, cids)

    # -- files for elsewhere ---------------------------------------------------
    def save(self, path, *, compress: bool = False):
        """Write this trace to a compact binary file (its columns as they are in memory);
        ``monviz.load(path)`` reads it back, equal in every query. The path written.
        ``compress=True``: zlib, about 8x smaller and slower (see :mod:`monviz.storage`)."""
        from .storage import save

        return save(self, path, compress=compress)

    def save_html(self, path, *, title: str | None = None):
        """Write a self-contained HTML report (timeline, graphs, code objects) that
        opens in any browser from ``file://``, offline; the path written."""
        from .report import save_html

        return save_html(self, path, title=title)

    def to_chrome_trace(self) -> dict:
        """The trace as Chrome Trace Event JSON (a dict; ``json.dump`` it): calls as
        slices per thread, other events as instants, for Perfetto and chrome://tracing."""
        from .chrome import chrome_trace

        return chrome_trace(self)

    # -- JSON ----------------------------------------------------------------
    def to_json(self) -> str:
        """Everything needed to show this trace again, as JSON (no live objects)."""
        d = self._d
        return json.dumps({
            "format": FORMAT, "version": FORMAT_VERSION, "python": self.python,
            "events": self.events, "kinds": list(self.kind_names),
            "codes": [c.to_dict() for c in self._codes], "sources": self.sources,
            "values": text_list(d.values), "threads": d.threads, "dropped": d.dropped,
            "level0": d.level0,
            "arrays": {name: {"type": _stream.typecode(getattr(d, name)),
                              "data": getattr(d, name).tolist()} for name in _ARRAYS},
            "truncated": self.truncated, "exception": self.exception_repr,
            "frame_values": None if self._values is None else self._values.to_dict(),
        })

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Rebuild a trace saved with :meth:`to_json` (code objects become descriptors)."""
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            from .errors import MonvizError

            raise MonvizError('not a monviz trace: the JSON has no "format": "monviz-trace"')
        d = _stream.Decoded()
        for name in _ARRAYS:
            col = doc["arrays"][name]
            setattr(d, name, array(col["type"], col["data"]))
        d.values, d.threads, d.dropped = doc["values"], doc["threads"], doc["dropped"]
        d.level0 = doc["level0"]
        d.count = len(d.kind)
        trace = cls(d, kind_names=doc["kinds"],
                    codes=[CodeInfo.from_dict(c) for c in doc["codes"]],
                    sources=doc["sources"], truncated=doc["truncated"],
                    exception_repr=doc["exception"], python=doc["python"], events=doc["events"])
        if doc.get("frame_values"):
            from .frames import FrameValues

            trace._values = FrameValues.from_dict(doc["frame_values"])
        return trace

    # -- display -------------------------------------------------------------
    def __repr__(self) -> str:
        extra = f", truncated, {self.dropped} dropped" if self.truncated else ""
        exc = f", exception={self.exception_repr}" if self.exception_repr else ""
        return (f"<monviz.Trace: {len(self)} events, {len(self.codes())} code objects"
                f"{extra}{exc}; Python {self.python}>")

    def _repr_html_(self) -> str:
        from .render.summary import trace_summary_html

        return trace_summary_html(self)


def kinds_present(kinds: bytes, known: int) -> list[int]:
    """``sorted(set(kinds))`` without a pass in Python: a ``memchr`` per kind number
    below ``known``, then one ``translate`` for any other byte (there are none)."""
    found = [k for k in range(min(known, 256)) if k in kinds]
    rest = kinds.translate(None, bytes(found))
    return sorted([*found, *set(rest)]) if rest else found


def _ints(column) -> list[int]:
    """A column as a list of ints (``tolist`` is one C pass for arrays and memoryviews)."""
    return column.tolist() if hasattr(column, "tolist") else list(column)


def _exc_text(exc: BaseException) -> str:
    from .values import bounded_repr

    return bounded_repr(exc)
