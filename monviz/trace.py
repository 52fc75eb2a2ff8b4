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
import html
import json
import linecache
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import compress
from types import CodeType
from typing import NamedTuple

from . import _stream
from .scope import is_user_file

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
_VALUE_SHAPES = {_stream.EXIT: "value", _stream.EXC: "exception", _stream.UNWIND: "exception",
                 _stream.THROW: "exception", _stream.VALUED: "exception"}


class Trace:
    """The events of one recording. Index it, iterate it, query it, save it."""

    def __init__(self, *, kind_names: Iterable[str], kind: array, code: array, a: array,
                 b: array, c: array, depth: array, thread: array, time_index: array,
                 time_ns: array, values: list[str], threads: list[int], codes: list[CodeInfo],
                 sources: dict[str, str] | None = None, truncated: bool = False,
                 dropped: int = 0, exception: BaseException | None = None,
                 exception_repr: str | None = None, python: str = "", events: list[str] = ()):
        self.kind_names = tuple(kind_names)
        self._kind, self._code, self._a, self._b, self._c = kind, code, a, b, c
        self._depth, self._thread = depth, thread
        self._time_index, self._time_ns = time_index, time_ns
        self._values = values
        self.threads = threads
        self._codes = codes
        self.sources = dict(sources or {})
        self.truncated = truncated
        self.dropped = dropped
        self.exception = exception
        self.exception_repr = exception_repr if exception is None else _exc_text(exception)
        self.python = python or "{}.{}.{}".format(*sys.version_info[:3])
        self.events = list(events)
        self._shapes = [_stream.shape(n) for n in self.kind_names]

    # -- construction --------------------------------------------------------
    @classmethod
    def _from_recording(cls, cols, codes: list[CodeType], sources: dict[int, str], *,
                        exception, truncated: bool, events_bits: int, tool_id) -> Trace:
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
        return cls(kind_names=_stream.KINDS, kind=cols.kind, code=cols.code, a=cols.a, b=cols.b,
                   c=cols.c, depth=cols.depth, thread=cols.thread, time_index=cols.time_index,
                   time_ns=cols.time_ns, values=cols.values, threads=cols.threads, codes=infos,
                   sources=files, truncated=truncated, dropped=cols.dropped, exception=exception,
                   events=names_of(events_bits))

    # -- sequence protocol ---------------------------------------------------
    def __len__(self) -> int:
        return len(self._kind)

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
        name = self.kind_names[self._kind[i]]
        shape = self._shapes[self._kind[i]]
        cid = self._code[i]
        info = self._codes[cid] if cid >= 0 else UNKNOWN_CODE
        a, b, c = self._a[i], self._b[i], self._c[i]
        values = self._values
        is_line = name == "LINE"
        value = exception = target = func = arg0 = None
        if shape == _stream.JUMPISH:
            target = b
        elif shape == _stream.CALLISH:
            func, arg0 = values[b], values[c]
        elif shape in _VALUE_SHAPES:
            if _VALUE_SHAPES[shape] == "value":
                value = values[b]
            else:
                exception = values[b]
        return Event(i, name, info, None if is_line else a, a if is_line else info.line_for(a),
                     target, func, arg0, value, exception, self._depth[i],
                     self.threads[self._thread[i]], self.time_of(i))

    def time_of(self, i: int) -> int | None:
        """ns since the recording started, for frame events; ``None`` for others."""
        j = bisect.bisect_left(self._time_index, i)
        if j < len(self._time_index) and self._time_index[j] == i:
            return self._time_ns[j]
        return None

    # -- queries -------------------------------------------------------------
    def to_records(self) -> list[dict]:
        """Plain dicts with the :class:`Event` field names; ``code`` is the qualname."""
        return [{**ev._asdict(), "code": ev.code.qualname} for ev in self]

    def codes(self) -> list[CodeInfo]:
        """The code objects that produced events, in order of first event."""
        seen = dict.fromkeys(self._code)
        return [self._codes[c] if c >= 0 else UNKNOWN_CODE for c in seen]

    def counts(self) -> dict[CodeInfo, dict[str, int]]:
        """Events per code object and event name."""
        pairs = Counter(zip(self._code, self._kind))
        out: dict[CodeInfo, dict[str, int]] = {}
        for (cid, k), n in sorted(pairs.items()):
            info = self._codes[cid] if cid >= 0 else UNKNOWN_CODE
            out.setdefault(info, {})[self.kind_names[k]] = n
        return out

    def totals(self) -> dict[str, int]:
        """Events per event name, in catalogue order."""
        counter = Counter(self._kind)
        return {self.kind_names[k]: counter[k] for k in sorted(counter)}

    def filter(self, events=None, code=None) -> Trace:
        """A new trace with only the given events (names or groups) and/or code objects.

        ``code`` may be a qualname, a :class:`CodeInfo`, a code object, a function,
        or a list of those.
        """
        keep = [True] * len(self)
        if events is not None:
            from .events import names_of, parse_events

            wanted = set(names_of(parse_events(events)))
            kinds = {k for k, n in enumerate(self.kind_names) if n in wanted}
            keep = [k in kinds for k in self._kind]
        if code is not None:
            cids = self._match_codes(code)
            keep = [kp and cid in cids for kp, cid in zip(keep, self._code)]
        return self._subset(keep)

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

    def _subset(self, keep: list[bool]) -> Trace:
        rows = list(compress(range(len(self)), keep))
        pick = lambda col: array(col.typecode, (col[i] for i in rows))  # noqa: E731
        pos = {old: new for new, old in enumerate(rows)}
        time_pairs = [(pos[i], t) for i, t in zip(self._time_index, self._time_ns) if i in pos]
        return Trace(kind_names=self.kind_names, kind=pick(self._kind), code=pick(self._code),
                     a=pick(self._a), b=pick(self._b), c=pick(self._c), depth=pick(self._depth),
                     thread=pick(self._thread), time_index=array("I", [p for p, _ in time_pairs]),
                     time_ns=array("q", [t for _, t in time_pairs]), values=self._values,
                     threads=self.threads, codes=self._codes, sources=self.sources,
                     truncated=self.truncated, dropped=self.dropped, exception=self.exception,
                     exception_repr=self.exception_repr, python=self.python, events=self.events)

    def _without_tail(self, drop) -> Trace:
        """This trace less its last events for which ``drop(event)`` holds."""
        n = len(self)
        while n and drop(self[n - 1]):
            n -= 1
        if n == len(self):
            return self
        return self._subset([True] * n + [False] * (len(self) - n))

    def source_of(self, info: CodeInfo) -> str | None:
        """The source text of the file a code object came from, if known."""
        return self.sources.get(info.filename)

    @property
    def nbytes(self) -> int:
        """Bytes held by the per-event columns (values table and code infos not included)."""
        cols = (self._kind, self._code, self._a, self._b, self._c, self._depth, self._thread,
                self._time_index, self._time_ns)
        return sum(col.itemsize * len(col) for col in cols)

    # -- JSON ----------------------------------------------------------------
    def to_json(self) -> str:
        """Everything needed to show this trace again, as JSON (no live objects)."""
        return json.dumps({
            "format": FORMAT, "version": FORMAT_VERSION, "python": self.python,
            "events": self.events, "kinds": list(self.kind_names),
            "codes": [c.to_dict() for c in self._codes], "sources": self.sources,
            "values": self._values, "threads": self.threads,
            "columns": {name: {"type": col.typecode, "data": col.tolist()} for name, col in (
                ("kind", self._kind), ("code", self._code), ("a", self._a), ("b", self._b),
                ("c", self._c), ("depth", self._depth), ("thread", self._thread),
                ("time_index", self._time_index), ("time_ns", self._time_ns))},
            "truncated": self.truncated, "dropped": self.dropped,
            "exception": self.exception_repr,
        })

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """Rebuild a trace saved with :meth:`to_json` (code objects become descriptors)."""
        d = json.loads(text)
        if d.get("format") != FORMAT:
            from .errors import MonvizError

            raise MonvizError("not a monviz trace: the JSON has no \"format\": \"monviz-trace\"")
        cols = {name: array(c["type"], c["data"]) for name, c in d["columns"].items()}
        return cls(kind_names=d["kinds"], values=d["values"], threads=d["threads"],
                   codes=[CodeInfo.from_dict(c) for c in d["codes"]], sources=d["sources"],
                   truncated=d["truncated"], dropped=d["dropped"], exception=None,
                   exception_repr=d["exception"], python=d["python"], events=d["events"], **cols)

    # -- display -------------------------------------------------------------
    def __repr__(self) -> str:
        extra = f", truncated, {self.dropped} dropped" if self.truncated else ""
        exc = f", exception={self.exception_repr}" if self.exception_repr else ""
        return (f"<monviz.Trace: {len(self)} events, {len(self.codes())} code objects"
                f"{extra}{exc}; Python {self.python}>")

    def _repr_html_(self) -> str:
        from .render.summary import trace_summary_html

        return trace_summary_html(self)


def _exc_text(exc: BaseException) -> str:
    from .values import bounded_repr

    return bounded_repr(exc)
