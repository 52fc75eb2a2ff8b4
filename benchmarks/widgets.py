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
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ipywidgets.widgets.widget import _remove_buffers

import monviz
from monviz import backends
from monviz.render.timeline import timeline_html
from monviz.widgets import Timeline, _payload

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


def main() -> None:
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
