"""The JupyterLite site (``make lite``) in headless Chromium, with no network but its own server.

The site is served by ``python -m http.server`` on 127.0.0.1, as a teacher's static host
would serve it; every other request (a CDN, PyPI) is refused and listed, and the test
fails if there was one. In it: tutorial 00 runs top to bottom in the Pyodide kernel, and
a ``%%monitor`` cell draws the timeline and a control-flow graph laid out by Viz.js
(there is no ``dot`` in a browser). The times from opening the page to a ready kernel
and to the first ``%%monitor`` output are written to test-artifacts/lite-times.txt.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "build" / "lite"
NOTEBOOK = "00_start_here.ipynb"
WAIT = 240_000  # ms: a cold Pyodide start on a loaded 2-core machine took up to 24 s
LOCAL = re.compile(r"^(https?://(127\.0\.0\.1|localhost)(:\d+)?/|data:|blob:)")

MONITOR_CELL = """%%monitor
def sign(n):
    if n < 0:
        return -1
    return 1
[sign(n) for n in (-2, 3)]"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site():
    """The built site on a free port of 127.0.0.1: its base URL."""
    if not (SITE / "lab" / "index.html").is_file():
        message = f"no JupyterLite site in {SITE}: run `make lite` (make test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", "-b", "127.0.0.1",
                               "-d", str(SITE), str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/jupyter-lite.json", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("http.server did not start")
        yield base
    finally:
        server.terminate()
        server.wait()


def _only_local(context) -> list[str]:
    """Route *context* (pages and the kernel's worker) so only the site loads."""
    refused: list[str] = []

    def route(r):
        if LOCAL.match(r.request.url):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return refused


def _run_new_cell(page, source: str):
    """Add a cell at the end of the notebook, type *source*, run it; the cell's locator."""
    page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-InputPrompt").click()
    page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:insert-cell-below']").click()
    page.locator(".jp-Notebook .jp-Cell.jp-mod-active .jp-InputArea-editor").click()
    page.keyboard.insert_text(source)
    page.keyboard.press("Control+Enter")
    return page.locator(".jp-Notebook .jp-Cell").last


def _errors_in(page) -> list[str]:
    stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [stderr.nth(i).inner_text()[:500] for i in range(stderr.count())]


def test_tutorial_00_and_a_monitor_cell_run_in_the_browser_offline(site, context, artifacts):
    refused = _only_local(context)
    page = context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))

    t0 = time.monotonic()
    page.goto(f"{site}/lab/index.html?path={NOTEBOOK}")
    page.locator(".jp-NotebookPanel").wait_for(timeout=WAIT)
    accept = page.locator(".jp-Dialog button.jp-mod-accept")  # "select a kernel", if asked
    try:
        accept.wait_for(timeout=3000)
        accept.click()
    except Exception:  # no dialog: the notebook's kernel was found
        pass
    status = page.locator("#jp-main-statusbar")
    expect(status).to_contain_text(re.compile(r"Python \(Pyodide\).*\|\s*Idle"), timeout=WAIT)
    ready = time.monotonic() - t0

    # tutorial 00, every cell, as a student would: Run > Run All Cells
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    # the saved notebook shows its old prompts: done when the fresh kernel has numbered
    # every code cell 1, 2, ... n in order (Run All stops at a cell that raises)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]"
        ".every((p, i) => p.textContent.trim() === `[${i + 1}]:`)", timeout=WAIT)
    expect(status).to_contain_text(re.compile(r"\|\s*Idle"), timeout=WAIT)
    assert page.locator(".jp-Notebook .jp-CodeCell").count() >= 10
    assert _errors_in(page) == []
    # its `%%monitor -e flow` cell: the linked timeline and graph
    expect(page.locator(".monviz-timeline").first).to_be_visible(timeout=WAIT)
    ran_all = time.monotonic() - t0

    t1 = time.monotonic()
    cell = _run_new_cell(page, MONITOR_CELL)
    timeline = cell.locator(".monviz-timeline")
    expect(timeline).to_have_attribute("data-drawn", "1", timeout=WAIT)
    first_monitor = time.monotonic() - t1
    svg = cell.locator("svg.monviz-cfg-svg")
    expect(svg.locator("g.node").first).to_be_visible(timeout=WAIT)  # laid out by Viz.js
    assert svg.locator("g.node").count() >= 3 and svg.locator("g.edge").count() >= 2
    page.screenshot(path=str(artifacts / "lite.png"))
    cfg = cell.locator(".monviz-cfgview").first
    cfg.scroll_into_view_if_needed()
    cfg.screenshot(path=str(artifacts / "lite-cfg.png"))

    # the recording is what CPython raised there: Pyodide's interpreter, the pure backend
    check = _run_new_cell(page, "import sys, monviz.backends as b\n"
                                "print(sys.platform, sys.version.split()[0], b.backend())")
    expect(check.locator(".jp-OutputArea-output")).to_contain_text(
        re.compile(r"emscripten 3\.\d+\.\d+ python"), timeout=WAIT)

    assert _errors_in(page) == []
    assert page_errors == []
    assert refused == [], f"requests outside the site: {refused}"
    times = (f"JupyterLite site ({site}): kernel ready {ready:.1f} s after opening the page; "
             f"tutorial 00 run all: {ran_all - ready:.1f} s; first %%monitor cell to a drawn "
             f"timeline: {first_monitor:.1f} s\n")
    (artifacts / "lite-times.txt").write_text(times)
    print(times)


TUTORIALS = sorted(p.name for p in (REPO / "tutorials").glob("[0-9][0-9]_*.ipynb"))
ALL_TUTORIALS = "MONVIZ_LITE_ALL"  # =1: every tutorial (about 20 s each), `make test-lite`
DONE = ("() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell"
        " .jp-InputPrompt')].every((p, i) => p.textContent.trim() === `[${i + 1}]:`)")


def _run_tutorial(browser, browser_context_args, site, name) -> tuple[str, str, list[str]]:
    """Open tutorial *name* in a browser context of its own (no workspace carried over from
    another notebook, a fresh Pyodide kernel), Run All Cells; (result, its outputs' text,
    requests refused). The result is ``passed (N s)`` or ``failed: why (N s)``."""
    context = browser.new_context(**browser_context_args)
    refused = _only_local(context)
    page = context.new_page()
    t0 = time.monotonic()
    try:
        page.goto(f"{site}/lab/index.html?path={name}")
        status = page.locator("#jp-main-statusbar")
        expect(status).to_contain_text(re.compile(r"Python \(Pyodide\).*\|\s*Idle"), timeout=WAIT)
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        try:
            page.wait_for_function(DONE, timeout=WAIT)  # Run All stops at a cell that raises
            errors = _errors_in(page)
            result = f"failed: {errors[0]}" if errors else "passed"
        except Exception as exc:  # a stuck run: what it printed, else the timeout
            result = f"failed: {(_errors_in(page) or [str(exc)])[0]}"
        outputs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output")
        text = "\n".join(outputs.all_inner_texts())
    finally:
        context.close()
    return f"{result} ({time.monotonic() - t0:.1f} s)", text, refused


def test_tutorial_08_skips_its_desktop_only_cell_in_the_browser(browser, browser_context_args,
                                                                 site):
    """compare() needs a subprocess per Python version: the marked cell says so and the
    notebook runs on (the other cells: BRANCH/JUMP, the graphs)."""
    result, text, refused = _run_tutorial(browser, browser_context_args, site,
                                          "08_branch_and_jump.ipynb")
    assert result.startswith("passed"), result
    assert "skipped: compare()" in text
    assert refused == [], f"requests outside the site: {refused}"


@pytest.mark.skipif(os.environ.get(ALL_TUTORIALS) != "1",
                    reason=f"{ALL_TUTORIALS}=1 (make test-lite) runs every tutorial, ~5 min")
def test_every_tutorial_runs_top_to_bottom_in_the_browser(browser, browser_context_args, site,
                                                          artifacts):
    """Run All in each tutorial, as a student going through them would."""
    results, refused = {}, []
    for name in TUTORIALS:
        results[name], _, outside = _run_tutorial(browser, browser_context_args, site, name)
        refused += outside
        print(f"{name}: {results[name]}", flush=True)
    report = "".join(f"{name}: {result}\n" for name, result in results.items())
    (artifacts / "lite-tutorials.txt").write_text(report)
    assert refused == [], f"requests outside the site: {refused}"
    assert [n for n, r in results.items() if not r.startswith("passed")] == [], report
