"""monviz.record leaves no trace: sys.monitoring is exactly as it was, however recording ends.

"As it was" is read through every public getter (tool names, global events of
every id, ``_all_events``), the local events of every code object monviz set
local events on (compared with what they were just before it first did), the
callbacks of the ids monviz used, the SIGINT handler, and monviz's threads.
"""

from __future__ import annotations

import signal
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sysmon_state import spying, state

import monviz
from monviz.events import CATALOGUE

ALL = [name for name, info in CATALOGUE.items() if not info.deprecated]
CAP = 50


def returns():
    total = 0
    for i in range(3):
        total += i
    return [total]


def raises():
    returns()
    raise ValueError("from the target")


def loops():
    """Long enough to pass a small cap with any event a loop raises."""
    total = 0
    for i in range(20_000):
        total += i
    return total


def interrupted():
    returns()
    raise KeyboardInterrupt


def interrupted_by_signal():
    returns()
    signal.raise_signal(signal.SIGINT)  # the default handler raises KeyboardInterrupt here
    return "not reached"


pytestmark = pytest.mark.usefixtures("default_sigint")

SOURCE = textwrap.dedent("""
    def helper(n):
        return [n] * n
    values = [helper(n) for n in range(3)]
""")

TARGETS = {
    "returns": returns,
    "raises": raises,
    "loops past the cap": loops,
    "KeyboardInterrupt": interrupted,
    "SIGINT": interrupted_by_signal,
    "source": SOURCE,
}
INTERRUPTS = {"KeyboardInterrupt", "SIGINT"}


def record_and_check(kind: str, events=None, scope="user"):
    """Record target ``kind``; check the ending it should have and that nothing is left."""
    before = state()
    handler = signal.getsignal(signal.SIGINT)
    trace = failure = None
    with spying() as spy:
        try:
            trace = monviz.record(TARGETS[kind], events=events, max_events=CAP, scope=scope)
        except BaseException as exc:  # checked below, after the state
            failure = exc
    spy.assert_left_clean(before)
    assert signal.getsignal(signal.SIGINT) is handler
    if kind in INTERRUPTS:
        assert isinstance(failure, KeyboardInterrupt), "KeyboardInterrupt did not propagate"
    elif failure is not None:
        raise failure
    assert spy.tools, "monviz never claimed a tool id"
    return trace, spy


@pytest.mark.parametrize("kind", TARGETS)
@pytest.mark.parametrize("scope", ["user", "all"])
def test_recording_leaves_sys_monitoring_as_it_found_it(kind, scope):
    trace, spy = record_and_check(kind, events=ALL, scope=scope)
    assert spy.codes, "no code object was instrumented, so nothing was checked"
    if kind == "raises":
        assert isinstance(trace.exception, ValueError)
    if kind == "loops past the cap":
        assert trace.truncated and len(trace) == CAP


def test_keyboard_interrupt_propagates_only_after_teardown():
    """In the handler, sys.monitoring is already clean and another recording can start."""
    before = state()
    with pytest.raises(KeyboardInterrupt):
        monviz.record(interrupted)
    assert state() == before
    assert len(monviz.record(returns, events=["PY_RETURN"])) == 1


def test_a_recording_that_fails_to_start_leaves_nothing_behind():
    """A busy tool id is found before anything is set."""
    sys.monitoring.use_tool_id(4, "someone else")
    try:
        before = state()
        with spying() as spy, pytest.raises(monviz.ToolIdInUse):
            monviz.record(returns, tool_id=4)
        spy.assert_left_clean(before)
        assert not spy.codes and not spy.callbacks
    finally:
        sys.monitoring.free_tool_id(4)


def test_with_a_tool_already_on_3_monviz_cleans_up_4():
    sys.monitoring.use_tool_id(3, "other")
    try:
        trace, spy = record_and_check("returns", events=["LINE"])
        assert set(spy.tools) == {4}
        assert sys.monitoring.get_tool(3) == "other"
        assert len(trace) > 0
    finally:
        sys.monitoring.free_tool_id(3)


KINDS = st.sampled_from(sorted(TARGETS))
EVENT_SETS = st.sets(st.sampled_from(ALL), min_size=1).map(sorted)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(KINDS, EVENT_SETS), min_size=1, max_size=4))
def test_any_sequence_of_recordings_leaves_sys_monitoring_clean(runs):
    for kind, events in runs:
        trace, _ = record_and_check(kind, events=events)
        if trace is not None:
            assert set(trace.events) == set(events)
            assert {e.event for e in trace} <= set(events)
