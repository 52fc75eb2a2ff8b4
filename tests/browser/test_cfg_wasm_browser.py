"""Control-flow graphs laid out in the browser by Viz.js (Graphviz in WebAssembly).

Without ``dot`` (or with ``MONVIZ_LAYOUT=browser``) the report and the widgets send
DOT text and the page lays it out. Here, in headless Chromium:

* the HTML report, written by ``monviz run`` with no ``dot`` on ``PATH``, opened from
  ``file://`` with every other request refused: the graph is drawn by Viz.js, has
  the nodes and edges ``dot`` draws for the same DOT, its block text fits its boxes,
  and the BRANCH just taken lights up as with dot's SVG;
* the same for a small and a large function (benchmarks/cfg_corpus.py's generated
  300-line one), with the time to lay each out in the page against a ``dot`` run,
  printed and written to test-artifacts/cfg-wasm-bench.txt;
* the widgets in JupyterLab with ``MONVIZ_LAYOUT=browser`` in the kernel: the linked
  view's graph, a ``ControlFlowGraph``'s own display, and a second CFGView, with
  Viz.js loaded once for the page.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time

import pytest
from labserver import notebook_url, run_cell, shut_down, write_notebook
from offline import refuse_network
from programs import SMALL

import monviz
from monviz.cfg import cfg
from monviz.render import graph as drawing
from monviz.versions import BRANCH_EVENTS

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect
pytest.importorskip("nbformat")  # for write_notebook

BENCH_REPEATS = 5

# Every block's text inside its box (the widest overflow, in px; Graphviz pads ~8 px).
OVERFLOW_JS = """(root) => {
    let worst = -1e9;
    for (const n of root.querySelectorAll("g.node")) {
        const shape = n.querySelector("path, polygon");
        if (!shape || !n.querySelector("title").textContent.startsWith("b")) continue;
        const s = shape.getBBox();
        for (const t of n.querySelectorAll("text")) {
            const b = t.getBBox();
            worst = Math.max(worst, b.x + b.width - (s.x + s.width), s.x - b.x);
        }
    }
    return worst;
}"""


@pytest.fixture(autouse=True)
def need_viz():
    if not drawing.VIZ_JS.is_file():
        message = f"{drawing.VIZ_JS} is missing: run tools/fetch-viz"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def offline(page):
    refused = refuse_network(page.context)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    return page, refused, errors


def counts_in(svg: str) -> tuple[int, int]:
    """(nodes, edges) of a Graphviz SVG."""
    return (len(re.findall(r'<g id="node\d+" class="node"', svg)),
            len(re.findall(r'<g id="edge\d+" class="edge"', svg)))


def dot_counts(dot_text: str) -> tuple[int, int]:
    """What ``dot`` draws for this DOT text (skips without dot)."""
    if not drawing.have_dot():
        pytest.skip("dot is needed to compare with")
    import graphviz

    return counts_in(graphviz.Source(dot_text).pipe(format="svg", encoding="utf-8"))


def open_report(page, path):
    page.goto(path.resolve().as_uri())
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=30_000)
    return page.locator(".monviz-timeline"), page.locator(".monviz-cfgview")


@pytest.fixture(scope="module")
def no_dot_report(tmp_path_factory):
    """``monviz run`` with no dot on PATH: (report, trace of the same program, graph)."""
    folder = tmp_path_factory.mktemp("wasm-report")
    (folder / "program.py").write_text(SMALL)
    bare = folder / "bin"
    bare.mkdir()
    env = {k: v for k, v in os.environ.items() if k != drawing.LAYOUT_ENV}
    env["PATH"] = str(bare)  # no dot here
    done = subprocess.run([sys.executable, "-m", "monviz", "run", "-q", "-o", "report.html",
                           "program.py"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    ns: dict = {}
    trace = monviz.record(SMALL, filename=str(folder / "program.py"), namespace=ns)
    return folder / "report.html", trace, cfg(ns["classify"])


def test_a_report_made_without_dot_lays_its_graphs_out_offline(offline, no_dot_report):
    page, refused, errors = offline
    path, trace, graph = no_dot_report
    tl, cfgw = open_report(page, path)
    expect(cfgw).to_have_attribute("data-ready", "1", timeout=30_000)
    expect(cfgw).to_have_attribute("data-layout", "browser")
    branches = [ev for ev in trace if ev.event in BRANCH_EVENTS
                and ev.code.qualname == "classify"]
    assert branches
    dots = page.evaluate("() => window.monviz.cfg.get('_dots')")
    for ev in branches[:3]:
        tl.locator("input.monviz-step-input").fill(str(ev.index))
        tl.locator("input.monviz-step-input").press("Enter")
        expect(tl).to_have_attribute("data-step", str(ev.index))
        edge = graph.edge_for(ev.offset, ev.target, ev.event)
        expect(cfgw.locator(".monviz-cfg-status")).to_contain_text("classify")
        expect(cfgw).to_have_attribute("data-ready", "1")
        taken = cfgw.locator("g.monviz-edge.monviz-taken")
        expect(taken).to_have_count(1)
        expect(taken).to_have_attribute("data-edge", str(graph.edges.index(edge)))
        expect(taken).to_have_attribute("data-src", str(edge.src))
        expect(taken).to_have_attribute("data-dst", str(edge.dst))
        expect(cfgw.locator("g.monviz-block.monviz-current")).to_have_attribute(
            "data-block", str(edge.dst))
    code = cfgw.get_attribute("data-code")
    svg = cfgw.locator("svg.monviz-cfg-svg")
    drawn = (svg.locator("g.node").count(), svg.locator("g.edge").count())
    assert drawn == dot_counts(dots[code])
    assert cfgw.locator("g.monviz-block").count() == len(drawing.merge_chains(graph))
    assert page.evaluate(OVERFLOW_JS, svg.element_handle()) <= 1  # text stays in its box
    # the code objects' table switches graphs: each one laid out when first shown
    page.locator(".monviz-code-row", has_text="<module>").click()
    expect(cfgw.locator(".monviz-cfg-status")).to_contain_text("<module>")
    expect(cfgw).to_have_attribute("data-ready", "1")
    assert page.evaluate("() => performance.getEntriesByType('measure')"
                         ".filter((m) => m.name.startsWith('monviz viz.js')).length") == 1
    cfgw.screenshot(path=str(path.parent / "cfg.png"))
    assert refused == [] and errors == []


def _bench_program(lines: int) -> str:
    import cfg_corpus

    return cfg_corpus.generated_function(lines) + "\ngenerated(7)\n"


@pytest.fixture(scope="module")
def bench_reports(tmp_path_factory):
    """Reports laid out in the browser for a small function and the benchmark's large one."""
    sys.path.insert(0, str(drawing.VIZ_JS.parents[3] / "benchmarks"))
    folder = tmp_path_factory.mktemp("wasm-bench")
    out = {}
    old = os.environ.get(drawing.LAYOUT_ENV)
    os.environ[drawing.LAYOUT_ENV] = "browser"
    try:
        for label, source, name in [("small", SMALL, "classify"),
                                    ("large", _bench_program(300), "generated")]:
            ns: dict = {}
            trace = monviz.record(source, namespace=ns)
            view = monviz.CFGView(ns[name], trace)
            path = trace.save_html(folder / f"{label}.html")
            out[label] = (path, view, view.dot_of())
    finally:
        if old is None:
            del os.environ[drawing.LAYOUT_ENV]
        else:
            os.environ[drawing.LAYOUT_ENV] = old
    return out


def test_viz_js_draws_what_dot_draws_and_how_long_each_takes(offline, bench_reports,
                                                             artifacts):
    page, refused, errors = offline
    figures = {}
    for label, (path, view, dot_text) in bench_reports.items():
        _, cfgw = open_report(page, path)
        page.locator(".monviz-code-row", has_text=view.graph.qualname).first.click()
        expect(cfgw.locator(".monviz-cfg-status")).to_contain_text(view.graph.qualname)
        expect(cfgw).to_have_attribute("data-ready", "1", timeout=60_000)
        expect(cfgw).to_have_attribute("data-layout", "browser")
        svg = cfgw.locator("svg.monviz-cfg-svg")
        drawn = (svg.locator("g.node").count(), svg.locator("g.edge").count())
        assert drawn == dot_counts(dot_text), label
        assert cfgw.locator("g.monviz-edge").count() == len(view._graphs[view.code]["drawn"])
        assert page.evaluate(OVERFLOW_JS, svg.element_handle()) <= 1, label
        # the page's own Viz.js instance, warm: lay the same DOT out again a few times
        wasm = page.evaluate("""async ([dot, n]) => {
            const [viz] = [...globalThis[Symbol.for("monviz.viz")].values()];
            const v = await viz, ms = [];
            for (let i = 0; i < n; i++) {
                const t = performance.now(); v.renderString(dot, {format: "svg"});
                ms.push(performance.now() - t);
            }
            const load = performance.getEntriesByType("measure")
                .filter((m) => m.name.startsWith("monviz viz.js"))[0].duration;
            return {ms, load};
        }""", [dot_text, BENCH_REPEATS])
        digraph = view._drawing(view.code).dot
        dot_ms = []
        if drawing.have_dot():
            for _ in range(BENCH_REPEATS):
                t0 = time.perf_counter()
                drawing.svg(digraph, cached=False)
                dot_ms.append((time.perf_counter() - t0) * 1000)
        g = view.graph
        figures[label] = {
            "function": g.qualname, "blocks": len(g.blocks), "edges": len(g.edges),
            "svg_nodes": drawn[0], "svg_edges": drawn[1], "dot_bytes": len(dot_text),
            "wasm_first_layout_ms": float(cfgw.get_attribute("data-layout-ms")),
            "wasm_layout_ms_median": round(statistics.median(wasm["ms"]), 1),
            "dot_run_ms_median": round(statistics.median(dot_ms), 1) if dot_ms else None,
            "viz_js_load_ms": round(wasm["load"], 1),
            "report_bytes": path.stat().st_size,
        }
    text = json.dumps(figures, indent=2)
    print(f"\nViz.js (in Chromium) against dot (a subprocess), median of {BENCH_REPEATS}:\n"
          f"{text}")
    (artifacts / "cfg-wasm-bench.txt").write_text(text + "\n")
    assert refused == [] and errors == []


# -- JupyterLab -----------------------------------------------------------------------------

LAB_CELLS = [
    "import os\nos.environ['MONVIZ_LAYOUT'] = 'browser'\nimport monviz\n"
    f"SMALL = {SMALL!r}\nns = {{}}\ntrace = monviz.record(SMALL, namespace=ns)\n"
    "view = monviz.show(trace)\nprint('LAYOUT', view.cfgview._layout, len(view.cfgview._svgs))\n"
    "view",
    "monviz.cfg(ns['classify'])",
    "second = monviz.CFGView(ns['classify'])\n"
    "print('SAME ASSET', second._viz is view.cfgview._viz)\nsecond",
]


@pytest.fixture(scope="module")
def wasm_notebook(lab):
    write_notebook(lab, "wasm.ipynb", LAB_CELLS)
    yield notebook_url(lab, "wasm.ipynb", workspace="monviz-wasm")
    shut_down(lab, "wasm.ipynb")  # its kernel



def test_the_widgets_lay_out_in_the_browser_in_lab(lab, wasm_notebook, page, artifacts):
    ns: dict = {}
    trace = monviz.record(SMALL, namespace=ns)
    graph = cfg(ns["classify"])
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(lab["base"]) or
            r.url.startswith(("blob:", "data:")) else elsewhere.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(wasm_notebook)
    page.locator(".jp-NotebookPanel").wait_for(timeout=60_000)
    idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle"))
    idle.wait_for(timeout=60_000)

    cell = run_cell(page, 0)
    expect(cell.locator(".jp-OutputArea-output").first).to_contain_text("LAYOUT browser 0",
                                                                        timeout=60_000)
    tl = page.locator(".monviz-timeline").first
    cfgw = page.locator(".monviz-cfgview").first
    expect(tl).to_have_attribute("data-drawn", "1", timeout=60_000)
    expect(cfgw).to_have_attribute("data-ready", "1", timeout=60_000)
    expect(cfgw).to_have_attribute("data-layout", "browser")
    branches = [ev for ev in trace if ev.event in BRANCH_EVENTS]
    tl.locator("select.monviz-kind-select").select_option(branches[0].event)
    tl.locator("button.monviz-next-kind").click()
    expect(tl).to_have_attribute("data-step", str(branches[0].index), timeout=10_000)
    edge = graph.edge_for(branches[0].offset, branches[0].target, branches[0].event)
    expect(cfgw).to_have_attribute("data-edge", str(graph.edges.index(edge)), timeout=10_000)
    expect(cfgw).to_have_attribute("data-ready", "1", timeout=30_000)
    taken = cfgw.locator("g.monviz-edge.monviz-taken")
    expect(taken).to_have_count(1)
    expect(taken).to_have_attribute("data-src", str(edge.src))
    expect(taken).to_have_attribute("data-dst", str(edge.dst))
    expect(cfgw.locator("g.monviz-block.monviz-current")).to_have_attribute(
        "data-block", str(edge.dst))
    cfgw.screenshot(path=str(artifacts / "cfgview-wasm-lab.png"))

    # a ControlFlowGraph's own display: the DOT laid out, nothing to point at
    run_cell(page, 1)
    plain = page.locator(".monviz-dotview").first
    expect(plain).to_have_attribute("data-ready", "1", timeout=60_000)
    expect(plain.locator("g.node").first).to_be_visible()
    dot_text = drawing.browser_source(graph.to_dot())
    assert (plain.locator("g.node").count(), plain.locator("g.edge").count()) == \
        dot_counts(dot_text)

    # a second view: same asset in the kernel, and Viz.js still loaded once in the page
    cell = run_cell(page, 2)
    expect(cell.locator(".jp-OutputArea-output").first).to_contain_text("SAME ASSET True",
                                                                        timeout=60_000)
    expect(page.locator(".monviz-cfgview:not(.monviz-dotview)").nth(1)).to_have_attribute(
        "data-ready", "1", timeout=60_000)
    loads = page.evaluate("() => [globalThis[Symbol.for('monviz.viz')].size, performance"
                          ".getEntriesByType('measure').filter((m) => m.name.startsWith("
                          "'monviz viz.js')).length]")
    assert loads == [1, 1]
    assert elsewhere == [] and errors == []
