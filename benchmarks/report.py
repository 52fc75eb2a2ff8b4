"""How big is an HTML report, how fast does it open and step? (10k / 100k / 1M events)

Records a mixed program (calls, loops and branches, generators, methods,
exceptions: every event family) capped at 10k, 100k and 1M events, then per size:

* **build**: ``trace.save_html`` (payload, every CFG laid out by ``dot``, gzip);
* **size** of the HTML file;
* **open**: headless Chromium (Debian's, through Playwright) loads it from
  ``file://`` with every other request refused, until the page says it is ready
  (decoded, timeline drawn, graph shown), as seen from Python, and the page's own
  figure (script start to ready);
* **step**: 200 ArrowRight presses, each timed in the page from the key event to
  the next animation frame (the step painted, the graph following): p50 / p95 / max
  (a 60 Hz display rounds this up to a frame, ~16.7 ms); and the step's own work
  (the key handler: timeline, details, source, graph highlight) alone;
* the **Perfetto** (Chrome Trace Event JSON) file of the same trace: time and size.

Targets (issue 14): a 1M-event report opens in under 5 s and steps in under 100 ms.
Run: ``.venv/bin/python benchmarks/report.py`` (``MONVIZ_BENCH_SIZES=10000,100000``
for fewer). ``MONVIZ_BENCH_VALUES=1`` records with ``values=True`` (issue 15): the
report then carries every frame's variables, and each step also redraws the
Variables panel.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import monviz

SIZES = [int(s) for s in os.environ.get("MONVIZ_BENCH_SIZES",
                                        "10000,100000,1000000,10000000").split(",")]
CHROMIUM = "/usr/bin/chromium"
VALUES = os.environ.get("MONVIZ_BENCH_VALUES", "") not in ("", "0")
#: the Perfetto file too (slow at 10M events: ``MONVIZ_BENCH_PERFETTO=0`` skips it)
PERFETTO = os.environ.get("MONVIZ_BENCH_PERFETTO", "1") not in ("", "0")

PROGRAM = '''\
def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def count_primes(n):
    count = 0
    for i in range(2, n):
        for j in range(2, int(i ** 0.5) + 1):
            if i % j == 0:
                break
        else:
            count += 1
    return count


def squares(xs):
    for x in xs:
        yield x * x


class Particle:
    def __init__(self, x, v):
        self.x, self.v = x, v

    def step(self, dt):
        self.x += self.v * dt
        if self.x < 0 or self.x > 100:
            self.v = -self.v


def fails(i):
    if i % 3 == 0:
        raise ValueError(i)
    return i


def one_round(r):
    # sizes vary from round to round, so the trace is not one pattern repeated
    fib(6 + r % 7)
    count_primes(100 + (r * 37) % 300)
    total = sum(x for x in squares(range(r % 250)) if x % 2)
    ps = [Particle((r * k) % 100, (r + k) % 7 - 3) for k in range(1 + r % 10)]
    for _ in range(20):
        for p in ps:
            p.step(0.7)
    for i in range(r % 70):
        try:
            fails(i + r)
        except ValueError:
            total += 1
    return total


for r in range(1200):  # about 12M events: enough for the 10M size
    one_round(r)
'''


def record(n: int, folder: Path) -> monviz.Trace:
    source = folder / "mixed.py"
    source.write_text(PROGRAM)
    trace = monviz.record(PROGRAM, filename=str(source), max_events=n, values=VALUES)
    assert len(trace) == n, (len(trace), n)
    if VALUES:
        print(f"  values: {len(trace.values):,} steps, {trace.values.nbytes / 1e6:.1f} MB "
              f"({trace.values.nbytes / len(trace.values):.0f} B/step)", flush=True)
    return trace


STEPS_JS = """async () => {
    const root = document.querySelector('.monviz-timeline');
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    root.focus();
    const times = [];
    const work = [];
    for (let k = 0; k < 200; k++) {
        const t = performance.now();
        root.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
        work.push(performance.now() - t);  // the step's own work: timeline and graph
        await frame();
        times.push(performance.now() - t);
    }
    return {times, work, step: Number(root.dataset.step),
            firstDraw: Number(root.dataset.firstDrawMs || NaN)};
}"""


def in_browser(browser, path: Path) -> dict:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    refused = []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    page = ctx.new_page()
    t = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_function("document.body.dataset.ready === 'true'", timeout=120_000)
    opened = time.perf_counter() - t
    page_ms = float(page.evaluate("document.body.dataset.openMs"))
    out = page.evaluate(STEPS_JS)
    heap = page.evaluate("(window.gc && window.gc(), performance.memory.usedJSHeapSize)")
    ctx.close()
    assert not refused, refused
    times = out["times"]
    work = out["work"]
    return {"open_s": opened, "page_ms": page_ms, "p50": statistics.median(times),
            "p95": statistics.quantiles(times, n=20)[-1], "max": max(times),
            "work50": statistics.median(work), "work95": statistics.quantiles(work, n=20)[-1],
            "first_draw_ms": out["firstDraw"], "heap_mb": heap / 1e6}


def perfetto(trace: monviz.Trace, folder: Path, n: int) -> str:
    """The Perfetto file of the trace: time and size, as one line's tail."""
    try:
        from monviz.chrome import save_chrome_trace
    except ImportError:
        return "  perfetto: (monviz.chrome not available)"
    t = time.perf_counter()
    cpath = save_chrome_trace(trace, folder / f"trace-{n}.json")
    took = time.perf_counter() - t
    t = time.perf_counter()
    gz = save_chrome_trace(trace, folder / f"trace-{n}.json.gz")
    return (f"  perfetto: {took:5.2f} s {cpath.stat().st_size / 1e6:6.1f} MB, "
            f".json.gz {time.perf_counter() - t:5.2f} s {gz.stat().st_size / 1e6:5.1f} MB")


def main() -> None:
    from playwright.sync_api import sync_playwright

    print(f"monviz report benchmark: Python {sys.version.split()[0]}, backend "
          f"{monviz.backend()}, Chromium {CHROMIUM}" + (", values=True" if VALUES else ""))
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        folder = Path(tmp)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--enable-precise-memory-info", "--js-flags=--expose-gc"])
        for n in SIZES:
            trace = record(n, folder)
            t = time.perf_counter()
            path = trace.save_html(folder / f"report-{n}.html")
            build = time.perf_counter() - t
            size = path.stat().st_size
            seen = in_browser(browser, path)
            chrome = perfetto(trace, folder, n) if PERFETTO else ""
            rows.append((n, build, size, seen))
            print(f"{n:>9,} events  build {build:5.2f} s  html {size / 1e6:6.2f} MB "
                  f"({size / n:4.1f} B/event)  open {seen['open_s']:5.2f} s "
                  f"(page {seen['page_ms']:6.0f} ms)  step to paint p50 {seen['p50']:5.1f} ms "
                  f"p95 {seen['p95']:5.1f} ms max {seen['max']:5.1f} ms (work p50 "
                  f"{seen['work50']:4.1f} ms p95 {seen['work95']:4.1f} ms)  tab JS heap "
                  f"{seen['heap_mb']:5.1f} MB{chrome}", flush=True)
        browser.close()
    big = [r for r in rows if r[0] >= 1_000_000]
    if big:
        n, _, _, seen = big[-1]
        ok = seen["open_s"] < 5 and seen["p50"] < 100
        print(f"targets at {n:,} events: open < 5 s, step < 100 ms: "
              f"{'met' if ok else 'NOT met'} (open {seen['open_s']:.2f} s, "
              f"step p50 {seen['p50']:.1f} ms, p95 {seen['p95']:.1f} ms)")


if __name__ == "__main__":
    main()
