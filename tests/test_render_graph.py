"""Drawing control-flow graphs: escaped labels, overlay styling, the missing-dot message."""

from __future__ import annotations

import linecache
import os
import re
import textwrap

import pytest

import monviz
from monviz.errors import MonvizError
from monviz.render import graph as drawing
from monviz.versions import BRANCH_EVENTS

LOOP = textwrap.dedent("""
    def loop(xs):
        total = 0
        for x in xs:
            if x is None:
                continue
            if x < 0:
                break
            try:
                total += 10 // x
            finally:
                total += 1
        return total
""")

NASTY = textwrap.dedent("""
    def nasty(x):
        s = "<b>&{'quote'}</b>"
        return s if x else '<img src=x onerror=alert(1)>'
""")


def load(source: str, name: str):
    """Define ``name`` from source the way a notebook cell does (its text in linecache)."""
    filename = f"<render-{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(source, filename, "exec", dont_inherit=True), namespace)
    return namespace[name]


def test_source_view_shows_escaped_source_lines():
    graph = monviz.cfg(load(NASTY, "nasty"))
    dot = graph.to_dot().source
    assert "&lt;b&gt;&amp;{&#x27;quote&#x27;}&lt;/b&gt;" in dot
    assert "&lt;img src=x onerror=alert(1)&gt;" in dot
    assert "<img" not in dot and "<b>&" not in dot
    svg = graph.svg()
    assert "<img" not in svg and "&lt;img src=x onerror=alert(1)&gt;" in svg


def test_bytecode_view_lists_instructions_with_offsets():
    graph = monviz.cfg(load(LOOP, "loop"))
    dot = graph.to_dot(view="bytecode").source
    for block in graph.blocks:
        for ins in block.instructions:
            assert re.search(rf"\b{ins.offset}\s+{ins.opname}\b", dot), ins


def test_an_unknown_view_names_the_valid_ones():
    with pytest.raises(MonvizError, match="view must be one of 'source', 'bytecode'"):
        monviz.cfg(load(LOOP, "loop")).to_dot(view="asm")


def test_overlay_draws_counts_and_greys_what_never_ran():
    loop = load(LOOP, "loop")
    trace = monviz.record(lambda: loop([1, None, 2]), events=["JUMP", *BRANCH_EVENTS])
    graph = monviz.cfg(loop)
    overlay = graph.overlay(trace)
    dot = overlay.to_dot().source
    for edge in graph.edges:
        if edge.event is None:
            continue
        count = overlay.edge_counts[edge]
        line = next(line for line in dot.splitlines()
                    if re.match(rf"\s*b{edge.src} -> b{edge.dst}\b", line))
        if count:
            assert f"×{count}" in line and "penwidth" in line and "dashed" not in line, line
        else:
            assert "never" in line and "style=dashed" in line, line
    # the break (x < 0) never ran: its branch outcome is drawn as never taken
    assert any(overlay.edge_counts[e] == 0 for e in graph.edges if e.kind == "branch")
    never_ran = [b for b in graph.blocks if overlay.block_visits.get(b.id, 0) == 0]
    for block in never_ran:
        node = next(line for line in dot.splitlines() if re.match(rf"\s*b{block.id} \[", line))
        assert "fillcolor=\"#eeeeee\"" in node or "fillcolor=\"#eeeeee\"" in node.replace("'", '"')
    assert "cluster_legend" in dot and "never taken" in dot
    assert 'entry [label=entry' in dot or "entry [" in dot


def test_the_notebook_shows_svg_and_a_repr_without_addresses():
    graph = monviz.cfg(load(LOOP, "loop"))
    bundle = graph._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert not re.search(r"0x[0-9a-f]{6,}", bundle["text/plain"])
    assert bundle["text/plain"].startswith("<monviz.ControlFlowGraph loop:")


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """A PATH on which Graphviz's ``dot`` cannot be found."""
    monkeypatch.setenv("PATH", str(tmp_path))
    return tmp_path


def test_without_dot_the_message_says_how_to_install_it_and_to_dot_still_works(no_dot):
    graph = monviz.cfg(load(LOOP, "loop"))
    with pytest.raises(drawing.MissingGraphviz) as info:
        graph.svg()
    message = str(info.value)
    assert "\n" not in message and "apt-get install graphviz" in message
    assert "b0" in graph.to_dot().source  # DOT text needs no dot program
    bundle = graph._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert "apt-get install graphviz" in bundle["text/plain"]
    assert "apt-get install graphviz" in bundle["text/html"]


def test_dot_is_really_missing_in_that_fixture(no_dot):
    assert not any(os.access(os.path.join(p, "dot"), os.X_OK)
                   for p in os.environ["PATH"].split(os.pathsep))


def test_the_source_view_merges_blocks_that_read_as_one_and_the_bytecode_view_does_not():
    graph = monviz.cfg(load(LOOP, "loop"))
    chains = drawing.merge_chains(graph)
    assert any(len(chain) > 1 for chain in chains)
    merged, full = graph.to_dot().source, graph.to_dot(view="bytecode").source
    nodes = lambda dot: set(re.findall(r"^\s*(b\d+) \[", dot, re.M))  # noqa: E731
    assert nodes(merged) == {f"b{chain[0].id}" for chain in chains}
    assert nodes(full) == {f"b{b.id}" for b in graph.blocks}
    for chain in chains:  # every line of a merged chain is still shown, in order
        for block in chain:
            for line in block.lines:
                assert re.search(rf"\b{line}  ", merged)
