"""The compiled backend's session: ``monviz._speedups`` wired into ``sys.monitoring``.

Everything that decides (scope, tool ids, which events are local, teardown)
is the pure-Python session's, inherited; what changes is who records. One C
callback per event kind writes the trace's columns directly (see
``monviz/_speedups.c``), so recording ends without a decode pass: the Trace
reads the columns in place through ``memoryview``. The C side

* keeps its own table of watched code objects (by identity) and asks
  :meth:`CompiledSession.decide` about a frame of code it has not seen: in
  scope (watch it) or not (``DISABLE``);
* drops exception events of code it does not watch (they are global before 3.15);
* stops at ``max_events`` kept events by calling :meth:`CompiledSession.on_full`,
  which switches the tool's events off from inside the callback;
* tracks threads and the call depth per thread itself.
"""

from __future__ import annotations

import sys
from types import CodeType

from . import _stream, backends
from .recorder import _DISABLE, _E, _Session, mon
from .values import (
    ATOM_TYPES,
    MAX_REPR,
    MAX_STRING,
    MISSING,
    DeferredTexts,
    describe_callable,
    display,
    snapshot,
)


class CompiledSession(_Session):
    """A :class:`~monviz.recorder._Session` whose callbacks are ``_speedups`` objects."""

    crec = None

    def _register(self, threaded: bool) -> None:
        """Make the C recorder (room for ``max_events`` rows, untouched) and register
        one callback per enabled event."""
        if self.crec is None:
            keep = bytes(map(self.keeps, range(len(_stream.KINDS))))
            self.crec = backends.speedups.Recorder(
                min(self.max_events, sys.maxsize - 1), bytes(_stream.SHAPES), keep,
                self.level0, ATOM_TYPES, snapshot, self.snap_exception, self.decide,
                self.on_full, _DISABLE, MISSING, MAX_REPR)
        for k, name in enumerate(_stream.KINDS):
            bit = _E[name].bit
            if bit & self.enabled and bit not in self.registered:
                mon.register_callback(self.tool, bit, self.with_values(name, self.crec.callback(k)))
                self.registered.append(bit)

    def _other_threads_in_scope(self) -> bool:
        return False  # the C callbacks look at the thread of every event anyway

    def _start_cap_watch(self) -> None:
        """Nothing to start: the C callbacks count kept rows and stop at the cap."""

    def watch(self, code: CodeType) -> int:
        """Local events on ``code``, then its index in the C table (once)."""
        crec = self.crec
        if crec.is_watched(code):
            return crec.watch(code)
        with self.lock:
            if not crec.is_watched(code):
                if not self.stopped:
                    mon.set_local_events(self.tool, code, self.local_bits)
                self.codes.append(code)
            return crec.watch(code)

    def decide(self, code: CodeType, throw: bool) -> bool:
        """A frame starts in code the C side has not seen: watch it if in scope.

        Out of scope, the C callback returns DISABLE (never for PY_THROW, which
        cannot be disabled), so this runs once per location.
        """
        if not self.in_scope(code):
            if not throw:
                self.disabled = True
            return False
        self.watch(code)
        return True

    def on_full(self) -> None:
        """Called by the C side, from inside a callback, at ``max_events`` kept events."""
        self.truncated = True
        self.stop_monitoring()

    def stop_monitoring(self) -> None:
        if self.crec is not None:
            self.crec.stop()
        super().stop_monitoring()

    def decode(self, exception: BaseException | None, source: dict[int, str]):
        """The Trace, reading the C columns in place; nothing per event happens here."""
        from .trace import Trace

        if self.crec is None:  # start() failed before the recorder existed
            return super().decode(exception, source)
        out = self.crec.finish()
        self.crec = None
        data = _stream.Decoded()
        for name in _stream.PACKED:
            setattr(data, name, memoryview(out[name]))
        data.values = _texts(out["objects"], out["flags"])
        data.threads = out["threads"]
        data.level0 = self.level0
        data.dropped = out["dropped"]
        data.count = len(data.kind)
        truncated = bool(self.truncated or out["full"])
        codes = out["codes"]
        self.codes = []
        trace = Trace._from_recording(data, codes, source, exception=exception,
                                      truncated=truncated, events_bits=self.requested)
        self._code_index = {id(c): i for i, c in enumerate(codes)}
        return self.values_of(trace)

    def value_code_ids(self) -> dict[int, int]:
        return self._code_index


def _texts(objects: list, flags: bytearray) -> list[str] | DeferredTexts:
    """The display string of each side-table entry: made now for everything that may
    not be kept (user objects, callables, exception types), later for small atoms."""
    texts, pending = backends.speedups.texts(objects, flags, display, describe_callable,
                                             MAX_REPR, MAX_STRING, True)
    return DeferredTexts(texts, pending) if pending.count(0) < len(pending) else texts
