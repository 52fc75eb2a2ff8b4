"""How much does recording cost? monviz against the floor, per event, measured in one run.

For each workload (benchmarks/workloads.py), in one process, configurations are
timed in interleaved A/B pairs with an untraced run of the same work (the order
alternating between repeats), and medians are printed:

* **floor**: the same events and scope enabled through raw ``sys.monitoring``,
  with do-nothing callbacks of exact arity (local events on the workload's code
  objects; a global PY_START/PY_RESUME callback that returns DISABLE outside
  them; global exception events). Any recorder pays at least this.
* **monviz**: ``monviz.record(run)`` with the default events, end to end (the
  Trace's columns are ready when it returns); and the recording part alone.
* **settrace**: a ``sys.settrace`` recorder appending ``(event, code, line)``.

ns/event = (configuration - untraced) / events. Bytes per event are what the
Trace retains (tracemalloc), divided by its events. These machines are noisy:
compare the ratios, which are measured side by side.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import time
import tracemalloc
from types import CodeType

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads

import monviz
from monviz import events as catalogue
from monviz import recorder

mon = sys.monitoring
REPEATS = int(os.environ.get("MONVIZ_BENCH_REPEATS", "7"))
FLOOR_TOOL = 2 if mon.get_tool(2) is None else 5


def _module_codes() -> list[CodeType]:
    out = []
    for value in vars(workloads).values():
        for func in (value, *vars(value).values()) if isinstance(value, type) else (value,):
            code = getattr(func, "__code__", None)
            if isinstance(code, CodeType):
                out.extend(recorder.code_tree(code))
    return out


def floor_run(fn) -> int:
    """Time ``fn`` with the default events and monviz's scope, but do-nothing callbacks."""
    codes = _module_codes()
    watched = {id(c) for c in codes}
    disable = mon.DISABLE
    bits = catalogue.parse_events(None)
    local_mask = recorder._local_mask(FLOOR_TOOL) if mon.get_tool(FLOOR_TOOL) else None
    mon.use_tool_id(FLOOR_TOOL, "floor")
    try:
        local_mask = recorder._local_mask(FLOOR_TOOL)
        local = (bits | recorder._FRAME_EVENTS) & (local_mask | recorder._C_EVENTS)
        glob = (bits & ~local) | recorder._DISCOVERY

        def discover(code, off, w=watched, d=disable):
            if id(code) not in w:
                return d

        noops = {2: lambda code, a: None, 3: lambda code, a, b: None,
                 4: lambda code, a, b, c: None}
        for info in catalogue.CATALOGUE.values():
            if info.bit & (local | glob):
                cb = discover if info.bit & recorder._DISCOVERY else noops[len(info.args) + 1]
                mon.register_callback(FLOOR_TOOL, info.bit, cb)
        for code in codes:
            mon.set_local_events(FLOOR_TOOL, code, local)
        t0 = time.perf_counter_ns()
        mon.set_events(FLOOR_TOOL, glob)
        fn()
        mon.set_events(FLOOR_TOOL, 0)
        elapsed = time.perf_counter_ns() - t0
    finally:
        mon.set_events(FLOOR_TOOL, 0)
        for code in codes:
            mon.set_local_events(FLOOR_TOOL, code, 0)
        for info in catalogue.CATALOGUE.values():
            mon.register_callback(FLOOR_TOOL, info.bit, None)
        mon.free_tool_id(FLOOR_TOOL)
        mon.restart_events()
    return elapsed


def monviz_run(fn) -> tuple[int, int, int]:
    """(end-to-end ns, recording-only ns, events) of ``monviz.record(fn)``."""
    t0 = time.perf_counter_ns()
    session = recorder._Session(catalogue.parse_events(None), None,
                                recorder.DEFAULT_MAX_EVENTS * 10, "user")
    session.start(watch=[fn.__code__])
    try:
        fn()
    finally:
        session.stop()
    t1 = time.perf_counter_ns()
    trace = session.decode(None, {})
    t2 = time.perf_counter_ns()
    return t2 - t0, t1 - t0, len(trace)


def settrace_run(fn) -> tuple[int, int]:
    buf = []
    append = buf.append

    def tracer(frame, event, arg):
        append((event, frame.f_code, frame.f_lineno))
        return tracer

    t0 = time.perf_counter_ns()
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return time.perf_counter_ns() - t0, len(buf)


def untraced(fn) -> int:
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0


def retained_bytes(fn) -> tuple[float, int]:
    """Bytes the Trace keeps per event (everything it holds), measured by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    trace = monviz.record(fn, max_events=10**8)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / max(len(trace), 1), len(trace)


def measure(name: str, fn) -> dict:
    configs = ["floor", "monviz", "settrace"]
    samples: dict[str, list] = {c: [] for c in configs}
    rng = random.Random(0)
    fn()  # warm up (and let the specialising interpreter settle)
    for rep in range(REPEATS):
        rng.shuffle(configs)
        for config in configs:
            gc.collect()
            base_first = rep % 2 == 0
            base = untraced(fn) if base_first else None
            if config == "floor":
                result = (floor_run(fn),)
            elif config == "monviz":
                result = monviz_run(fn)
            else:
                result = settrace_run(fn)
            if not base_first:
                base = untraced(fn)
            samples[config].append((base, *result))
    med = statistics.median
    events = samples["monviz"][0][3]
    floor = med((f - b) / events for b, f in samples["floor"])
    e2e = med((t - b) / events for b, t, _, _ in samples["monviz"])
    rec = med((r - b) / events for b, _, r, _ in samples["monviz"])
    trace_events = samples["settrace"][0][2]
    st = med((t - b) / trace_events for b, t, _ in samples["settrace"])
    bytes_per_event, _ = retained_bytes(fn)
    untraced_ms = med(b for b, *_ in samples["floor"]) / 1e6
    return {"name": name, "events": events, "untraced_ms": untraced_ms,
            "floor": floor, "monviz": e2e, "record": rec, "settrace": st,
            "settrace_events": trace_events, "bytes": bytes_per_event}


def library_ratio() -> tuple[float, float, int]:
    """A cell that spends its time in fractions.py: record / untraced, and events."""
    fn = workloads.run_library
    fn()
    ratios, events = [], 0
    for rep in range(REPEATS):
        base_first = rep % 2 == 0
        b = untraced(fn) if base_first else None
        t0 = time.perf_counter_ns()
        trace = monviz.record(fn)
        t = time.perf_counter_ns() - t0
        events = len(trace)
        if not base_first:
            b = untraced(fn)
        ratios.append(t / b)
    return statistics.median(ratios), 0.0, events


def main() -> int:
    print(f"monviz recording benchmark - Python {sys.version.split()[0]}, "
          f"backend {getattr(monviz, 'backend', lambda: 'python')()}, {REPEATS} repeats, medians")
    print(f"{'workload':<11} {'events':>8} {'untraced':>9} {'floor':>8} {'monviz':>8} "
          f"{'ratio':>6} {'record':>8} {'ratio':>6} {'settrace':>9} {'B/event':>8}")
    print(f"{'':<11} {'':>8} {'ms':>9} {'ns/ev':>8} {'ns/ev':>8} {'':>6} {'ns/ev':>8} {'':>6} "
          f"{'ns/ev':>9} {'':>8}")
    rows = []
    for name, fn in workloads.WORKLOADS.items():
        r = measure(name, fn)
        rows.append(r)
        print(f"{name:<11} {r['events']:>8} {r['untraced_ms']:>9.1f} {r['floor']:>8.1f} "
              f"{r['monviz']:>8.1f} {r['monviz'] / r['floor']:>6.2f} {r['record']:>8.1f} "
              f"{r['record'] / r['floor']:>6.2f} {r['settrace']:>9.1f} {r['bytes']:>8.1f}")
    lib, _, lib_events = library_ratio()
    print(f"library    cell in fractions.py: record/untraced = {lib:.2f}x "
          f"({lib_events} events kept)")
    worst = max(r["monviz"] / r["floor"] for r in rows)
    worst_rec = max(r["record"] / r["floor"] for r in rows)
    vs_settrace = min(r["settrace"] / r["monviz"] for r in rows)
    worst_bytes = max(r["bytes"] for r in rows)
    print(f"summary: monviz/floor end to end <= {worst:.2f} (recording alone <= {worst_rec:.2f}; "
          f"target 2.5), settrace/monviz per event >= {vs_settrace:.2f} (target 2), "
          f"bytes/event <= {worst_bytes:.1f} (target 20), library cell {lib:.2f}x (target 1.1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
