"""``monviz.CFGView(code_or_cfg, trace=None)``: a control-flow graph whose blocks and edges
can be pointed at.

Graphviz lays the graph out in Python (:mod:`monviz.render.graph`); the browser
inlines the SVG and tags each node ``data-block`` and each edge ``data-edge``
(its index in ``graph.edges``), so ``block`` and ``edge`` — synced traits — pick
what is highlighted. Given a trace, the view carries every code object of the
trace that ran (each with its overlay of counts) and follows a linked
:class:`~monviz.widgets.timeline.Timeline`'s ``cursor``: the block of the current
event, and the branch or jump just taken.

SVGs are rendered when first shown (a ``dot`` run each, ~50 ms), the first few eagerly.

Without ``dot`` (not installed, Pyodide/JupyterLite, or ``MONVIZ_LAYOUT=browser``: see
:func:`monviz.render.graph.layout`) the view sends each graph's DOT text instead
(``_dots``) and the browser lays it out with Viz.js, Graphviz compiled to WebAssembly.
Viz.js (1.2 MB) travels once per kernel, in one :class:`VizAsset` model that every
view refers to (``_viz``), and is loaded once per page and version (cached on
``globalThis``), however many views and graphs there are.
"""

from __future__ import annotations

import pathlib

import anywidget
import ipywidgets
import traitlets

from ..cfg import ControlFlowGraph, cfg
from ..errors import InvalidArgumentError, MonvizError
from ..render import fold
from ..render import graph as render_graph
from ..trace import Trace

_HERE = pathlib.Path(__file__).parent

#: SVGs rendered when the widget is made (the rest when first shown).
EAGER = 6
#: ... unless the trace has more events than this (each overlay reads the whole trace)
BIG = 100_000
#: Above this many events no counts are drawn: ``ControlFlowGraph.overlay`` counts with
#: C-level passes over the columns (~0.5 s per million events here), once per graph shown.
OVERLAY_LIMIT = 3_000_000


def _describe(graph: ControlFlowGraph) -> dict:
    """Blocks, edges and the event pairs that name them, for the browser."""
    pairs: dict[str, list[int]] = {}
    for i, e in enumerate(graph.edges):
        if e.event is None:
            continue
        for src in (e.src_offset, *e.also_from):
            pairs.setdefault(f"{src},{e.dst_offset}", []).append(i)
    return {
        "qualname": graph.qualname,
        "firstlineno": graph.code.co_firstlineno,
        "blocks": [{"id": b.id, "start": b.start, "stop": b.stop, "lines": b.lines}
                   for b in graph.blocks],
        "edges": [{"src": e.src, "dst": e.dst, "kind": e.kind, "src_offset": e.src_offset,
                   "dst_offset": e.dst_offset, "label": e.label, "event": e.event,
                   "meaning": e.meaning} for e in graph.edges],
        "pairs": pairs,
        "drawn": _drawn(graph),
        # (offset, line) of every instruction, to place a LINE event in its block
        "instructions": [[i.offset, -1 if i.line is None else i.line]
                         for b in graph.blocks for i in b.instructions],
    }


def _drawn(graph: ControlFlowGraph) -> list[int]:
    """Indices of the edges ``render.graph.to_dot`` draws, in its order (it draws an
    arrow once when several edges share source, destination, kind, label and event).
    The browser matches the n-th ``b<src>->b<dst>`` arrow of the SVG to the n-th of these."""
    seen: set = set()
    out = []
    for i, e in enumerate(graph.edges):
        key = (e.src, e.dst, *render_graph.looks(e))
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out


class VizAsset(ipywidgets.Widget):
    """Viz.js's ES module, in a model with no view: sent to the browser once per kernel,
    for every :class:`CFGView` and :class:`DotView` that lays graphs out there."""

    version = traitlets.Unicode("").tag(sync=True)
    source = traitlets.Bytes(b"").tag(sync=True)


_asset: VizAsset | None = None


def viz_asset() -> VizAsset:
    """The kernel's one :class:`VizAsset` (made again if it was closed)."""
    global _asset
    if _asset is None or getattr(_asset, "comm", None) is None:
        version, data = render_graph.viz_js()
        _asset = VizAsset(version=version, source=data)
    return _asset


class DotView(anywidget.AnyWidget):
    """A DOT text laid out in the browser by Viz.js, with nothing to point at: what a
    :class:`~monviz.cfg.ControlFlowGraph` displays as in a notebook without ``dot``."""

    _esm = _HERE / "cfgview.js"
    _css = _HERE / "cfgview.css"

    _dot = traitlets.Unicode("").tag(sync=True)
    _viz = traitlets.Instance(VizAsset, allow_none=True).tag(
        sync=True, **ipywidgets.widget_serialization)

    def __init__(self, dot: str, **kwargs) -> None:
        super().__init__(_dot=dot, _viz=viz_asset(), **kwargs)


class CFGView(anywidget.AnyWidget):
    """A code object's control-flow graph in a widget, optionally with a trace's counts.

    ``code_or_cfg``: a function, code object or :class:`~monviz.cfg.ControlFlowGraph`
    (or a :class:`~monviz.Trace`, to start on its first code object). With
    ``trace``, every code object of the trace is offered too, with its overlay.
    """

    _esm = _HERE / "cfgview.js"
    _css = _HERE / "cfgview.css"

    #: key of the graph shown (see ``codes``)
    code = traitlets.Unicode("").tag(sync=True)
    #: "source" (lines in blocks) or "bytecode" (instructions)
    view = traitlets.Unicode("source").tag(sync=True)
    #: highlighted block id, and edge (index into ``graph.edges``); -1 for none
    block = traitlets.Int(-1).tag(sync=True)
    edge = traitlets.Int(-1).tag(sync=True)
    #: follow the linked timeline into other code objects
    follow = traitlets.Bool(True).tag(sync=True)
    #: a linked Timeline's cursor (see Timeline.cursor)
    cursor = traitlets.Dict().tag(sync=True)

    _graphs = traitlets.Dict().tag(sync=True)
    _order = traitlets.List().tag(sync=True)
    _svgs = traitlets.Dict().tag(sync=True)
    #: where graphs are laid out: "dot" (``_svgs``, here) or "browser" (``_dots``, Viz.js)
    _layout = traitlets.Unicode("dot").tag(sync=True)
    _dots = traitlets.Dict().tag(sync=True)
    _viz = traitlets.Instance(VizAsset, allow_none=True).tag(
        sync=True, **ipywidgets.widget_serialization)
    _error = traitlets.Unicode("").tag(sync=True)
    #: a big graph is drawn folded (:mod:`monviz.render.fold`): key -> the ids of its
    #: opened sections (set by a click in the browser or :meth:`open_sections`) ...
    _open = traitlets.Dict().tag(sync=True)
    #: ... and key -> what each node and arrow of its drawing stands for (folded graphs only)
    _maps = traitlets.Dict().tag(sync=True)
    #: whether a click can open a section (False in a report: no kernel to lay it out)
    _can_open = traitlets.Bool(True).tag(sync=True)

    def __init__(self, code_or_cfg, trace: Trace | None = None, *, view: str = "source",
                 **kwargs) -> None:
        if isinstance(code_or_cfg, Trace) and trace is None:
            code_or_cfg, trace = None, code_or_cfg
        if view not in render_graph.VIEWS:
            raise InvalidArgumentError(
                f"view must be one of {', '.join(map(repr, render_graph.VIEWS))}, not {view!r}")
        self._trace = trace
        self._overlays: dict[str, object] = {}  # key -> its Overlay (or None), counted once
        self._foldings: dict[str, fold.Folding | None] = {}  # key -> its sections, cut once
        self._entries: dict[str, tuple[ControlFlowGraph, int | None]] = {}
        first = self._collect(code_or_cfg, trace)
        graphs = {key: {**_describe(g), "cid": cid} for key, (g, cid) in self._entries.items()}
        layout, error, viz = _choose_layout()
        super().__init__(_graphs=graphs, _order=list(self._entries), view=view, _layout=layout,
                         _viz=viz, _error=error, **kwargs)
        self.code = first
        eager = EAGER if trace is None or len(trace) <= BIG else 1
        for key in list(self._entries)[:eager]:
            self._ensure_drawn(key)

    def _collect(self, code_or_cfg, trace: Trace | None) -> str:
        """Fill ``_entries`` (trace code objects ``c{index}``, others ``g{n}``); the first key."""
        infos = trace.code_infos() if trace is not None else []
        by_code = {id(info.code): cid for cid, info in enumerate(infos) if info.code is not None}
        first = None
        if code_or_cfg is not None:
            root = code_or_cfg if isinstance(code_or_cfg, ControlFlowGraph) else cfg(code_or_cfg)
            for g in root.walk():
                cid = by_code.get(id(g.code))
                key = f"c{cid}" if cid is not None else f"g{len(self._entries)}"
                self._entries.setdefault(key, (g, cid))
                first = first or key
        if trace is not None:
            for info in trace.codes():  # code objects that ran, in order of first event
                cid = by_code.get(id(info.code))
                key = f"c{cid}"
                if cid is None or key in self._entries:
                    continue
                try:
                    self._entries[key] = (cfg(info.code), cid)
                except MonvizError:
                    continue
                first = first or key
        if first is None:
            raise InvalidArgumentError(
                "CFGView needs a function, code object or ControlFlowGraph, or a trace whose "
                "code objects are still alive (a trace loaded from JSON has only descriptions)")
        return first

    # -- Python API -------------------------------------------------------------
    @property
    def graph(self) -> ControlFlowGraph:
        """The graph shown now."""
        return self._entries[self.code][0]

    @property
    def codes(self) -> dict[str, str]:
        """Key -> qualname of every graph this view can show."""
        return {key: g.qualname for key, (g, _) in self._entries.items()}

    def show_code(self, code) -> None:
        """Switch to the graph of a code object, function, qualname or key."""
        code = getattr(code, "__code__", code)
        for key, (g, _) in self._entries.items():
            if code in (key, g.qualname) or g.code is code:
                self.code = key
                return
        raise InvalidArgumentError(f"no graph for {code!r} here; choose from {self.codes}")

    @property
    def sections(self) -> list:
        """The sections the graph shown is folded into (:class:`monviz.render.fold.Section`),
        empty when it is small enough to be drawn whole."""
        folding = self._folding(self.code)
        return [] if folding is None else list(folding.sections)

    def open_sections(self, *sections: int, only: bool = False) -> None:
        """Open folded sections (ids from :attr:`sections`) of the graph shown: their blocks
        are drawn; ``only`` closes the others. ``open_sections(only=True)`` folds them all."""
        count = len(self.sections)
        bad = [s for s in sections if not isinstance(s, int) or not 0 <= s < count]
        if bad:
            raise InvalidArgumentError(
                f"no section {bad[0]!r} in {self.graph.qualname}: it has "
                + (f"sections 0 to {count - 1}" if count else "no sections (drawn whole)"))
        now = set() if only else set(self._open.get(self.code, ()))
        self._open = {**self._open, self.code: sorted(now | set(sections))}

    def highlight(self, block: int | None = None, edge=None) -> None:
        """Highlight a block (id) and/or an edge (an :class:`~monviz.cfg.Edge` or its index)."""
        if edge is not None and not isinstance(edge, int):
            edge = self.graph.edges.index(edge)
        self.block = -1 if block is None else block
        self.edge = -1 if edge is None else edge

    # -- rendering --------------------------------------------------------------
    def dot_of(self, key: str | None = None) -> str:
        """The DOT text of a graph (default: the one shown), with its overlay when there is
        one: what the browser lays out when there is no ``dot`` here."""
        return render_graph.browser_source(self._drawing(key).dot)

    def svg_of(self, key: str | None = None) -> str:
        """The SVG of a graph (default: the one shown), with its overlay when there is one,
        laid out by ``dot`` (:class:`~monviz.render.graph.MissingGraphviz` without it)."""
        return render_graph.svg(self._drawing(key).dot)

    def _overlay(self, key: str, graph: ControlFlowGraph, cid: int | None):
        """The trace's counts on one graph (counted once per key), or None."""
        if key in self._overlays:
            return self._overlays[key]
        overlay = None
        if self._trace is not None and cid is not None and len(self._trace) > OVERLAY_LIMIT:
            self._error = (f"counts are not drawn for traces of more than {OVERLAY_LIMIT:,} "
                           f"events (this one has {len(self._trace):,})")
        elif self._trace is not None and cid is not None:
            try:
                overlay = graph.overlay(self._trace)
            except MonvizError as exc:  # recorded by another Python: no counts
                self._error = str(exc)
        self._overlays[key] = overlay
        return overlay

    @property
    def _sources(self) -> dict[str, str] | None:
        """The trace's source texts (what labels show), None without a trace."""
        return self._trace.sources if self._trace is not None else None

    def _folding(self, key: str) -> fold.Folding | None:
        """The sections of a big graph (cut once per key), None for a graph drawn whole."""
        if key not in self._foldings:
            graph = self._entries[key][0]
            self._foldings[key] = (fold.fold(graph, self._sources) if fold.should_fold(graph)
                                   else None)
        return self._foldings[key]

    def _drawing(self, key: str | None) -> render_graph.Drawing:
        key = key or self.code
        graph, cid = self._entries[key]
        return render_graph.draw(graph, self._overlay(key, graph, cid), view=self.view,
                                 sources=self._sources, fold=self._folding(key) or False,
                                 opened=self._open.get(key, ()))

    def _ensure_drawn(self, key: str, again: bool = False) -> None:
        """Lay out one graph (SVG by ``dot``), or give the browser its DOT text; ``again``
        after its opened sections changed."""
        if key not in self._entries or (not again and (key in self._svgs or key in self._dots)):
            return
        if self._layout == "browser" and self._viz is None:
            return  # _error says why nothing can lay it out
        drawing = self._drawing(key)
        if drawing.folding is not None:
            self._maps = {**self._maps, key: _map(drawing)}
        if self._layout == "browser":
            self._dots = {**self._dots, key: render_graph.browser_source(drawing.dot)}
            return
        try:
            text = render_graph.svg(drawing.dot)
        except MonvizError as exc:  # MONVIZ_LAYOUT=dot and no dot: say so in the widget
            self._error = str(exc)
            return
        self._svgs = {**self._svgs, key: text}

    def _draw_in_observer(self, key: str, again: bool = False) -> None:
        """:meth:`_ensure_drawn` from a trait observer, whose errors traitlets/ipywidgets
        would swallow: say them in the widget."""
        try:
            self._ensure_drawn(key, again)
        except Exception as exc:
            self._error = f"could not draw {key}: {type(exc).__name__}: {exc}"
            self.log.exception("CFGView could not draw %s", key)

    @traitlets.observe("_open")
    def _open_changed(self, change) -> None:
        old, new = change["old"] or {}, change["new"] or {}
        for key in set(old) | set(new):
            if sorted(old.get(key, ())) != sorted(new.get(key, ())) and key in self._entries:
                self._draw_in_observer(key, again=True)

    @traitlets.observe("code")
    def _code_changed(self, change) -> None:
        self._draw_in_observer(change["new"])

    @traitlets.observe("view")
    def _view_changed(self, change) -> None:
        if change["new"] not in render_graph.VIEWS:
            self._error = f"unknown view {change['new']!r}"
            return
        self._svgs = {}
        self._dots = {}
        self._maps = {}
        self._ensure_drawn(self.code)

    def __repr__(self) -> str:
        g = self.graph
        return (f"CFGView({g.qualname}: {len(g.blocks)} blocks, {len(g.edges)} edges; "
                f"{len(self._entries)} code objects)")

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        svg = self._svgs.get(self.code)
        if svg is None and self._layout == "browser":  # no dot run for a static copy
            note = (self._error if self._viz is None and self._error  # why nothing draws
                    else render_graph.browser_note())
            data["text/html"] = f"<p class='monviz-missing-dot'>{_escape(note)}</p>"
            return bundle
        if svg is None:
            try:
                svg = self.svg_of()
            except MonvizError as exc:
                data["text/html"] = f"<p class='monviz-missing-dot'>{_escape(str(exc))}</p>"
                return bundle
        data["image/svg+xml"] = svg
        return bundle


def _map(drawing: render_graph.Drawing) -> dict:
    """What the browser needs to point at a folded drawing's parts: node -> block ids,
    the arrows (tail, head, edge indices) in order, and each section's lines."""
    return {"nodes": drawing.nodes, "arrows": [list(a) for a in drawing.arrows],
            "opened": sorted(drawing.opened),
            "sections": [[s.first, s.last, len(s.blocks)] for s in drawing.folding.sections],
            "section_of": [drawing.folding.section_of[b] for b in
                           range(len(drawing.folding.section_of))]}


def _choose_layout() -> tuple[str, str, VizAsset | None]:
    """(layout, error, Viz.js asset) for a new view: see :func:`render_graph.layout`."""
    try:
        layout = render_graph.layout()
    except MonvizError as exc:
        return "dot", str(exc), None
    if layout == "dot":
        return "dot", "", None
    try:
        return "browser", "", viz_asset()
    except MonvizError as exc:  # neither dot nor Viz.js
        return "browser", str(exc), None


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)
