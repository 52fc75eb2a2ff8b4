"""How much does it cost to send a 1,000,000-event trace to the Timeline widget? (Python side)

Records a call-dense program until the 1M-event cap (with the compiled backend when it
is built: its columns are ``memoryview``s over the recorder's memory), then times, in one run:

* **payload**: ``Timeline(trace)``'s binary buffers and JSON (``widgets._payload.build``),
  cold (a trace nothing was derived from yet: the call depths are derived here) and warm;
* **widget state**: what ipywidgets does before the comm sends it — ``get_state()``,
  buffers split out, the rest JSON-encoded;
* **static fallback**: the escaped HTML/SVG overview in the mimebundle.

It also checks that the payload reads the columns as they are stored (one
``tobytes()`` each): it counts the Python LINE events of one ``build`` under
``sys.settrace``, which a per-event Python loop would push past a million.

Targets (issue 5): serialisation under 1 s and under 32 MB sent. The in-browser figures
(time to first draw, per-step latency) are measured by tests/browser/test_widgets_lab.py
and written to test-artifacts/widget-bench.txt.

``MONVIZ_BENCH_LAB=1`` measures the widget in a real JupyterLab instead (issue 17), at
``MONVIZ_BENCH_SIZES`` (default 100k, 1M, 10M events of benchmarks/report.py's mixed
program): per size, a fresh kernel records the trace and displays ``Timeline(trace)``;
headless Chromium times the cell's run to the widget's first draw (**open**) and to
the last chunk of a streamed trace (**all loaded**; 200 steps are timed meanwhile), then 200
ArrowRight steps and 50 scrubber jumps to paint (p50 / p95 / max), then reads the tab's
JS heap (``performance.memory`` with ``--enable-precise-memory-info``, after a GC) and the
kernel prints its RSS (now and peak).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ipywidgets.widgets.widget import _remove_buffers

import monviz
from monviz import backends
from monviz.render.timeline import timeline_html
from monviz.widgets import Timeline, _payload

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
N = int(os.environ.get("MONVIZ_BENCH_EVENTS", "1000000"))
REPEATS = int(os.environ.get("MONVIZ_BENCH_REPEATS", "5"))

PROGRAM = """\
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


fib(27)
"""


def timed(fn, repeats=REPEATS):
    times = []
    result = None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), result


def python_lines(fn) -> int:
    """How many Python LINE events ``fn()`` raises (settrace: loops count every pass)."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


LAB_SIZES = [int(x) for x in
             os.environ.get("MONVIZ_BENCH_SIZES", "100000,1000000,10000000").split(",")]
TOKEN = "monviz-bench"

LAB_CELLS = [
    "import monviz, resource\n"
    "def rss():\n"
    "    status = open('/proc/self/status').read()\n"
    "    return int(status.split('VmRSS:')[1].split()[0]) / 1024\n"
    "base = rss()\n"
    "trace = monviz.record(SOURCE, filename=PATH, max_events=N)\n"
    "print('EVENTS', len(trace))",
    "view = monviz.Timeline(trace)\nview",
    "import json\n"
    "print('RSS ' + json.dumps({'before_mb': round(base, 1), 'now_mb': round(rss(), 1),"
    " 'peak_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))",
]

LAB_STEPS_JS = """async (root) => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    root.focus();
    const steps = [];
    for (let k = 0; k < 200; k++) {
        const t = performance.now();
        root.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
        await frame();
        steps.push(performance.now() - t);
    }
    const scrubber = root.querySelector('.monviz-scrubber');
    const n = Number(scrubber.max);
    const jumps = [];
    for (let k = 0; k < 50; k++) {
        const t = performance.now();
        scrubber.value = String(Math.floor(((k * 7919) % 50) / 50 * n));
        scrubber.dispatchEvent(new Event('input'));
        await frame();
        jumps.push(performance.now() - t);
    }
    if (window.gc) window.gc();
    return {steps, jumps, heap: performance.memory ? performance.memory.usedJSHeapSize : null};
}"""


@contextlib.contextmanager
def _jupyterlab():
    """A JupyterLab on a free port with every Jupyter directory in a temp home: (base, root);
    started as the browser tests start theirs (tests/browser/labserver.py)."""
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    from labserver import jupyterlab

    with tempfile.TemporaryDirectory() as tmp:
        home, root = Path(tmp) / "home", Path(tmp) / "root"
        root.mkdir()
        with jupyterlab(home, root, TOKEN) as base:
            yield base, root


def _run_cell(page, index: int):
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    return cell


def _lab_one(browser, base: str, root: Path, n: int) -> dict:
    import nbformat

    sys.path.insert(0, str(REPO / "benchmarks"))
    from report import PROGRAM

    path = root / "mixed.py"
    path.write_text(PROGRAM)
    setup = f"SOURCE = {PROGRAM!r}\nPATH = {str(path)!r}\nN = {n}\n"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(setup + LAB_CELLS[0]),
                *map(nbformat.v4.new_code_cell, LAB_CELLS[1:])]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    name = f"bench-{n}.ipynb"
    nbformat.write(nb, root / name)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.goto(f"{base}/lab/tree/{name}?token={TOKEN}")
    page.locator(".jp-NotebookPanel").wait_for(timeout=90_000)
    idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle"))
    idle.wait_for(timeout=90_000)
    out = _run_cell(page, 0).locator(".jp-OutputArea-output")
    out.get_by_text(f"EVENTS {n}").wait_for(timeout=300_000)
    idle.wait_for(timeout=60_000)
    t = time.perf_counter()
    _run_cell(page, 1)
    root_el = page.locator(".monviz-timeline[data-drawn='1']").first
    root_el.wait_for(timeout=600_000)
    opened = time.perf_counter() - t
    during = page.evaluate(LAB_STEPS_JS, root_el.element_handle())  # chunks still coming
    page.locator(".monviz-timeline[data-complete='1']").first.wait_for(timeout=600_000)
    complete = time.perf_counter() - t
    idle.wait_for(timeout=600_000)
    got = page.evaluate(LAB_STEPS_JS, root_el.element_handle())
    rss_out = _run_cell(page, 2).locator(".jp-OutputArea-output")
    rss_out.get_by_text("RSS").wait_for(timeout=60_000)
    rss = json.loads(rss_out.inner_text().split("RSS", 1)[1])
    ctx.close()
    steps, jumps = got["steps"], got["jumps"]
    return {"n": n, "open_s": opened, "complete_s": complete,
            "during50": statistics.median(during["steps"]),
            "during95": statistics.quantiles(during["steps"], n=20)[-1],
            "p50": statistics.median(steps),
            "p95": statistics.quantiles(steps, n=20)[-1], "max": max(steps),
            "jump50": statistics.median(jumps), "jump95": statistics.quantiles(jumps, n=20)[-1],
            "jump_max": max(jumps), "heap_mb": (got["heap"] or 0) / 1e6, "rss": rss}


def lab_main() -> None:
    from playwright.sync_api import sync_playwright

    print(f"monviz Timeline widget in JupyterLab (Python {platform.python_version()}, backend "
          f"{backends.describe()}, Chromium {CHROMIUM})", flush=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--enable-precise-memory-info", "--js-flags=--expose-gc"])
        for n in LAB_SIZES:
            with _jupyterlab() as (base, root):  # its own server and kernel per size
                r = _lab_one(browser, base, root, n)
            rss = r["rss"]
            print(f"{n:>11,} events  open {r['open_s']:6.2f} s (all loaded "
                  f"{r['complete_s']:6.2f} s; "
                  f"step while loading p50 {r['during50']:5.1f} p95 {r['during95']:5.1f} ms)"
                  f"\n{'':>19}step p50 {r['p50']:5.1f} ms "
                  f"p95 {r['p95']:5.1f} ms max {r['max']:6.1f} ms  scrub p50 {r['jump50']:5.1f} "
                  f"p95 {r['jump95']:5.1f} max {r['jump_max']:6.1f} ms  tab JS heap "
                  f"{r['heap_mb']:6.1f} MB  kernel RSS {rss['now_mb']:6.1f} MB (peak "
                  f"{rss['peak_mb']:.1f}, {rss['before_mb']:.1f} before recording)", flush=True)
        browser.close()


def main() -> None:
    if os.environ.get("MONVIZ_BENCH_LAB", "") not in ("", "0"):
        lab_main()
        return
    if backends.speedups is not None:
        os.environ.pop(backends.PURE_ENV, None)  # record with the compiled backend
    backend = backends.describe()
    t = time.perf_counter()
    trace = monviz.record(PROGRAM, max_events=N)
    recorded = time.perf_counter() - t
    n = len(trace)
    depth_stored = len(trace._d.depth) == n  # the compiled backend records depths
    stored = {name: type(getattr(trace._d, name)).__name__
              for name in _payload.COLUMNS if name != "depth"}
    stored["depth"] = type(trace.depths()).__name__
    lines = python_lines(lambda: _payload.build(trace))

    cold_med, cold_min, payload = timed(lambda: _payload.build(trace._with(trace._d)))
    trace.depths()
    warm_med, warm_min, payload = timed(lambda: _payload.build(trace))
    info, buffers = payload
    buffer_bytes = sum(map(len, buffers.values()))
    json_bytes = len(json.dumps(info))

    widget = Timeline(trace)

    def state():
        s, _paths, bufs = _remove_buffers(widget.get_state())
        return len(json.dumps(s)) + sum(map(len, bufs))

    state_med, _, state_bytes = timed(state)
    static_med, _, html = timed(lambda: timeline_html(trace), max(2, REPEATS // 2))

    payload_mb = (buffer_bytes + json_bytes) / 1e6
    depth_note = "" if depth_stored else "; includes deriving call depths"
    kinds = sorted(set(stored.values()))
    rows = [
        ("events", f"{n:,}", f"(recorded in {recorded:.2f} s{', capped' * trace.truncated})"),
        ("Timeline payload", f"{cold_med:.3f} s", f"{payload_mb:.2f} MB: _payload.build of the "
                                                  f"{n / 1e6:.1f}M-event trace, cold (min "
                                                  f"{cold_min:.3f} s){depth_note}"),
        ("  columns read", f"{'/'.join(kinds)}", f"{len(stored)} columns, one tobytes() each; "
                                                 f"{lines} Python lines ran for {n:,} events"),
        ("payload, warm", f"{warm_med * 1000:.0f} ms", f"min {warm_min * 1000:.0f} ms"),
        ("widget state → comm", f"{state_med * 1000:.0f} ms",
         "get_state + buffers split + JSON"),
        ("total to serialise", f"{(cold_med + state_med) * 1000:.0f} ms", "target < 1000 ms"),
        ("bytes sent", f"{(buffer_bytes + json_bytes) / 1e6:.2f} MB",
         f"{buffer_bytes / 1e6:.2f} MB buffers + {json_bytes / 1e3:.1f} kB JSON; "
         f"{(buffer_bytes + json_bytes) / n:.1f} B/event; target < 32 MB"),
        ("  widget state total", f"{state_bytes / 1e6:.2f} MB", "as the comm sends it"),
        ("static fallback", f"{static_med * 1000:.0f} ms", f"{len(html) / 1e3:.0f} kB of HTML"),
    ]
    print(f"monviz widget serialisation (Python {platform.python_version()}, backend {backend}, "
          f"median of {REPEATS})")
    for name, value, note in rows:
        print(f"  {name:<22} {value:>10}   {note}")
    print("  per column: " + ", ".join(f"{k} {len(v) / 1e3:.0f} kB" for k, v in buffers.items()))
    if backends.speedups is not None and set(stored.values()) != {"memoryview"}:
        print(f"  NOTE: compiled trace columns not all memoryviews: {stored}")
    if lines >= n // 10:
        print(f"  NOTE: {lines} Python lines for {n:,} events: a per-event Python loop in build")


if __name__ == "__main__":
    main()
