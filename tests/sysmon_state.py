"""What ``sys.monitoring`` holds, and what monviz did to it, for "leaves no trace" checks.

``state()`` reads everything that can be read without changing it. ``spying()``
wraps the ``sys.monitoring`` functions monviz calls, so a test knows which tool
ids, code objects and callbacks a recording touched, and what each touched code
object's local events were just before monviz first set them.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

import pytest

mon = sys.monitoring
EVENT_BITS: dict[str, int] = {n: b for n, b in vars(mon.events).items() if n != "NO_EVENTS"}


def state() -> dict:
    """Tool names and global events of every id (``_all_events`` covers settrace/setprofile)."""
    return {
        "tools": {t: mon.get_tool(t) for t in range(6)},
        "events": {t: mon.get_events(t) for t in range(6)},
        "all_events": getattr(mon, "_all_events", dict)(),  # private: includes ids 6 and 7
    }


def local_events(code) -> dict[int, int]:
    return {t: mon.get_local_events(t, code) for t in range(6)}


class Spy:
    def __init__(self) -> None:
        self.tools: list[int] = []  # ids passed to use_tool_id, in order
        self.codes: dict[int, object] = {}  # id -> code object given to set_local_events
        self.found: dict[int, dict[int, int]] = {}  # id -> local events of every tool before
        self.callbacks: set[tuple[int, int]] = set()  # (tool, event) given a callback

    def wrap(self, name: str, real):
        def spied(*args):
            if name == "use_tool_id":
                self.tools.append(args[0])
            elif name == "set_local_events" and id(args[1]) not in self.codes:
                self.codes[id(args[1])] = args[1]
                self.found[id(args[1])] = local_events(args[1])
            elif name == "register_callback" and args[2] is not None:
                self.callbacks.add((args[0], args[1]))
            return real(*args)

        return spied

    def assert_left_clean(self, before: dict) -> None:
        """Everything as found: ids, global and local events, callbacks, threads."""
        assert state() == before
        for key, code in self.codes.items():
            assert local_events(code) == self.found[key], f"local events left on {code.co_qualname}"
        for tool in set(self.tools):
            # register_callback(..., None) unregisters: only done on ids monviz held
            left = {n for n, bit in EVENT_BITS.items() if mon.register_callback(tool, bit, None)}
            assert not left, f"callbacks still registered on tool {tool}: {sorted(left)}"
        assert not [t for t in threading.enumerate() if t.name.startswith("monviz")]


@contextmanager
def spying():
    """Record what the code in the block does to ``sys.monitoring`` (see :class:`Spy`)."""
    spy = Spy()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("use_tool_id", "set_local_events", "register_callback"):
            mp.setattr(mon, name, spy.wrap(name, getattr(mon, name)))
        yield spy
