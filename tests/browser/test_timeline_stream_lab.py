"""A Timeline streamed in chunks, in a real JupyterLab: every event arrives and reads right.

Past ``_payload.STREAM_ABOVE`` events (2M) the widget sends its first chunk with its
state and the browser asks for the rest (deflated where it can inflate them). The test
lowers both limits in the kernel so that a 30,000-event trace streams in 3,000-event
chunks, then checks in Chromium that every event arrives (``data-loaded``), that the
loading note goes away, and that events in the first, a middle and the last chunk show
exactly what the same program recorded in this process shows (same interpreter).
"""

from __future__ import annotations

import re

import pytest
from labserver import notebook_url, run_cell, shut_down, write_notebook

import monviz

pytestmark = pytest.mark.browser
pytest.importorskip("nbformat")  # for write_notebook
expect = pytest.importorskip("playwright.sync_api").expect

PROGRAM = '''\
def walk(n):
    total = 0
    for i in range(n):
        if i % 3:
            total += i
        else:
            total -= 1
    return total


walk(7000)
'''
CHUNK = 3_000
CELLS = [
    "import monviz\nfrom monviz.widgets import _payload\n"
    f"_payload.STREAM_ABOVE = _payload.CHUNK = {CHUNK}\n"
    f"trace = monviz.record({PROGRAM!r})\nprint('EVENTS', len(trace))\n"
    "view = monviz.Timeline(trace)\nprint('CHUNKS', view._chunks.count)\nview",
]


@pytest.fixture(scope="module")
def notebook(lab):
    write_notebook(lab, "stream.ipynb", CELLS)
    yield notebook_url(lab, "stream.ipynb", workspace="monviz-stream")
    shut_down(lab, "stream.ipynb")  # its kernel


def _field(widget, name: str):
    return widget.locator(f'.monviz-detail[data-field="{name}"]')


def test_a_streamed_timeline_gets_every_event_in_lab(lab, notebook, page):
    trace = monviz.record(PROGRAM)
    assert len(trace) > 5 * CHUNK
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(notebook)
    page.locator(".jp-NotebookPanel").wait_for(timeout=60_000)
    page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle")).wait_for(
        timeout=60_000)
    cell = run_cell(page, 0)
    out = cell.locator(".jp-OutputArea-output").filter(has_text=re.compile(r"EVENTS \d+"))
    expect(out.first).to_contain_text(f"EVENTS {len(trace)}", timeout=60_000)
    chunks = int(re.search(r"CHUNKS (\d+)", out.first.inner_text()).group(1))
    assert chunks == -(-len(trace) // CHUNK) > 5  # it did stream
    tl = page.locator(".monviz-timeline").first
    expect(tl).to_have_attribute("data-drawn", "1", timeout=60_000)
    expect(tl).to_have_attribute("data-loaded", str(len(trace)), timeout=60_000)
    expect(tl.locator(".monviz-tl-loading")).to_have_text("")
    step = tl.locator("input.monviz-step-input")
    for i in (0, CHUNK - 1, CHUNK, len(trace) // 2 + 17, len(trace) - 1):
        ev = trace[i]
        step.fill(str(i))
        step.press("Enter")
        expect(tl).to_have_attribute("data-step", str(i), timeout=10_000)
        expect(_field(tl, "event")).to_have_text(ev.event)
        expect(_field(tl, "code")).to_have_text(ev.code.qualname)
        expect(_field(tl, "line")).to_have_text("—" if ev.line is None else str(ev.line))
        expect(_field(tl, "offset")).to_have_text("—" if ev.offset is None else str(ev.offset))
    assert errors == []
