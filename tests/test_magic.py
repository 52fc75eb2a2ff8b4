"""%%monitor runs a cell once, like a cell, records it, and leaves sys.monitoring as it was."""

from __future__ import annotations

import sys

import pytest

IPython = pytest.importorskip("IPython")
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

import monviz  # noqa: E402
from monviz.magic import VIEWS  # noqa: E402
from monviz.versions import BRANCH_EVENTS  # noqa: E402

mon = sys.monitoring


def state():
    return [(mon.get_tool(i), mon.get_events(i)) for i in range(6)]


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "monviz")
    shell.user_ns.pop("t", None)
    before = state()
    yield shell
    assert state() == before, "a %%monitor cell left sys.monitoring changed"


def run(shell, text):
    with capture_output() as out:
        result = shell.run_cell(text)
    return result, out


def test_the_cell_runs_once_in_the_user_namespace_and_shows_its_last_value(ip):
    ip.run_cell("calls = []\ndef f(n):\n    calls.append(n)\n    return n * 2\n")
    _, out = run(ip, "%%monitor -o t --view none\nx = f(3)\nx + 1\n")
    assert ip.user_ns["calls"] == [3], "the cell ran more than once"
    assert ip.user_ns["x"] == 6
    assert "7" in out.stdout  # the last expression was displayed
    trace = ip.user_ns["t"]
    assert isinstance(trace, monviz.Trace)
    assert "f" in [c.qualname for c in trace.codes()]  # defined in an earlier cell


def test_the_line_form_records_one_statement(ip):
    ip.run_cell("def g(n):\n    return n + 1\n")
    run(ip, "%monitor -o t --view none y = g(1)")
    assert ip.user_ns["y"] == 2
    assert [e.code.qualname for e in ip.user_ns["t"] if e.event == "PY_START"][-1] == "g"


def test_events_option_and_the_trace_equal_monviz_record(ip):
    source = "def h(n):\n    return [i for i in range(n) if i % 2]\nr = h(4)\n"
    events = ["LINE", *BRANCH_EVENTS, "PY_RETURN"]  # not BRANCH: deprecated on 3.14+
    run(ip, f"%%monitor -e {','.join(events)} -o t --view none\n{source}")
    ours = ip.user_ns["t"]
    ref = monviz.record(source, events=events, namespace={})

    def shape(trace):  # IPython runs each top-level statement as its own module code
        return [(e.event, e.code.qualname, e.line, e.offset, e.target, e.value) for e in trace
                if e.code.qualname != "<module>"]

    def module_lines(trace):
        return [e.line for e in trace if e.code.qualname == "<module>" and e.event == "LINE"]

    assert shape(ours) == shape(ref) and shape(ours)
    assert module_lines(ours) == module_lines(ref)
    assert {e.event for e in ours} <= {"LINE", *BRANCH_EVENTS, "PY_RETURN"}


def test_tool_id_option(ip):
    run(ip, "%%monitor -t 4 -o t --view none\nx = 1\n")
    assert len(ip.user_ns["t"]) > 0


def test_code_option_records_only_the_named_functions(ip):
    ip.run_cell("def inner(n):\n    return n\ndef outer(n):\n    return inner(n) + 1\n")
    run(ip, "%%monitor --code inner -o t --view none\nouter(2)\n")
    assert {e.code.qualname for e in ip.user_ns["t"]} == {"inner"}


def test_all_code_records_library_code_too(ip):
    run(ip, "%%monitor --all-code -e PY_START -o t --view none\nimport json\njson.dumps([1])\n")
    files = {c.filename for c in ip.user_ns["t"].codes()}
    assert any(f.endswith("json/encoder.py") for f in files)
    run(ip, "%%monitor -e PY_START -o t --view none\nimport json\njson.dumps([1])\n")
    assert not any("json" in c.filename for c in ip.user_ns["t"].codes())


@pytest.mark.parametrize("line, message", [
    ("-e brnch", "Did you mean 'BRANCH'?"),
    ("--view tabel", "Did you mean 'table'?"),
    ("-t 9", "tool_id must be an int from 0 to 5"),
    ("--max-events 0", "max_events must be an int of at least 1"),
])
def test_bad_options_say_what_is_valid_and_the_cell_does_not_run(ip, line, message):
    ip.user_ns["ran"] = False
    result, out = run(ip, f"%%monitor {line}\nran = True\n")
    assert ip.user_ns["ran"] is False
    assert message in out.stderr + out.stdout + str(result.error_in_exec or "")


def test_a_cell_that_raises_shows_the_traceback_and_keeps_the_events(ip):
    _, out = run(ip, "%%monitor -o t --view none\nx = 1\n1 / 0\n")
    assert "ZeroDivisionError" in out.stdout + out.stderr
    trace = ip.user_ns["t"]
    assert isinstance(trace.exception, ZeroDivisionError)
    assert "RAISE" in {e.event for e in trace}


def test_the_cap_lets_the_cell_finish_and_says_what_was_dropped(ip):
    run(ip, "%%monitor --max-events 50 -o t --view table\n"
            "total = 0\nfor i in range(20000):\n    total += i\n")
    assert ip.user_ns["total"] == sum(range(20000))
    trace = ip.user_ns["t"]
    assert trace.truncated and len(trace) == 50 and trace.dropped > 0


def test_monitor_inside_a_recording_is_a_clear_error(ip):
    ip.run_cell("def nested():\n"
                "    return get_ipython().run_cell('%%monitor --view none\\nz = 1\\n')\n")
    with capture_output() as out:
        trace = monviz.record(lambda: ip.run_cell("inner = nested()"))
    assert trace.exception is None
    assert "monviz is already recording" in out.stdout + out.stderr
    assert "z" not in ip.user_ns  # the nested cell did not run


def test_top_level_await_is_refused_with_a_reason(ip):
    ip.user_ns["ran"] = False
    result, out = run(ip, "%%monitor\nimport asyncio\nawait asyncio.sleep(0)\nran = True\n")
    assert ip.user_ns["ran"] is False
    assert "top-level await" in out.stderr + out.stdout + str(result.error_in_exec or "")


def test_the_help_documents_every_option_and_lists_the_events(ip):
    doc = ip.find_magic("monitor").__doc__
    for option in ("--events", "--tool-id", "--out", "--view", "--max-events", "--all-code",
                   "--code"):
        assert option in doc
    for view in VIEWS:
        assert view in doc
    for name in monviz.events.CURRENT:
        assert name in doc


def test_values_option_reads_the_cells_variables(ip):
    ip.run_cell("def step(xs):\n    xs.append(len(xs))\n    return xs\n")
    run(ip, "%%monitor -o t --view none --values\n"
            "items = [0]\nsame = step(items)\ntotal = sum(same)\n")
    trace = ip.user_ns["t"]
    last = trace.frames_at(len(trace) - 1)[-1]
    assert last.locals["items"] == last.locals["same"] == "[0, 1]"
    assert last.objects["items"] == last.objects["same"]
    assert "In" not in last.locals and "_" not in last.locals  # IPython's own names hidden
    assert [c.value for c in trace.values_of("xs", code="step")] == ["[0]", "[0, 1]"]
    run(ip, "%%monitor -o t --view none\nz = 1\n")
    assert ip.user_ns["t"].values is None  # off unless asked for


def test_a_cells_statements_are_one_module_frame_whose_old_names_are_not_news(ip):
    """IPython runs each top-level statement as a code object of its own, in one
    namespace: the view shows one <module> carrying on, and names from earlier cells
    are not marked as just changed."""
    ip.run_cell("earlier = 'from another cell'\n")
    run(ip, "%%monitor -o t --view none --values\na = 1\nb = a + 1\nc = b + 1\n")
    trace = ip.user_ns["t"]
    first_line = next(i for i, ev in enumerate(trace) if ev.event == "LINE")
    first = trace.frames_at(first_line)
    assert len(first) == 1 and first[0].locals["earlier"] == "'from another cell'"
    assert first[0].changed == frozenset()
    last = trace.frames_at(len(trace) - 1)
    assert [f.qualname for f in last] == ["<module>"]
    assert {k: last[0].locals[k] for k in "abc"} == {"a": "1", "b": "2", "c": "3"}
    assert last[0].changed == {"c"}
    assert len({f.serial for i in range(len(trace)) for f in trace.frames_at(i)}) == 1
