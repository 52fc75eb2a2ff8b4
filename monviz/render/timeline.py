"""A static, escaped overview of a trace: what a saved notebook shows without a kernel.

The Timeline widget's mimebundle carries this HTML beside the live view, so
nbconvert, GitHub and VS Code show something when no widget state is saved.
It is built from bins of events, never one element per event, so a million
events make the same small picture as a thousand: per bin, the deepest call
and the code object running there (a call-depth silhouette), and per event
kind, how many of the bin's events were of that kind (a strip per kind).
The legend's names and meanings come from the event catalogue.

The colours here are the widget's too (it receives them in its payload).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from html import escape
from itertools import pairwise
from operator import indexOf
from typing import TYPE_CHECKING

from ..events import CATALOGUE
from ..trace import kinds_present

if TYPE_CHECKING:
    from ..trace import Trace

#: One colour per event kind (families share a hue); kinds not listed get a fallback.
KIND_COLOURS: dict[str, str] = {
    "PY_START": "#2e7d32", "PY_RESUME": "#66bb6a", "PY_RETURN": "#1565c0",
    "PY_YIELD": "#4fa3e0", "PY_UNWIND": "#c62828", "PY_THROW": "#ef6c00",
    "CALL": "#7b1fa2", "C_RETURN": "#b36bd1", "C_RAISE": "#d81b60",
    "LINE": "#8a8a8a", "INSTRUCTION": "#c2c2c2",
    "JUMP": "#00897b", "BRANCH": "#f2a900", "BRANCH_LEFT": "#e0a800", "BRANCH_RIGHT": "#ff7a00",
    "STOP_ITERATION": "#8d6e63", "RAISE": "#e53935", "RERAISE": "#9b1c1c",
    "EXCEPTION_HANDLED": "#ff7043",
}
_FALLBACK = ("#5c6bc0", "#26a69a", "#ab47bc", "#8d6e63", "#78909c")

#: Flame-span colours by code index (soft, so markers and text stay readable on them).
CODE_COLOURS: tuple[str, ...] = (
    "#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#fb9a99", "#ffe680",
    "#8dd3c7", "#bebada", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
)

#: Bins across the overview (each a couple of pixels wide).
BINS = 300
WIDTH = 900
GUTTER = 120


def kind_colour(name: str) -> str:
    """The colour of an event kind, stable for names this module does not list."""
    if name in KIND_COLOURS:
        return KIND_COLOURS[name]
    return _FALLBACK[sum(map(ord, name)) % len(_FALLBACK)]


def code_colour(code_index: int) -> str:
    return "#dddddd" if code_index < 0 else CODE_COLOURS[code_index % len(CODE_COLOURS)]


def kind_meaning(name: str) -> str:
    """The catalogue's one-line meaning, or a note for a kind this Python does not know."""
    info = CATALOGUE.get(name)
    return info.meaning if info is not None else "(an event of another Python version)"


def _bins(n: int, bins: int) -> list[tuple[int, int]]:
    nb = min(n, bins)
    bounds = [n * b // nb for b in range(nb + 1)]
    return list(pairwise(bounds))


def _depth_bytes(depth) -> bytes | None:
    """The depth column as ``bytes`` when every depth fits in one (the usual case)."""
    if isinstance(depth, list):
        try:
            return bytes(depth)
        except ValueError:  # deeper than 255
            return None
    return depth.tobytes() if depth.itemsize == 1 else None


#: ``_UP_TO[d]``: the byte values 0..d (deleted by ``translate``, they leave those above d).
_UP_TO = tuple(bytes(range(d + 1)) for d in range(256))


def _deepest(depth: bytes, s: int, e: int, guess: int) -> tuple[int, int]:
    """The largest depth in ``depth[s:e]`` (a non-empty bin) and the first row at it.

    Neighbouring bins are about as deep, so the previous bin's depth is the
    guess: one ``translate`` keeps the rows deeper than it (few; ``max`` of
    those), and when there are none, ``bytes.find`` (memchr) looks for the
    guess, then each depth below it, until one is there.
    """
    seg = depth[s:e]
    above = seg.translate(None, _UP_TO[guess])
    d = max(above) if above else guess
    while seg.find(d) < 0:
        d -= 1
    return d, s + seg.find(d)


def _deepest_per_bin(trace: Trace, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Per bin, its deepest call and the code index of its first event at that depth."""
    d = trace._d
    depth = trace.depths()
    flat = _depth_bytes(depth)
    found = []
    if flat is not None:
        guess = 0
        for s, e in spans:
            guess, row = _deepest(flat, s, e, guess)
            found.append((guess, row))
    else:
        for s, e in spans:
            seg = depth[s:e]
            top = max(seg)
            found.append((top, s + indexOf(seg, top)))
    starts, ids = d.code_start, d.code_id
    return [(top, ids[bisect_right(starts, row) - 1]) for top, row in found]


def overview_svg(trace: Trace, width: int = WIDTH, bins: int = BINS) -> str:
    """An SVG picture of the whole trace: depth silhouette and one strip per event kind.

    C-level passes over the columns only, no per-event list (10M events in well
    under 0.1 s): per bin, the depths are searched with ``translate`` and
    ``bytes.find``, the code object is looked up in the runs, the kinds are
    counted with ``bytes.count``.
    """
    n = len(trace)
    if not n:
        return ""
    kinds = trace._d.kind.tobytes()
    spans = _bins(n, bins)
    deepest = _deepest_per_bin(trace, spans)
    plot = width - GUTTER - 8
    bw = plot / len(spans)
    max_depth = max(top for top, _ in deepest)
    row = max(2.0, min(10.0, 110 / (max_depth + 1)))
    flame_h = row * (max_depth + 1)
    present = kinds_present(kinds, len(trace.kind_names))
    strip = 11
    top = 22
    strips_top = top + flame_h + 10
    height = strips_top + strip * len(present) + 6
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="monviz-overview" width="{width}" '
             f'height="{height:.0f}" viewBox="0 0 {width} {height:.0f}" '
             'font-family="sans-serif" font-size="11">',
             f'<text x="4" y="14" fill="#333">{n:,} events · call depth 0–{max_depth} · '
             f'event index →</text>',
             f'<text x="4" y="{top + 10}" fill="#666">call depth</text>']
    # silhouette: per bin the deepest frame, coloured by its code object; runs merged
    cells: list[tuple[int, int, int, int]] = []  # (first bin, last bin, depth, code)
    for b, (d, cid) in enumerate(deepest):
        if cells and cells[-1][2:] == (d, cid) and cells[-1][1] == b - 1:
            cells[-1] = (cells[-1][0], b, d, cid)
        else:
            cells.append((b, b, d, cid))
    for b0, b1, d, cid in cells:
        x = GUTTER + b0 * bw
        w = (b1 - b0 + 1) * bw
        if d:
            parts.append(f'<rect x="{x:.1f}" y="{top}" width="{w:.1f}" height="{d * row:.1f}" '
                         'fill="#e4e8ee"/>')
        parts.append(f'<rect x="{x:.1f}" y="{top + d * row:.1f}" width="{w:.1f}" '
                     f'height="{row:.1f}" fill="{code_colour(cid)}"/>')
    # one strip per kind: opacity grows with the share of the bin's events of that kind
    for r, k in enumerate(present):
        name = trace.kind_names[k] if k < len(trace.kind_names) else f"kind {k}"
        colour = kind_colour(name)
        y = strips_top + r * strip
        parts.append(f'<text x="{GUTTER - 6}" y="{y + 9}" text-anchor="end" fill="{colour}">'
                     f'{escape(name)}</text>')
        runs: list[list] = []  # [first bin, last bin, level]
        for b, (s, e) in enumerate(spans):
            c = kinds.count(k, s, e)
            if not c:
                continue
            level = 1 + min(3, int(4 * math.log1p(c) / math.log1p(e - s + 1)))
            if runs and runs[-1][1] == b - 1 and runs[-1][2] == level:
                runs[-1][1] = b
            else:
                runs.append([b, b, level])
        for b0, b1, level in runs:
            parts.append(f'<rect x="{GUTTER + b0 * bw:.1f}" y="{y + 1}" '
                         f'width="{(b1 - b0 + 1) * bw:.1f}" height="{strip - 2}" '
                         f'fill="{colour}" fill-opacity="{level / 4:.2f}"/>')
    parts.append("</svg>")
    return "".join(parts)


def legend_html(trace: Trace) -> str:
    """Swatch, name, count and (as a tooltip) the catalogue's meaning of each kind present."""
    items = []
    for name, count in trace.totals().items():
        items.append(f'<span class="monviz-legend-item" title="{escape(kind_meaning(name))}">'
                     f'<span style="display:inline-block;width:10px;height:10px;'
                     f'background:{kind_colour(name)};margin-right:4px"></span>'
                     f'{escape(name)} {count:,}</span>')
    codes = []
    for cid, info in enumerate(trace.code_infos()):
        if len(codes) >= len(CODE_COLOURS):
            break
        codes.append(f'<span class="monviz-legend-item" title="{escape(info.location)}">'
                     f'<span style="display:inline-block;width:10px;height:10px;'
                     f'background:{code_colour(cid)};margin-right:4px"></span>'
                     f'{escape(info.qualname)}</span>')
    style = "display:flex;flex-wrap:wrap;gap:4px 14px;font:12px sans-serif;margin:4px 0"
    return (f'<div class="monviz-legend" style="{style}">{"".join(items)}</div>'
            f'<div class="monviz-legend" style="{style}">{"".join(codes)}</div>')


def summary_html(trace: Trace) -> str:
    """The trace's own summary table (counts per code object and kind, first and last events)."""
    from .summary import BRIEF_ABOVE, brief_summary_html, trace_summary_html

    return brief_summary_html(trace) if len(trace) > BRIEF_ABOVE else trace_summary_html(trace)


def _raised_cap(kept: int) -> int:
    """A cap to suggest: ten times what was kept, rounded to a round number."""
    want = max(10 * kept, 10)
    mag = 10 ** (len(str(want)) - 1)
    return -(-want // mag) * mag


def cap_notice(trace: Trace) -> list[str] | None:
    """What to say when the cap stopped a recording: a headline and how to raise the cap
    (the option names of ``monviz.record``, ``%%monitor`` and ``python -m monviz run``).

    ``trace.dropped`` counts only the events raised past the cap before monitoring
    stopped; the program then ran on unmonitored, and what it did is not counted, so
    the text says "at least". ``None`` when the recording was not stopped early.
    """
    if not trace.truncated:
        return None
    from ..recorder import DEFAULT_MAX_EVENTS

    n = len(trace)
    more = _raised_cap(n)
    head = (f"Recording stopped at {n:,} events (the cap): at least {trace.dropped:,} more "
            "were raised and not recorded, and the program ran on unmonitored after that, "
            "so the timeline ends where the cap was reached.")
    how = (f"To record more, raise the cap: monviz.record(..., max_events={more:_}), "
           f"%%monitor --max-events {more} or python -m monviz run --max-events {more} "
           f"(the default is {DEFAULT_MAX_EVENTS:,}; {MB_PER_MILLION} MB per million events "
           "in the kernel, and as much sent to the browser).")
    return [head, how]


#: Memory of a recording, per million events (compiled backend, kept columns; measured by
#: benchmarks/widgets.py: the kernel's RSS grows by about this much, the payload is 6.7 MB).
MB_PER_MILLION = "about 8-10"


def cap_notice_html(trace: Trace) -> str:
    """:func:`cap_notice` as an escaped banner, or the empty string."""
    lines = cap_notice(trace)
    if not lines:
        return ""
    style = ("font:13px sans-serif;background:#fff4e5;border:1px solid #f0b35a;"
             "border-radius:4px;padding:6px 10px;margin:4px 0;color:#5a3b00")
    return (f"<div class='monviz-cap' role='status' style='{style}'><b>{escape(lines[0])}</b>"
            f"<br>{escape(lines[1])}</div>")


def timeline_html(trace: Trace) -> str:
    """The static fallback of the Timeline widget: overview, legend and summary table."""
    note = ("<p class='monviz-static-note' style='font:12px sans-serif;color:#666'>"
            "Static overview (the interactive timeline needs a running kernel).</p>")
    return ("<div class='monviz-timeline-static'>" + note + cap_notice_html(trace)
            + overview_svg(trace)
            + legend_html(trace) + values_html(trace) + summary_html(trace) + "</div>")


#: Frames and variables shown in the static view, at most.
STATIC_FRAMES, STATIC_VARS = 8, 40


def values_html(trace: Trace, step: int | None = None) -> str:
    """The frames and their variables at one step (default: the last), as an escaped
    table: what a values recording shows without a kernel; empty without values."""
    if trace.values is None or not len(trace):
        return ""
    step = len(trace) - 1 if step is None else step
    frames = trace.frames_at(step)
    cell = "padding:1px 8px 1px 0;text-align:left;vertical-align:top"
    boxes = []
    for frame in reversed(frames[-STATIC_FRAMES:]):
        rows = []
        for name, text in list(frame.locals.items())[:STATIC_VARS]:
            tag = frame.objects.get(name)
            badge = f"<span style='color:#777'>#{tag} </span>" if tag is not None else ""
            mark = " style='background:#fff3c4'" if name in frame.changed else ""
            rows.append(f"<tr{mark}><th style='{cell};font-weight:500'>{escape(name)}</th>"
                        f"<td style='{cell}'>{badge}{escape(text)}</td></tr>")
        where = f" line {frame.line}" if frame.line is not None else ""
        boxes.append(
            "<div style='border:1px solid #d9dee5;border-radius:4px;padding:3px 6px;margin:3px 0'>"
            f"<b>{escape(frame.qualname)}</b><span style='color:#777'>{where}</span>"
            "<table style='border-collapse:collapse;font:12px monospace'>"
            + "".join(rows) + "</table></div>")
    title = (f"<div style='font:600 12px sans-serif;margin-top:6px'>Variables at step "
             f"{step:,} (innermost frame first)</div>")
    return ("<div class='monviz-values-static' style='font:12px sans-serif'>" + title
            + ("".join(boxes) or "<i>no variables read at this step</i>") + "</div>")
