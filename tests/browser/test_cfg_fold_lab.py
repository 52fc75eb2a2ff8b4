"""A 1,000-line function's control-flow graph in a real JupyterLab: folded, opened, followed.

One notebook, written by the test into the lab's temporary root: a cell defines the
generated function of benchmarks/cfg.py (1,611 blocks), the next records it and shows
``monviz.show(trace)`` (timeline + graph, linked). The test checks, in Chromium, that the
graph appears folded (as many section nodes as ``monviz.render.fold`` cuts in this
process from the same source), that a click opens a section (its blocks drawn, in a box)
and a click on the box's label folds it again, that stepping the timeline to a branch
inside a folded section opens that section and lights the edge taken, and the same with
the layout done in the browser by Viz.js (``MONVIZ_LAYOUT=browser``). The time from
running the cell to the graph drawn is printed and written to test-artifacts.
"""

from __future__ import annotations

import linecache
import pathlib
import re
import sys
import time

import pytest
from labserver import notebook_url, run_cell, shut_down, write_notebook

import monviz
from monviz.render import fold

pytestmark = pytest.mark.browser
pytest.importorskip("nbformat")  # for write_notebook
expect = pytest.importorskip("playwright.sync_api").expect

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks"))
import cfg_corpus  # noqa: E402

del sys.path[0]

SOURCE = cfg_corpus.generated_function(1000)
PICK = '''\
from monviz.render import fold
graph = monviz.cfg(generated)
folding = fold.fold(graph)
K = len(folding.sections) // 2
ev = next(e for e in trace if e.code.code is generated.__code__ and e.target is not None
          and e.event != "JUMP" and folding.section_of[graph.block_at(e.offset).id] == K
          and folding.section_of[graph.block_at(e.target).id] == K)
edge = graph.edge_for(ev.offset, ev.target, ev.event)
print("TARGET", ev.index, K, graph.edges.index(edge), edge.dst)
'''
CELLS = [
    SOURCE,
    "import monviz, time\nfrom monviz.versions import BRANCH_EVENTS\nt0 = time.perf_counter()\n"
    "trace = monviz.record(lambda: generated(20), events=['LINE', 'JUMP', *BRANCH_EVENTS])"
    "\nview = monviz.show(trace)\nprint('MADE', round(time.perf_counter() - t0, 3))\nview",
    PICK,
    "import os\nos.environ['MONVIZ_LAYOUT'] = 'browser'\nviz_view = monviz.CFGView(generated, "
    "trace)\ndel os.environ['MONVIZ_LAYOUT']\nviz_view",
]


@pytest.fixture(scope="module")
def notebook(lab):
    write_notebook(lab, "fold.ipynb", CELLS)
    yield notebook_url(lab, "fold.ipynb", workspace="monviz-fold")
    shut_down(lab, "fold.ipynb")  # its kernel


@pytest.fixture(scope="module")
def sections():
    """The sections this process cuts from the same source (same interpreter, same blocks)."""
    filename = "<fold-lab-expected>"
    linecache.cache[filename] = (len(SOURCE), None, SOURCE.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(SOURCE, filename, "exec", dont_inherit=True), namespace)
    return fold.fold(monviz.cfg(namespace["generated"])).sections



def _output(cell, pattern: str) -> re.Match:
    out = cell.locator(".jp-OutputArea-output").filter(has_text=re.compile(pattern)).first
    expect(out).to_be_visible(timeout=60_000)
    return re.search(pattern, out.inner_text())


def _folded(cfgw, sections, opened=()) -> None:
    """Every section not opened is one node; the opened ones are boxes of their blocks."""
    expect(cfgw).to_have_attribute("data-ready", "1", timeout=60_000)
    expect(cfgw.locator("g.monviz-section")).to_have_count(len(sections) - len(opened),
                                                           timeout=30_000)
    expect(cfgw.locator("g.monviz-open-section")).to_have_count(len(opened))
    for k in opened:
        expect(cfgw.locator(f'g.monviz-open-section[data-section="{k}"]')).to_have_count(1)
        for b in sections[k].blocks[:3]:
            expect(cfgw.locator(f'g.monviz-block[data-block="{b}"]')).to_have_count(1)


def _open_and_fold(cfgw, sections, k: int) -> None:
    cfgw.locator(f'g.monviz-section[data-section="{k}"]').click()
    _folded(cfgw, sections, opened=[k])
    cfgw.locator(f'g.monviz-open-section[data-section="{k}"] > text').first.click()
    _folded(cfgw, sections)


def test_a_big_graph_is_folded_opened_and_followed_in_lab(lab, notebook, sections, page,
                                                        artifacts):
    page.goto(notebook)
    page.locator(".jp-NotebookPanel").wait_for(timeout=60_000)
    idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle"))
    idle.wait_for(timeout=60_000)
    run_cell(page, 0)
    expect(page.locator(".jp-Notebook .jp-Cell").nth(0).locator(
        ".jp-InputPrompt")).to_have_text(re.compile(r"\[1\]"), timeout=60_000)

    t0 = time.perf_counter()
    cell = run_cell(page, 1)
    cfgw = page.locator(".monviz-cfgview").first
    expect(cfgw).to_have_attribute("data-ready", "1", timeout=60_000)
    shown = time.perf_counter() - t0
    made = float(_output(cell, r"MADE ([\d.]+)").group(1))
    # the graph shown first is the trace's first code object (the lambda): choose the big one
    t1 = time.perf_counter()
    cfgw.locator("select.monviz-cfg-select").select_option(label="generated (line 1)")
    _folded(cfgw, sections)
    switched = time.perf_counter() - t1
    assert len(sections) > 10
    label = cfgw.locator('g.monviz-section[data-section="0"]')
    expect(label).to_contain_text(f"lines {sections[0].first}–{sections[0].last}")
    cfgw.screenshot(path=str(artifacts / "cfgview-folded-1000.png"))

    _open_and_fold(cfgw, sections, 3)

    # the timeline steps to a branch inside a folded section: the graph opens it and lights
    # the edge taken
    index, k, edge, dst = map(int, _output(run_cell(page, 2), r"TARGET (\d+) (\d+) (\d+) (\d+)")
                              .groups())
    tl = page.locator(".monviz-timeline").first
    tl.locator("input.monviz-step-input").fill(str(index))
    tl.locator("input.monviz-step-input").press("Enter")
    expect(tl).to_have_attribute("data-step", str(index), timeout=10_000)
    expect(cfgw).to_have_attribute("data-edge", str(edge), timeout=10_000)
    _folded(cfgw, sections, opened=[k])
    taken = cfgw.locator("g.monviz-edge.monviz-taken")
    expect(taken).to_have_count(1, timeout=10_000)
    expect(taken).to_have_attribute("data-edge", str(edge))
    expect(cfgw.locator("g.monviz-block.monviz-current")).to_have_attribute("data-block",
                                                                           str(dst))
    cfgw.screenshot(path=str(artifacts / "cfgview-folded-1000-followed.png"))

    # laid out in the browser by Viz.js: folded the same, opened the same
    viz = page.locator(".monviz-cfgview").nth(1)
    run_cell(page, 3)
    expect(viz).to_have_attribute("data-layout", "browser", timeout=60_000)
    _folded(viz, sections)
    first_ms = float(viz.get_attribute("data-layout-ms"))
    _open_and_fold(viz, sections, 5)
    figures = (f"1,000-line function ({len(sections)} sections) in JupyterLab: cell run to first "
               f"graph drawn {shown:.2f} s (kernel: record + widgets {made:.2f} s), chosen in the "
               f"menu to drawn folded {switched:.2f} s; Viz.js layout of the folded graph "
               f"{first_ms:.1f} ms")
    print(figures)
    (artifacts / "cfg-fold-bench.txt").write_text(figures + "\n")
