"""Recording, saving and loading at 100k / 1M / 10M events: time, bytes and memory.

Each size runs in a fresh child process (so its peak RSS is that recording's), on one
workload: :func:`unit` (a mix of benchmarks/workloads.py's code: recursion, loops and
branches, generators, methods, exceptions; ~13,000 events) repeated until the size is
reached. In the child, per repeat, one after another: untraced, the C floor
(``record.floor_run``: monviz's events through raw ``sys.monitoring`` with a
do-nothing C callback), and ``monviz.record(work, max_events=...)`` with the compiled
backend; ns/event = (traced - untraced) / events kept, process CPU time as
benchmarks/record.py measures it (MONVIZ_BENCH_CLOCK=wall for perf_counter).

Columns of the recording table:

* **C floor**, **compiled**: ns/event; **ratio**: compiled / C floor, per repeat, median.
* **B/ev**: ``Trace.nbytes / len(trace)``: the per-event columns the Trace keeps
  (not its values table or code infos: see **kept**).
* **peak**: the child's peak RSS (``ru_maxrss``) during its first recording less its
  RSS just before, in MB and bytes per event: what recording costs in memory at most.
* **kept**: RSS with the finished Trace held less that same baseline (columns, values
  table, code infos; and malloc's slack), MB and B/event.
* **pure**, **pure peak**, **pure kept**: the same for the pure-Python backend
  (``MONVIZ_PURE_PYTHON=1``), in a child of its own (MONVIZ_BENCH_PURE=0 skips it).

The interactive table: on the finished recording, in this order, wall clock, once each
(what a notebook does with a fresh trace): ``trace.counts()`` (the summary's table),
the first ``trace[i]`` (a LINE in the middle; no index is built for it), the first
``trace[j]`` of a JUMP/BRANCH (its destination's rank is counted: one pass over the
kinds, then per block), and ``monviz.render.timeline.overview_svg(trace)`` (the
static overview). Target: each well under 0.2 s at 10M events.

The storage table: ``trace.save(path)`` and ``monviz.load(path)`` wall-clock time
(median of the repeats; the file stays in the page cache, so this is the format's
cost, not the disk's), the file's bytes per event, and the same with
``compress=True``. Files go to a temporary directory (MONVIZ_BENCH_DIR to choose).

MONVIZ_BENCH_SIZES (comma-separated, e.g. ``100000,1000000``; default
100000,1000000,10000000) picks sizes, MONVIZ_BENCH_REPEATS (default 3) the repeats.
Compare ratios, which are measured side by side in one process; the load average
is printed.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import record  # the floors and how the project times them
import workloads

import monviz
from monviz import backends

SIZES = [int(s) for s in os.environ.get("MONVIZ_BENCH_SIZES",
                                         "100000,1000000,10000000").split(",") if s.strip()]
REPEATS = int(os.environ.get("MONVIZ_BENCH_REPEATS", "3"))
PURE = os.environ.get("MONVIZ_BENCH_PURE", "1") not in ("", "0")
clock = record.clock


def unit():
    """One slice of the mixed workload (~13,000 events with the default events)."""
    workloads.fib(13)
    workloads.count_primes(200)
    sum(workloads.evens(workloads.squares(workloads.numbers(200))))
    p = workloads.Particle(50.0, 30.0)
    for _ in range(40):
        p.step(0.1)
    for i in range(30):
        try:  # noqa: SIM105 - the try/except itself is the point (RAISE, EXCEPTION_HANDLED)
            workloads.fails(i)
        except ValueError:
            pass


def work_for(units: int):
    def work():
        for _ in range(units):
            unit()
    return work


# The floor sets local events on the code objects of the workloads module; ours are
# watched by monviz too (user code), so they are put where the floor finds them.
workloads._scale_unit, workloads._scale_work = unit, work_for(1)


def rss_now() -> int:
    """Resident set size now, bytes (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss()


def peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


# -- one size, in a child ------------------------------------------------------------------
def child(size: int, backend: str) -> dict:
    record._set_backend(backend)
    unit()
    probe = monviz.record(work_for(10), max_events=10**7)
    per_unit = len(probe) / 10
    del probe
    units = max(1, round(size / per_unit))
    work = work_for(units)
    cap = int(size * 1.5) + 10_000
    out = {"size": size, "backend": backend, "units": units}

    record.fresh_memory()
    base = rss_now()
    trace = monviz.record(work, max_events=cap)
    peak = peak_rss()
    gc.collect()
    kept = rss_now()
    n = len(trace)
    if trace.truncated:
        raise SystemExit(f"truncated at {n} events (cap {cap})")
    out.update(events=n, nbytes=trace.nbytes, peak=max(peak - base, 0), kept=kept - base,
               values=len(trace._d.values))
    out["interactive"] = interactive(trace)

    folder = tempfile.mkdtemp(prefix="monviz-scale-", dir=os.environ.get("MONVIZ_BENCH_DIR"))
    try:
        for compress, key in ((False, "raw"), (True, "zlib")):
            path = os.path.join(folder, f"{key}.monviz")
            saves, loads = [], []
            for _ in range(REPEATS):
                t = time.perf_counter()
                trace.save(path, compress=compress)
                saves.append(time.perf_counter() - t)
                t = time.perf_counter()
                again = monviz.load(path)
                loads.append(time.perf_counter() - t)
                assert len(again) == n
                del again
            out[key] = {"save": statistics.median(saves), "load": statistics.median(loads),
                        "bytes": os.path.getsize(path)}
            os.unlink(path)
    finally:
        os.rmdir(folder)
    del trace

    samples = {"untraced": [], "floor": [], "record": [], "ratio": []}
    timed_events = n
    for rep in range(REPEATS):  # the order alternates, as in benchmarks/record.py
        times = {}
        for what in ("untraced", "floor", "record")[::1 if rep % 2 == 0 else -1]:
            gc.collect()
            if what == "untraced":
                times[what] = record.untraced(work)
            elif what == "floor":
                if backend == backends.COMPILED:
                    times[what] = record.floor_run(work, "c")
            else:
                record.fresh_memory()
                t0 = clock()
                trace = monviz.record(work, max_events=cap)
                times[what] = clock() - t0
                timed_events = len(trace)
                del trace
        base_t = times["untraced"]
        samples["untraced"].append(base_t)
        samples["record"].append((times["record"] - base_t) / timed_events)
        if "floor" in times:
            samples["floor"].append((times["floor"] - base_t) / timed_events)
            samples["ratio"].append(samples["record"][-1] / samples["floor"][-1])
    out.update({k: statistics.median(v) if v else None for k, v in samples.items()})
    return out


def interactive(trace) -> dict:
    """Seconds for what a notebook asks of a fresh trace first (see the module docstring)."""
    from monviz.render.timeline import overview_svg

    mid = len(trace) // 2
    names = trace.kind_names
    line = next((i for i in range(mid, len(trace)) if names[trace._d.kind[i]] == "LINE"), mid)
    jump = next((i for i in range(len(trace) // 3, len(trace))
                 if names[trace._d.kind[i]] in ("JUMP", "BRANCH", "BRANCH_LEFT", "BRANCH_RIGHT")),
                len(trace) // 3)
    out = {}
    for key, op in (("counts", trace.counts), ("first", lambda: trace[line]),
                    ("jump", lambda: trace[jump]), ("overview", lambda: overview_svg(trace))):
        gc.collect()
        t = time.perf_counter()
        op()
        out[key] = time.perf_counter() - t
    return out


def run_child(size: int, backend: str) -> dict:
    env = dict(os.environ)
    env.pop(backends.PURE_ENV, None)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(size),
                           backend], capture_output=True, text=True, env=env, check=False)
    if proc.returncode:
        raise SystemExit(f"child for {size:,} events ({backend}) failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mb(n: float) -> str:
    return f"{n / 1e6:.1f}"


def main() -> int:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    compiled = backends.speedups is not None
    print(f"monviz scale benchmark - Python {platform.python_version()}, "
          f"{'compiled backend' if compiled else 'no compiled backend: ' + backends.why_not}; "
          f"{REPEATS} repeats, medians, {record.CLOCK} clock; load {load:.2f}; "
          f"{os.cpu_count()} CPUs")
    rows = []
    for size in SIZES:
        r = {"c": run_child(size, backends.COMPILED) if compiled else None,
             "py": run_child(size, backends.PYTHON) if PURE or not compiled else None}
        rows.append((size, r))

    print(f"{'':<10}{'':>10}{'untraced':>9}{'C floor':>8}{'compiled':>9}{'ratio':>6}"
          f"{'B/ev':>6}{'peak':>14}{'kept':>14}{'pure':>8}{'pure peak':>15}{'pure kept':>14}")
    print(f"{'size':<10}{'events':>10}{'ms':>9}{'ns/ev':>8}{'ns/ev':>9}{'x':>6}"
          f"{'':>6}{'MB (B/ev)':>14}{'MB (B/ev)':>14}{'ns/ev':>8}{'MB (B/ev)':>15}"
          f"{'MB (B/ev)':>14}")

    def mem(r, key):
        return f"{mb(r[key])} ({r[key] / r['events']:.1f})"

    for size, r in rows:
        c, py = r["c"], r["py"]
        main_row = c or py
        line = f"{size:<10,}{main_row['events']:>10,}{main_row['untraced'] / 1e6:>9.0f}"
        if c:
            line += (f"{c['floor']:>8.1f}{c['record']:>9.1f}{c['ratio']:>6.2f}"
                     f"{c['nbytes'] / c['events']:>6.2f}{mem(c, 'peak'):>14}{mem(c, 'kept'):>14}")
        else:
            line += f"{'-':>8}{'-':>9}{'-':>6}{py['nbytes'] / py['events']:>6.2f}{'-':>14}{'-':>14}"
        if py:
            line += f"{py['record']:>8.0f}{mem(py, 'peak'):>15}{mem(py, 'kept'):>14}"
        print(line)

    print()
    print(f"{'':<10}{'save':>8}{'save':>7}{'file':>7}{'load':>8}{'load':>7}"
          f"{'save z':>8}{'file z':>7}{'load z':>8}   (trace.save / monviz.load, wall clock)")
    print(f"{'size':<10}{'ms':>8}{'ns/ev':>7}{'B/ev':>7}{'ms':>8}{'ns/ev':>7}"
          f"{'ms':>8}{'B/ev':>7}{'ms':>8}")
    for size, r in rows:
        c = r["c"] or r["py"]
        n, raw, z = c["events"], c["raw"], c["zlib"]
        print(f"{size:<10,}{raw['save'] * 1e3:>8.1f}{raw['save'] * 1e9 / n:>7.1f}"
              f"{raw['bytes'] / n:>7.2f}{raw['load'] * 1e3:>8.1f}{raw['load'] * 1e9 / n:>7.1f}"
              f"{z['save'] * 1e3:>8.1f}{z['bytes'] / n:>7.2f}{z['load'] * 1e3:>8.1f}")
    print()
    print(f"{'':<10}{'counts()':>10}{'trace[i]':>10}{'trace[j]':>10}{'overview':>10}"
          "   (first call on a fresh trace, wall clock; i a LINE, j a JUMP/BRANCH)")
    print(f"{'size':<10}{'ms':>10}{'ms':>10}{'ms':>10}{'ms':>10}")
    for size, r in rows:
        c = r["c"] or r["py"]
        t = c["interactive"]
        print(f"{size:<10,}{t['counts'] * 1e3:>10.1f}{t['first'] * 1e3:>10.1f}"
              f"{t['jump'] * 1e3:>10.1f}{t['overview'] * 1e3:>10.1f}")
    big = rows[-1][1]["c"] or rows[-1][1]["py"]
    ok_bytes = all((r["c"] or r["py"])["nbytes"] / (r["c"] or r["py"])["events"] <= 8
                   for _, r in rows)
    print(f"summary: at {big['events']:,} events the trace keeps "
          f"{big['nbytes'] / big['events']:.2f} B/event of columns (target 8: "
          f"{'met' if ok_bytes else 'MISSED'}), recording peaks at {mb(big['peak'])} MB of RSS "
          f"and keeps {mb(big['kept'])} MB; save {big['raw']['save'] * 1e3:.0f} ms, load "
          f"{big['raw']['load'] * 1e3:.0f} ms (target: well under 1 s)")
    slowest = max(big["interactive"].values())
    print(f"summary: at {big['events']:,} events the slowest first query takes "
          f"{slowest * 1e3:.0f} ms (target: well under 200 ms: "
          f"{'met' if slowest < 0.2 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(int(sys.argv[2]), sys.argv[3])))
        raise SystemExit(0)
    raise SystemExit(main())
