"""``monviz.Timeline(trace)``: step through a recording, event by event, in the browser.

The Python side is small: the trace goes over once as binary buffers (see
:mod:`._payload`; past ``_payload.STREAM_ABOVE`` events, in chunks the browser asks
for with custom messages after its first draw, deflated if it can inflate them), and a
few synced traits carry the state both sides can change — ``step`` above all. ``cursor``
is written by the browser: where the current step is (code object, offset, line, the
jump or branch just taken), for a linked :class:`~monviz.widgets.cfgview.CFGView` to follow.
"""

from __future__ import annotations

import pathlib

import anywidget
import traitlets

from ..render.timeline import timeline_html
from ..trace import Event, Trace
from . import _payload

_HERE = pathlib.Path(__file__).parent

#: Play speeds offered, in events per second.
SPEEDS = (1, 2, 5, 10, 30, 100, 1000, 10000)


class Timeline(anywidget.AnyWidget):
    """A call-depth flame view of a trace with event markers, step controls, the
    current event's details, its source line, the call stack and counts per kind.

    ``step`` is the current event's index; set it from Python to move the view,
    read it to see where the user is. Keys (with the widget focused): left/right
    step, Shift+left/right jump 10, Home/End.
    """

    _esm = _HERE / "timeline.js"
    _css = _HERE / "timeline.css"

    #: index of the current event
    step = traitlets.Int(0).tag(sync=True)
    #: the event kind "previous/next of kind" moves to
    seek_kind = traitlets.Unicode("").tag(sync=True)
    #: play/pause, and the play speed in events per second
    playing = traitlets.Bool(False).tag(sync=True)
    speed = traitlets.Float(5.0).tag(sync=True)
    #: written by the browser: where the current step is (see the module docstring)
    cursor = traitlets.Dict().tag(sync=True)

    _meta = traitlets.Dict().tag(sync=True)
    _columns = traitlets.Dict().tag(sync=True)
    _speeds = traitlets.List(list(SPEEDS)).tag(sync=True)

    def __init__(self, trace: Trace, *, step: int = 0, seek_kind: str | None = None,
                 **kwargs) -> None:
        if not isinstance(trace, Trace):
            from ..errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"Timeline needs a monviz.Trace, not {type(trace).__name__}")
        self._trace = trace
        chunk = None
        if len(trace) > _payload.STREAM_ABOVE and trace.values is None:
            chunk = _payload.CHUNK  # the rest follows, asked for by the browser
        meta, buffers, self._chunks = _payload.build_chunked(trace, chunk)
        if seek_kind is None:
            seek_kind = self.default_seek_kind(trace)
        super().__init__(_meta=meta, _columns=buffers, seek_kind=seek_kind, **kwargs)
        self.step = step
        self.on_msg(self._on_request)

    def _on_request(self, widget, content, buffers) -> None:
        """The browser asks for a chunk of a streamed trace, or for the value strings."""
        kind = content.get("type") if isinstance(content, dict) else None
        deflated = kind is not None and content.get("deflate") is True  # the browser inflates
        if kind == "values":
            data = _payload.values_buffer(self._trace)
            if deflated:
                self.send({"type": "values", "deflate": True}, [_payload.deflate(data)])
            else:
                self.send({"type": "values"}, [data])
        elif kind == "chunk":
            index = content.get("index")
            if isinstance(index, int) and 0 < index < self._chunks.count:
                head, parts = self._chunks.chunk(index, deflated)
                self.send({"type": "chunk", **head}, list(parts.values()))

    @staticmethod
    def default_seek_kind(trace: Trace) -> str:
        """The kind "previous/next of kind" starts on: the most telling one the trace has."""
        present = set(trace._d.kind.tobytes())
        names = [trace.kind_names[k] for k in sorted(present)]
        return next((n for n in ("BRANCH", "BRANCH_LEFT", "BRANCH_RIGHT", "JUMP", "CALL",
                                 "LINE") if n in names), names[0] if names else "")

    @traitlets.validate("step")
    def _valid_step(self, proposal) -> int:
        n = len(self._trace)
        return min(max(int(proposal["value"]), 0), max(n - 1, 0))

    @property
    def trace(self) -> Trace:
        return self._trace

    @property
    def event(self) -> Event | None:
        """The current event (``None`` for an empty trace)."""
        return self._trace[self.step] if len(self._trace) else None

    def next_of(self, name: str | None = None) -> int | None:
        """Move to the next event of a kind (default: ``seek_kind``); its index, or None."""
        return self._seek(name, +1)

    def previous_of(self, name: str | None = None) -> int | None:
        """Move to the previous event of a kind (default: ``seek_kind``); its index, or None."""
        return self._seek(name, -1)

    def _seek(self, name: str | None, direction: int) -> int | None:
        name = (name or self.seek_kind).upper()
        if name not in self._trace.kind_names:
            return None
        k = self._trace.kind_names.index(name)
        kinds = self._trace._d.kind.tobytes()
        if direction > 0:
            i = kinds.find(bytes([k]), self.step + 1)
        else:
            i = kinds.rfind(bytes([k]), 0, self.step)
        if i < 0:
            return None
        self.step = i
        return i

    def __repr__(self) -> str:
        n = len(self._trace)
        return f"Timeline({n} events, {len(self._trace.codes())} code objects, step={self.step})"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/html"] = timeline_html(self._trace)
        return bundle

