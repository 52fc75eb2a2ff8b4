"""%%monitor in a real kernel (nbclient): namespace, display, errors, cap, interrupts."""

from __future__ import annotations

import json

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.notebook

CELLS = [
    "%load_ext monviz",
    "def f(n):\n    return n * 2",
    "%%monitor -o t --view table\nx = f(3)\nx + 1",
    "print(x, len(t), sorted({c.qualname for c in t.codes()}), sep='|')",
    "%%monitor -o bad --view table\ny = 1\n1 / 0",
    "print(y, type(bad.exception).__name__, 'RAISE' in {e.event for e in bad})",
    "%%monitor --max-events 20 -o capped --view table\ntotal = 0\nfor i in range(5000):\n"
    "    total += i",
    "print(total, len(capped), capped.truncated, capped.dropped > 0)",
    "%%monitor -o stopped --view none\nimport os, signal\nz = 1\nos.kill(os.getpid(), "
    "signal.SIGINT)\nz = 2",
    "import sys\nprint(z, type(stopped.exception).__name__, [sys.monitoring.get_tool(i) for i in "
    "range(6)], [sys.monitoring.get_events(i) for i in range(6)], sep='|')",
    "%%monitor -e brnch\nnever = 1",
    "print('never' in dir())",
]


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True)
    client.execute()
    return nb.cells


def text(cell) -> str:
    out = []
    for o in cell.outputs:
        if o.output_type == "stream":
            out.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            out.append(o.data.get("text/plain", "") + o.data.get("text/html", ""))
        elif o.output_type == "error":
            out.append(f"{o.ename}: {o.evalue}")
    return "\n".join(out)


def test_the_cell_runs_once_shows_its_value_and_the_trace(executed):
    out = text(executed[2])
    assert "7" in out and "monviz trace" in out
    x, n, codes = text(executed[3]).strip().split("|")
    assert x == "6" and int(n) > 0 and "'f'" in codes


def test_a_cell_that_raises_shows_the_traceback_and_the_events_before(executed):
    out = text(executed[4])
    assert "ZeroDivisionError" in out and "monviz trace" in out
    assert text(executed[5]).strip() == "1 ZeroDivisionError True"


def test_a_capped_cell_runs_to_the_end_and_says_what_was_dropped(executed):
    assert "stopped recording after 20 events" in text(executed[6])
    assert text(executed[7]).strip() == f"{sum(range(5000))} 20 True True"


def test_an_interrupt_tears_monitoring_down_and_keeps_the_partial_trace(executed):
    assert "KeyboardInterrupt" in text(executed[8])
    z, exc, tools, events = text(executed[9]).strip().split("|")
    assert (z, exc) == ("1", "KeyboardInterrupt")
    assert tools == "[None, None, None, None, None, None]"
    assert events == "[0, 0, 0, 0, 0, 0]"


def test_a_bad_option_is_one_line_and_the_cell_does_not_run(executed):
    out = text(executed[10])
    assert "UsageError" in out and "Did you mean 'BRANCH'?" in out
    assert text(executed[11]).strip() == "False"


def test_outputs_are_plain_json(executed):
    json.dumps([c.outputs for c in executed], default=str)
