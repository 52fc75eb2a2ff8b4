"""``monviz.show(trace)``: the Timeline and the control-flow graph, linked in the browser."""

from __future__ import annotations

import ipywidgets

from ..render.timeline import timeline_html
from ..trace import Trace
from .cfgview import CFGView
from .timeline import Timeline


class Linked(ipywidgets.VBox):
    """A Timeline above a CFGView that follows it (linked in the front end, no kernel
    round trip per step). ``.timeline`` and ``.cfgview`` are the two widgets."""

    def __init__(self, timeline: Timeline, cfgview: CFGView | None, **kwargs) -> None:
        children = [timeline] if cfgview is None else [timeline, cfgview]
        super().__init__(children=children, **kwargs)
        self.add_class("monviz-linked")
        self.timeline = timeline
        self.cfgview = cfgview
        self._link = None
        if cfgview is not None:
            self._link = ipywidgets.jslink((timeline, "cursor"), (cfgview, "cursor"))

    @property
    def step(self) -> int:
        return self.timeline.step

    @step.setter
    def step(self, value: int) -> None:
        self.timeline.step = value

    def __repr__(self) -> str:
        trace = self.timeline.trace
        graph = f", graph of {self.cfgview.graph.qualname}" if self.cfgview is not None else ""
        return f"monviz.show({len(trace)} events, {len(trace.codes())} code objects{graph})"

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if data is None:
            return bundle
        html = timeline_html(self.timeline.trace)
        if self.cfgview is not None:
            html += _inline_svg(self.cfgview)
        data["text/html"] = html
        return bundle


def _inline_svg(view: CFGView) -> str:
    """The shown graph's SVG for inlining in HTML (the XML prologue dropped)."""
    from ..errors import MonvizError

    try:
        svg = view._svgs.get(view.code) or view.svg_of()
    except MonvizError:
        return ""
    start = svg.find("<svg")
    return "<div class='monviz-cfg-static'>" + (svg[start:] if start >= 0 else "") + "</div>"


def show(trace: Trace, code=None) -> Linked:
    """A Timeline of ``trace`` linked to the control-flow graph of the current code object.

    Stepping moves the graph's highlight to the current block and the edge just
    taken; stepping into another code object switches the graph (as does choosing
    one in the graph's menu). ``code`` picks the graph shown first.
    """
    from ..errors import InvalidArgumentError

    timeline = Timeline(trace)
    try:
        cfgview = CFGView(code, trace) if code is not None else CFGView(trace)
    except InvalidArgumentError:  # no live code objects (a trace loaded from JSON)
        cfgview = None
    return Linked(timeline, cfgview)

