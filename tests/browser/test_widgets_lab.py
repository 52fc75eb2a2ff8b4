"""The widgets in a real JupyterLab: draw, step, follow, stay safe, and scale to 1M events.

One notebook, written by the test into the lab's temporary root:

0. record a small program and ``monviz.show(trace)`` it;
1. read ``view.step`` back in Python (browser -> kernel);
2. set ``view.step`` from Python (kernel -> browser);
3. record a 1,000,000-event program;
4. display its ``monviz.Timeline``: time to first draw and per-step latency are
   measured in the page, printed, and written to test-artifacts/widget-bench.txt;
5. ``%%monitor --values``: the Variables panel shows the cell's names as
   ``frames_at`` gives them, aliases with one object id.

Expected events come from recording the same source in this process (same
interpreter, same bytecode); expected edges from ``monviz.cfg`` of the same code.
"""

from __future__ import annotations

import json
import re
import statistics

import pytest
from labserver import notebook_url, run_cell, write_notebook
from programs import SMALL

import monviz
from monviz.cfg import cfg

pytestmark = pytest.mark.browser
pytest.importorskip("nbformat")  # for write_notebook
expect = pytest.importorskip("playwright.sync_api").expect


BIG = '''\
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


fib(25)
'''

CELLS = [
    f"import monviz\nSMALL = {SMALL!r}\ntrace = monviz.record(SMALL)\n"
    "view = monviz.show(trace)\nview",
    'print("STEP", view.step, view.timeline.event.event, view.timeline.event.line)',
    "view.step = 12",
    f"BIG = {BIG!r}\nbig = monviz.record(BIG, max_events=1_000_000)\nprint('EVENTS', len(big))",
    "big_view = monviz.Timeline(big)\nbig_view",
    "%load_ext monviz",
    "%%monitor --values --view timeline -o vt\nxs = [3, 1, 2]\nys = xs\nys.sort()\ndone = True",
]


@pytest.fixture(scope="module")
def notebook(lab):
    write_notebook(lab, "widgets.ipynb", CELLS)
    return notebook_url(lab, "widgets.ipynb")


@pytest.fixture(scope="module")
def expected():
    ns: dict = {}
    trace = monviz.record(SMALL, namespace=ns)
    return trace, cfg(ns["classify"])



def _field(widget, name: str):
    return widget.locator(f'.monviz-detail[data-field="{name}"]')


def _show_event(widget, ev) -> None:
    """The details panel shows this event, and the source highlights its line."""
    expect(widget).to_have_attribute("data-step", str(ev.index), timeout=10_000)
    expect(_field(widget, "event")).to_have_text(ev.event)
    expect(_field(widget, "code")).to_have_text(ev.code.qualname)
    expect(_field(widget, "line")).to_have_text("—" if ev.line is None else str(ev.line))
    expect(_field(widget, "offset")).to_have_text("—" if ev.offset is None else str(ev.offset))
    expect(_field(widget, "target")).to_have_text("—" if ev.target is None else str(ev.target))
    if ev.line:  # PY_START of a module is on "line 0"
        expect(widget.locator(".monviz-line-current")).to_have_attribute("data-line",
                                                                        str(ev.line))


def _taken(cfgw, graph, ev) -> None:
    """The graph highlights the edge of this BRANCH/JUMP event (and its destination)."""
    edge = graph.edge_for(ev.offset, ev.target, ev.event)
    assert edge is not None
    index = graph.edges.index(edge)
    expect(cfgw).to_have_attribute("data-edge", str(index), timeout=10_000)
    taken = cfgw.locator("g.monviz-edge.monviz-taken")
    expect(taken).to_have_count(1)
    expect(taken).to_have_attribute("data-src", str(edge.src))
    expect(taken).to_have_attribute("data-dst", str(edge.dst))
    expect(cfgw.locator("g.monviz-block.monviz-current")).to_have_attribute(
        "data-block", str(edge.dst))


def test_timeline_and_graph_in_lab(lab, notebook, expected, page, artifacts):
    trace, graph = expected
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(notebook)
    page.locator(".jp-NotebookPanel").wait_for(timeout=60_000)
    idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle"))
    idle.wait_for(timeout=60_000)

    # -- the small program, linked to its graph ---------------------------------------
    run_cell(page, 0)
    tl = page.locator(".monviz-timeline").first
    cfgw = page.locator(".monviz-cfgview").first
    expect(tl).to_have_attribute("data-drawn", "1", timeout=60_000)
    expect(tl.locator("canvas.monviz-tl-canvas")).to_be_visible()
    expect(cfgw).to_have_attribute("data-ready", "1", timeout=30_000)
    legend = tl.locator(".monviz-legend-item")
    expect(legend).to_have_count(len(trace.totals()))
    expect(tl.locator('.monviz-legend-item[data-kind="BRANCH"] .monviz-legend-count')).to_have_text(
        str(trace.totals()["BRANCH"]))
    _show_event(tl, trace[0])

    tl.locator("button.monviz-forward").click()  # a button
    _show_event(tl, trace[1])
    tl.focus()
    page.keyboard.press("ArrowRight")  # keys
    _show_event(tl, trace[2])
    page.keyboard.press("ArrowLeft")
    _show_event(tl, trace[1])
    page.keyboard.press("End")
    _show_event(tl, trace[len(trace) - 1])
    page.keyboard.press("Home")
    _show_event(tl, trace[0])
    page.keyboard.press("Shift+ArrowRight")
    _show_event(tl, trace[10])

    # next BRANCH: into classify; the graph switches to it and shows the edge taken
    tl.locator("select.monviz-kind-select").select_option("BRANCH")
    branches = [ev for ev in trace if ev.event == "BRANCH"]
    tl.locator("button.monviz-next-kind").click()
    _show_event(tl, branches[0])
    expect(cfgw).to_have_attribute("data-code", re.compile(r"^c\d+$"))
    expect(cfgw.locator("select.monviz-cfg-select")).to_have_value(cfgw.get_attribute("data-code"))
    _taken(cfgw, graph, branches[0])
    # the LINE after it: source line moves; the branch stays the edge just taken
    tl.focus()
    page.keyboard.press("ArrowRight")
    line_ev = trace[branches[0].index + 1]
    _show_event(tl, line_ev)
    expect(cfgw.locator("g.monviz-edge.monviz-taken")).to_have_attribute(
        "data-edge", str(graph.edges.index(graph.edge_for(branches[0].offset,
                                                              branches[0].target))))
    tl.locator("button.monviz-next-kind").click()
    _show_event(tl, branches[1])
    _taken(cfgw, graph, branches[1])
    tl.locator(".monviz-tl-panels").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "timeline-small-branch.png"))
    tl.screenshot(path=str(artifacts / "timeline-small-widget.png"))
    cfgw.screenshot(path=str(artifacts / "cfgview-small.png"))

    # a value whose repr is HTML shows as text, and nothing runs
    evil = next(ev for ev in trace if ev.value and "<img" in ev.value)
    tl.locator("input.monviz-step-input").fill(str(evil.index))
    tl.locator("input.monviz-step-input").press("Enter")
    _show_event(tl, evil)
    expect(_field(tl, "value")).to_have_text("<img src=x onerror=alert(1)>")
    assert page.locator(".jp-Notebook img[src='x']").count() == 0
    expect(tl.locator(".monviz-source-body")).to_contain_text('"<img src=x onerror=alert(1)>"')
    tl.screenshot(path=str(artifacts / "timeline-small-evil.png"))

    # choosing a code object in the graph's menu switches the graph
    cfgw.locator("select.monviz-cfg-select").select_option("c0")
    expect(cfgw).to_have_attribute("data-code", "c0")
    expect(cfgw.locator(".monviz-cfg-status")).to_contain_text("<module>")
    expect(cfgw.locator("g.monviz-block").first).to_be_visible()

    # play at 100 events/s runs to the last event and stops
    tl.locator("select.monviz-speed").select_option("100")
    tl.locator("button.monviz-first").click()
    tl.locator("button.monviz-play").click()
    expect(tl.locator("button.monviz-play")).to_have_text("⏸ pause")
    _show_event(tl, trace[len(trace) - 1])
    expect(tl.locator("button.monviz-play")).to_have_text("▶ play")

    # browser -> kernel: Python reads the step
    tl.locator("input.monviz-step-input").fill(str(evil.index))
    tl.locator("input.monviz-step-input").press("Enter")
    _show_event(tl, evil)
    out = run_cell(page, 1).locator(".jp-OutputArea-output")
    expect(out).to_have_text(f"STEP {evil.index} {evil.event} {evil.line}", timeout=30_000)
    # kernel -> browser: Python sets it
    run_cell(page, 2)
    _show_event(tl, trace[12])
    assert not dialogs, f"a dialog opened: {dialogs}"

    # -- 1,000,000 events ---------------------------------------------------------------
    out = run_cell(page, 3).locator(".jp-OutputArea-output")
    expect(out).to_have_text("EVENTS 1000000", timeout=60_000)
    idle.wait_for(timeout=60_000)
    page.evaluate("""() => {
        window.__mvT0 = performance.now();
        window.__mvDrawn = new Promise((resolve) => {
            const poll = () => {
                const all = document.querySelectorAll('.monviz-timeline[data-drawn="1"]');
                if (all.length >= 2) resolve(performance.now()); else requestAnimationFrame(poll);
            };
            poll();
        });
    }""")
    run_cell(page, 4)
    first_draw = page.evaluate("async () => (await window.__mvDrawn) - window.__mvT0")
    big = page.locator(".monviz-timeline").nth(1)
    expect(big).to_have_attribute("data-drawn", "1")
    in_widget = float(big.get_attribute("data-first-draw-ms"))
    decode = float(big.get_attribute("data-decode-ms"))
    steps = page.evaluate("""async (root) => {
        const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
        const work = [];
        const press = async (key, shift) => {
            const t = performance.now();
            const ev = {key, shiftKey: !!shift, bubbles: true};
            root.dispatchEvent(new KeyboardEvent('keydown', ev));
            work.push(Number(root.dataset.lastStepMs));
            await frame(); await frame();
            return performance.now() - t;
        };
        root.focus();
        const out = {arrow: [], shift: [], ends: [], seek: []};
        for (let k = 0; k < 30; k++) out.arrow.push(await press('ArrowRight'));
        for (let k = 0; k < 10; k++) out.shift.push(await press('ArrowRight', true));
        out.ends.push(await press('End'));
        out.ends.push(await press('Home'));
        const next = root.querySelector('button.monviz-next-kind');
        for (let k = 0; k < 10; k++) {
            const t = performance.now(); next.click(); await frame(); await frame();
            out.seek.push(performance.now() - t);
        }
        const t = performance.now();
        root.querySelector('.monviz-zoom-btn').click(); await frame(); await frame();
        out.zoom = performance.now() - t;
        out.draw = Number(root.dataset.drawMs);
        out.work = work;
        out.step = Number(root.dataset.step);
        return out;
    }""", big.element_handle())
    all_steps = steps["arrow"] + steps["shift"] + steps["ends"] + steps["seek"]
    figures = {
        "events": 1_000_000,
        "first_draw_ms_from_cell_run": round(first_draw, 1),
        "first_draw_ms_in_widget": in_widget,
        "decode_ms": decode,
        "step_ms_median": round(statistics.median(all_steps), 1),
        "step_ms_p95": round(statistics.quantiles(all_steps, n=20)[-1], 1),
        "step_ms_max": round(max(all_steps), 1),
        "arrow_ms_median": round(statistics.median(steps["arrow"]), 1),
        "seek_next_kind_ms_max": round(max(steps["seek"]), 1),
        "step_work_ms_median": round(statistics.median(steps["work"]), 2),
        "step_work_ms_max": round(max(steps["work"]), 2),
        "full_redraw_ms": steps["draw"],
        "zoom_to_paint_ms": round(steps["zoom"], 1),
    }
    text = "monviz widget benchmark (browser, 1M events): " + json.dumps(figures)
    print("\n" + text)
    (artifacts / "widget-bench.txt").write_text(text + "\n")
    big.scroll_into_view_if_needed()
    big.screenshot(path=str(artifacts / "timeline-1M.png"))
    assert first_draw < 5_000, figures
    assert statistics.median(all_steps) < 100, figures
    assert not dialogs

    # -- %%monitor --values: the Variables panel ----------------------------------------
    run_cell(page, 5)
    idle.wait_for(timeout=60_000)
    run_cell(page, 6)
    vtl = page.locator(".monviz-timeline").nth(2)
    expect(vtl).to_have_attribute("data-drawn", "1", timeout=60_000)
    vtl.focus()
    page.keyboard.press("End")
    panel = vtl.locator(".monviz-values .monviz-vframe").first
    for name, text in (("xs", "[1, 2, 3]"), ("ys", "[1, 2, 3]")):
        row = panel.locator(f'.monviz-var[data-name="{name}"]')
        expect(row.locator(".monviz-var-text")).to_have_text(text)
    badges = [panel.locator(f'.monviz-var[data-name="{n}"] .monviz-obj').text_content()
              for n in ("xs", "ys")]
    assert badges[0] == badges[1] and badges[0].startswith("#")
    expect(panel.locator('.monviz-var[data-name="In"]')).to_have_count(0)
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    vtl.locator(".monviz-values").scroll_into_view_if_needed()
    vtl.screenshot(path=str(artifacts / "timeline-values.png"))
    assert not dialogs
