"""What does ``values=True`` cost? monviz against Python Tutor's way, per LINE event and per step.

Python Tutor's ``pg_logger`` (github.com/pgbovine/OnlinePythonTutor,
``v5-unity/pg_logger.py`` with ``pg_encoder.py``) traces with ``sys.settrace`` and,
at every step, walks the whole stack and *encodes* every frame's locals: each value
becomes a new list (``["LIST", ...]``, ``["INSTANCE", name, [attr, value]...]``,
``["REF", id]``...), the whole reachable heap again, unbounded, and the step is stored
as a dict of the encoded stack and heap. :func:`tutor_run` reimplements that core
(without its stdout capture and without encoding module globals, which favours it).

monviz stores only what changed since the frame's previous step, as bounded texts
(see ``monviz/frames.py``). For each workload, in one process, each configuration is
timed in an A/B pair with an untraced run (medians of the repeats):

* **off**: ``monviz.record(fn)`` (compiled backend), as today;
* **off=False**: ``monviz.record(fn, values=False)``: the same code path, shown equal;
* **on**: ``monviz.record(fn, values=True)`` (compiled backend);
* **on pure**: the same with ``MONVIZ_PURE_PYTHON=1``;
* **tutor**: the pg_logger-style recorder.

ns/LINE = (traced - untraced) / LINE events (the same count for every column: each
LINE is one step). Memory: bytes retained per step (LINE/return/yield point), the
trace's C columns (``Trace.nbytes``) plus what ``tracemalloc`` sees retained by the
Python side (values tables, texts; the tutor's step dicts), measured in separate,
untimed runs. MONVIZ_BENCH_REPEATS (default 5) sets the repeats; MONVIZ_BENCH_ONLY
(comma-separated names) picks workloads.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
import tracemalloc
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads

import monviz
from monviz import backends

REPEATS = int(os.environ.get("MONVIZ_BENCH_REPEATS", "5"))


# -- two classroom workloads -------------------------------------------------------------
def binary_search(xs, target):
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


def run_search():
    """Binary search of 3,000 targets in a sorted list of 1,000 (ints only change)."""
    xs = list(range(0, 2000, 2))
    return sum(binary_search(xs, t) for t in range(3000))


def bubble_sort(xs):
    n = len(xs)
    for i in range(n):
        for j in range(n - 1 - i):
            if xs[j] > xs[j + 1]:
                xs[j], xs[j + 1] = xs[j + 1], xs[j]
    return xs


def run_bubble():
    """Bubble sort of 150 items: a list mutated at nearly every step."""
    return bubble_sort([(i * 7919) % 150 for i in range(150)])


WORKLOADS = {"search": run_search, "bubble": run_bubble, "branchy": workloads.run_branchy,
             "methods": workloads.run_methods, "fib": workloads.run_fib}


def _workload_codes() -> set:
    """The code objects of the workloads (the frames both recorders watch)."""
    from monviz.recorder import code_tree

    funcs = [binary_search, run_search, bubble_sort, run_bubble]
    for value in vars(workloads).values():
        funcs += [value] if callable(value) and not isinstance(value, type) else []
        funcs += list(vars(value).values()) if isinstance(value, type) else []
    return {c for f in funcs if hasattr(f, "__code__") for c in code_tree(f.__code__)}


_CODES = _workload_codes()


# -- Python Tutor's approach ---------------------------------------------------------------
class TutorEncoder:
    """pg_encoder's ``ObjectEncoder``, reduced to what the workloads hold."""

    def __init__(self):
        self.small_ids: dict[int, int] = {}
        self.heap: dict[int, list] = {}

    def encode(self, v):
        if v is None or type(v) in (int, float, str, bool):
            return v
        oid = self.small_ids.setdefault(id(v), len(self.small_ids) + 1)
        if oid in self.heap:
            return ["REF", oid]
        new = []
        self.heap[oid] = new
        if type(v) in (list, tuple, set):
            new.append(type(v).__name__.upper())
            new.extend(self.encode(e) for e in v)
        elif type(v) is dict:
            new.append("DICT")
            new.extend([self.encode(k), self.encode(x)] for k, x in v.items())
        elif hasattr(v, "__dict__") and not callable(v) and not isinstance(v, types.ModuleType):
            new.extend(["INSTANCE", type(v).__name__])
            new.extend([k, self.encode(x)] for k, x in v.__dict__.items())
        else:
            new.extend(["FUNCTION" if callable(v) else "OTHER", getattr(v, "__name__", "")])
        return ["REF", oid]


def tutor_run(fn) -> list[dict]:
    """Run ``fn`` the way pg_logger traces a program: one dict per step, every frame's
    locals encoded anew, the heap reachable from them encoded anew."""
    steps: list[dict] = []
    codes = _CODES
    encoder = TutorEncoder()

    def tracer(frame, event, arg):
        if frame.f_code not in codes:
            return None
        if event in ("line", "return", "call", "exception"):
            encoder.heap = {}
            stack = []
            f = frame
            while f is not None and f.f_code in codes:
                stack.append({"func_name": f.f_code.co_name, "line": f.f_lineno,
                              "encoded_locals": {k: encoder.encode(v)
                                                 for k, v in f.f_locals.items()}})
                f = f.f_back
            steps.append({"event": event, "line": frame.f_lineno,
                          "func_name": frame.f_code.co_name, "stack_to_render": stack,
                          "heap": encoder.heap})
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return steps


# -- runs ----------------------------------------------------------------------------------
def clock() -> int:
    return time.process_time_ns()


def _backend(pure: bool) -> None:
    if pure:
        os.environ[backends.PURE_ENV] = "1"
    else:
        os.environ.pop(backends.PURE_ENV, None)


def run_config(config: str, fn):
    """(result kept alive, elapsed ns)."""
    _backend(config == "on pure")
    t0 = clock()
    if config == "tutor":
        out = tutor_run(fn)
    elif config == "off":
        out = monviz.record(fn, max_events=10**8)
    else:
        out = monviz.record(fn, max_events=10**8, values=config != "off=False")
    elapsed = clock() - t0
    _backend(False)
    return out, elapsed


def retained(config: str, fn) -> int:
    """Bytes kept by the result of one run: tracemalloc's count plus C columns."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    out, _ = run_config(config, fn)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    extra = out.nbytes if isinstance(out, monviz.Trace) else 0
    del out
    return after - before + extra


CONFIGS = ("off", "off=False", "on", "on pure", "tutor")


def measure(name: str, fn) -> dict:
    fn()
    probe = monviz.record(fn, max_events=10**8, values=True)
    lines = sum(1 for k in probe._d.kind if probe.kind_names[k] == "LINE")
    points = len(probe.values)
    assert probe.values.failures == 0, "the capture failed somewhere"
    del probe
    tutor_steps = len(tutor_run(fn))
    times: dict[str, list[float]] = {c: [] for c in CONFIGS}
    for rep in range(REPEATS):
        for config in CONFIGS[rep % len(CONFIGS):] + CONFIGS[:rep % len(CONFIGS)]:
            gc.collect()
            t0 = clock()
            fn()
            base = clock() - t0
            gc.collect()
            out, t = run_config(config, fn)
            del out
            times[config].append((t - base) / lines)
    med = {c: statistics.median(v) for c, v in times.items()}
    memory = {c: retained(c, fn) for c in ("off", "on", "tutor")}
    return {"name": name, "lines": lines, "points": points, "tutor_steps": tutor_steps,
            "ns": med, "bytes": {"off": memory["off"] / points, "on": memory["on"] / points,
                                 "tutor": memory["tutor"] / tutor_steps}}


def main() -> int:
    print(f"monviz values benchmark: Python {sys.version.split()[0]}, {REPEATS} repeats, "
          f"backend {monviz.backend()}")
    head = (f"{'workload':<9} {'LINE':>8} {'steps':>8} | ns/LINE: "
            + " ".join(f"{c:>9}" for c in CONFIGS)
            + f" | on/tutor | B/step: {'off':>6} {'on':>6} {'tutor':>7} | on/tutor")
    print(head)
    rows = []
    only = os.environ.get("MONVIZ_BENCH_ONLY")  # e.g. "search,bubble"
    for name, fn in WORKLOADS.items():
        if only and name not in only.split(","):
            continue
        r = measure(name, fn)
        rows.append(r)
        ns, b = r["ns"], r["bytes"]
        print(f"{name:<9} {r['lines']:>8,} {r['points']:>8,} |          "
              + " ".join(f"{ns[c]:>9.0f}" for c in CONFIGS)
              + f" | {ns['on'] / ns['tutor']:>8.3f} | B/step: {b['off']:>6.0f} {b['on']:>6.0f}"
              f" {b['tutor']:>7.0f} | {b['on'] / b['tutor']:>8.4f}", flush=True)
    worst_t = max(r["ns"]["on"] / r["ns"]["tutor"] for r in rows)
    worst_m = max(r["bytes"]["on"] / r["bytes"]["tutor"] for r in rows)
    off = [r["ns"]["off=False"] / r["ns"]["off"] for r in rows]
    print(f"targets: time on/tutor <= 0.333 (worst {worst_t:.3f}), memory on/tutor <= 0.1 "
          f"(worst {worst_m:.4f}); values=False / today: "
          + ", ".join(f"{x:.2f}" for x in off) + " (same code path: 1.0 up to noise)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
