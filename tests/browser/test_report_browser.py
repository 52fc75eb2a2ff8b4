"""The HTML report in headless Chromium, opened from ``file://`` with the network blocked.

Every request the page makes that is not for its own file is refused and counted:
the report must draw, step with the keyboard, highlight the right source line and
light the CFG edge just taken with none of them. Expectations come from the trace
the report was made of (same process, same interpreter) and ``monviz.cfg`` of the
same code. Timings are the benchmark's (``benchmarks/report.py``), not asserted here.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from offline import refuse_network
from programs import SMALL

import monviz
from monviz.cfg import cfg

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect



@pytest.fixture
def offline(page):
    """The page, with every request but ``file://`` refused; the refused URLs listed."""
    refused = refuse_network(page.context)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    return page, refused, errors


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """(report path, trace, graph of classify) for SMALL."""
    folder = tmp_path_factory.mktemp("report")
    source = folder / "program.py"
    source.write_text(SMALL)
    ns: dict = {}
    trace = monviz.record(SMALL, filename=str(source), namespace=ns)
    path = trace.save_html(folder / "report.html", title="classify <3>")
    return path, trace, cfg(ns["classify"])


def open_report(page, path):
    page.goto(path.resolve().as_uri())
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=30_000)
    return page.locator(".monviz-timeline"), page.locator(".monviz-cfgview")


def field(tl, name):
    return tl.locator(f'.monviz-detail[data-field="{name}"]')


def at_event(tl, ev):
    expect(tl).to_have_attribute("data-step", str(ev.index))
    expect(field(tl, "event")).to_have_text(ev.event)
    expect(field(tl, "code")).to_have_text(ev.code.qualname)
    if ev.line:
        expect(tl.locator(".monviz-line-current")).to_have_attribute("data-line", str(ev.line))


def test_the_report_draws_and_steps_with_the_keyboard_offline(offline, small):
    page, refused, errors = offline
    path, trace, _ = small
    tl, _ = open_report(page, path)
    expect(tl).to_have_attribute("data-drawn", "1")
    expect(page).to_have_title("classify <3>")
    at_event(tl, trace[0])
    for i in (1, 2, 3):  # the page's keys go to the timeline without a click
        page.keyboard.press("ArrowRight")
        at_event(tl, trace[i])
    page.keyboard.press("Shift+ArrowRight")
    at_event(tl, trace[13])
    page.keyboard.press("ArrowLeft")
    at_event(tl, trace[12])
    page.keyboard.press("End")
    at_event(tl, trace[len(trace) - 1])
    page.keyboard.press("Home")
    at_event(tl, trace[0])
    assert refused == [] and errors == []


def test_the_graph_follows_the_timeline_and_lights_the_edge_taken(offline, small):
    page, refused, errors = offline
    path, trace, graph = small
    tl, cfgw = open_report(page, path)
    expect(cfgw).to_have_attribute("data-ready", "1")
    branches = [ev for ev in trace if ev.event in monviz.versions.BRANCH_EVENTS
                and ev.code.qualname == "classify"]
    assert branches
    for ev in branches[:3]:
        tl.locator("input.monviz-step-input").fill(str(ev.index))
        tl.locator("input.monviz-step-input").press("Enter")
        at_event(tl, ev)
        edge = graph.edge_for(ev.offset, ev.target, ev.event)
        expect(cfgw).to_have_attribute("data-code", re.compile(r"^c\d+$"))
        expect(cfgw.locator(".monviz-cfg-status")).to_contain_text("classify")
        taken = cfgw.locator("g.monviz-edge.monviz-taken")
        expect(taken).to_have_count(1)
        expect(taken).to_have_attribute("data-edge", str(graph.edges.index(edge)))
        expect(cfgw.locator("g.monviz-block.monviz-current")).to_have_attribute(
            "data-block", str(edge.dst))
    assert refused == [] and errors == []


def test_choosing_a_code_object_shows_its_graph_and_first_event(offline, small):
    page, _, errors = offline
    path, trace, _ = small
    tl, cfgw = open_report(page, path)
    row = page.locator('.monviz-code-row', has_text="classify")
    row.click()
    first = next(ev for ev in trace if ev.code.qualname == "classify")
    at_event(tl, first)
    expect(cfgw.locator(".monviz-cfg-status")).to_contain_text("classify")
    expect(row).to_have_class(re.compile("monviz-chosen"))
    assert errors == []


def test_user_strings_are_shown_as_text_never_as_html(offline, small):
    page, _, errors = offline
    path, trace, _ = small
    tl, _ = open_report(page, path)
    evil = next(ev for ev in trace if ev.value == "<img src=x onerror=alert(1)>")
    tl.locator("input.monviz-step-input").fill(str(evil.index))
    tl.locator("input.monviz-step-input").press("Enter")
    expect(field(tl, "value")).to_have_text("<img src=x onerror=alert(1)>")
    assert page.locator("img").count() == 0
    expect(tl.locator(".monviz-source-body")).to_contain_text('"<img src=x onerror=alert(1)>"')
    assert errors == []  # no alert dialog


def test_a_report_from_the_command_line_shows_the_exception(offline, tmp_path):
    page, refused, errors = offline
    script = tmp_path / "fails.py"
    script.write_text("def f(n):\n    return 1 / n\nf(0)\n")
    done = subprocess.run([sys.executable, "-m", "monviz", "run", "-q", "-o", "r.html",
                           "fails.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    tl, _ = open_report(page, tmp_path / "r.html")
    expect(page.locator(".monviz-raised")).to_contain_text("ZeroDivisionError")
    expect(tl.locator(".monviz-tl-exc")).to_contain_text("ZeroDivisionError")
    page.keyboard.press("End")
    expect(field(tl, "event")).to_have_text("PY_UNWIND")
    assert refused == [] and errors == []


def test_a_million_event_report_opens_and_steps(offline, tmp_path):
    page, refused, errors = offline
    big = monviz.record("def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
                        "fib(30)\n", max_events=1_000_000)
    assert len(big) == 1_000_000
    path = big.save_html(tmp_path / "big.html")
    tl, _ = open_report(page, path)
    expect(tl).to_have_attribute("data-drawn", "1")
    page.keyboard.press("End")
    expect(tl).to_have_attribute("data-step", str(len(big) - 1))
    page.keyboard.press("ArrowLeft")
    at_event(tl, big[len(big) - 2])
    assert refused == [] and errors == []


def test_a_report_the_cap_stopped_says_what_is_missing_and_how_to_raise_the_cap(offline,
                                                                               tmp_path):
    page, refused, errors = offline
    script = tmp_path / "loop.py"
    script.write_text("total = 0\nfor i in range(1000):\n    total += i\n")
    done = subprocess.run([sys.executable, "-m", "monviz", "run", "-q", "--max-events", "50",
                           "-o", "r.html", "loop.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    tl, _ = open_report(page, tmp_path / "r.html")
    banner = tl.locator(".monviz-cap")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Recording stopped at 50 events (the cap)")
    expect(banner).to_contain_text("python -m monviz run --max-events 500")
    expect(banner).to_contain_text("%%monitor --max-events 500")
    page.keyboard.press("End")
    expect(tl).to_have_attribute("data-step", "49")
    assert refused == [] and errors == []


def test_a_report_of_a_whole_recording_has_no_cap_banner(offline, small):
    page, _, _ = offline
    tl, _ = open_report(page, small[0])
    expect(tl).to_have_attribute("data-drawn", "1")
    expect(tl.locator(".monviz-cap")).to_have_count(0)



SEARCH = """\
def search(xs, target):
    lo, hi = 0, len(xs) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if xs[mid] == target:
            return mid
        if xs[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1

data = [2, 4, 6, 8, 10, 12, 14]
alias = data
found = search(data, 12)
alias.append("<b>&</b>")
"""


def test_a_values_report_shows_the_variables_at_each_step(offline, tmp_path):
    """``monviz run --values``: the panel holds each frame's locals as frames_at says,
    marks what changed, shows aliases as one object, and a name's history on click."""
    page, refused, errors = offline
    script = tmp_path / "search.py"
    script.write_text(SEARCH)
    out = tmp_path / "search.html"
    subprocess.run([sys.executable, "-m", "monviz", "run", "--values", "-q", "-o", str(out),
                    str(script)], check=True)
    ns: dict = {}
    trace = monviz.record(SEARCH, filename=str(script), namespace=ns, values=True)
    tl, _ = open_report(page, out)
    panel = tl.locator(".monviz-values")
    mids = [c for c in trace.values_of("mid")]
    step = mids[1].index
    tl.locator(".monviz-step-input").fill(str(step))
    tl.locator(".monviz-step-input").press("Enter")
    expect(tl).to_have_attribute("data-step", str(step))
    frames = trace.frames_at(step)
    boxes = panel.locator(".monviz-vframe")
    expect(boxes).to_have_count(len(frames))
    inner = boxes.nth(0)
    for name, text in frames[-1].locals.items():
        row = inner.locator(f'.monviz-var[data-name="{name}"]')
        expect(row.locator(".monviz-var-text")).to_have_text(text)
        assert ("monviz-changed" in row.get_attribute("class")) == (name in frames[-1].changed)
    outer = boxes.nth(1)
    badges = [outer.locator(f'.monviz-var[data-name="{n}"] .monviz-obj').text_content()
              for n in ("data", "alias")]
    assert badges[0] == badges[1] == f"#{frames[0].objects['data']}"
    inner.locator('.monviz-var[data-name="mid"] th').click()
    items = panel.locator(".monviz-history-item")
    expect(items).to_have_count(len([c for c in mids if c.frame == frames[-1].serial]))
    items.nth(0).click()
    expect(tl).to_have_attribute("data-step", str(mids[0].index))
    tl.locator(".monviz-step-input").fill(str(len(trace) - 1))
    tl.locator(".monviz-step-input").press("Enter")
    last = boxes.nth(0).locator('.monviz-var[data-name="data"] .monviz-var-text')
    expect(last).to_have_text(frames[0].locals["data"][:-1] + ", '<b>&</b>']")
    page.screenshot(path=str(tmp_path / "values.png"), full_page=True)
    assert refused == [] and errors == []


def test_a_big_functions_graph_is_folded_in_the_report_and_says_where_it_opens(offline,
                                                                            tmp_path):
    page, refused, errors = offline
    body = "".join(f"    if x == {k}:\n        y = {k}\n    elif x > {k}:\n        y = -{k}\n"
                   for k in range(300))
    source = f"def big(x):\n    y = 0\n{body}    return y\n\nbig(7)\n"
    program = tmp_path / "big.py"
    program.write_text(source)
    trace = monviz.record(source, filename=str(program))
    _, cfgw = open_report(page, trace.save_html(tmp_path / "big.html"))
    cfgw.locator("select.monviz-cfg-select").select_option(label="big (line 1)")
    sections = cfgw.locator("g.monviz-section")
    expect(sections.first).to_be_visible(timeout=30_000)
    assert sections.count() > 10
    expect(sections.first).to_contain_text("lines 1–")
    sections.nth(2).click()
    expect(cfgw.locator(".monviz-cfg-status")).to_contain_text("open it in a notebook")
    expect(cfgw.locator("g.monviz-open-section")).to_have_count(0)
    assert refused == [] and errors == []
