"""Frames and their variables per step: the opt-in ``values=True`` capture, and its queries.

``sys.monitoring`` gives a callback no locals, so a values recording adds a few
lines to the LINE, PY_RETURN and PY_YIELD callbacks: after the event is
recorded as always, :meth:`Capture.snap` reads the running frame's locals
(``sys._getframe(1).f_locals``: on 3.12 a dict refreshed from the fast locals,
on 3.13+ the PEP 667 proxy, which reads them in place) and writes down only what
changed since that frame's previous step. A loop of 100k steps that changes
``i`` stores 100k texts of ``i``, not 100k copies of every local.

Each step where locals were read is a *point*; the n-th point of a thread is the
n-th LINE/PY_RETURN/PY_YIELD event of that thread in the trace (the capture runs
only where those events are kept), so the events themselves are the recording's,
untouched. Values are texts made by :mod:`monviz.heap` (which runs none of the
program's code); mutable objects are shared by reference, with their own
history, so a list shows the content it had at each step.
"""

from __future__ import annotations

import _thread
import bisect
import sys
from array import array
from types import CodeType, ModuleType
from typing import TYPE_CHECKING, NamedTuple

from .heap import OPEN as _OPEN
from .heap import Heap, atom_text, resolve, tags_in

if TYPE_CHECKING:
    from .trace import CodeInfo, Trace

LINE_POINT, RETURN_POINT, YIELD_POINT = 0, 1, 2
#: Names never shown in a module's (or class body's) frame: they are the
#: interpreter's or IPython's, not the student's.
HIDDEN_GLOBALS = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
_CO_OPTIMIZED = 0x1
_CO_SUSPENDS = 0x20 | 0x80 | 0x200  # generator, coroutine, async generator
_SAME_IF_SAME = frozenset({int, str, float, bool, type(None), bytes, complex})
#: How far up ``f_back`` a new frame looks for the recorded frame that called it.
_PARENT_SEARCH = 64


class Capture:
    """The hot path of a values recording: one per recording session."""

    def __init__(self) -> None:
        self._texts: dict[str, int] = {}
        self._names: dict[str, int] = {}
        self.heap = Heap(self.intern)
        #: id(frame) -> [code, serial, {name: (atom or None, text id, tags)}, suspends, parent]
        self.frames: dict[int, list] = {}
        self.frame_code: list[CodeType] = []
        self.frame_module: list[bool] = []  # a module's (or class body's) namespace
        self.parents: list[int] = []  # flat (point, frame serial, parent serial or -1)
        self.point_frame: list[int] = []
        self.point_thread: list[int] = []
        self.point_kind = bytearray()
        self.changes: list[int] = []  # flat (point, name id, text id or -1 when deleted)
        self.failures = 0
        self._snap = self._make_snap()

    def intern(self, text: str) -> int:
        tid = self._texts.get(text)
        if tid is None:
            tid = self._texts[text] = len(self._texts)
        return tid

    def _name(self, name: str) -> int:
        nid = self._names.get(name)
        if nid is None:
            nid = self._names[name] = len(self._names)
        return nid

    # -- hot path ---------------------------------------------------------------
    def _make_snap(self):
        """:meth:`snap`, as a function whose every name is a default argument (it runs at
        every LINE of a values recording: attribute lookups would be a third of it)."""
        heap = self.heap

        def snap(frame, code, kind, heap=heap, point_frame=self.point_frame,
                 point_thread=self.point_thread, point_kind=self.point_kind,
                 frames=self.frames, changes=self.changes, texts=self._texts,
                 names=self._names, same=_SAME_IF_SAME, atom=atom_text, text_of=heap.text_of,
                 OPEN=_OPEN, get_ident=_thread.get_ident, new_frame=self._new_frame,
                 check_parent=self._check_parent, deleted=self._deleted,
                 optimized=_CO_OPTIMIZED, hold=heap.hold, let_go=heap.let_go):
            point = heap.point = len(point_frame)
            point_frame.append(-1)  # counted first, whatever happens next
            point_thread.append(get_ident())
            point_kind.append(kind)
            if code.co_flags & optimized:
                state = frames.get(id(frame))
                if state is None or state[0] is not code:
                    state = new_frame(frame, code)
            else:  # a module (or class body): one namespace, whichever statement runs
                state = frames.get(id(frame.f_locals))
                if state is None:
                    state = new_frame(frame, code)
            if state[3]:  # a generator's caller can differ at each resume
                check_parent(frame, state)
            point_frame[point] = state[1]
            prev = state[2]
            items = frame.f_locals.items() if code.co_flags & optimized else _globals(frame)
            for name, value in items:
                old = prev.get(name)
                kind = type(value)
                if kind is int:  # the commonest: a counter, an index
                    if old is not None and old[0] is value:
                        continue
                    try:
                        text = repr(value)
                    except ValueError:  # more digits than int -> str allows
                        text = atom(value)
                    kept = value
                elif kind in same:
                    if old is not None and old[0] is value:
                        continue
                    text = atom(value)
                    kept = value
                else:
                    text = text_of(value)
                    kept = None
                tid = texts.get(text)
                if tid is None:
                    tid = texts[text] = len(texts)
                elif old is not None and old[1] == tid:
                    continue
                if OPEN in text:
                    tags = tags_in(text)
                    hold(tags)
                else:
                    tags = ()
                if old is None:
                    nid = names.get(name)
                    if nid is None:
                        nid = names[name] = len(names)
                else:
                    nid = old[3]
                    if old[2]:
                        let_go(old[2])
                prev[name] = (kept, tid, tags, nid)
                changes += (point, nid, tid)
            if len(items) < len(prev):
                deleted(frame, code, prev, point)

        return snap

    def snap(self, frame, code: CodeType, kind: int) -> None:
        """Write down what changed in ``frame``'s locals since its previous point.

        The point is counted first, whatever happens next: the n-th point must stay
        the n-th LINE/PY_RETURN/PY_YIELD event.
        """
        self._snap(frame, code, kind)

    def leave(self, frame) -> None:
        """The frame ended (returned or unwound): let go of what its locals held."""
        state = self.frames.pop(id(frame), None)
        if state is not None:
            for old in state[2].values():
                self.heap.let_go(old[2])

    def _deleted(self, frame, code: CodeType, prev: dict, point: int) -> None:
        present = {name for name, _ in _locals(frame, code)}
        for name in [n for n in prev if n not in present]:
            self.heap.let_go(prev.pop(name)[2])
            self.changes += (point, self._name(name), -1)

    def _new_frame(self, frame, code: CodeType) -> list:
        """The state of a frame seen for the first time.

        A function's frame is known by its identity. A module's is known by its
        namespace: IPython runs each top-level statement of a cell as a code object
        (and frame) of its own, all in one namespace, and the student sees one
        ``<module>`` whose variables carry on from statement to statement. It is
        kept until the recording ends (its variables outlive each statement).
        """
        serial = len(self.frame_code)
        self.frame_code.append(code)
        module = not code.co_flags & _CO_OPTIMIZED
        self.frame_module.append(module)
        state = [code, serial, {}, bool(code.co_flags & _CO_SUSPENDS), -2]
        key = _key_of(frame)
        if key in self.frames:  # a frame we did not see end: its id is reused
            self.leave(frame)
        self.frames[key] = state
        self._check_parent(frame, state)
        return state

    def _check_parent(self, frame, state: list) -> None:
        parent, f = -1, frame.f_back
        for _ in range(_PARENT_SEARCH):
            if f is None:
                break
            found = self.frames.get(_key_of(f))
            if found is not None and found is not state and (
                    found[0] is f.f_code or not f.f_code.co_flags & _CO_OPTIMIZED):
                parent = found[1]
                break
            f = f.f_back
        if parent != state[4]:  # -2 at first: always written once
            state[4] = parent
            self.parents += (len(self.point_frame) - 1, state[1], parent)

    # -- after the recording -----------------------------------------------------
    def finish(self, trace: Trace, code_ids: dict[int, int]) -> FrameValues:
        """The stored values of ``trace`` (points matched to its events); keeps no user object."""
        self.heap.release()
        self.frames.clear()
        events = _point_events(trace, self.point_thread)
        n = len(events)
        kept = [i for i in range(n) if events[i] >= 0]
        values = FrameValues(
            point_event=[events[p] for p in kept], point_frame=[self.point_frame[p] for p in kept],
            point_kind=bytes(self.point_kind[p] for p in kept),
            frame_code=[code_ids.get(id(c), -1) for c in self.frame_code],
            frame_module=self.frame_module,
            parents=_renumber(self.parents, kept, n), changes=_renumber(self.changes, kept, n),
            heap=_renumber(self.heap.changes, kept, n), names=list(self._names),
            texts=list(self._texts), failures=self.failures)
        self.frame_code = []
        return values


def _key_of(frame) -> int:
    """How a frame's state is found: a function's by the frame, a module's by its namespace
    (``f_locals`` is then the namespace dict itself, no snapshot is made)."""
    return id(frame) if frame.f_code.co_flags & _CO_OPTIMIZED else id(frame.f_locals)


def _locals(frame, code: CodeType):
    """(name, value) of the locals shown: all of a function's; a module's without the
    interpreter's and IPython's names and modules."""
    return frame.f_locals.items() if code.co_flags & _CO_OPTIMIZED else _globals(frame)


def _globals(frame) -> list:
    return [(k, v) for k, v in frame.f_locals.items()
            if type(k) is str and not k.startswith("_") and k not in HIDDEN_GLOBALS
            and type(v) is not ModuleType]


def _point_events(trace: Trace, point_thread: list[int]) -> list[int]:
    """The event index of each point: per thread, the n-th point is the n-th
    LINE/PY_RETURN/PY_YIELD event; -1 for points past the end (the cap, a cut tail)."""
    kinds = [k for k, name in enumerate(trace.kind_names)
             if name in ("LINE", "PY_RETURN", "PY_YIELD")]
    table = bytes(1 if k in kinds else 0 for k in range(256))
    flags = bytes(trace._d.kind).translate(table)
    rows = [i for i, f in enumerate(flags) if f]
    threads = trace._d.threads
    if len(set(point_thread)) <= 1 and len(trace.threads) <= 1:
        return rows[: len(point_thread)] + [-1] * (len(point_thread) - len(rows))
    by_thread: dict[int, list[int]] = {}
    thread_of = _threads_of(trace)
    for i in rows:
        by_thread.setdefault(threads[thread_of[i]], []).append(i)
    used: dict[int, int] = {}
    out = []
    for ident in point_thread:
        j = used.get(ident, 0)
        mine = by_thread.get(ident, [])
        out.append(mine[j] if j < len(mine) else -1)
        used[ident] = j + 1
    return out


def _threads_of(trace: Trace) -> list[int]:
    d = trace._d
    starts = [*d.thread_start, len(trace)]
    out: list[int] = []
    for t, a, b in zip(d.thread_idx, starts, starts[1:]):
        out += [t] * (b - a)
    return out


def _renumber(flat: list[int], kept: list[int], n: int) -> list[int]:
    """Triples ``(point, x, y)`` with points renumbered to the kept ones (order by event)."""
    if len(kept) == n and all(k == i for i, k in enumerate(kept)):
        return list(flat)
    new = [-1] * (n + 1)
    for j, p in enumerate(kept):
        new[p] = j
    out: list[int] = []
    for j in range(0, len(flat), 3):
        p = flat[j] if flat[j] < n else n
        if new[p] >= 0:
            out += (new[p], flat[j + 1], flat[j + 2])
    return out


class Frame(NamedTuple):
    """One frame of the call stack at a step, with its variables as they were then."""

    qualname: str
    code: CodeInfo
    line: int | None
    #: name -> text of the value (objects resolved into their content at that step)
    locals: dict[str, str]
    #: name -> object id, for names bound to a mutable object (same id: same object)
    objects: dict[str, int]
    #: names whose value differs from the previous step
    changed: frozenset[str]
    #: which call of the code object this is, in order of first step (0, 1, ...)
    serial: int


class ValueChange(NamedTuple):
    """A step at which a variable took a new value (bound anew, or mutated)."""

    index: int
    line: int | None
    value: str
    frame: int


class FrameValues:
    """The stored values of a trace: points, and what changed at each (see module doc).

    Columns, all in point order (points sorted by event index):

    * ``point_event``, ``point_frame``, ``point_kind``: per point;
    * ``frame_code``: per frame (a call), its code index in the trace;
    * ``parents``, ``changes``, ``heap``: flat triples ``(point, a, b)`` — a frame's
      caller from that point on; a name's new text (-1: deleted); an object's new text.
    """

    def __init__(self, *, point_event, point_frame, point_kind, frame_code, parents, changes,
                 heap, names, texts, failures: int = 0, frame_module=None):
        self.point_event = array("q", point_event)
        self.point_frame = array("q", point_frame)
        self.point_kind = bytes(point_kind)
        self.frame_code = list(frame_code)
        #: per frame: a module's namespace (its first step marks nothing as changed:
        #: the names were there before it)
        self.frame_module = list(frame_module or [False] * len(self.frame_code))
        self.parents = array("q", parents)
        self.changes = array("q", changes)
        self.heap = array("q", heap)
        self.names = list(names)
        self.texts = list(texts)
        self.failures = failures
        self._index: dict | None = None

    def __len__(self) -> int:
        return len(self.point_event)

    @property
    def nbytes(self) -> int:
        """Bytes of the columns and of the distinct texts (what a values recording adds)."""
        cols = (self.point_event, self.point_frame, self.parents, self.changes, self.heap)
        return (sum(c.itemsize * len(c) for c in cols) + len(self.point_kind)
                + sum(len(t.encode()) for t in self.texts)
                + sum(len(t.encode()) for t in self.names))

    # -- indexes ------------------------------------------------------------------
    def _indexes(self) -> dict:
        """Per frame its points; per (frame, name) and per object their changes (built once)."""
        if self._index is None:
            frame_points: dict[int, list[int]] = {}
            for p, f in enumerate(self.point_frame):
                frame_points.setdefault(f, []).append(p)
            per_name: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
            frame_names: dict[int, list[int]] = {}
            ch = self.changes
            for j in range(0, len(ch), 3):
                p, name, text = ch[j], ch[j + 1], ch[j + 2]
                f = self.point_frame[p]
                key = (f, name)
                entry = per_name.get(key)
                if entry is None:
                    entry = per_name[key] = ([], [])
                    frame_names.setdefault(f, []).append(name)
                entry[0].append(p)
                entry[1].append(text)
            per_object: dict[int, tuple[list[int], list[int]]] = {}
            hp = self.heap
            for j in range(0, len(hp), 3):
                entry = per_object.setdefault(hp[j + 1], ([], []))
                entry[0].append(hp[j])
                entry[1].append(hp[j + 2])
            parents: dict[int, tuple[list[int], list[int]]] = {}
            pa = self.parents
            for j in range(0, len(pa), 3):
                entry = parents.setdefault(pa[j + 1], ([], []))
                entry[0].append(pa[j])
                entry[1].append(pa[j + 2])
            self._index = {"points": frame_points, "names": per_name, "frame_names": frame_names,
                           "objects": per_object, "parents": parents}
        return self._index

    @staticmethod
    def _as_of(entry: tuple[list[int], list[int]] | None, point: int):
        if entry is None:
            return None
        j = bisect.bisect_right(entry[0], point) - 1
        return entry[1][j] if j >= 0 else None

    def object_text(self, tag: int, point: int) -> str | None:
        """An object's own text at a point (references not resolved)."""
        tid = self._as_of(self._indexes()["objects"].get(tag), point)
        return None if tid is None else self.texts[tid]

    def shown(self, text: str, point: int) -> str:
        """A text with the objects it refers to written out as they were at ``point``."""
        return resolve(text, lambda tag: self.object_text(tag, point))

    def locals_of(self, frame: int, point: int) -> dict[str, str]:
        """A frame's locals (unresolved texts) as of a point."""
        ix = self._indexes()
        out = {}
        for name in ix["frame_names"].get(frame, ()):
            tid = self._as_of(ix["names"][(frame, name)], point)
            if tid is not None and tid >= 0:
                out[self.names[name]] = self.texts[tid]
        return out

    def parent_of(self, frame: int, point: int) -> int:
        parent = self._as_of(self._indexes()["parents"].get(frame), point)
        return -1 if parent is None else parent

    def last_point(self, frame: int, point: int) -> int:
        """The frame's last point at or before ``point`` (-1 if none)."""
        pts = self._indexes()["points"].get(frame, [])
        return pts[bisect.bisect_right(pts, point) - 1] if pts and pts[0] <= point else -1

    def point_at(self, trace: Trace, i: int) -> int:
        """The last point at or before event ``i`` in event ``i``'s thread (-1: none)."""
        p = bisect.bisect_right(self.point_event, i) - 1
        if len(trace.threads) <= 1:
            return p
        thread = trace[i].thread
        while p >= 0 and trace[self.point_event[p]].thread != thread:
            p -= 1
        return p

    # -- queries ---------------------------------------------------------------
    def frames_at(self, trace: Trace, i: int) -> list[Frame]:
        p = self.point_at(trace, i)
        if p < 0:
            return []
        chain, f = [], self.point_frame[p]  # -1: the point's capture failed
        while f >= 0 and len(chain) < 10_000:
            chain.append(f)
            f = self.parent_of(f, p)
        depth = trace.depths()[i]  # frames deeper than event i's have ended since
        infos = trace.code_infos()
        out = []
        for f in reversed(chain):
            last = self.last_point(f, p)
            if last < 0 or trace.depths()[self.point_event[last]] > depth:
                continue
            ev = trace[self.point_event[last]]
            now = self.locals_of(f, p)
            before = self.locals_of(f, p - 1) if p > 0 else {}
            first_of_module = self.frame_module[f] and self.last_point(f, p - 1) < 0
            shown = {k: self.shown(v, p) for k, v in now.items()}
            changed = frozenset() if first_of_module else frozenset(  # a module's names
                k for k, v in shown.items()  # were there before its first step
                if k not in before or self.shown(before[k], p - 1) != v)
            objects = {k: tags[0] for k, v in now.items()
                       if (tags := tags_in(v)) and v == f"\ue000{tags[0]}\ue001"}
            cid = self.frame_code[f]
            info = infos[cid] if cid >= 0 else ev.code
            out.append(Frame(info.qualname, info, ev.line, shown, objects, changed, f))
        return out

    def values_of(self, trace: Trace, name: str, code_ids: set[int] | None) -> list[ValueChange]:
        ix = self._indexes()
        nid = next((k for k, n in enumerate(self.names) if n == name), None)
        if nid is None:
            return []
        out: list[ValueChange] = []
        for (f, n), (pts, tids) in sorted(ix["names"].items()):
            if n != nid or (code_ids is not None and self.frame_code[f] not in code_ids):
                continue
            frame_pts = ix["points"].get(f, [])
            end = frame_pts[-1] if frame_pts else -1
            previous = None
            for j, (start, tid) in enumerate(zip(pts, tids)):
                stop = pts[j + 1] - 1 if j + 1 < len(pts) else end
                if tid < 0:
                    previous = None
                    continue
                text = self.texts[tid]
                candidates = {start}
                for tag in tags_in(text):
                    obj = ix["objects"].get(tag)
                    if obj is not None:
                        candidates.update(q for q in obj[0] if start <= q <= stop)
                for q in sorted(candidates):
                    shown = self.shown(text, q)
                    if shown != previous:
                        ev = self.point_event[q]
                        out.append(ValueChange(ev, trace[ev].line, shown, f))
                        previous = shown
        out.sort(key=lambda c: (c.index, c.frame))
        return out

    def cut(self, n: int) -> FrameValues:
        """These values for the trace's first ``n`` events (a cut tail)."""
        keep = bisect.bisect_left(self.point_event, n)
        if keep == len(self):
            return self

        def first(flat) -> list[int]:
            return [x for j in range(0, len(flat), 3) if flat[j] < keep
                    for x in flat[j:j + 3]]

        return FrameValues(point_event=self.point_event[:keep], point_frame=self.point_frame[:keep],
                           point_kind=self.point_kind[:keep], frame_code=self.frame_code,
                           parents=first(self.parents), changes=first(self.changes),
                           heap=first(self.heap), names=self.names, texts=self.texts,
                           failures=self.failures, frame_module=self.frame_module)

    # -- JSON ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"point_event": self.point_event.tolist(), "point_frame": self.point_frame.tolist(),
                "point_kind": list(self.point_kind), "frame_code": self.frame_code,
                "parents": self.parents.tolist(), "changes": self.changes.tolist(),
                "heap": self.heap.tolist(), "names": self.names, "texts": self.texts,
                "failures": self.failures, "frame_module": self.frame_module}

    @classmethod
    def from_dict(cls, d: dict) -> FrameValues:
        return cls(**d)


def wrap(capture: Capture, name: str, func, keep_exit: bool):
    """``func`` (a recorder callback) followed by the capture's part, for the events
    where locals are read or a frame ends; other callbacks unchanged."""
    getframe, snap, leave, failed = sys._getframe, capture._snap, capture.leave, _failed(capture)
    if name == "LINE":
        def on_line(code, line, func=func, snap=snap, getframe=getframe):
            r = func(code, line)
            try:
                snap(getframe(1), code, 0)  # LINE_POINT
            except Exception as exc:  # never break the program being recorded
                failed(exc)
            return r
        return on_line
    if name in ("PY_RETURN", "PY_YIELD"):
        kind = RETURN_POINT if name == "PY_RETURN" else YIELD_POINT

        def on_exit(code, off, value):
            r = func(code, off, value)
            try:
                frame = getframe(1)
                if keep_exit:
                    snap(frame, code, kind)
                if kind == RETURN_POINT:
                    leave(frame)
            except Exception as exc:
                failed(exc)
            return r
        return on_exit
    if name == "PY_UNWIND":
        def on_unwind(code, off, exc):
            r = func(code, off, exc)
            try:
                leave(getframe(1))
            except Exception as err:
                failed(err)
            return r
        return on_unwind
    return func


def _failed(capture: Capture):
    def failed(exc: BaseException) -> None:
        capture.failures += 1
    return failed


VALUE_EVENTS = ("LINE", "PY_RETURN", "PY_YIELD", "PY_UNWIND")
