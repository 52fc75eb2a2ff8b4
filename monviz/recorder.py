"""Capture the ``sys.monitoring`` events that a piece of code raises.

Design (measured in ``../shared/reference/recording-cost.md`` and
``benchmarks/record.py``):

* **Scope by code object.** The target's code objects get *local* events
  (``set_local_events``); library code stays uninstrumented. Only PY_START and
  PY_RESUME are global, to discover code defined elsewhere (earlier notebook
  cells, the user's modules): in-scope code gets local events on its first
  start, anything else returns ``DISABLE`` so it costs one callback per
  location. The exception events are global-only before 3.15 and are filtered
  by code in their (rare) callbacks.
* **One flat list.** Each callback is a short function of exact arity whose
  free variables are default arguments, appending one tuple (see
  :mod:`monviz._stream`). No clock except on frame events, no cap check per
  event: a watchdog thread stops monitoring when the buffer passes the cap.
  Where no thread can start (WebAssembly: ``versions.HAS_THREADS``), each
  callback is wrapped to compare the buffer's length with a threshold instead
  (:meth:`_Session._capped`): the same cap, at one more call per event.
* **Teardown always.** However recording ends, the tool's global and local
  events are cleared, its callbacks unregistered and its id freed, so
  ``sys.monitoring`` is exactly as it was (3.12/3.13's ``free_tool_id`` alone
  clears nothing). If a location was DISABLEd, ``restart_events()`` is called
  at the end, because a DISABLE mark outlives ``free_tool_id``; that re-arms
  other tools' disabled locations too, which is harmless by contract: DISABLE
  is an optimisation a tool must expect to be undone, since any tool may call
  ``restart_events()``.
"""

from __future__ import annotations

import _thread
import contextlib
import itertools
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import CodeType, MethodType

from . import _stream, backends, frames
from . import events as catalogue
from .errors import (
    InvalidArgumentError,
    InvalidTargetError,
    NestedRecordingError,
    ToolIdInUse,
)
from .scope import ScopeFilter, check_scope
from .source import compile_source
from .values import ATOMS, Snapshot, bounded_repr, snapshot
from .versions import FREE_TOOL_ID_CANDIDATES, HAS_THREADS, RESERVED_TOOL_IDS, clear_tool

mon = sys.monitoring
_E = catalogue.CATALOGUE
_DISABLE = mon.DISABLE

#: Frame events the recorder always enables: without them it cannot tell which
#: code object a LINE or BRANCH belongs to. (Enabling PY_START with LINE also
#: avoids 3.13's missing LINE for one-line functions, gh-155992.) They are
#: dropped from the trace unless asked for.
_FRAME_EVENTS = catalogue.bits_of(
    n for n in ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "PY_THROW")
)
#: Global events used to discover code that starts outside the watched tree.
_DISCOVERY = catalogue.bits_of(("PY_START", "PY_RESUME"))
_C_EVENTS = catalogue.bits_of(("C_RETURN", "C_RAISE"))
_CALL = _E["CALL"].bit

DEFAULT_MAX_EVENTS = 1_000_000
_POLL_SECONDS = 0.005

_counter = itertools.count(1)
_active_lock = threading.Lock()
_active: _Session | None = None
_local_mask_cache: int | None = None


def _local_mask(tool: int) -> int:
    """The events this interpreter accepts per code object, found by trying each once."""
    global _local_mask_cache
    if _local_mask_cache is None:
        probe = (lambda: None).__code__
        mask = 0
        for info in _E.values():
            bit = info.bit | (_CALL if info.bit & _C_EVENTS else 0)
            try:
                mon.set_local_events(tool, probe, bit)
            except ValueError:
                continue
            finally:
                mon.set_local_events(tool, probe, 0)
            mask |= info.bit
        _local_mask_cache = mask
    return _local_mask_cache


def code_tree(code: CodeType) -> Iterator[CodeType]:
    """A code object and every code object nested in its constants, depth first."""
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from code_tree(const)


def _check_tool_id(tool_id: object) -> int | None:
    if tool_id is None:
        return None
    if isinstance(tool_id, bool) or not isinstance(tool_id, int) or not 0 <= tool_id <= 5:
        raise InvalidArgumentError(
            f"tool_id must be an int from 0 to 5 (3 or 4 are free by convention) or None "
            f"to pick a free one, not {tool_id!r}"
        )
    return tool_id


def _check_max_events(max_events: object) -> int:
    if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 1:
        raise InvalidArgumentError(f"max_events must be an int of at least 1, not {max_events!r}")
    return max_events


def _claim_tool_id(wanted: int | None) -> int:
    """``use_tool_id`` on the wanted id, or on the first free of 3 and 4."""
    if wanted is not None:
        holder = mon.get_tool(wanted)
        if holder is not None:
            raise ToolIdInUse(
                f"sys.monitoring tool id {wanted} is in use by {holder!r}; "
                f"pass another tool_id, or None to let monviz pick a free one",
                tool_id=wanted, holder=holder,
            )
        mon.use_tool_id(wanted, "monviz")
        return wanted
    for candidate in FREE_TOOL_ID_CANDIDATES:
        if mon.get_tool(candidate) is None:
            mon.use_tool_id(candidate, "monviz")
            return candidate
    holders = ", ".join(f"{i}: {mon.get_tool(i)!r}" for i in range(6))
    raise ToolIdInUse(
        f"no free sys.monitoring tool id among {FREE_TOOL_ID_CANDIDATES} (held: {holders}); "
        f"free one, or pass tool_id= explicitly (reserved ids: "
        f"{', '.join(f'{k} {v}' for k, v in RESERVED_TOOL_IDS.items())})",
        tool_id=None, holder=None,
    )


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold back Ctrl-C while tearing down, then deliver it: teardown must finish."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[object] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    except (ValueError, OSError):  # not the main interpreter, or no signals here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


class _Session:
    """One recording: owns the tool id, the callbacks and the buffer until ``stop``."""

    def __init__(self, bits: int, tool_id: int | None, max_events: int, scope: str,
                 only: frozenset[str] | None = None, values: bool = False):
        self.requested = bits
        #: the locals capture of a ``values=True`` recording (see :mod:`monviz.frames`)
        self.capture = frames.Capture() if values else None
        self.wanted_tool = tool_id
        self.max_events = max_events
        self.in_scope = ScopeFilter(scope, only)
        self.buf: list = []
        self.codes: list[CodeType] = []  # strong references keep id() unique
        self.ids: dict[int, int] = {}
        self.tool: int | None = None
        self.registered: list[int] = []
        self.disabled = False
        self.stopped = False
        self.threaded = False
        self.truncated = False
        self.lock = threading.RLock()
        self.tid = threading.get_ident()
        #: thread id -> index << THREAD_SHIFT; the recording thread is 0
        self.thread_index: dict[int, int] = {self.tid: 0}
        self.thread_ids: list[int] = [self.tid]
        self.exc_cache: list = [None, None, None]
        # The watchdog runs no Python code but monviz's own (which is never
        # recorded): a raw thread and raw locks, not threading.Thread/Event, whose
        # Python-level code would show up in scope="all" recordings.
        self.done = _thread.allocate_lock()
        self.exited = _thread.allocate_lock()
        #: without a watchdog thread: the buffer length past which the callbacks count
        #: kept rows (:meth:`_capped`), and the rows counted so far (kept, looked at)
        self.cap_at = [max_events * _stream.WIDTH]
        self.cap_count = [0, 0]
        self.t0 = 0
        self.level0 = 0

    # -- start -------------------------------------------------------------
    def start(self, watch: list[CodeType], enter: CodeType | None = None) -> None:
        global _active
        with _active_lock:
            if _active is not None:
                raise NestedRecordingError(
                    "monviz is already recording (record() or %%monitor was called from code "
                    "that is being recorded); finish that recording first"
                )
            _active = self
        try:
            self.tool = _claim_tool_id(self.wanted_tool)
            local_ok = _local_mask(self.tool)
            enabled = self.requested | _FRAME_EVENTS
            if enabled & _C_EVENTS:  # C_RETURN/C_RAISE can only be set with CALL and each other
                enabled |= _CALL | _C_EVENTS
            self.enabled = enabled
            self.local_bits = enabled & (local_ok | _C_EVENTS)
            self.global_bits = (enabled & ~self.local_bits) | _DISCOVERY
            self.level0 = 1 if enter is not None else 0  # a with-block's frame is open
            self.threaded = self._other_threads_in_scope()
            self._register(self.threaded)
            for code in watch:
                for sub in code_tree(code):
                    self.watch(sub)
            if enter is not None:
                self.watch(enter)
            self._start_cap_watch()
            self.t0 = time.perf_counter_ns()
            mon.set_events(self.tool, self.global_bits)
        except BaseException:
            self.stop_monitoring()
            self.release()
            raise

    def _other_threads_in_scope(self) -> bool:
        """Is another thread already running code this recording would watch?

        Its frames started before recording, so no frame event will announce
        its thread: record thread switches from the start. Threads that only run
        library code (a Jupyter kernel has several) do not count.
        """
        for tid, frame in sys._current_frames().items():
            if tid == self.tid:
                continue
            while frame is not None:
                if self.in_scope(frame.f_code):
                    return True
                frame = frame.f_back
        return False

    def watch(self, code: CodeType) -> int:
        """Give ``code`` an id and its local events (once).

        The id is published last: a callback in another thread that finds it
        must also find the code's events already on, or that thread would run
        the code unrecorded.
        """
        cid = self.ids.get(id(code))
        if cid is None:
            with self.lock:
                cid = self.ids.get(id(code))
                if cid is None:
                    if not self.stopped:
                        mon.set_local_events(self.tool, code, self.local_bits)
                    cid = len(self.codes)
                    self.codes.append(code)
                    self.ids[id(code)] = cid
        return cid

    # -- callbacks ---------------------------------------------------------
    def _register(self, threaded: bool) -> None:
        callbacks = self._callbacks(threaded)
        for name, func in callbacks.items():
            bit = _E[name].bit
            if bit & self.enabled:
                if not HAS_THREADS:  # no watchdog: the callback checks the cap itself
                    func = self._capped(func, len(_E[name].args) + 1)
                mon.register_callback(self.tool, bit, self.with_values(name, func))
                if bit not in self.registered:
                    self.registered.append(bit)

    def _callbacks(self, threaded: bool) -> dict[str, Callable]:
        """One exact-arity function per event; every name it uses is a default argument.

        Each appends one 5-tuple (see :mod:`monviz._stream`): ~20 ns for
        ``list.extend`` of a small tuple on top of the ~30 ns any Python callback
        costs on 3.13. The clock (~45-75 ns) is read on frame events only.
        """
        e = self.buf.extend
        ids = self.ids
        clock = time.perf_counter_ns
        tid = self.tid
        # In threaded mode the wrapper below tracks threads; the frame callbacks'
        # own "is this another thread?" test must then always say no.
        ident = itertools.repeat(tid).__next__ if threaded else threading.get_ident
        A, S, X = ATOMS, snapshot, self.snap_exception
        slow = self.slow_frame

        def start_cb(K):
            def on_start(code, off, e=e, ids=ids, t=clock, g=ident, tid=tid, K=K, slow=slow):
                if id(code) not in ids or g() != tid:
                    return slow(code, off, K, None)
                e((K, code, off, t(), 0))
            return on_start

        def exit_cb(K):
            if not self.keeps(K):  # followed for the depth only: take no repr
                def on_exit_unkept(code, off, v, e=e, K=K):
                    e((K, code, off, 0, 0))
                return on_exit_unkept

            def on_exit(code, off, v, e=e, t=clock, A=A, S=S, K=K):
                e((K, code, off, t(), v if type(v) in A else S(v)))
            return on_exit

        def call_cb(K):
            def on_call(code, off, f, x, e=e, A=A, S=S, K=K):
                e((K, code, off, f, x if type(x) in A else S(x)))
            return on_call

        def jump_cb(K):
            def on_jump(code, off, dest, e=e, K=K):
                e((K, code, off, dest, 0))
            return on_jump

        def exc_cb(K):
            def on_exc(code, off, exc, e=e, ids=ids, X=X, K=K):
                if id(code) in ids:  # global before 3.15: filter out other code
                    e((K, code, off, 0, X(exc)))
            return on_exc

        def unwind_cb(K):
            if not self.keeps(K):
                def on_unwind_unkept(code, off, exc, e=e, ids=ids, K=K):
                    if id(code) in ids:
                        e((K, code, off, 0, 0))
                return on_unwind_unkept

            def on_unwind(code, off, exc, e=e, ids=ids, X=X, t=clock, K=K):
                if id(code) in ids:
                    e((K, code, off, t(), X(exc)))
            return on_unwind

        def throw_cb(K):
            def on_throw(code, off, exc, slow=slow, K=K):
                return slow(code, off, K, exc)
            return on_throw

        def valued_cb(K):
            def on_valued(code, off, exc, e=e, X=X, K=K):
                e((K, code, off, 0, X(exc)))
            return on_valued

        def bare_cb(K):
            def on_bare(code, off, *rest, e=e, K=K):
                e((K, code, off, 0, 0))
            return on_bare

        def on_line(code, line, e=e, K=_stream.KIND["LINE"]):
            e((K, code, line, 0, 0))

        factories = {
            _stream.START: start_cb, _stream.EXIT: exit_cb, _stream.CALLISH: call_cb,
            _stream.JUMPISH: jump_cb, _stream.EXC: exc_cb, _stream.UNWIND: unwind_cb,
            _stream.THROW: throw_cb, _stream.VALUED: valued_cb, _stream.BARE: bare_cb,
        }
        made = {name: on_line if name == "LINE" else factories[_stream.shape(name)](k)
                for k, name in enumerate(_stream.KINDS)}
        if threaded:
            made = {name: self._thread_aware(func, len(_E[name].args) + 1, _stream.KIND[name])
                    for name, func in made.items()}
        return made

    def with_values(self, name: str, func: Callable) -> Callable:
        """The callback itself, or, in a values recording, it followed by the capture."""
        if self.capture is None or name not in frames.VALUE_EVENTS:
            return func
        return frames.wrap(self.capture, name, func, bool(_E[name].bit & self.requested))

    def values_of(self, trace):
        """The trace, with the values captured (if any) attached to its events."""
        if self.capture is not None:
            trace._values = self.capture.finish(trace, self.value_code_ids())
            self.capture = None
        return trace

    def value_code_ids(self) -> dict[int, int]:
        return dict(self.ids)

    def keeps(self, kind: int) -> bool:
        """Are rows of this kind kept (asked for), or only followed for the depth?"""
        return bool(_E[_stream.KINDS[kind]].bit & self.requested)

    def thread_bits(self) -> int:
        """This thread's index, shifted into the kind slot (a new thread gets the next one)."""
        tid = threading.get_ident()
        with self.lock:
            bits = self.thread_index.get(tid)
            if bits is None:
                bits = self.thread_index[tid] = len(self.thread_ids) << _stream.THREAD_SHIFT
                self.thread_ids.append(tid)
        return bits

    def _thread_aware(self, func: Callable, nargs: int, kind: int) -> Callable:
        """Wrap a callback so that its kind carries the thread: still one ``extend`` per event.

        (A separate "thread switch" row would not do: another thread can run
        between two writes.)
        """
        index, g, new = self.thread_index, threading.get_ident, self.thread_bits
        if nargs == 2:
            def threaded2(code, x, func=func, index=index, g=g, new=new, K=kind):
                bits = index.get(g())
                return func(code, x, K=K | (new() if bits is None else bits))
            return threaded2
        if nargs == 3:
            def threaded3(code, x, y, func=func, index=index, g=g, new=new, K=kind):
                bits = index.get(g())
                return func(code, x, y, K=K | (new() if bits is None else bits))
            return threaded3

        def threaded4(code, x, y, z, func=func, index=index, g=g, new=new, K=kind):
            bits = index.get(g())
            return func(code, x, y, z, K=K | (new() if bits is None else bits))
        return threaded4

    def slow_frame(self, code: CodeType, off: int, kind: int, exc: object):
        """A frame starts in code not seen yet, or in another thread: decide, then record.

        Out-of-scope code returns DISABLE (never again at this location for this
        tool) except for PY_THROW, which cannot be disabled.
        """
        throw = kind & 255 == _stream.KIND["PY_THROW"]
        if id(code) not in self.ids:
            if not self.in_scope(code):
                if throw:
                    return None
                self.disabled = True
                return _DISABLE
            self.watch(code)
        if self.stopped:
            return None
        if threading.get_ident() != self.tid:
            if not self.threaded:
                self.go_threaded()
            kind = (kind & 255) | self.thread_bits()
        if throw:
            text = self.snap_exception(exc) if self.keeps(kind & 255) else 0
            self.buf.extend((kind, code, off, 0, text))
        else:
            self.buf.extend((kind, code, off, time.perf_counter_ns(), 0))
        return None

    def go_threaded(self) -> None:
        """A second thread runs watched code: from now on, every event carries its thread.

        Until every callback is replaced, another thread's event could reach a
        callback that does not look at threads; so no thread switch is allowed
        meanwhile (the switch interval is raised for those few C calls).
        """
        with self.lock:
            if self.threaded or self.stopped:
                return
            interval = sys.getswitchinterval()
            sys.setswitchinterval(1e6)
            try:
                self._register(True)
                self.threaded = True
            finally:
                sys.setswitchinterval(interval)

    def snap_exception(self, exc: BaseException) -> Snapshot:
        """The exception's repr when the event happened.

        One exception passing through many frames is described once, unless its
        args changed or its type has a repr of its own.
        """
        cache = self.exc_cache
        if exc is cache[0] and exc.args is cache[1]:  # same object, same args
            return cache[2]
        text = Snapshot(bounded_repr(exc))
        if type(exc).__repr__ is BaseException.__repr__:  # the repr depends on args only
            cache[:] = exc, exc.args, text
        return text

    # -- cap ---------------------------------------------------------------
    def _start_cap_watch(self) -> None:
        if not HAS_THREADS:  # the callbacks check the cap (_capped)
            return
        self.done.acquire()
        self.exited.acquire()
        _thread.start_new_thread(self._watch_cap, ())

    def _watch_cap(self) -> None:
        """Poll the buffer; once it holds more than ``max_events`` kept events, stop monitoring.

        A check inside each callback would cost ~20-25 ns per event; this costs
        nothing per event. Every event is one row of the buffer, so rows are
        counted by length; rows of frame events the user did not ask for are not
        kept, and are counted out (incrementally, once the rows could be enough).
        """
        try:
            buf, cap, width = self.buf, self.max_events, _stream.WIDTH
            keep_kind = bytes([1 if _E[n].bit & self.requested else 0 for n in _stream.KINDS]
                              + [0] * (256 - len(_stream.KINDS)))
            all_kept = not (self.enabled & ~self.requested)
            kept = counted = 0
            while not self.done.acquire(timeout=_POLL_SECONDS):
                rows = len(buf) // width
                if rows <= cap:
                    continue
                if all_kept:
                    kept = rows
                else:
                    kept += _stream.kinds_of(buf[counted * width:rows * width],
                                             threaded=self.threaded).translate(keep_kind).count(1)
                    counted = rows
                if kept > cap:  # one event past the cap: certainly truncated
                    self.truncated = True
                    self.stop_monitoring()
                    return
        finally:
            self.exited.release()

    def _capped(self, func: Callable, nargs: int) -> Callable:
        """The callback, then a check of the cap: for platforms where no watchdog can run.

        One comparison of the buffer's length with a threshold per event; past it,
        :meth:`over_threshold` counts the kept rows the way the watchdog does and
        either stops monitoring (one kept event past the cap, as the compiled
        backend: ``dropped`` is then 1) or moves the threshold to the first length
        at which the cap could be passed.
        """
        buf, at, over = self.buf, self.cap_at, self.over_threshold
        if nargs == 2:
            def capped2(code, x, func=func, b=buf, n=len, at=at, over=over):
                r = func(code, x)
                if n(b) > at[0]:
                    return over(r)
                return r
            return capped2
        if nargs == 3:
            def capped3(code, x, y, func=func, b=buf, n=len, at=at, over=over):
                r = func(code, x, y)
                if n(b) > at[0]:
                    return over(r)
                return r
            return capped3

        def capped4(code, x, y, z, func=func, b=buf, n=len, at=at, over=over):
            r = func(code, x, y, z)
            if n(b) > at[0]:
                return over(r)
            return r
        return capped4

    def over_threshold(self, result: object) -> object:
        """The buffer passed the threshold: count its new rows; stop past ``max_events`` kept.

        Returns the callback's own result (``DISABLE`` for code out of scope).
        """
        buf, width, cap = self.buf, _stream.WIDTH, self.max_events
        rows = len(buf) // width
        kept, counted = self.cap_count
        if self.enabled & ~self.requested:  # rows of frame events not asked for: not kept
            keep = bytes(map(self.keeps, range(len(_stream.KINDS))))
            kinds = _stream.kinds_of(buf, counted, threaded=self.threaded)
            kept += kinds.translate(keep + bytes(256 - len(keep))).count(1)
        else:  # every row is kept
            kept = rows
        self.cap_count[:] = kept, rows
        if kept > cap:  # one event past the cap: certainly truncated
            self.truncated = True
            self.stop_monitoring()
            return None
        self.cap_at[0] = (rows + cap - kept) * width  # kept can pass cap no sooner
        return result

    # -- stop --------------------------------------------------------------
    def stop_monitoring(self) -> None:
        """Switch every event of the tool off (global and per code object)."""
        with self.lock:
            if self.stopped:
                return
            self.stopped = True
            if self.tool is None:
                return
            mon.set_events(self.tool, 0)
            for code in self.codes:
                mon.set_local_events(self.tool, code, 0)

    def release(self) -> None:
        """Unregister callbacks, free the id, re-arm DISABLEd locations; release the session."""
        global _active
        try:
            if self.tool is not None:
                clear_tool(self.tool)  # 3.14+: events and callbacks in one call
                for bit in self.registered:  # 3.12/3.13 have no clear_tool_id
                    mon.register_callback(self.tool, bit, None)
                mon.free_tool_id(self.tool)
                if self.disabled:
                    mon.restart_events()
        finally:
            self.exc_cache[:] = [None, None, None]
            with _active_lock:
                if _active is self:
                    _active = None

    def stop(self) -> None:
        """Tear everything down; safe to call from any ending, including Ctrl-C.

        Events go off first, before any other Python code runs (with
        ``scope="all"`` that code would be recorded).
        """
        try:
            self.stop_monitoring()
        finally:
            with _interrupts_deferred():
                try:
                    self.stop_monitoring()
                finally:
                    self.release()
        if self.done.locked():
            self.done.release()
            self.exited.acquire()  # the watchdog has finished

    def decode(self, exception: BaseException | None, source: dict[int, str]):
        """The Trace of what was recorded (the buffer is consumed)."""
        from .trace import Trace

        a_bound = max((max(len(c.co_code), max((ln or 0 for _, _, ln in c.co_lines()), default=0))
                       for c in self.codes), default=0)
        data = _stream.decode(
            self.buf, code_ids=self.ids, keep_mask=self.requested, threads=self.thread_ids,
            t0=self.t0, max_events=self.max_events,
            kind_bits=[_E[name].bit for name in _stream.KINDS], level0=self.level0,
            a_bound=a_bound,
        )
        self.buf.clear()
        truncated = self.truncated or data.dropped > 0
        trace = Trace._from_recording(data, self.codes, source, exception=exception,
                                      truncated=truncated, events_bits=self.requested)
        self.values_of(trace)
        self.codes = []
        self.ids.clear()
        return trace


def new_session(bits: int, tool_id: int | None, max_events: int, scope: str,
                only: frozenset[str] | None = None, values: bool = False) -> _Session:
    """A session of the active backend (:func:`monviz.backend`)."""
    if backends.backend() == backends.COMPILED:
        from ._compiled import CompiledSession

        return CompiledSession(bits, tool_id, max_events, scope, only, values)
    backends.tell_once()
    return _Session(bits, tool_id, max_events, scope, only, values)


def check_values(values: object, bits: int) -> bool:
    """``values=`` is a bool, and values are taken at LINE events, so LINE must be recorded."""
    if not isinstance(values, bool):
        raise InvalidArgumentError(f"values must be True or False, not {values!r}")
    if values and not bits & _E["LINE"].bit:
        raise InvalidArgumentError(
            f"values=True reads the locals at LINE events, so events must include LINE "
            f"(the default events do); got {catalogue.names_of(bits)}")
    return values


class Recorder:
    """Record the events of a block of code: ``with monviz.Recorder() as rec: ...``.

    After the block, ``rec.trace`` is the :class:`~monviz.trace.Trace`. The block's
    own frame and everything it calls (in scope) are recorded; the events of
    leaving the ``with`` statement are not.
    """

    def __init__(self, events=None, *, tool_id: int | None = None,
                 max_events: int = DEFAULT_MAX_EVENTS, scope: str = "user",
                 values: bool = False):
        self.events = catalogue.parse_events(events)
        self.values = check_values(values, self.events)
        self.tool_id = _check_tool_id(tool_id)
        self.max_events = _check_max_events(max_events)
        self.scope = check_scope(scope)
        self.trace = None
        self._session: _Session | None = None

    def _new_session(self) -> _Session:
        return new_session(self.events, self.tool_id, self.max_events, self.scope,
                           values=self.values)

    def __enter__(self) -> Recorder:
        frame = sys._getframe(1)
        self._enter_line = frame.f_lineno
        self._session = self._new_session()
        self._session.start(watch=[], enter=frame.f_code)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        session, self._session = self._session, None
        session.stop()
        trace = session.decode(exc, {})
        self.trace = trace._without_tail(self._is_exit_event)
        return False

    def _is_exit_event(self, ev) -> bool:
        """The LINE of the ``with`` statement and the CALL of ``__exit__`` after the block."""
        if ev.depth != 0:
            return False
        if ev.event == "CALL":
            return ev.callable == "Recorder.__exit__ (bound)"
        return ev.event == "LINE" and ev.line == self._enter_line

    def __repr__(self) -> str:
        state = "recording" if self._session else ("done" if self.trace is not None else "ready")
        return (f"Recorder(events={catalogue.names_of(self.events)}, tool_id={self.tool_id}, "
                f"max_events={self.max_events}, scope={self.scope!r}"
                f"{', values=True' if self.values else ''}) [{state}]")


def _prepare(target: object, namespace: dict | None, filename: str | None):
    """Return (code to watch or None, source text or None, function that runs the target)."""
    if isinstance(target, str):
        if filename is None:
            filename = f"<monviz-{next(_counter)}>"
        code = compile_source(target, filename)
        ns = {"__name__": "__main__"} if namespace is None else namespace
        if not isinstance(ns, dict):
            raise InvalidArgumentError(f"namespace must be a dict, not {type(ns).__name__}")
        return code, target, lambda: exec(code, ns)
    if callable(target):
        if namespace is not None or filename is not None:
            raise InvalidArgumentError(
                "namespace= and filename= apply to source text, not to a callable")
        code = getattr(target, "__code__", None)
        if isinstance(target, MethodType):
            code = target.__func__.__code__
        return (code if isinstance(code, CodeType) else None), None, target
    raise InvalidTargetError(
        f"record() needs source text (str) or a callable to call with no arguments, "
        f"not {type(target).__name__}"
    )


def record(target, events=None, *, tool_id: int | None = None, namespace: dict | None = None,
           filename: str | None = None, max_events: int = DEFAULT_MAX_EVENTS,
           scope: str = "user", raise_errors: bool = False, values: bool = False):
    """Run ``target`` once and return the :class:`~monviz.trace.Trace` of its events.

    ``target`` is source text (compiled under ``filename`` and run in ``namespace``)
    or a callable (called with no arguments). An exception from the target is
    recorded and kept on ``trace.exception`` (re-raised with ``raise_errors=True``);
    a KeyboardInterrupt is recorded, then re-raised after teardown. With
    ``values=True`` the locals of every frame are read at each LINE (and
    PY_RETURN/PY_YIELD) event: see :meth:`Trace.frames_at` and :mod:`monviz.frames`.
    """
    rec = Recorder(events, tool_id=tool_id, max_events=max_events, scope=scope, values=values)
    code, source, run = _prepare(target, namespace, filename)
    session = rec._new_session()
    session.start(watch=[code] if code is not None else [])
    failure: BaseException | None = None
    try:
        run()
    except BaseException as exc:  # recorded on the trace; Ctrl-C re-raised below
        failure = exc
    finally:
        session.stop()
    sources = {id(code): source} if source is not None else {}
    trace = session.decode(failure, sources)
    if isinstance(failure, KeyboardInterrupt) or (raise_errors and failure is not None):
        raise failure
    return trace
