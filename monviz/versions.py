"""Every difference between CPython versions that monviz cares about, in one place.

``sys.monitoring`` changed in every release since it arrived in 3.12:

* 3.14 split BRANCH into BRANCH_LEFT / BRANCH_RIGHT (BRANCH became an alias for
  both) and renumbered every event from STOP_ITERATION on; it added
  ``clear_tool_id`` and made ``free_tool_id`` clear events and callbacks.
* 3.15 lets the exception events (RAISE, RERAISE, EXCEPTION_HANDLED, PY_UNWIND,
  PY_THROW) be set per code object.
* The bytecode that BRANCH and JUMP events describe changes too (the last
  section below, used by :mod:`monviz.cfg`): 3.13 gave conditional jumps an
  inline cache, 3.14 added ``NOT_TAKEN`` and ``POP_ITER`` and
  ``code.co_branches()``.

The platform matters too (the section "Platform" below): CPython compiled to
WebAssembly (Pyodide, JupyterLite; ``sys.platform == "emscripten"``) cannot
start threads or subprocesses and has no C compiler to build extensions with.

Other modules ask this one instead of testing ``sys.version_info`` or
``sys.platform`` themselves.
Event *values* are never hard-coded anywhere: they are read from the running
interpreter's ``sys.monitoring.events``.
"""

from __future__ import annotations

import dis
import sys
from types import CodeType

PY = sys.version_info[:2]
VERSION = "{}.{}".format(*PY)

# -- Platform ------------------------------------------------------------------------

#: CPython compiled to WebAssembly: Emscripten (Pyodide, JupyterLite) or WASI.
WEBASSEMBLY: bool = sys.platform in ("emscripten", "wasi")

#: The platform, for messages: "emscripten (WebAssembly: Pyodide, JupyterLite)" or "linux".
PLATFORM: str = {"emscripten": "emscripten (WebAssembly: Pyodide, JupyterLite)",
                 "wasi": "wasi (WebAssembly)"}.get(sys.platform, sys.platform)

#: This interpreter can start threads. Pyodide's CPython is built without pthreads:
#: ``_thread.start_new_thread`` raises RuntimeError("can't start new thread").
#: ``sys._emscripten_info.pthreads`` says whether an Emscripten build has them.
HAS_THREADS: bool = (
    bool(getattr(getattr(sys, "_emscripten_info", None), "pthreads", False))
    if WEBASSEMBLY else True)

#: This interpreter can start subprocesses (``subprocess.run``); Emscripten and WASI
#: cannot (OSError "emscripten does not support processes"), nor can iOS and friends
#: (the same set as the standard library's ``subprocess._can_fork_exec``).
HAS_SUBPROCESSES: bool = sys.platform not in ("emscripten", "wasi", "ios", "tvos", "watchos")

#: ``asyncio.run()`` suspends its caller's C stack and runs the coroutines from the
#: JavaScript event loop (Pyodide's WebLoop, with WebAssembly stack switching): a
#: coroutine's ``f_back`` chain ends in the loop and never reaches ``asyncio.run``'s
#: caller, though that caller's frame is still open. monviz's depth comes from frame
#: events, so it still counts the caller; a frame walk does not.
ASYNCIO_RUN_SWITCHES_STACKS: bool = sys.platform == "emscripten"

#: The reason a C extension cannot be loaded here, or "" where it can. Under
#: WebAssembly monviz's extension is not built (it would have to be compiled with
#: Emscripten's toolchain for that very Python); a desktop build's ``.so`` lying in the
#: same source tree (a mounted checkout) must not even be tried.
NO_C_EXTENSION: str = (
    f"this is CPython {sys.version.split()[0]} on {PLATFORM}, where monviz's C extension "
    f"is not built" if WEBASSEMBLY else "")


# -- sys.monitoring ------------------------------------------------------------------

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


# -- Bytecode, as monviz.cfg needs it ------------------------------------------------

#: ``code.co_branches()`` exists (3.14+): one ``(src, left_dest, right_dest)`` triple per
#: instruction that raises BRANCH_LEFT/BRANCH_RIGHT, with exactly the offsets they report.
HAS_CO_BRANCHES: bool = hasattr(CodeType, "co_branches")

#: Opnames whose argument ``dis`` shows as a jump target (``dis.hasjump`` from 3.13 on;
#: 3.12 has only ``hasjrel``/``hasjabs``).
JUMP_ARG_OPNAMES: frozenset[str] = frozenset(
    dis.opname[op] for op in getattr(dis, "hasjump", [*dis.hasjrel, *dis.hasjabs]))

#: Opnames with a "jump" argument that is not a jump. 3.14's ``END_ASYNC_FOR``
#: points back at the ``END_SEND`` whose BRANCH_RIGHT it reports, then falls through.
JUMP_ARG_IS_A_BACK_REFERENCE: frozenset[str] = frozenset({"END_ASYNC_FOR"})

#: Conditional jumps that raise BRANCH (3.12/3.13; on 3.14+ ``co_branches()`` lists them).
#: ``SEND`` is conditional too but raises no event.
BRANCH_OPNAMES: frozenset[str] = frozenset({
    "POP_JUMP_IF_FALSE", "POP_JUMP_IF_TRUE", "POP_JUMP_IF_NONE", "POP_JUMP_IF_NOT_NONE",
    "FOR_ITER"})

#: Unconditional jumps that raise JUMP. ``JUMP_BACKWARD_NO_INTERRUPT`` (``yield from``
#: and ``await`` loops; from 3.13 also the way out of some ``except`` handlers) raises none.
JUMP_EVENT_OPNAMES: frozenset[str] = frozenset({"JUMP_FORWARD", "JUMP_BACKWARD"})

#: The instructions at an exhausted ``FOR_ITER``'s jump target that the loop's exit
#: skips when BRANCH is monitored: 3.12 skips ``END_FOR``; 3.13 ``END_FOR`` and
#: ``POP_TOP``; 3.14+ only ``END_FOR`` (``POP_ITER`` runs and reports BRANCH_RIGHT).
#: On 3.12/3.13 the BRANCH event reports the instruction after them as the destination.
FOR_ITER_EXIT_SKIPS: tuple[str, ...] = (
    ("END_FOR", "POP_TOP") if PY == (3, 13) else ("END_FOR",))

#: Conditional jumps that take only a bool (3.13+ puts a ``TO_BOOL`` before them), so
#: cannot raise. On 3.12 they test truth themselves, which can call ``__bool__``.
CONDITIONAL_JUMPS_TAKING_BOOLS: frozenset[str] = (
    frozenset() if PY < (3, 13) else frozenset({"POP_JUMP_IF_FALSE", "POP_JUMP_IF_TRUE"}))

#: Instructions that raise the BRANCH_LEFT/BRANCH_RIGHT of the branch before them
#: (3.14+): ``NOT_TAKEN`` the left side of a conditional, ``POP_ITER`` the exit of a
#: ``for`` loop. When a LINE or INSTRUCTION event fires on such an instruction, the
#: branch event reports *its* offset as the source instead of the branch's.
BRANCH_REPORTERS: frozenset[str] = (
    frozenset({"NOT_TAKEN", "POP_ITER"}) if HAS_BRANCH_LEFT_RIGHT else frozenset())


def inline_cache_units(opname: str) -> int:
    """Inline cache entries (2-byte code units) that follow an instruction.

    ``dis._inline_cache_entries`` is a list indexed by opcode on 3.12 and a mapping
    from opname on 3.13+ (a frozendict on 3.15); absent names have none.
    """
    table = dis._inline_cache_entries
    if isinstance(table, list | tuple):
        return table[dis.opmap[opname]] if opname in dis.opmap else 0
    return table.get(opname, 0) or 0
