"""The exceptions monviz raises. Every one derives from :class:`MonvizError`."""

from __future__ import annotations


class MonvizError(Exception):
    """Base class of every error monviz raises on purpose."""


class UnknownEventError(MonvizError, ValueError):
    """An event name, group or bit set that this interpreter does not have."""


class ToolIdInUse(MonvizError):
    """The requested ``sys.monitoring`` tool id is held by another tool.

    ``tool_id`` is the id and ``holder`` the name that ``get_tool`` reports.
    """

    def __init__(self, message: str, tool_id: int | None = None, holder: str | None = None):
        super().__init__(message)
        self.tool_id = tool_id
        self.holder = holder


class InvalidTargetError(MonvizError, TypeError):
    """``record`` was given something that is neither source text nor a callable."""


class InvalidArgumentError(MonvizError, ValueError):
    """An argument of ``record`` or ``Recorder`` has a value it cannot take."""


class SourceSyntaxError(MonvizError, SyntaxError):
    """The source text given to ``record`` does not compile."""


class NestedRecordingError(MonvizError, RuntimeError):
    """``record`` was called while monviz was already recording."""


class TraceFileError(MonvizError):
    """A trace file (``monviz.load``) cannot be read; the message names the file."""


class NotATraceFile(TraceFileError, ValueError):
    """The file is not a monviz trace file (no magic string at its start)."""


class TraceFileVersionError(TraceFileError):
    """The file was written in a newer format version than this monviz reads.

    ``version`` is the file's format version.
    """

    def __init__(self, message: str, version: int | None = None):
        super().__init__(message)
        self.version = version


class CorruptTraceFile(TraceFileError, ValueError):
    """The file is truncated or damaged (a checksum or its header does not match)."""
