"""monviz: see and learn CPython's ``sys.monitoring`` (PEP 669).

``monviz.record(code)`` runs code once and returns a :class:`Trace` of exactly
the events ``sys.monitoring`` raised; ``monviz.Recorder`` does the same for a
``with`` block.
"""

from __future__ import annotations

from . import events
from .errors import (
    InvalidArgumentError,
    InvalidTargetError,
    MonvizError,
    NestedRecordingError,
    SourceSyntaxError,
    ToolIdInUse,
    UnknownEventError,
)
from .recorder import Recorder, record
from .trace import CodeInfo, Event, Trace

__version__ = "0.1.0"

__all__ = [
    "CodeInfo",
    "Event",
    "InvalidArgumentError",
    "InvalidTargetError",
    "MonvizError",
    "NestedRecordingError",
    "Recorder",
    "SourceSyntaxError",
    "ToolIdInUse",
    "Trace",
    "UnknownEventError",
    "events",
    "record",
]
