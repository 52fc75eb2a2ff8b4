"""Bad input is refused with a MonvizError that names what was wrong and what is valid,
and a refused recording leaves sys.monitoring as it was."""

from __future__ import annotations

import sys

import pytest
from sysmon_state import spying, state

import monviz
from monviz.events import CATALOGUE


def target():
    return 1


@pytest.fixture
def untouched():
    """The test body must leave sys.monitoring exactly as it found it."""
    before = state()
    with spying() as spy:
        yield spy
    spy.assert_left_clean(before)


def refuse(error, *args, **kwargs) -> str:
    """record(*args, **kwargs) raises ``error`` (a MonvizError); return its message."""
    with pytest.raises(error) as info:
        monviz.record(*args, **kwargs)
    assert isinstance(info.value, monviz.MonvizError)
    return str(info.value)


# -- events -----------------------------------------------------------------------


@pytest.mark.parametrize("typo, meant", [
    ("brnch", "BRANCH"), ("py_strat", "PY_START"), ("lien", "LINE"), ("excepton", "exceptions"),
])
def test_an_unknown_event_names_the_closest_match_and_the_valid_ones(untouched, typo, meant):
    message = refuse(monviz.UnknownEventError, target, events=[typo])
    assert repr(typo) in message
    assert f"Did you mean {meant!r}?" in message
    assert all(name in message for name in CATALOGUE)
    assert "exceptions" in message  # groups are listed too
    assert not untouched.tools, "a tool id was claimed before the events were checked"


@pytest.mark.parametrize("events", [0, -1, 1 << 40, [], "", " , ", True, [1.5], [None], 2.0])
def test_event_specs_that_are_not_events_are_refused(untouched, events):
    message = refuse(monviz.UnknownEventError, target, events=events)
    assert message
    assert not untouched.tools


# -- tool ids ---------------------------------------------------------------------


def test_a_busy_tool_id_names_its_holder(untouched):
    sys.monitoring.use_tool_id(4, "someone's profiler")
    try:
        with pytest.raises(monviz.ToolIdInUse) as info:
            monviz.record(target, tool_id=4)
        assert info.value.holder == "someone's profiler"
        assert info.value.tool_id == 4
        assert "someone's profiler" in str(info.value) and "4" in str(info.value)
        assert "tool_id" in str(info.value)  # says what to do instead
        assert sys.monitoring.get_tool(4) == "someone's profiler"
    finally:
        sys.monitoring.free_tool_id(4)


def test_no_free_tool_id_names_every_holder(untouched):
    sys.monitoring.use_tool_id(3, "tool three")
    sys.monitoring.use_tool_id(4, "tool four")
    try:
        message = refuse(monviz.ToolIdInUse, target)
        assert "tool three" in message and "tool four" in message
    finally:
        sys.monitoring.free_tool_id(3)
        sys.monitoring.free_tool_id(4)


@pytest.mark.parametrize("tool_id", [7, -1, "3", True, 3.0])
def test_a_bad_tool_id_is_refused(untouched, tool_id):
    message = refuse(monviz.InvalidArgumentError, target, tool_id=tool_id)
    assert "tool_id" in message and repr(tool_id) in message
    assert "0 to 5" in message


# -- target, cap, scope, source -----------------------------------------------------


@pytest.mark.parametrize("bad", [42, None, b"x = 1", ["x = 1"]])
def test_a_target_that_is_neither_source_nor_callable_is_refused(untouched, bad):
    message = refuse(monviz.InvalidTargetError, bad)
    assert "str" in message and "callable" in message
    assert type(bad).__name__ in message


@pytest.mark.parametrize("cap", [0, -1, "10", True, 2.5, None])
def test_max_events_must_be_a_positive_int(untouched, cap):
    message = refuse(monviz.InvalidArgumentError, target, max_events=cap)
    assert "max_events" in message and repr(cap) in message
    assert "at least 1" in message


@pytest.mark.parametrize("scope", ["users", "ALL", None, ""])
def test_a_bad_scope_lists_the_valid_ones(untouched, scope):
    message = refuse(monviz.InvalidArgumentError, target, scope=scope)
    assert repr(scope) in message
    assert "'user'" in message and "'all'" in message


def test_source_with_a_syntax_error_reports_its_line(untouched):
    source = "x = 1\ny = 2\nz = (\n"
    with pytest.raises(monviz.SourceSyntaxError) as info:
        monviz.record(source, filename="<cell-9>")
    err = info.value
    assert isinstance(err, monviz.MonvizError) and isinstance(err, SyntaxError)
    assert err.lineno == 3
    assert err.filename == "<cell-9>"
    assert "line 3" in str(err) and "<cell-9>" in str(err)
    assert "never closed" in str(err)  # Python's own reason is kept


def test_a_syntax_error_message_gives_the_location_once(untouched):
    with pytest.raises(monviz.SourceSyntaxError) as info:
        monviz.record("def f(:\n    pass\n", filename="<cell-3>")
    assert str(info.value).count("<cell-3>") == 1, str(info.value)


@pytest.mark.parametrize("kwargs", [{"namespace": []}, {"filename": 3}])
def test_source_options_of_the_wrong_type_are_refused(untouched, kwargs):
    message = refuse(monviz.InvalidArgumentError, "x = 1", **kwargs)
    assert next(iter(kwargs)) in message


# -- nesting ------------------------------------------------------------------------


def test_a_nested_recording_is_refused_and_the_outer_one_carries_on(untouched):
    def inner():
        return "inner"

    errors = []

    def outer():
        try:
            monviz.record(inner)
        except monviz.NestedRecordingError as exc:
            errors.append(exc)
        return inner()

    trace = monviz.record(outer, events=["PY_START", "PY_RETURN"])
    assert len(errors) == 1
    assert "already recording" in str(errors[0])
    assert trace.exception is None
    assert [(e.event, e.code.qualname) for e in trace][-3:] == [
        ("PY_START", inner.__qualname__), ("PY_RETURN", inner.__qualname__),
        ("PY_RETURN", outer.__qualname__)]
    assert len(untouched.tools) == 1, "the nested call claimed a tool id"


def test_an_uncaught_nested_recording_error_is_the_targets_exception(untouched):
    trace = monviz.record(lambda: monviz.record(target))
    assert isinstance(trace.exception, monviz.NestedRecordingError)
    assert len(monviz.record(target, events=["PY_RETURN"])) == 1  # and monviz is free again


def test_every_error_class_is_a_monviz_error():
    for name in ("UnknownEventError", "ToolIdInUse", "InvalidTargetError",
                 "InvalidArgumentError", "SourceSyntaxError", "NestedRecordingError"):
        assert issubclass(getattr(monviz, name), monviz.MonvizError)
