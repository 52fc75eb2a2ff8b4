"""Draw a control-flow graph with Graphviz: DOT, SVG, and notebook display.

Two readings: the *source* view (default, for teaching) labels each block with
its source lines; the *bytecode* view lists its instructions with offsets.
With an overlay, edges taken at least once are solid, coloured by kind,
labelled with their count and thicker the more they ran (log scale); edges
never taken are dashed grey; blocks that never ran are greyed. Every label is
an HTML-like Graphviz label built from escaped text, so source code with
``<``, ``&``, quotes or braces draws as written.

Where the layout runs (:func:`layout`): Graphviz's ``dot`` here, when it is installed;
otherwise the widgets and the HTML report send the DOT text to the browser, which lays
it out with Viz.js (Graphviz 16 compiled to WebAssembly, ``widgets/vendor/viz.js``,
fetched by ``tools/fetch-viz`` and shipped in the wheel; nothing is fetched at run
time). Under Pyodide (JupyterLite) there is no ``dot``, so it is always the browser.
The environment variable ``MONVIZ_LAYOUT`` chooses: ``auto`` (the default: ``dot``
when it is on ``PATH``), ``dot`` (only ``dot``; without it graphs say how to install
it), or ``browser`` (never run ``dot`` for a widget or report).
"""

from __future__ import annotations

import functools
import html
import itertools
import linecache
import math
import os
import pathlib
import re
import shutil
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import graphviz

from .. import versions
from ..errors import MonvizError
from . import fold as fold_

if TYPE_CHECKING:
    from ..cfg import Block, ControlFlowGraph, Edge, Overlay

VIEWS = ("source", "bytecode")

#: Edge colours by kind (and branch direction), shared with the legend.
COLOURS = {
    "fallthrough": "#555555",
    "jump": "#1f77b4",
    "branch": "#2ca02c",  # taken / left
    "branch-other": "#ff7f0e",  # not taken / right
    "exception": "#d62728",
}
NEVER = "#b0b0b0"
MAX_LINE = 60  # characters of source shown per line

#: The blocks' font. ``dot`` measures it (fontconfig); Viz.js has no fonts and estimates
#: text widths from built-in metrics, which it has for Courier New but not DejaVu Sans
#: Mono (its estimate then runs ~15% short and text overflows the boxes), so DOT for the
#: browser names Courier New (a browser shows it or a metric twin: Liberation Mono).
MONO = "DejaVu Sans Mono"
BROWSER_MONO = "Courier New"


class MissingGraphviz(MonvizError):
    """Graphviz's ``dot`` program is needed to lay out the graph and is not installed."""


INSTALL_HINT = ("Graphviz's 'dot' program is not installed, so the graph cannot be drawn: "
                "install it (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
                "graphviz); to_dot() still works without it")


#: The environment variable that chooses where graphs are laid out, and its values.
LAYOUT_ENV = "MONVIZ_LAYOUT"
LAYOUTS = ("auto", "dot", "browser")

#: Viz.js (an ES module with Graphviz's WebAssembly inlined), fetched by tools/fetch-viz.
VIZ_JS = pathlib.Path(__file__).resolve().parent.parent / "widgets" / "vendor" / "viz.js"

VIZ_MISSING = ("monviz's copy of Viz.js (monviz/widgets/vendor/viz.js), which lays graphs "
               "out in the browser when Graphviz's 'dot' is not installed, is missing: run "
               "tools/fetch-viz in monviz's checkout (make setup does), or install Graphviz "
               "(Debian/Ubuntu: apt-get install graphviz)")


class MissingVizJs(MissingGraphviz):
    """The graph is to be laid out in the browser, and Viz.js is not where monviz keeps it."""


def have_dot() -> bool:
    """Whether Graphviz's ``dot`` can run here (never where no program can be started:
    Pyodide/Emscripten, see :data:`monviz.versions.HAS_SUBPROCESSES`)."""
    return versions.HAS_SUBPROCESSES and shutil.which("dot") is not None


def layout() -> str:
    """Where graphs are laid out now: ``"dot"`` (here) or ``"browser"`` (by Viz.js);
    see ``MONVIZ_LAYOUT`` in the module docstring."""
    mode = os.environ.get(LAYOUT_ENV, "").strip().lower() or "auto"
    if mode not in LAYOUTS:
        raise MonvizError(f"{LAYOUT_ENV} must be one of {', '.join(LAYOUTS)}, not {mode!r}")
    if mode == "auto":
        return "dot" if have_dot() else "browser"
    return mode


_viz_cache: dict[tuple, tuple[str, bytes]] = {}


def viz_js() -> tuple[str, bytes]:
    """Viz.js's version and the bytes of its ES module (read once per file version)."""
    try:
        stat = VIZ_JS.stat()
    except OSError:
        raise MissingVizJs(VIZ_MISSING) from None
    key = (stat.st_size, stat.st_mtime_ns)
    if key not in _viz_cache:
        data = VIZ_JS.read_bytes()
        found = re.search(rb"Viz\.js (\d[\w.+-]*)", data[:200])
        if found is None:
            raise MissingVizJs(f"{VIZ_JS} is not Viz.js (no 'Viz.js <version>' in its first "
                               "line): run tools/fetch-viz --force")
        _viz_cache.clear()
        _viz_cache[key] = (found.group(1).decode(), data)
    return _viz_cache[key]


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _source_line(graph: ControlFlowGraph, line: int, sources: dict[str, str] | None) -> str:
    filename = graph.code.co_filename
    text = None
    if sources and filename in sources:
        lines = _lines(sources[filename])
        if 0 < line <= len(lines):
            text = lines[line - 1]
    if text is None:
        text = linecache.getline(filename, line).rstrip("\n")
    text = text.strip()
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


@functools.lru_cache(maxsize=16)
def _lines(text: str) -> list[str]:
    """A source's lines, split once (a big graph's labels read thousands of them)."""
    return text.splitlines()


def _edge_colour(edge: Edge) -> str:
    if edge.kind == "branch" and edge.label in ("not taken", "right"):
        return COLOURS["branch-other"]
    return COLOURS[edge.kind]


def merge_chains(graph: ControlFlowGraph, overlay: Overlay | None = None) -> list[list[Block]]:
    """Blocks grouped into chains that read as one: each next block is entered only by
    falling through from the one before, which has no other way out (and, with an
    overlay, ran as often)."""
    chains: list[list[Block]] = []
    by_id = {b.id: b for b in graph.blocks}
    for block in graph.blocks:
        if chains:
            last = chains[-1][-1]
            out, into = graph.edges_from(last.id), graph.edges_to(block.id)
            if (len(out) == 1 and out[0].kind == "fallthrough" and out[0].dst == block.id
                    and len(into) == 1 and not block.entry and not last.exit
                    and (overlay is None or overlay.block_visits.get(last.id, 0)
                         == overlay.block_visits.get(block.id, 0))):
                chains[-1].append(by_id[block.id])
                continue
        chains.append([block])
    return chains


def block_label(graph: ControlFlowGraph, blocks: Block | list[Block], view: str,
                sources: dict[str, str] | None = None, visits: int | None = None) -> str:
    """An HTML-like label: a header row, then one left-aligned row per line or instruction."""
    blocks = blocks if isinstance(blocks, list) else [blocks]
    rows = []
    if view == "bytecode":
        for ins in (i for b in blocks for i in b.instructions):
            arg = f" {ins.argrepr}" if ins.argrepr else ""
            rows.append(f"{ins.offset:>4} {ins.opname}{arg}")
    else:
        lines = [line for b in blocks for line in b.lines]
        for line in (x for i, x in enumerate(lines) if i == 0 or x != lines[i - 1]):
            rows.append(f"{line:>4}  {_source_line(graph, line, sources)}")
        if not rows:  # compiler plumbing with no line (cleanup handlers)
            rows.append(f"@{blocks[0].start}  (no source line)")
    first, last = blocks[0], blocks[-1]
    ids = f"block {first.id}" if first is last else f"blocks {first.id}–{last.id}"
    head = f"{ids} · @{first.start}–{last.end}"
    if visits is not None:
        head += f" · ran {visits}×"
    cells = "".join(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">{_esc(r)}</TD></TR>' for r in rows)
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
            f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#777777">{_esc(head)}</FONT>'
            f"</TD></TR>{cells}</TABLE>>")


@dataclass
class Drawing:
    """A graph as DOT, and what each of its nodes and arrows stands for (for a widget).

    ``nodes``: node name -> the block ids it draws (``b<id>``: a block or a merged chain;
    ``s<k>``: a folded section). ``arrows``: ``(tail, head, edge indices)`` in the order
    the arrows are in the DOT text (and so in the SVG), each for the edges of
    ``graph.edges`` it stands for. ``folding`` is None when the graph is drawn whole.
    """

    dot: graphviz.Digraph
    nodes: dict[str, list[int]]
    arrows: list[tuple[str, str, list[int]]]
    folding: fold_.Folding | None = None
    opened: frozenset[int] = frozenset()


def to_dot(graph: ControlFlowGraph, overlay: Overlay | None = None, view: str = "source",
           sources: dict[str, str] | None = None, legend: bool = True,
           merge: bool = False, fold: bool | fold_.Folding | None = None,
           opened: Iterable[int] = ()) -> graphviz.Digraph:
    """The graph (and its overlay's counts) as a ``graphviz.Digraph``; needs no ``dot``.

    Nodes are named ``b<block id>`` and edges ``b<src> -> b<dst>`` (a widget finds
    them by those names). With ``merge``, chains of blocks that read as one
    (:func:`merge_chains`) are drawn as one node, named after the first block.
    ``fold``: draw the graph in sections (:mod:`monviz.render.fold`), nodes ``s<k>``,
    but the sections in ``opened`` (drawn as their blocks, in a box ``cluster_s<k>``);
    None (the default) folds graphs of more than ``fold.FOLD_ABOVE`` blocks.
    """
    return draw(graph, overlay, view, sources, legend, merge, fold, opened).dot


def draw(graph: ControlFlowGraph, overlay: Overlay | None = None, view: str = "source",
         sources: dict[str, str] | None = None, legend: bool = True, merge: bool = False,
         fold: bool | fold_.Folding | None = None, opened: Iterable[int] = ()) -> Drawing:
    """:func:`to_dot`, with the map of what each node and arrow draws (:class:`Drawing`).
    ``fold`` may be the graph's :class:`~monviz.render.fold.Folding`, already made."""
    if view not in VIEWS:
        raise MonvizError(f"view must be one of {', '.join(map(repr, VIEWS))}, not {view!r}")
    folding = fold if isinstance(fold, fold_.Folding) else None
    if folding is None and (fold or (fold is None and fold_.should_fold(graph))):
        folding = fold_.fold(graph, sources)
    opened = frozenset(opened) if folding is not None else frozenset()
    dot = graphviz.Digraph(
        name=graph.qualname,
        node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff",
                   "fontname": MONO, "fontsize": "10"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    dot.attr(rankdir="TB", fontname="Helvetica", labelloc="t",
             label=f"<<B>{_esc(graph.qualname)}</B>>")
    chains = merge_chains(graph, overlay) if merge else [[b] for b in graph.blocks]
    if folding is not None:  # a chain does not run across sections
        chains = [list(run) for chain in chains for _, run in
                  itertools.groupby(chain, key=lambda b: folding.section_of[b.id])]
    node_of = {b.id: f"b{chain[0].id}" for chain in chains for b in chain}
    nodes: dict[str, list[int]] = {}
    for section in folding.sections if folding is not None else ():
        if section.id not in opened:
            node_of.update(dict.fromkeys(section.blocks, section.name))
            nodes[section.name] = list(section.blocks)
            dot.node(section.name, **_section_attrs(graph, section, overlay, sources))
            if any(graph.blocks[b].entry for b in section.blocks):
                _entry(dot, section.name)
    clusters: dict[int, graphviz.Digraph] = {}
    for chain in chains:
        name = node_of[chain[0].id]
        if name in nodes:  # a folded section's
            continue
        nodes[name] = [b.id for b in chain]
        target = dot
        if folding is not None:  # an opened section's blocks in a box of their own
            section = folding.sections[folding.section_of[chain[0].id]]
            if section.id not in clusters:
                clusters[section.id] = _cluster(section)
            target = clusters[section.id]
        head = chain[0]
        visits = overlay.block_visits.get(head.id, 0) if overlay is not None else None
        attrs = {"label": block_label(graph, chain, view, sources, visits)}
        if overlay is not None and not visits:
            attrs.update(fillcolor="#eeeeee", color=NEVER, fontcolor="#999999")
        if chain[-1].exit:
            attrs["peripheries"] = "2"
        target.node(name, **attrs)
        if head.entry:
            _entry(dot, name)
    for cluster in clusters.values():
        dot.subgraph(cluster)
    arrows = _arrows(graph, dot, node_of, overlay, merge)
    if legend:
        _legend(dot, overlay is not None, folding is not None)
    return Drawing(dot, nodes, arrows, folding, opened)


def _entry(dot: graphviz.Digraph, name: str) -> None:
    """The black dot execution starts from, and its arrow into the node ``name``."""
    dot.node("entry", "entry", shape="circle", style="filled", fillcolor="#333333",
             fontcolor="white", fontsize="8", width="0.3")
    dot.edge("entry", name)


def _cluster(section: fold_.Section) -> graphviz.Digraph:
    """The box an opened section's blocks are drawn in (named ``cluster_s<k>``)."""
    sub = graphviz.Digraph(name=f"cluster_{section.name}")
    sub.attr(label=f"lines {section.first}–{section.last} (open: click here to fold)",
             fontsize="9", fontcolor="#1f77b4", color="#1f77b4", style="rounded,dashed",
             labeljust="l")
    return sub


def looks(edge: Edge) -> tuple[str, str, str | None]:
    """What an edge's arrow looks like besides its ends: two edges between the same nodes
    that look alike are drawn as one arrow (exception edges of several table entries)."""
    return edge.kind, edge.label, edge.event


def _arrows(graph: ControlFlowGraph, dot: graphviz.Digraph, node_of: dict[int, str],
            overlay: Overlay | None, merge: bool) -> list[tuple[str, str, list[int]]]:
    """Draw the edges: one arrow per edge between blocks (the same arrow once), one per
    pair of nodes for the edges into, out of or between folded sections."""
    arrows: list[tuple[str, str, list[int]]] = []
    drawn: dict[tuple, int] = {}
    grouped: dict[tuple[str, str], list[int]] = {}
    for i, edge in enumerate(graph.edges):
        src, dst = node_of[edge.src], node_of[edge.dst]
        if src == dst and (src.startswith("s") or (merge and edge.kind == "fallthrough")):
            continue  # inside a folded section or a merged chain
        if src.startswith("s") or dst.startswith("s"):
            grouped.setdefault((src, dst), []).append(i)
            continue
        key = (src, dst, *looks(edge))
        if key in drawn:  # the same arrow again (exception edges)
            arrows[drawn[key]][2].append(i)
            continue
        drawn[key] = len(arrows)
        arrows.append((src, dst, [i]))
        dot.edge(src, dst, **_edge_attrs(edge, overlay))
    for (src, dst), members in grouped.items():
        arrows.append((src, dst, members))
        dot.edge(src, dst, **_group_attrs([graph.edges[i] for i in members], overlay))
    return arrows


def _group_attrs(edges: list[Edge], overlay: Overlay | None) -> dict[str, str]:
    """One arrow for several edges: their colour when they share it, taken if any was
    (with their counts added), dashed grey when every one could have run and none did."""
    colours = {_edge_colour(e) for e in edges}
    colour = colours.pop() if len(colours) == 1 else COLOURS["fallthrough"]
    attrs = {"color": colour, "fontcolor": colour,
             "tooltip": _esc(f"{len(edges)} edge{'s' * (len(edges) != 1)}")}
    if all(e.kind == "exception" for e in edges):
        attrs["style"] = "dotted"
    if overlay is not None:
        count = sum(overlay.edge_counts.get(e, 0) for e in edges)
        if count:
            attrs["penwidth"] = f"{1 + math.log2(count + 1):.2f}"
            attrs["label"] = f"×{count}"
        elif any(e.event is not None for e in edges):
            attrs.update(style="dashed", color=NEVER, fontcolor=NEVER, label="never")
    return attrs


def _section_attrs(graph: ControlFlowGraph, section: fold_.Section, overlay: Overlay | None,
                   sources: dict[str, str] | None) -> dict[str, str]:
    """A folded section's node: its lines, blocks, runs, and its statements' first lines."""
    head = f"▸ lines {section.first}–{section.last} · {len(section.blocks)} blocks"
    attrs = {"style": "rounded,filled,bold", "fillcolor": "#eaf1fb", "color": "#1f77b4",
             "tooltip": _esc(f"lines {section.first}–{section.last}: click to open")}
    if overlay is not None:
        ran = max(overlay.block_visits.get(b, 0) for b in section.blocks)
        head += f" · ran up to {ran}×" if ran else " · never ran"
        if not ran:
            attrs.update(fillcolor="#eeeeee", color=NEVER, fontcolor="#999999")
    rows = [f"{line:>4}  {_source_line(graph, line, sources)}"
            for line in section.heads[:fold_.LISTED]]
    if len(section.heads) > fold_.LISTED:
        rows.append(f"      … {len(section.heads) - fold_.LISTED} more")
    cells = "".join(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">{_esc(r)}</TD></TR>' for r in rows)
    attrs["label"] = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
                      f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#1f77b4">'
                      f"{_esc(head)}</FONT></TD></TR>{cells}</TABLE>>")
    return attrs


def _edge_attrs(edge: Edge, overlay: Overlay | None) -> dict[str, str]:
    colour = _edge_colour(edge)
    attrs = {"color": colour, "fontcolor": colour}
    words = [edge.label] if edge.label else []
    meaning = getattr(edge, "meaning", "")
    if meaning:  # taken is not true: say what the outcome means for the value tested
        words.append(f"({meaning})")
    if edge.kind == "exception":
        attrs["style"] = "dotted"
    if overlay is not None:
        count = overlay.edge_counts.get(edge, 0)
        if count:
            attrs["penwidth"] = f"{1 + math.log2(count + 1):.2f}"
            words.append(f"×{count}")
        elif edge.event is not None:  # a branch or jump that never ran
            attrs.update(style="dashed", color=NEVER, fontcolor=NEVER)
            words.append("never")
    if words:
        attrs["label"] = _esc(" ".join(words))
    return attrs


def _legend(dot: graphviz.Digraph, with_counts: bool, folded: bool = False) -> None:
    with dot.subgraph(name="cluster_legend") as leg:
        leg.attr(label="legend", fontsize="9", color="#cccccc", style="rounded")
        leg.attr("node", shape="point", width="0.05", label="")
        entries = [("fallthrough", COLOURS["fallthrough"], "solid"),
                   ("jump", COLOURS["jump"], "solid"),
                   ("branch taken / left", COLOURS["branch"], "solid"),
                   ("branch not taken / right", COLOURS["branch-other"], "solid"),
                   ("exception", COLOURS["exception"], "dotted")]
        if with_counts:
            entries.append(("never taken", NEVER, "dashed"))
        for i, (text, colour, style) in enumerate(entries):
            leg.node(f"legend{i}a")
            leg.node(f"legend{i}b")
            leg.edge(f"legend{i}a", f"legend{i}b", label=_esc(text), color=colour,
                     fontcolor=colour, style=style)
        if folded:
            leg.node("legend_folded", "▸ folded lines: click to open", shape="box",
                     style="rounded,filled,bold", fillcolor="#eaf1fb", color="#1f77b4",
                     fontname="Helvetica", fontsize="9", width="0", height="0")


#: SVGs of the last few DOT texts laid out: opening a section and folding it again, or a
#: second view of the same graph, costs no second ``dot`` run.
_laid_out: OrderedDict[str, str] = OrderedDict()
LAID_OUT_KEEP = 32


def svg(dot: graphviz.Digraph, cached: bool = True) -> str:
    """Lay the graph out with ``dot`` and return the SVG text (kept for the last
    :data:`LAID_OUT_KEEP` DOT texts; ``cached=False`` runs ``dot`` again, for timing).

    Where no program can be started (Pyodide: ``subprocess`` raises ``OSError``), there
    is no ``dot`` either: the same :class:`MissingGraphviz` as on a machine without it.
    """
    if not versions.HAS_SUBPROCESSES:
        raise MissingGraphviz(INSTALL_HINT)
    source = dot.source
    if cached and source in _laid_out and have_dot():
        _laid_out.move_to_end(source)
        return _laid_out[source]
    try:
        text = dot.pipe(format="svg", encoding="utf-8")
    except (graphviz.ExecutableNotFound, OSError):
        raise MissingGraphviz(INSTALL_HINT) from None
    _laid_out[source] = text
    while len(_laid_out) > LAID_OUT_KEEP:
        _laid_out.popitem(last=False)
    return text


def browser_source(dot: graphviz.Digraph) -> str:
    """The DOT text of a graph from :func:`to_dot`, for Viz.js to lay out in the browser."""
    if dot.node_attr.get("fontname") != MONO:
        return dot.source
    copy = dot.copy()
    copy.node_attr["fontname"] = BROWSER_MONO
    return copy.source


def browser_note() -> str:
    """Why a copy that shows without JavaScript has no graph, when the browser lays it out."""
    if have_dot():
        return (f"{LAYOUT_ENV}=browser: the graph is laid out in the browser by Viz.js; a copy "
                f"that shows without JavaScript needs dot (unset {LAYOUT_ENV})")
    return ("Graphviz's 'dot' program is not installed: the graph is laid out in the browser "
            "by Viz.js where widgets run; a copy that shows without JavaScript needs dot "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)")


def mimebundle(dot: graphviz.Digraph, text: str) -> dict[str, str]:
    """What a notebook shows: the SVG (so nbconvert and GitHub show it too); without
    ``dot``, a small widget that lays the DOT out in the browser (Viz.js), over a note
    for pages without widgets."""
    try:
        mode = layout()
    except MonvizError as exc:  # a bad MONVIZ_LAYOUT: say so where the graph would be
        return _hint(text, exc)
    if mode == "dot":
        try:
            return {"image/svg+xml": svg(dot), "text/plain": text}
        except MissingGraphviz as exc:
            return _hint(text, exc)
    try:
        from ..widgets.cfgview import DotView

        bundle = DotView(browser_source(dot))._repr_mimebundle_()
    except MissingGraphviz as exc:  # no Viz.js either
        return _hint(text, exc)
    data = dict(bundle[0] if isinstance(bundle, tuple) else bundle or {})
    return {**data, **_hint(text, browser_note())}


def _hint(text: str, message) -> dict[str, str]:
    return {"text/plain": f"{text}\n{message}",
            "text/html": f"<p class='monviz-missing-dot'>{_esc(message)}</p>"}
