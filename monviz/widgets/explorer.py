"""``monviz.Explorer(trace)``: study events per code object, and try ``set_local_events``.

* A table of the trace's code objects — qualname, file:line, counts per event.
* Choosing one shows its own timeline and its control-flow graph.
* "What if?": tick event kinds for some code objects and re-run the recorded code
  with a plain ``sys.monitoring`` tool that sets exactly those *local* events
  (``set_local_events``) and nothing global; the panel shows what
  ``get_events`` / ``get_local_events`` then report, decoded into names, and which
  events arrived from which code object.
* Which tool holds each id 0–5 right now (``get_tool``).

Built from plain ipywidgets; every user string is escaped.
"""

from __future__ import annotations

import html
import sys
from collections import Counter
from collections.abc import Callable
from types import CodeType

import ipywidgets

from .. import events as catalogue
from ..errors import InvalidArgumentError, ToolIdInUse
from ..trace import CodeInfo, Trace
from ..versions import FREE_TOOL_ID_CANDIDATES

mon = sys.monitoring
_esc = html.escape

#: Event kinds offered for the re-run: the ones that can be set per code object.
LOCAL_KINDS = tuple(name for name, info in catalogue.CATALOGUE.items()
                    if info.local and not info.deprecated and name not in ("C_RETURN", "C_RAISE"))


def codes_table_html(trace: Trace) -> str:
    """Code objects with their counts per event, as an escaped HTML table."""
    counts = trace.counts()
    names = list(trace.totals())
    head = "".join(f"<th>{_esc(n)}</th>" for n in names)
    rows = []
    for info, per in counts.items():
        cells = "".join(f"<td>{per.get(n, '')}</td>" for n in names)
        rows.append(f"<tr><td>{_esc(info.qualname)}</td><td>{_esc(info.location)}</td>"
                    f"{cells}</tr>")
    return ("<table class='monviz-codes'><thead><tr><th>code object</th><th>where</th>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def tool_ids_html() -> str:
    """Who holds each sys.monitoring tool id now."""
    rows = "".join(f"<tr><td>{i}</td><td>{_esc(repr(mon.get_tool(i)))}</td>"
                   f"<td>{_esc(', '.join(catalogue.names_of(mon.get_events(i))) or '—')}</td></tr>"
                   for i in range(6))
    return ("<table class='monviz-tools'><thead><tr><th>id</th><th>get_tool(id)</th>"
            f"<th>global events</th></tr></thead><tbody>{rows}</tbody></table>")


class LocalRun:
    """One re-run under a plain tool with only local events: what it set, saw and read back."""

    def __init__(self, choices: dict[CodeType, list[str]], run: Callable[[], object],
                 tool_id: int | None = None):
        self.choices = {code: list(names) for code, names in choices.items() if names}
        self.run = run
        self.tool_id = tool_id
        self.seen: Counter = Counter()  # (qualname, event) -> count
        self.global_bits = 0
        self.local_bits: dict[str, int] = {}
        self.error: BaseException | None = None

    def _free_id(self) -> int:
        if self.tool_id is not None:
            holder = mon.get_tool(self.tool_id)
            if holder is not None:
                raise ToolIdInUse(f"tool id {self.tool_id} is in use by {holder!r}",
                                  self.tool_id, holder)
            return self.tool_id
        for candidate in FREE_TOOL_ID_CANDIDATES:
            if mon.get_tool(candidate) is None:
                return candidate
        raise ToolIdInUse(f"no free tool id among {FREE_TOOL_ID_CANDIDATES}")

    def __call__(self) -> LocalRun:
        tool = self._free_id()
        names = sorted({n for names in self.choices.values() for n in names})
        mon.use_tool_id(tool, "monviz-explorer")
        try:
            for name in names:
                mon.register_callback(tool, catalogue.CATALOGUE[name].bit, self._callback(name))
            for code, chosen in self.choices.items():
                mon.set_local_events(tool, code, catalogue.bits_of(chosen))
            self.global_bits = mon.get_events(tool)
            self.local_bits = {c.co_qualname: mon.get_local_events(tool, c) for c in self.choices}
            try:
                self.run()
            except Exception as exc:  # shown in the panel
                self.error = exc
        finally:
            for code in self.choices:
                mon.set_local_events(tool, code, 0)
            for name in names:
                mon.register_callback(tool, catalogue.CATALOGUE[name].bit, None)
            mon.free_tool_id(tool)
        return self

    def _callback(self, name: str):
        seen = self.seen

        def callback(code, *args):
            seen[code.co_qualname, name] += 1

        return callback

    def report_html(self) -> str:
        rows = [f"<tr><td><code>get_events(tool)</code></td><td>{self.global_bits}</td>"
                f"<td>{_esc(', '.join(catalogue.names_of(self.global_bits)) or '—')}</td></tr>"]
        for qualname, bits in self.local_bits.items():
            rows.append(f"<tr><td><code>get_local_events(tool, {_esc(qualname)})</code></td>"
                        f"<td>{bits}</td><td>{_esc(', '.join(catalogue.names_of(bits)))}</td></tr>")
        seen = "".join(f"<li>{_esc(q)}: {_esc(e)} ×{n}</li>"
                       for (q, e), n in sorted(self.seen.items()))
        error = (f"<p>the code raised {_esc(repr(self.error))}</p>" if self.error else "")
        return ("<table class='monviz-bits'><tbody>" + "".join(rows) + "</tbody></table>"
                f"<p>events that arrived:</p><ul>{seen or '<li>none</li>'}</ul>{error}")


class Explorer(ipywidgets.VBox):
    """Study a trace per code object (see the module docstring).

    ``rerun`` runs the recorded code again, for the "what if?" panel (``%%monitor``
    passes the cell); without it the panel is not shown.
    """

    def __init__(self, trace: Trace, rerun: Callable[[], object] | None = None, **kwargs):
        if not isinstance(trace, Trace):
            raise InvalidArgumentError(f"Explorer needs a monviz.Trace, not {type(trace).__name__}")
        self.trace = trace
        self.rerun = rerun
        self._infos = [c for c in trace.codes() if c.code is not None] or trace.codes()
        self.table = ipywidgets.HTML(codes_table_html(trace))
        labels = [f"{c.qualname} ({c.location})" for c in self._infos]
        labels = [label if labels.count(label) == 1 else f"{label} #{labels[:i].count(label) + 1}"
                  for i, label in enumerate(labels)]  # one cell's <module>s look alike
        self.chooser = ipywidgets.Dropdown(
            options=[(label, i) for i, label in enumerate(labels)],
            description="code object", style={"description_width": "initial"})
        self.detail = ipywidgets.Output()
        self.checks: dict[tuple[int, str], ipywidgets.Checkbox] = {}
        self.whatif = ipywidgets.Output()
        self.tools = ipywidgets.HTML(tool_ids_html())
        refresh = ipywidgets.Button(description="refresh tool ids")
        refresh.on_click(lambda _: setattr(self.tools, "value", tool_ids_html()))
        children = [ipywidgets.HTML("<b>code objects</b>"), self.table, self.chooser,
                    self.detail]
        if rerun is not None:
            children += [ipywidgets.HTML("<b>what if only these local events were set?</b>"),
                         self._checkbox_grid(), self._run_button(), self.whatif]
        children += [ipywidgets.HTML("<b>tool ids now</b>"), self.tools, refresh]
        super().__init__(children=children, **kwargs)
        self.add_class("monviz-explorer")
        self.chooser.observe(self._choose, names="value")
        self._choose({"new": self.chooser.value})

    # -- choosing a code object ------------------------------------------------
    def selected(self) -> CodeInfo | None:
        value = self.chooser.value
        return self._infos[value] if value is not None else None

    def _choose(self, change) -> None:
        info = self.selected()
        self.detail.clear_output()
        if info is None:
            return
        with self.detail:
            from IPython.display import display

            from . import CFGView, Timeline

            display(Timeline(self.trace.filter(code=info)))
            if info.code is not None:
                display(CFGView(info.code, self.trace))

    # -- what if ---------------------------------------------------------------
    def _checkbox_grid(self) -> ipywidgets.Widget:
        rows = []
        for i, info in enumerate(self._infos):
            boxes = []
            for name in LOCAL_KINDS:
                box = ipywidgets.Checkbox(value=False, description=name, indent=False,
                                          layout=ipywidgets.Layout(width="auto"))
                self.checks[i, name] = box
                boxes.append(box)
            rows.append(ipywidgets.HBox([ipywidgets.Label(info.qualname,
                                                          layout={"width": "12em"}), *boxes]))
        return ipywidgets.VBox(rows)

    def _run_button(self) -> ipywidgets.Button:
        button = ipywidgets.Button(description="re-run with these local events")
        button.on_click(lambda _: self.run_what_if())
        return button

    def choices(self) -> dict[CodeType, list[str]]:
        """The ticked event kinds, per code object."""
        out: dict[CodeType, list[str]] = {}
        for (i, name), box in self.checks.items():
            if box.value and self._infos[i].code is not None:
                out.setdefault(self._infos[i].code, []).append(name)
        return out

    def run_what_if(self) -> LocalRun:
        """Re-run the code with only the ticked local events; show what came back."""
        if self.rerun is None:
            raise InvalidArgumentError("this Explorer was made without rerun=, so it cannot "
                                       "run the code again")
        run = LocalRun(self.choices(), self.rerun)()
        self.whatif.clear_output()
        with self.whatif:
            from IPython.display import HTML, display

            display(HTML(run.report_html()))
        self.tools.value = tool_ids_html()
        return run

    def __repr__(self) -> str:
        return (f"monviz.Explorer({len(self.trace)} events, "
                f"{len(self._infos)} code objects)")

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        if data is not None:
            data["text/plain"] = repr(self)
            data["text/html"] = codes_table_html(self.trace)
        return bundle
