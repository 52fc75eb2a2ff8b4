"""How long does a control-flow graph take to appear: build, overlay, drawing and layout.

For generated functions of 300, 1,000 and 5,000 lines (benchmarks/cfg_corpus.py: if/elif,
loops, try, match, comprehensions; ``MONVIZ_BENCH_LINES=300,1000`` picks others), defined
the way a notebook cell defines them (their source in ``linecache``) and run once, prints
the median of a few runs of each phase:

* ``build`` (``monviz.cfg``), ``overlay`` (counts from the trace), ``draw`` (the DOT text;
  above ``fold.FOLD_ABOVE`` blocks the graph is drawn folded, :mod:`monviz.render.fold`),
  ``dot`` (Graphviz's layout, to SVG), and ``appears`` = their sum: the graph on screen;
* ``open``: drawing and laying out again with one section (the middle one) opened;
* ``view``: a ``monviz.CFGView(function, trace)`` made from scratch (every code object of
  the trace, eager drawings included), the figure a notebook user waits for;
* ``viz.js``: the same DOT laid out by Viz.js (Graphviz in WebAssembly, what the browser
  does without ``dot``) in Node.js, when ``node`` is installed.

``MONVIZ_BENCH_WHOLE=1000`` also lays out whole (unfolded), once, the graphs of functions of
up to that many lines: 4-6 s at 1,000 lines here, which is why big graphs fold.

Targets: a 1,000-line function's graph appears in under 1 s, a 5,000-line one's in under
3 s, and a 300-line one builds and overlays in under 0.5 s. The corpus of constructs is
measured too.
"""

from __future__ import annotations

import json
import linecache
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cfg_corpus

import monviz
from monviz.render import fold
from monviz.render import graph as drawing
from monviz.versions import BRANCH_EVENTS

REPEATS = int(os.environ.get("MONVIZ_BENCH_REPEATS", "5"))
LINES = [int(x) for x in os.environ.get("MONVIZ_BENCH_LINES", "300,1000,5000").split(",")]
WHOLE = int(os.environ.get("MONVIZ_BENCH_WHOLE") or 0)  # lines: lay out whole up to this
EVENTS = ["PY_START", "PY_RESUME", "LINE", "JUMP", *BRANCH_EVENTS]
TARGETS = {1000: 1.0, 5000: 3.0}  # seconds for the graph to appear


def define(source: str, filename: str) -> dict:
    """Run a source the way a notebook cell does: its text in linecache, then exec."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        exec(compile(source, filename, "exec", dont_inherit=True), namespace)
    return namespace


def timed(fn):
    """(result of the last run, median seconds over REPEATS runs)."""
    times, result = [], None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times)


def laid_out(dot) -> str:
    """``dot``'s SVG, never from monviz's layout cache (a benchmark wants the run)."""
    return drawing.svg(dot, cached=False)


def viz_js(dots: list[str]) -> list[float] | None:
    """Milliseconds Viz.js (in Node.js) takes to lay out each DOT text, or None."""
    node = shutil.which("node")
    if node is None or not drawing.VIZ_JS.exists():
        return None
    script = (f"import * as Viz from {json.dumps(drawing.VIZ_JS.as_uri())};\n"
              "import {readFileSync} from 'node:fs';\n"
              "const viz = await Viz.instance();\n"
              "const out = [];\n"
              "for (const f of process.argv.slice(2)) {\n"
              "  const text = readFileSync(f, 'utf8');\n"
              "  viz.renderString(text, {format: 'svg'});\n"  # warm-up: the first is slower
              "  const t0 = performance.now();\n"
              "  viz.renderString(text, {format: 'svg'});\n"
              "  out.push(performance.now() - t0);\n"
              "}\n"
              "console.log(JSON.stringify(out));\n")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, text in enumerate(dots):
            files.append(os.path.join(tmp, f"{i}.dot"))
            with open(files[-1], "w", encoding="utf-8") as fh:
                fh.write(text)
        with open(os.path.join(tmp, "bench.mjs"), "w", encoding="utf-8") as fh:
            fh.write(script)
        run = subprocess.run([node, os.path.join(tmp, "bench.mjs"), *files],
                             capture_output=True, text=True, timeout=600)
    if run.returncode:
        print(f"  (viz.js in node failed: {run.stderr.strip()[-300:]})")
        return None
    return json.loads(run.stdout)


def measure(lines: int) -> dict:
    """Every phase for the generated function of ``lines`` lines."""
    source = cfg_corpus.generated_function(lines)
    func = define(source, f"<bench-cell-{lines}>")["generated"]
    trace = monviz.record(lambda: func(20), events=EVENTS)
    graph, build = timed(lambda: monviz.cfg(func))
    overlay, over = timed(lambda: graph.overlay(trace))
    sources = trace.sources
    made, draw = timed(lambda: drawing.draw(graph, overlay, sources=sources))
    _, layout = timed(lambda: laid_out(made.dot))
    row = {"lines": lines, "blocks": len(graph.blocks), "edges": len(graph.edges),
           "events": len(trace), "build": build, "overlay": over, "draw": draw,
           "dot": layout, "appears": build + over + draw + layout,
           "sections": len(made.folding.sections) if made.folding else 0,
           "nodes": len(made.nodes), "dots": [drawing.browser_source(made.dot)]}
    if made.folding:
        middle = len(made.folding.sections) // 2
        opened, open_draw = timed(lambda: drawing.draw(graph, overlay, sources=sources,
                                                       fold=made.folding, opened=[middle]))
        _, open_dot = timed(lambda: laid_out(opened.dot))
        row["open"] = open_draw + open_dot
        row["dots"].append(drawing.browser_source(opened.dot))
    _, row["view"] = timed(lambda: (drawing._laid_out.clear(),  # a first view: no layout kept
                                    monviz.CFGView(func, trace)))
    if lines <= WHOLE:
        whole = drawing.to_dot(graph, overlay, sources=sources, fold=False)
        t0 = time.perf_counter()
        laid_out(whole)
        row["whole"] = time.perf_counter() - t0
    return row


def corpus() -> tuple[float, float]:
    """Build + overlay, and layout, of every code object of the corpus of constructs."""
    namespace = define(cfg_corpus.CONSTRUCTS, "<bench-corpus>")
    trace = monviz.record(namespace["drive"], events=EVENTS)
    code = namespace["drive"].__code__
    graphs = [monviz.cfg(namespace[name]) for name in namespace
              if callable(namespace[name]) and getattr(namespace[name], "__code__", None)
              and namespace[name].__code__.co_filename == code.co_filename]
    overlays, built = timed(lambda: [g.overlay(trace) for g in graphs])
    _, layout = timed(lambda: [laid_out(o.to_dot()) for o in overlays])
    return built, layout


def main() -> int:
    ms = lambda s: f"{s * 1e3:>8.1f}"  # noqa: E731
    print(f"monviz control-flow graph benchmark - Python {sys.version.split()[0]}, "
          f"{REPEATS} repeats, medians (ms); folded above {fold.FOLD_ABOVE} blocks, sections "
          f"of ~{fold.SECTION_BLOCKS} blocks")
    head = (f"{'lines':>6} {'blocks':>7} {'edges':>6} {'events':>7} {'nodes':>6} "
            f"{'build':>8} {'overlay':>8} {'draw':>8} {'dot':>8} {'appears':>8} "
            f"{'open':>8} {'view':>8} {'viz.js':>8}" + (f" {'whole':>9}" if WHOLE else ""))
    print(head)
    rows = [measure(n) for n in LINES]
    viz = viz_js([d for r in rows for d in r["dots"]])
    k = 0
    for r in rows:
        v = viz[k] / 1e3 if viz else None
        k += len(r["dots"])
        print(f"{r['lines']:>6,} {r['blocks']:>7,} {r['edges']:>6,} {r['events']:>7,} "
              f"{r['nodes']:>6,} {ms(r['build'])} {ms(r['overlay'])} {ms(r['draw'])} "
              f"{ms(r['dot'])} {ms(r['appears'])} "
              f"{ms(r['open']) if 'open' in r else '       -'} {ms(r['view'])} "
              f"{ms(v) if v is not None else '       -'}"
              + (f" {ms(r['whole']) if 'whole' in r else '       -'}" if WHOLE else ""))
    built, layout = corpus()
    print(f"corpus of constructs: build+overlay {built * 1e3:.1f} ms, dot {layout * 1e3:.1f} ms")
    parts = []
    for r in rows:
        if r["lines"] in TARGETS:
            parts.append(f"{r['lines']:,} lines appears {r['appears']:.3f} s, view "
                         f"{r['view']:.3f} s (target {TARGETS[r['lines']]:g})")
        if r["lines"] == 300:
            parts.append(f"300 lines build+overlay {r['build'] + r['overlay']:.3f} s "
                         "(target 0.5)")
    print("summary: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
