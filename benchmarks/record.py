"""How much does recording cost? monviz against the dispatch floors, per event, in one run.

For each workload (benchmarks/workloads.py), in one process, every configuration
is timed in an A/B pair with an untraced run of the same work, back to back (which
of the two goes first alternates between repeats; the order of the configurations
is shuffled each repeat), and medians of the repeats are printed. ns/event =
(traced - untraced) / events kept. Times are the process's CPU time (user + system,
so page faults count) rather than wall-clock time, which on a shared 2-core machine
also counts waiting for a core; MONVIZ_BENCH_CLOCK=wall times with perf_counter.
Columns:

* **C floor**: the events monviz enables, set exactly as monviz sets them (local
  events on the workload's code objects, the rest global: PY_START/PY_RESUME for
  discovery and the global-only exception events), through raw ``sys.monitoring``
  with ``monviz._speedups.noop`` (a METH_FASTCALL builtin returning None, of any
  arity) as every callback: what sys.monitoring itself costs. No compiled
  recorder can go below it. (noop never returns DISABLE, so the few out-of-scope
  frame starts, e.g. random.py in "methods", fire at every call instead of once.)
* **Py floor**: the same, with do-nothing Python functions of exact arity (the
  PY_START/PY_RESUME one returns DISABLE outside the workload's code, as monviz
  does): what any pure-Python recorder pays before it stores anything.
* **pure**: ``monviz.record(fn)`` with ``MONVIZ_PURE_PYTHON=1``, end to end (the
  Trace is returned, its columns decoded).
* **fresh**: ``monviz.record(fn)`` with the compiled backend, end to end, from
  fresh memory: the reuse pool released (``_speedups.release_memory()``) and
  ``malloc_trim(0)`` just before, so the columns' pages are faulted in anew.
* **reused**: the same, right after a trace of the same workload was recorded and
  dropped, so its columns' memory is in the pool and is written again.
* **fresh/C**, **reused/C**: those divided by the C floor measured in the same
  repeat, median over the repeats (target: fresh <= 2.5).
* **settrace**: a ``sys.settrace`` recorder appending ``(event, code, line)``, per
  settrace event (its own count).
* **B/ev**: bytes per retained event of the compiled trace: ``Trace.nbytes / len``
  (the per-event columns; the values table and code infos are not counted).
* **decode**: the part of "fresh" spent after recording stopped, turning the
  recorder's output into the Trace (``session.decode``: e.g. the display strings
  of the distinct recorded values), per event. Included in "fresh".

Every configuration but "reused" starts after ``gc.collect()``, release of the pool
and ``malloc_trim(0)``. Without the extension (not built for this interpreter) the
C floor and the compiled columns are skipped with a note. These machines are noisy:
compare the ratios, which are measured side by side; a final line says how widely
the repeats of each column spread. MONVIZ_BENCH_REPEATS sets the repeats (default
9); MONVIZ_BENCH_VERBOSE=1 prints every sample (ns/event, sorted) to spot bimodal cells.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import platform
import random
import statistics
import sys
import time
from types import CodeType

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads

import monviz
from monviz import backends, recorder
from monviz import events as catalogue

mon = sys.monitoring
REPEATS = int(os.environ.get("MONVIZ_BENCH_REPEATS", "9"))
VERBOSE = os.environ.get("MONVIZ_BENCH_VERBOSE", "") not in ("", "0")  # every sample, sorted
#: "cpu" (default): the process's CPU time, user + system (page faults included), which
#: time spent waiting for a core while other jobs run does not inflate; "wall": perf_counter.
CLOCK = os.environ.get("MONVIZ_BENCH_CLOCK", "cpu")
clock = {"cpu": time.process_time_ns, "wall": time.perf_counter_ns}[CLOCK]
FLOOR_TOOL = 2 if mon.get_tool(2) is None else 5
SPEEDUPS = backends.speedups  # None where the extension is not importable
_ENV_AT_START = os.environ.get(backends.PURE_ENV)


def _libc_malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _libc_malloc_trim()


def fresh_memory() -> None:
    """Free what can be freed and hand free heap back to the OS: the next run faults anew."""
    gc.collect()
    if SPEEDUPS is not None:
        SPEEDUPS.release_memory()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _set_backend(name: str) -> None:
    """MONVIZ_PURE_PYTHON for the next recording (read by monviz at each recording)."""
    if name == backends.PYTHON:
        os.environ[backends.PURE_ENV] = "1"
    else:
        os.environ.pop(backends.PURE_ENV, None)
    assert monviz.backend() == name, (monviz.backend(), name)


def _restore_env() -> None:
    if _ENV_AT_START is None:
        os.environ.pop(backends.PURE_ENV, None)
    else:
        os.environ[backends.PURE_ENV] = _ENV_AT_START


# -- the floors ---------------------------------------------------------------------------
def _module_codes() -> list[CodeType]:
    out = []
    for value in vars(workloads).values():
        for func in (value, *vars(value).values()) if isinstance(value, type) else (value,):
            code = getattr(func, "__code__", None)
            if isinstance(code, CodeType):
                out.extend(recorder.code_tree(code))
    return out


def monviz_event_sets(tool: int) -> tuple[int, int, int]:
    """(enabled, local, global) event bits for the default events, computed exactly as
    ``recorder._Session.start`` computes them (keep the two in step)."""
    requested = catalogue.parse_events(None)
    enabled = requested | recorder._FRAME_EVENTS
    if enabled & recorder._C_EVENTS:
        enabled |= recorder._CALL | recorder._C_EVENTS
    local = enabled & (recorder._local_mask(tool) | recorder._C_EVENTS)
    glob = (enabled & ~local) | recorder._DISCOVERY
    return enabled, local, glob


def floor_run(fn, kind: str) -> int:
    """Time ``fn`` with monviz's events and scope, but do-nothing callbacks.

    ``kind`` "c": ``_speedups.noop`` for every event; "python": exact-arity Python
    functions, the discovery one returning DISABLE outside the workload's code.
    """
    codes = _module_codes()
    watched = {id(c) for c in codes}
    disable = mon.DISABLE

    def discover(code, off, w=watched, d=disable):
        if id(code) not in w:
            return d

    py_noops = {2: lambda code, a: None, 3: lambda code, a, b: None,
                4: lambda code, a, b, c: None}
    mon.use_tool_id(FLOOR_TOOL, "floor")
    try:
        enabled, local, glob = monviz_event_sets(FLOOR_TOOL)
        for info in catalogue.CATALOGUE.values():
            if info.bit & enabled:
                if kind == "c":
                    cb = SPEEDUPS.noop
                elif info.bit & recorder._DISCOVERY:
                    cb = discover
                else:
                    cb = py_noops[len(info.args) + 1]
                mon.register_callback(FLOOR_TOOL, info.bit, cb)
        for code in codes:
            mon.set_local_events(FLOOR_TOOL, code, local)
        t0 = clock()
        mon.set_events(FLOOR_TOOL, glob)
        fn()
        mon.set_events(FLOOR_TOOL, 0)
        elapsed = clock() - t0
    finally:
        mon.set_events(FLOOR_TOOL, 0)
        for code in codes:
            mon.set_local_events(FLOOR_TOOL, code, 0)
        for info in catalogue.CATALOGUE.values():
            mon.register_callback(FLOOR_TOOL, info.bit, None)
        mon.free_tool_id(FLOOR_TOOL)
        mon.restart_events()
    return elapsed


# -- monviz end to end, settrace, untraced ----------------------------------------------
class Truncated(AssertionError):
    pass


_decode_started = [0]
_new_session = recorder.new_session


def _marked_new_session(*args, **kwargs):
    """monviz's own session, its ``decode`` marking when it starts (the "finish" split)."""
    session = _new_session(*args, **kwargs)
    decode = session.decode

    def marked_decode(*a, **k):
        _decode_started[0] = clock()
        return decode(*a, **k)

    session.decode = marked_decode
    return session


recorder.new_session = _marked_new_session  # record() -> Recorder._new_session -> this


def record_run(fn, max_events: int, events: int | None) -> tuple[int, int, float, int]:
    """(ns, events kept, bytes per event, ns of it spent in decode) of ``monviz.record(fn)``
    with the active backend.

    The trace is checked (not truncated, the expected number of events) and dropped
    before returning: with the compiled backend its columns then go to the pool.
    """
    _decode_started[0] = 0
    t0 = clock()
    trace = monviz.record(fn, max_events=max_events)
    t1 = clock()
    elapsed = t1 - t0
    assert _decode_started[0], "monviz.record no longer goes through recorder.new_session"
    decode = t1 - _decode_started[0]
    n = len(trace)
    if trace.truncated:
        raise Truncated(f"{fn.__name__}: trace truncated at {n} events "
                        f"(max_events={max_events}); raise max_events")
    if events is not None and n != events:
        print(f"  note: {fn.__name__} kept {n} events this time, not {events}")
    per_event = trace.nbytes / max(n, 1)
    del trace
    return elapsed, n, per_event, decode


def settrace_run(fn) -> tuple[int, int]:
    buf = []
    append = buf.append

    def tracer(frame, event, arg):
        append((event, frame.f_code, frame.f_lineno))
        return tracer

    t0 = clock()
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return clock() - t0, len(buf)


def untraced(fn) -> int:
    t0 = clock()
    fn()
    return clock() - t0


# -- one workload ------------------------------------------------------------------------
COMPILED_CONFIGS = ("cfloor", "fresh", "reused")
LABELS = {"cfloor": "C floor", "pyfloor": "Py floor", "pure": "pure", "fresh": "fresh",
          "reused": "reused", "settrace": "settrace"}


def measure(name: str, fn) -> dict:
    compiled = SPEEDUPS is not None
    configs = ["cfloor", "pyfloor", "pure", "fresh", "reused", "settrace"]
    if not compiled:
        configs = [c for c in configs if c not in COMPILED_CONFIGS]

    # warm up (the specialising interpreter settles) and size the cap from one recording
    fn()
    _set_backend(backends.COMPILED if compiled else backends.PYTHON)
    probe = monviz.record(fn, max_events=10**8)
    events = len(probe)
    max_events = max(recorder.DEFAULT_MAX_EVENTS, 2 * events)
    if probe.truncated:
        raise Truncated(f"{name}: even 10**8 events truncate")
    del probe

    per_event: dict[str, list[float]] = {c: [] for c in configs}
    base_ms: list[float] = []
    decode_per_event: list[float] = []
    bytes_per_event = float("nan")
    settrace_events = 0
    rng = random.Random(0)
    for rep in range(REPEATS):
        rng.shuffle(configs)
        for config in configs:
            base_first = rep % 2 == 0
            gc.collect()
            base = untraced(fn) if base_first else None
            if config == "reused":
                _set_backend(backends.COMPILED)
                gc.collect()
                record_run(fn, max_events, events)  # its columns go to the pool
                gc.collect()
                assert SPEEDUPS.pool_size() > 0, "nothing in the pool to reuse"
            else:
                fresh_memory()
            n = events
            if config == "cfloor":
                t = floor_run(fn, "c")
            elif config == "pyfloor":
                t = floor_run(fn, "python")
            elif config == "pure":
                _set_backend(backends.PYTHON)
                t, n, _, _ = record_run(fn, max_events, events)
            elif config in ("fresh", "reused"):
                _set_backend(backends.COMPILED)
                t, n, bytes_per_event, decode = record_run(fn, max_events, events)
                if config == "fresh":
                    decode_per_event.append(decode / n)
            else:
                t, n = settrace_run(fn)
                settrace_events = n
            if not base_first:
                base = untraced(fn)
            per_event[config].append((t - base) / n)
            base_ms.append(base / 1e6)
    _restore_env()
    if not compiled:  # the pure-Python trace's columns, then
        _set_backend(backends.PYTHON)
        _, _, bytes_per_event, _ = record_run(fn, max_events, events)
        _restore_env()
    med = {c: statistics.median(v) for c, v in per_event.items()}
    return {"name": name, "events": events, "max_events": max_events,
            "untraced_ms": statistics.median(base_ms), "med": med, "samples": per_event,
            "settrace_events": settrace_events, "bytes": bytes_per_event,
            "decode": statistics.median(decode_per_event) if decode_per_event else None}


def paired_ratio(samples: dict[str, list[float]], config: str, floor: str) -> float:
    """The median, over repeats, of config / floor measured in the same repeat.

    Both ran within the same shuffled round, seconds apart: a change of the
    machine's load between rounds moves both, and cancels out of their ratio."""
    return statistics.median(c / f for c, f in zip(samples[config], samples[floor]))


def library_ratio() -> tuple[float, int]:
    """A cell that spends its time in fractions.py: record / untraced, and events."""
    fn = workloads.run_library
    fn()
    ratios, events = [], 0
    for rep in range(REPEATS):
        base_first = rep % 2 == 0
        b = untraced(fn) if base_first else None
        t0 = clock()
        trace = monviz.record(fn)
        t = clock() - t0
        events = len(trace)
        del trace
        if not base_first:
            b = untraced(fn)
        ratios.append(t / b)
    return statistics.median(ratios), events


def _spread(rows: list[dict]) -> dict[str, tuple[float, str]]:
    """Per column: the largest interquartile range / median over the workloads, and where."""
    out: dict[str, tuple[float, str]] = {}
    for r in rows:
        for config, values in r["samples"].items():
            if len(values) < 4 or r["med"][config] <= 0:
                continue
            q1, _, q3 = statistics.quantiles(values, n=4)
            spread = (q3 - q1) / r["med"][config]
            if spread > out.get(config, (-1.0, ""))[0]:
                out[config] = (spread, r["name"])
    return out


def main() -> int:
    compiled = SPEEDUPS is not None
    os.environ.pop(backends.PURE_ENV, None)
    active = backends.describe()  # the compiled one, or why not
    _restore_env()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"monviz recording benchmark - Python {platform.python_version()} "
          f"({platform.python_implementation()}), backend {active}; "
          f"{REPEATS} repeats, medians, {CLOCK} clock; load {load:.2f}")
    if not compiled:
        print(f"note: no compiled backend here ({backends.why_not}): the C floor and the "
              f"compiled columns are skipped; build it with `pip install -e .`")
    if _MALLOC_TRIM is None:
        print("note: no glibc malloc_trim here: 'fresh' runs only release monviz's pool")
    head = (f"{'workload':<11}{'events':>8}{'untraced':>9}{'C floor':>9}{'Py floor':>9}"
            f"{'pure':>8}{'fresh':>8}{'reused':>8}{'fresh/C':>8}{'reuse/C':>8}"
            f"{'settrace':>9}{'B/ev':>6}{'decode':>7}")
    units = (f"{'':<11}{'':>8}{'ms':>9}{'ns/ev':>9}{'ns/ev':>9}{'ns/ev':>8}{'ns/ev':>8}"
             f"{'ns/ev':>8}{'x':>8}{'x':>8}{'ns/ev':>9}{'':>6}{'ns/ev':>7}")
    print(head)
    print(units)
    rows = []

    def cell(r, config, width, fmt=".1f"):
        v = r["med"].get(config)
        return f"{'-':>{width}}" if v is None else f"{v:>{width}{fmt}}"

    for name, fn in workloads.WORKLOADS.items():
        r = measure(name, fn)
        rows.append(r)
        if compiled:
            r["fresh_ratio"] = paired_ratio(r["samples"], "fresh", "cfloor")
            r["reused_ratio"] = paired_ratio(r["samples"], "reused", "cfloor")
            ratios = f"{r['fresh_ratio']:>8.2f}{r['reused_ratio']:>8.2f}"
        else:
            ratios = f"{'-':>8}{'-':>8}"
        print(f"{name:<11}{r['events']:>8}{r['untraced_ms']:>9.1f}{cell(r, 'cfloor', 9)}"
              f"{cell(r, 'pyfloor', 9)}{cell(r, 'pure', 8)}{cell(r, 'fresh', 8)}"
              f"{cell(r, 'reused', 8)}{ratios}{cell(r, 'settrace', 9)}{r['bytes']:>6.1f}"
              f"{'-' if r['decode'] is None else format(r['decode'], '.1f'):>7}",
              flush=True)
    _set_backend(backends.COMPILED if compiled else backends.PYTHON)
    lib, lib_events = library_ratio()
    _restore_env()
    print(f"library    cell in fractions.py: record/untraced = {lib:.2f}x "
          f"({'compiled' if compiled else 'pure-Python'} backend; {lib_events} events "
          f"kept; target 1.1)")
    worst_bytes = max(r["bytes"] for r in rows)
    which = "compiled" if compiled else "pure-Python"
    if compiled:
        worst = max(rows, key=lambda r: r["fresh_ratio"])
        worst_reused = max(r["reused_ratio"] for r in rows)
        ok = worst["fresh_ratio"] <= 2.5 and worst_bytes <= 20
        pure_gain = min(r["med"]["pure"] / r["med"]["fresh"] for r in rows)
        vs_settrace = min(r["med"]["settrace"] / r["med"]["fresh"] for r in rows)
        print(f"summary: compiled end to end from fresh memory <= {worst['fresh_ratio']:.2f}x "
              f"the C floor ({worst['name']}; target 2.5), with reused buffers <= "
              f"{worst_reused:.2f}x; {which} trace <= {worst_bytes:.1f} bytes/event "
              f"(target 20): {'targets met' if ok else 'TARGET MISSED'}. pure/compiled-fresh "
              f">= {pure_gain:.1f}x, settrace/compiled-fresh >= {vs_settrace:.1f}x")
    else:
        print(f"summary: compiled backend not measured (not built for this Python); "
              f"{which} trace <= {worst_bytes:.1f} bytes/event (target 20)")
    spread = _spread(rows)
    worst_spread = max((v for v, _ in spread.values()), default=0.0)
    if spread:
        print("spread of the repeats (interquartile range / median, worst workload): "
              + ", ".join(f"{LABELS[c]} {v:.0%} ({w})" for c, (v, w) in spread.items())
              + ("; over 15%: the machine was busy, rerun for firm figures"
                 if worst_spread > 0.15 else ""))
    if VERBOSE:
        for r in rows:
            for config, values in r["samples"].items():
                print(f"  {r['name']:<11}{LABELS[config]:<9}"
                      + " ".join(f"{v:.0f}" for v in sorted(values)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
