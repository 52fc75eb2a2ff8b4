"""How long does a control-flow graph take: build, overlay, and ``dot`` layout.

For a generated 300-line function with many branches and loops
(benchmarks/cfg_corpus.py) and for the test corpus of constructs, prints the
median of a few runs of each phase. Targets: build + overlay under 0.5 s, the
``dot`` layout under 2 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cfg_corpus

import monviz
from monviz.render import graph as drawing
from monviz.versions import BRANCH_EVENTS

REPEATS = int(os.environ.get("MONVIZ_BENCH_REPEATS", "5"))
EVENTS = ["PY_START", "PY_RESUME", "LINE", "JUMP", *BRANCH_EVENTS]


def timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t0


def measure(label: str, source: str, entry: str, *args) -> tuple[float, float]:
    """Build, overlay and lay out every code object in ``source`` after running ``entry``."""
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        code = compile(source, f"<bench-{label}>", "exec", dont_inherit=True)
    exec(code, namespace)
    func = namespace[entry]
    trace = monviz.record(lambda: func(*args), events=EVENTS)
    builds, overlays, layouts, blocks, edges = [], [], [], 0, 0
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        graphs = list(monviz.cfg(code).walk())
        t1 = time.perf_counter()
        overlaid = [g.overlay(trace) for g in graphs]
        t2 = time.perf_counter()
        for o in overlaid:
            drawing.svg(o.to_dot())
        t3 = time.perf_counter()
        builds.append(t1 - t0)
        overlays.append(t2 - t1)
        layouts.append(t3 - t2)
        blocks = sum(len(g.blocks) for g in graphs)
        edges = sum(len(g.edges) for g in graphs)
    med = statistics.median
    lines = len(source.splitlines())
    print(f"{label:<24} {lines:>6} {len(graphs):>6} {blocks:>7} {edges:>6} {len(trace):>8} "
          f"{med(builds) * 1e3:>8.1f} {med(overlays) * 1e3:>8.1f} "
          f"{(med(builds) + med(overlays)) * 1e3:>8.1f} {med(layouts) * 1e3:>8.1f}")
    return med(builds) + med(overlays), med(layouts)


def main() -> int:
    print(f"monviz control-flow graph benchmark - Python {sys.version.split()[0]}, "
          f"{REPEATS} repeats, medians (ms); dot = Graphviz layout of every graph, with counts")
    print(f"{'code':<24} {'lines':>6} {'graphs':>6} {'blocks':>7} {'edges':>6} {'events':>8} "
          f"{'build':>8} {'overlay':>8} {'b+o':>8} {'dot':>8}")
    big = measure("generated 300-line func", cfg_corpus.generated_function(300), "generated", 20)
    corpus = measure("corpus of constructs", cfg_corpus.CONSTRUCTS, "drive")
    print(f"summary: 300-line function build+overlay {big[0]:.3f} s (target 0.5), "
          f"dot layout {big[1]:.3f} s (target 2); corpus {corpus[0]:.3f} s + {corpus[1]:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
