"""Big control-flow graphs drawn folded (monviz.render.fold): sections, arrows, opening.

A graph of more than ``fold.FOLD_ABOVE`` blocks is drawn as sections of consecutive
lines; these tests check that the sections cut the graph cleanly (every block in one
section, in line order, at statements of the function's outermost level), that the
arrows between sections stand for exactly the edges between them with the counts the
program really produced (compared with a raw ``sys.monitoring`` recorder written in
tests/raw_recorder.py), that opening sections draws their blocks and edges as the
whole graph does, and that small graphs are drawn exactly as before.
"""

from __future__ import annotations

import ast
import linecache
import pathlib
import re
import sys
from collections import Counter, OrderedDict

import pytest
from raw_recorder import EVENTS as RAW_EVENTS
from raw_recorder import RawRecorder

import monviz
from monviz.errors import InvalidArgumentError
from monviz.render import fold
from monviz.render import graph as drawing
from monviz.versions import BRANCH_EVENTS
from monviz.widgets import CFGView

RAW_TOOL = 3
EVENTS = ["PY_START", "PY_RESUME", "LINE", "JUMP", *BRANCH_EVENTS]
EVIL = "<img src=x onerror=alert(1)>"


def _corpus():
    """benchmarks/cfg_corpus.py: the generated functions benchmarks/cfg.py times."""
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        import cfg_corpus
    finally:
        del sys.path[0]
    return cfg_corpus


def define(source: str, name: str, filename: str, cell: bool = True):
    """Define ``name`` from source as a notebook cell does (``cell``: its text in linecache)."""
    if cell:
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(source, filename, "exec", dont_inherit=True), namespace)
    return namespace[name]


def one_big_loop(chunks: int) -> str:
    """A function whose whole body is one ``for`` statement of ``chunks`` if/else pairs."""
    body = "".join(f"        if x == {k} or s == \"{EVIL}\":\n            s = \"{k}\"\n"
                   f"        else:\n            s = s + 'x'\n" for k in range(chunks))
    return f"def loop(n):\n    s = ''\n    for x in range(n):\n{body}    return s\n"


@pytest.fixture(scope="module")
def big():
    """The 1,000-line generated function (benchmarks/cfg.py's), run once, its graph, its
    overlay and the raw recorder's rows of the same run."""
    func = define(_corpus().generated_function(1000), "generated", "<fold-cell-1000>")
    graph = monviz.cfg(func)
    trace = monviz.record(lambda: func(20), events=EVENTS)
    bits = 0
    for name in EVENTS:
        bits |= RAW_EVENTS[name]
    with RawRecorder(bits, RAW_TOOL, [func.__code__]) as raw:
        func(20)
    rows = [r for r in raw.rows if r[1] is func.__code__]
    return func, graph, graph.overlay(trace), trace, rows


def body_statements(func) -> set[int]:
    """First lines of the statements directly in the function's body (read independently)."""
    source = "".join(linecache.getlines(func.__code__.co_filename))
    (node,) = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    return {stmt.lineno for stmt in node.body}


# -- small graphs ---------------------------------------------------------------------
def test_a_graph_of_up_to_fold_above_blocks_is_drawn_whole_exactly_as_before():
    func = define(_corpus().generated_function(300), "generated", "<fold-cell-300>")
    graph = monviz.cfg(func)
    assert len(graph.blocks) <= fold.FOLD_ABOVE and not fold.should_fold(graph)
    made = drawing.draw(graph)
    assert made.folding is None
    assert made.dot.source == drawing.to_dot(graph, fold=False).source
    assert "cluster_s" not in made.dot.source and not re.search(r"\bs\d+\b", made.dot.source)
    assert set(made.nodes) == {f"b{b.id}" for b in graph.blocks}


# -- sections ---------------------------------------------------------------------------
def test_every_block_is_in_exactly_one_section_and_sections_follow_the_lines(big):
    _, graph, *_ = big
    assert fold.should_fold(graph)
    folding = fold.fold(graph)
    placed = [b for s in folding.sections for b in s.blocks]
    assert sorted(placed) == [b.id for b in graph.blocks]  # each once
    assert all(folding.section_of[b] == s.id for s in folding.sections for b in s.blocks)
    for before, after in zip(folding.sections, folding.sections[1:]):
        assert before.last < after.first
    for block in graph.blocks:
        section = folding.sections[folding.section_of[block.id]]
        if block.lines:
            assert section.first <= block.lines[0] <= section.last
            assert folding.section_at(block.lines[0]) is section


def test_sections_start_at_the_functions_own_statements_and_hold_about_their_size(big):
    func, graph, *_ = big
    folding = fold.fold(graph)
    top = body_statements(func)
    assert len(folding.sections) > 10
    for section in folding.sections[1:]:
        assert section.first in top, section
    sizes = [len(s.blocks) for s in folding.sections]
    assert all(n >= fold.SECTION_BLOCKS for n in sizes[:-1])
    assert max(sizes) <= 2 * fold.SECTION_BLOCKS
    # the statements listed on a section's node are the body's, each once, in order
    for section in folding.sections[1:]:
        assert section.heads and set(section.heads) <= top
        assert list(section.heads) == sorted(set(section.heads))


def test_a_statement_too_big_for_one_section_is_cut_between_its_inner_statements():
    func = define(one_big_loop(250), "loop", "<fold-cell-loop>")
    graph = monviz.cfg(func)
    folding = fold.fold(graph)
    assert fold.should_fold(graph) and len(folding.sections) > 5
    assert max(len(s.blocks) for s in folding.sections) <= 2 * fold.SECTION_BLOCKS + 4
    ifs = {n.lineno for n in ast.walk(ast.parse("".join(linecache.getlines(
        "<fold-cell-loop>")))) if isinstance(n, ast.If)}
    assert all(s.first in ifs | body_statements(func) for s in folding.sections[1:])
    assert sum(s.first in ifs for s in folding.sections) >= len(folding.sections) - 2


def test_without_its_source_a_graph_is_still_cut_and_lists_no_lines():
    func = define(one_big_loop(250), "loop", "<fold-no-source>", cell=False)
    graph = monviz.cfg(func)
    folding = fold.fold(graph)
    assert sorted(b for s in folding.sections for b in s.blocks) == [b.id for b in graph.blocks]
    assert len(folding.sections) > 5 and all(s.heads == () for s in folding.sections)
    assert "lines " in drawing.to_dot(graph).source


def test_a_section_size_must_be_positive(big):
    with pytest.raises(ValueError, match="at least 1 block"):
        fold.fold(big[1], size=0)


# -- arrows -------------------------------------------------------------------------------
def _edge_statements(dot_source: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b in re.findall(r"^\s*(\w+) -> (\w+)", dot_source, re.M)
            if a != "entry" and not a.startswith("legend")]


def test_folded_arrows_stand_for_every_edge_between_sections_once(big):
    _, graph, *_ = big
    made = drawing.draw(graph)
    section_of = made.folding.section_of
    members = Counter(i for _, _, edges in made.arrows for i in edges)
    for i, edge in enumerate(graph.edges):
        crossing = section_of[edge.src] != section_of[edge.dst]
        assert members[i] == (1 if crossing else 0), (i, edge)
    for tail, head, edges in made.arrows:
        assert {(f"s{section_of[graph.edges[i].src]}", f"s{section_of[graph.edges[i].dst]}")
                for i in edges} == {(tail, head)}
    assert _edge_statements(made.dot.source) == [(t, h) for t, h, _ in made.arrows]
    assert len({(t, h) for t, h, _ in made.arrows}) == len(made.arrows)
    assert set(made.nodes) == {s.name for s in made.folding.sections}


def test_taken_counts_between_sections_are_the_events_cpython_raised(big):
    _, graph, overlay, _, rows = big
    made = drawing.draw(graph, overlay)
    section_of = made.folding.section_of
    raw: Counter = Counter()
    for name, _, offset, _, target in rows:
        if name in ("JUMP", *BRANCH_EVENTS):
            src, dst = graph.block_at(offset), graph.block_at(target)
            if src is not None and dst is not None and section_of[src.id] != section_of[dst.id]:
                raw[f"s{section_of[src.id]}", f"s{section_of[dst.id]}"] += 1
    labels = dict(re.findall(r"^\s*(s\d+ -> s\d+) \[.*?label=\"?×(\d+)", made.dot.source, re.M))
    checked = 0
    for tail, head, edges in made.arrows:
        if all(graph.edges[i].event is not None for i in edges):
            assert int(labels.get(f"{tail} -> {head}", 0)) == raw[tail, head], (tail, head)
            checked += 1
    assert checked >= 5 and sum(raw.values()) > 0
    # an arrow none of whose edges ran is drawn dashed and "never"
    never = [a for a in made.arrows if not any(overlay.edge_counts.get(graph.edges[i], 0)
                                               for i in a[2])
             and any(graph.edges[i].event for i in a[2])]
    for tail, head, _ in never:
        assert re.search(rf"{tail} -> {head} \[.*label=never.*style=dashed", made.dot.source)


# -- opening --------------------------------------------------------------------------------
def test_an_opened_section_draws_its_blocks_and_their_edges_in_a_box(big):
    _, graph, overlay, *_ = big
    folding = fold.fold(graph)
    k = len(folding.sections) // 2
    made = drawing.draw(graph, overlay, fold=folding, opened=[k])
    inside = set(folding.sections[k].blocks)
    assert {f"b{b}" for b in inside} <= set(made.nodes)
    assert f"s{k}" not in made.nodes and f"s{k + 1}" in made.nodes
    assert f"subgraph cluster_s{k} " in made.dot.source
    whole = drawing.draw(graph, overlay, fold=False)
    within = [a for a in whole.arrows if all(graph.edges[i].src in inside and
                                             graph.edges[i].dst in inside for i in a[2])]
    assert within and all(a in made.arrows for a in within)


def test_opening_every_section_draws_what_the_whole_graph_draws(big):
    _, graph, overlay, *_ = big
    folding = fold.fold(graph)
    opened = drawing.draw(graph, overlay, fold=folding, opened=range(len(folding.sections)))
    whole = drawing.draw(graph, overlay, fold=False)
    assert opened.nodes == whole.nodes
    assert sorted(map(repr, opened.arrows)) == sorted(map(repr, whole.arrows))


def test_labels_of_folded_sections_are_escaped():
    func = define(one_big_loop(250), "loop", "<fold-cell-evil>")
    made = drawing.draw(monviz.cfg(func))
    assert made.folding is not None
    source = made.dot.source
    assert "&lt;img src=x onerror=alert(1)&gt;" in source and EVIL not in source
    svg = drawing.svg(made.dot)
    assert "<img" not in svg


# -- the widget -------------------------------------------------------------------------------
def test_the_widget_draws_a_big_graph_folded_and_opens_sections(big):
    func, graph, _, trace, _ = big
    view = CFGView(func, trace)
    key = view.code
    assert view.graph is graph or len(view.graph.blocks) == len(graph.blocks)
    sections = view.sections
    assert sections and view._maps[key]["opened"] == []
    assert len(view._maps[key]["sections"]) == len(sections)
    section_of = fold.fold(view.graph).section_of
    assert view._maps[key]["section_of"] == [section_of[b] for b in range(len(graph.blocks))]
    svg = view._svgs[key]
    assert svg.count('class="node"') < len(graph.blocks) / 10
    view.open_sections(2)
    assert view._open[key] == [2] and view._maps[key]["opened"] == [2]
    assert "cluster_s2" in view._svgs[key] and f"b{sections[2].blocks[0]}" in view._svgs[key]
    view.open_sections(4)
    assert view._open[key] == [2, 4]
    view.open_sections(4, only=True)
    assert view._open[key] == [4] and "cluster_s2" not in view._svgs[key]
    view.open_sections(only=True)
    assert view._svgs[key] == svg  # folded again, exactly as first drawn
    with pytest.raises(InvalidArgumentError, match=rf"sections 0 to {len(sections) - 1}"):
        view.open_sections(len(sections))


def test_the_browser_opening_a_section_lays_it_out_again(big):
    func, _, _, trace, _ = big
    view = CFGView(func, trace)
    key = view.code
    view._open = {key: [1]}  # what a click in the browser sends
    assert view._maps[key]["opened"] == [1] and "cluster_s1" in view._svgs[key]


def test_a_small_graphs_widget_has_no_sections():
    def small(x):
        return 1 if x else 2

    view = CFGView(small)
    assert view.sections == [] and view._maps == {}
    with pytest.raises(InvalidArgumentError, match="no sections"):
        view.open_sections(0)


def test_a_layout_is_reused_for_the_same_dot_text(big, monkeypatch):
    _, graph, *_ = big
    monkeypatch.setattr(drawing, "_laid_out", OrderedDict())  # this test's layouts only
    dot = drawing.to_dot(graph)
    first = drawing.svg(dot)
    runs = []
    monkeypatch.setattr(type(dot), "pipe", lambda self, **kw: runs.append(1) or "")
    assert drawing.svg(drawing.to_dot(graph)) == first and runs == []
    drawing.svg(drawing.to_dot(graph, fold=False))
    assert runs == [1]
    drawing.svg(drawing.to_dot(graph), cached=False)  # a benchmark's: dot runs again
    assert runs == [1, 1]


@pytest.mark.skipif(sys.platform == "emscripten", reason="no dot")
def test_a_folded_graph_shows_in_a_notebook_as_svg(big):
    _, graph, *_ = big
    bundle = graph._repr_mimebundle_()
    assert "image/svg+xml" in bundle and "lines " in bundle["image/svg+xml"]


def test_a_section_can_start_at_a_statement_that_starts_no_block_of_its_own():
    body = "".join(f"    try:\n        with open('/dev/null') as fh:\n"
                   f"            y += {k} // (x - {k})\n"
                   f"    except ZeroDivisionError:\n        y = 0\n" for k in range(150))
    func = define(f"def t(x):\n    y = 0\n{body}    return y\n", "t", "<fold-cell-try>")
    graph = monviz.cfg(func)
    folding = fold.fold(graph)
    assert fold.should_fold(graph) and len(folding.sections) > 5
    tries = {n.lineno for n in ast.walk(ast.parse("".join(linecache.getlines(
        "<fold-cell-try>")))) if isinstance(n, ast.Try)}
    assert all(s.first in tries for s in folding.sections[1:-1])
    assert max(len(s.blocks) for s in folding.sections) < 2 * fold.SECTION_BLOCKS
    for before, after in zip(folding.sections, folding.sections[1:]):
        assert after.first == before.last + 1  # no gap between sections


@pytest.mark.parametrize("shape", ["decorated", "method", "module"])
def test_the_statements_listed_are_the_code_objects_own(shape):
    chunks = "".join(f"if x == {k}:\n    y = {k}\nelif x > {k}:\n    y = -{k}\n"
                     for k in range(300))
    indent = lambda text, n: "".join(" " * n + ln for ln in text.splitlines(True))  # noqa: E731
    source = {
        "decorated": "import functools\n\n@functools.lru_cache\n@staticmethod\ndef f(x):\n"
                     f"    y = 0\n{indent(chunks, 4)}    return y\n",
        "method": f"class C:\n    def f(self, x):\n        y = 0\n{indent(chunks, 8)}"
                  "        return y\n",
        "module": f"x = 3\ny = 0\n{chunks}",
    }[shape]
    filename = f"<fold-cell-{shape}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    code = compile(source, filename, "exec", dont_inherit=True)
    graph = max(monviz.cfg(code).walk(), key=lambda g: len(g.blocks))
    body = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)]
    own = {s.lineno for s in (body[0].body if body else ast.parse(source).body)}
    folding = fold.fold(graph)
    listed = [ln for s in folding.sections for ln in s.heads]
    assert listed == sorted(own)  # every own statement once, in order, nothing else
