"""Every difference between CPython versions that monviz cares about, in one place.

``sys.monitoring`` changed in every release since it arrived in 3.12:

* 3.14 split BRANCH into BRANCH_LEFT / BRANCH_RIGHT (BRANCH became an alias for
  both) and renumbered every event from STOP_ITERATION on; it added
  ``clear_tool_id`` and made ``free_tool_id`` clear events and callbacks.
* 3.15 lets the exception events (RAISE, RERAISE, EXCEPTION_HANDLED, PY_UNWIND,
  PY_THROW) be set per code object.

Other modules ask this one instead of testing ``sys.version_info`` themselves.
Event *values* are never hard-coded anywhere: they are read from the running
interpreter's ``sys.monitoring.events``.
"""

from __future__ import annotations

import sys

PY = sys.version_info[:2]
VERSION = "{}.{}".format(*PY)

#: BRANCH_LEFT / BRANCH_RIGHT exist (3.14+); BRANCH is then a deprecated alias.
HAS_BRANCH_LEFT_RIGHT: bool = hasattr(sys.monitoring.events, "BRANCH_LEFT")

#: ``sys.monitoring.clear_tool_id`` exists (3.14+).
HAS_CLEAR_TOOL_ID: bool = hasattr(sys.monitoring, "clear_tool_id")

#: ``free_tool_id`` also clears events and callbacks (3.14+). On 3.12/3.13 it
#: only releases the name: events stay set and callbacks keep firing.
FREE_TOOL_ID_CLEARS: bool = PY >= (3, 14)

#: The exception events can be set per code object (3.15+). Before that
#: ``set_local_events`` rejects them with "invalid local event set".
EXCEPTION_EVENTS_LOCAL: bool = PY >= (3, 15)

#: The version in which each event first appeared.
EVENT_SINCE: dict[str, tuple[int, int]] = {
    "BRANCH_LEFT": (3, 14),
    "BRANCH_RIGHT": (3, 14),
}

#: The events that report conditional branches: BRANCH, or its two halves on 3.14+.
BRANCH_EVENTS: tuple[str, ...] = (
    ("BRANCH_LEFT", "BRANCH_RIGHT") if HAS_BRANCH_LEFT_RIGHT else ("BRANCH",)
)

#: Events that still exist but are deprecated on this interpreter, with what
#: replaces them. On 3.14+ enabling BRANCH enables BRANCH_LEFT|BRANCH_RIGHT.
DEPRECATED_ALIASES: dict[str, tuple[str, ...]] = (
    {"BRANCH": ("BRANCH_LEFT", "BRANCH_RIGHT")} if HAS_BRANCH_LEFT_RIGHT else {}
)

#: Monitoring events of the running interpreter, by name, in bit order.
#: NO_EVENTS is a constant, not an event.
EVENT_VALUES: dict[str, int] = dict(
    sorted(
        ((name, value) for name, value in vars(sys.monitoring.events).items()
         if name != "NO_EVENTS" and isinstance(value, int) and value > 0),
        key=lambda item: item[1],
    )
)

#: Tool ids that other tools use by convention; monviz only takes them when asked.
RESERVED_TOOL_IDS: dict[int, str] = {
    sys.monitoring.DEBUGGER_ID: "DEBUGGER_ID (debuggers; pdb on 3.14+)",
    sys.monitoring.COVERAGE_ID: "COVERAGE_ID (coverage.py)",
    sys.monitoring.PROFILER_ID: "PROFILER_ID (cProfile, profilers)",
    sys.monitoring.OPTIMIZER_ID: "OPTIMIZER_ID (JITs, optimizers)",
}

#: Tool ids monviz picks from when none is given.
FREE_TOOL_ID_CANDIDATES: tuple[int, ...] = (3, 4)


def clear_tool(tool_id: int) -> None:
    """Remove every event and callback of ``tool_id`` where the interpreter can do it alone.

    On 3.14+ this is ``clear_tool_id``; on 3.12/3.13 there is no such call and
    the caller must undo what it set (the recorder tracks that itself).
    """
    if HAS_CLEAR_TOOL_ID:
        sys.monitoring.clear_tool_id(tool_id)
