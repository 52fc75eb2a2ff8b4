"""monviz: see and learn CPython's ``sys.monitoring`` (PEP 669).

``monviz.record(code)`` runs code once and returns a :class:`Trace` of exactly
the events ``sys.monitoring`` raised; ``monviz.Recorder`` does the same for a
``with`` block. ``trace.save(path)`` writes it to a file, ``monviz.load(path)``
reads it back.
"""

from __future__ import annotations

from . import events
from .backends import backend
from .cfg import ControlFlowGraph, cfg
from .compare import Comparison, compare
from .errors import (
    CorruptTraceFile,
    InvalidArgumentError,
    InvalidTargetError,
    MonvizError,
    NestedRecordingError,
    NotATraceFile,
    SourceSyntaxError,
    ToolIdInUse,
    TraceFileError,
    TraceFileVersionError,
    UnknownEventError,
)
from .recorder import Recorder, record
from .storage import load
from .trace import CodeInfo, Event, Trace

__version__ = "0.1.0"

__all__ = [
    "CFGView",
    "CodeInfo",
    "Comparison",
    "ControlFlowGraph",
    "CorruptTraceFile",
    "Event",
    "Explorer",
    "InvalidArgumentError",
    "InvalidTargetError",
    "MonvizError",
    "NestedRecordingError",
    "NotATraceFile",
    "Recorder",
    "SourceSyntaxError",
    "Timeline",
    "ToolIdInUse",
    "Trace",
    "TraceFileError",
    "TraceFileVersionError",
    "UnknownEventError",
    "backend",
    "cfg",
    "compare",
    "events",
    "load",
    "record",
    "show",
]

_WIDGETS = ("CFGView", "Explorer", "Timeline", "show")


def __getattr__(name: str):
    # The widgets import anywidget and ipywidgets (~0.3 s): only when first asked for.
    if name in _WIDGETS:
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module 'monviz' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """``%load_ext monviz`` registers ``%%monitor`` and ``%monitor``."""
    from .magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .magic import unload_ipython_extension as unload

    unload(ipython)
