"""An independent ``sys.monitoring`` recorder: the ground truth monviz is compared against.

Written from the documented API alone (no monviz import), as plainly as possible:
one exact-arity callback per event appends a row, nothing is cached or decoded.

* Local events are set on every code object of the given roots' trees (walking
  ``co_consts``); events the interpreter refuses per code object (found by
  trying each on a scratch code object) are set globally, and their callbacks
  drop code objects outside the tree, compared by identity. INSTRUCTION is
  set globally too: on 3.12.1/3.13.0 a tool whose *local* INSTRUCTION was set
  first on a code object gets no INSTRUCTION events once a second tool enables
  INSTRUCTION there (a global one set first is unaffected), and the oracle
  runs beside monviz.
* Rows are ``(event, code, offset, line, target)``: LINE has ``offset`` None and
  the line the callback got; other events map the offset to a line through
  ``co_lines()`` ranges (cache entries included); ``target`` is the
  destination of JUMP / BRANCH / BRANCH_LEFT / BRANCH_RIGHT, else None.
* ``details[i]`` holds what else row ``i`` carried: the call depth (tree frames
  on the stack, minus one), the thread, and ``repr``s taken at event time.
* ``stop()`` undoes everything: events off (global and local), callbacks
  unregistered, tool id freed (on 3.12/3.13 ``free_tool_id`` alone clears nothing).
"""

from __future__ import annotations

import sys
import threading
from types import CodeType

mon = sys.monitoring
EVENTS: dict[str, int] = {n: b for n, b in vars(mon.events).items() if n != "NO_EVENTS"}
_JUMPS = {"JUMP", "BRANCH", "BRANCH_LEFT", "BRANCH_RIGHT"}
_CALLS = {"CALL", "C_RETURN", "C_RAISE"}
_VALUES = {"PY_RETURN", "PY_YIELD"}  # the third argument is a value; elsewhere an exception
_C_BITS = EVENTS["C_RETURN"] | EVENTS["C_RAISE"]
_ALWAYS_GLOBAL = EVENTS["INSTRUCTION"]


def code_tree(code: CodeType):
    """``code`` and every code object nested in its constants."""
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from code_tree(const)


def line_of(code: CodeType, offset: int) -> int | None:
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line
    return None


def _text(value: object) -> str:
    return "MISSING" if value is mon.MISSING else repr(value)


class RawRecorder:
    """Record ``events`` (an int bit set) of the code trees of ``roots`` on ``tool_id``.

    C_RETURN and C_RAISE can only be enabled together, and with CALL.
    """

    def __init__(self, events: int, tool_id: int, roots: list[CodeType]):
        self.bits, self.tool = events, tool_id
        self.tree = {id(c): c for root in roots for c in code_tree(root)}
        self.rows: list[tuple] = []
        self.details: list[dict] = []

    def _add(self, name, code, offset, line, target, **payload):
        frame, depth = sys._getframe(2), 0  # 0: _add, 1: the callback, 2: the monitored frame
        f = frame
        while f is not None:
            depth += id(f.f_code) in self.tree
            f = f.f_back
        self.rows.append((name, code, offset, line, target))
        self.details.append(dict(payload, depth=depth - 1, thread=threading.get_ident(),
                                 frame_ok=frame.f_code is code))

    def _callback(self, name: str, is_global: bool):
        ours = self.tree.get
        add = self._add

        def keep(code):
            return not is_global or ours(id(code)) is code

        if name == "LINE":
            return lambda code, line: add(name, code, None, line, None) if keep(code) else None
        if name in _CALLS:
            return lambda code, off, func, arg0: add(
                name, code, off, line_of(code, off), None, callable=func, arg0=_text(arg0)
            ) if keep(code) else None
        if name in _JUMPS:
            return lambda code, off, dest: add(
                name, code, off, line_of(code, off), dest) if keep(code) else None
        if name in ("PY_START", "PY_RESUME", "INSTRUCTION"):
            return lambda code, off: add(name, code, off, line_of(code, off), None) \
                if keep(code) else None
        key = "value" if name in _VALUES else "exception"
        return lambda code, off, arg: add(
            name, code, off, line_of(code, off), None, **{key: _text(arg)}) if keep(code) else None

    def start(self) -> RawRecorder:
        mon.use_tool_id(self.tool, "raw-recorder")
        probe = (lambda: None).__code__
        local = 0
        for bit in EVENTS.values():  # what this interpreter accepts per code object
            try:
                # C_RETURN / C_RAISE are only accepted together, and with CALL
                with_call = EVENTS["CALL"] | _C_BITS if bit & _C_BITS else 0
                mon.set_local_events(self.tool, probe, bit | with_call)
                local |= bit
            except ValueError:
                pass
            mon.set_local_events(self.tool, probe, 0)
        local &= ~_ALWAYS_GLOBAL
        for name, bit in EVENTS.items():
            if bit & self.bits:
                mon.register_callback(self.tool, bit, self._callback(name, not bit & local))
        for code in self.tree.values():
            mon.set_local_events(self.tool, code, self.bits & local)
        mon.set_events(self.tool, self.bits & ~local)
        return self

    def stop(self) -> None:
        mon.set_events(self.tool, 0)
        for code in self.tree.values():
            mon.set_local_events(self.tool, code, 0)
        for bit in EVENTS.values():
            mon.register_callback(self.tool, bit, None)
        mon.free_tool_id(self.tool)

    def __enter__(self) -> RawRecorder:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
