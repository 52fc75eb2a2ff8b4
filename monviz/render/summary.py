"""An escaped HTML summary of a trace for notebooks: counts, first and last events."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..trace import Event, Trace

#: How many events the summary shows at each end of the trace.
EDGE_EVENTS = 5
#: Past this many events the static view keeps to counts per kind: per code object
#: counts and the first/last events cost seconds at 10M (a Timeline's first draw waits).
BRIEF_ABOVE = 2_000_000


def _event_row(ev: Event) -> str:
    detail = ev.target if ev.target is not None else (
        (ev.callable and f"{ev.callable}({ev.arg0})") or ev.value or ev.exception or "")
    cells = (ev.index, ev.event, ev.code.qualname, "" if ev.line is None else ev.line,
             "" if ev.offset is None else ev.offset, detail, ev.depth)
    return "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def brief_summary_html(trace: Trace) -> str:
    """Counts per event kind only (one ``bytes.count`` each): a huge trace's summary."""
    totals = trace.totals()
    head = "".join(f"<th>{escape(n)}</th>" for n in totals)
    cells = "".join(f"<td>{v:,}</td>" for v in totals.values())
    return ("<div class='monviz-trace'>"
            f"<p><b>monviz trace</b>: {len(trace):,} events (Python {escape(trace.python)}); "
            "counts per kind</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody><tr>{cells}</tr></tbody></table></div>")


def trace_summary_html(trace: Trace) -> str:
    """Counts per code object and event, then the first and last events; all text escaped."""
    totals = trace.totals()
    names = list(totals)
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = []
    for info, counts in trace.counts().items():
        cells = "".join(f"<td>{counts.get(n, '')}</td>" for n in names)
        rows.append(f"<tr><td title='{escape(info.location, quote=True)}'>"
                    f"{escape(info.qualname)}</td>{cells}</tr>")
    total_cells = "".join(f"<td><b>{totals[n]}</b></td>" for n in names)
    status = []
    if trace.truncated:
        status.append(f"truncated: {trace.dropped} more events were not kept")
    if trace.exception_repr:
        status.append(f"the code raised {trace.exception_repr}")
    status_html = "".join(f"<p class='monviz-status'>{escape(s)}</p>" for s in status)
    if len(trace) <= 2 * EDGE_EVENTS:
        shown = list(trace)
        gap = ""
    else:
        shown = trace[:EDGE_EVENTS] + trace[-EDGE_EVENTS:]
        gap = (f"<tr><td colspan='7'>… {len(trace) - 2 * EDGE_EVENTS} more events …</td></tr>")
    ev_rows = [_event_row(ev) for ev in shown]
    if gap:
        ev_rows.insert(EDGE_EVENTS, gap)
    return (
        "<div class='monviz-trace'>"
        f"<p><b>monviz trace</b>: {len(trace)} events from {len(trace.codes())} code objects "
        f"(Python {escape(trace.python)})</p>{status_html}"
        f"<table><thead><tr><th>code object</th>{head}</tr></thead><tbody>{''.join(rows)}"
        f"<tr><td><b>total</b></td>{total_cells}</tr></tbody></table>"
        "<table><thead><tr><th>#</th><th>event</th><th>code</th><th>line</th><th>offset</th>"
        "<th>detail</th><th>depth</th></tr></thead>"
        f"<tbody>{''.join(ev_rows)}</tbody></table></div>"
    )
