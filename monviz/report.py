"""A trace as one self-contained HTML file: the notebook's views, with no notebook.

``trace.save_html(path)`` (and ``python -m monviz run``) write a page that holds
everything it shows — the Timeline and CFGView widgets' own JavaScript and CSS,
the trace's columns, its source text, every control-flow graph already laid out
as SVG — and nothing it must fetch: no URL, font or script from elsewhere, so
it opens from ``file://`` offline, and it can be mailed, attached or handed in.
Without Graphviz's ``dot`` (or with ``MONVIZ_LAYOUT=browser``) the graphs travel as
DOT text with Viz.js (Graphviz in WebAssembly, 1.2 MB, about 0.63 MB more in the
file) inside the payload, and the page lays each out when it is first shown.

The widgets run unchanged: ``widgets/host.js`` gives them a small model in place
of the kernel's and links the timeline's cursor to the graph, as ``monviz.show``
does with ``jslink`` in a notebook. The data travels as one gzip'd blob in
base64 (about 2-4 bytes per event; see ``widgets/_payload.py`` for the columns),
so no user-derived text stands in the HTML outside the few places below where it
is escaped.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import pathlib
import struct
import sys
import time
from typing import TYPE_CHECKING

from .errors import MonvizError

if TYPE_CHECKING:
    from .trace import Trace

_WIDGETS = pathlib.Path(__file__).parent / "widgets"

#: The graphs laid out for a report, at the most (the code objects with most events first).
MAX_GRAPHS = 200

#: Alignment of each buffer in the blob, so the browser views it in place.
_ALIGN = 8


def _pack(info: dict, buffers: dict[str, bytes]) -> bytes:
    """u32 length + JSON + the buffers (aligned), the JSON naming each buffer's place."""
    places: dict[str, list[int]] = {}
    head = b""
    for _ in range(3):  # the offsets depend on the header's length: settle it
        offset = 4 + len(head)
        offset += -offset % _ALIGN
        for name, data in buffers.items():
            places[name] = [offset, len(data)]
            offset += len(data) + (-len(data) % _ALIGN)
        head = json.dumps({**info, "buffers": places}, ensure_ascii=False,
                          separators=(",", ":")).encode()
    out = bytearray(struct.pack("<I", len(head)) + head)
    for name, data in buffers.items():
        out += b"\0" * (places[name][0] - len(out))
        out += data
    return bytes(out)


#: The name the report's host gives the model that holds Viz.js (a CFGView's ``_viz``).
VIZ_MODEL = "monviz-viz"


def _graphs(trace: Trace, progress) -> tuple[dict | None, str | None]:
    """The CFGView's state with every graph laid out (or its DOT text, for the browser
    to lay out), or why there is none."""
    from .widgets.cfgview import CFGView

    missing = "The control-flow graphs are not in this report: "
    try:
        view = CFGView(trace)
    except MonvizError as exc:  # no live code objects (a trace loaded from JSON)
        return None, missing + str(exc)
    keys = list(view._entries)
    ranked = _by_events(trace, keys)[:MAX_GRAPHS]
    browser = view._layout == "browser"
    for done, key in enumerate(ranked, 1):
        view._ensure_drawn(key)
        if view._error and not view._svgs and not view._dots:  # every graph would fail alike
            return None, missing + view._error
        progress(f"{'writing' if browser else 'laying out'} control-flow graphs: "
                 f"{done}/{len(ranked)}")
    error = view._error
    if len(keys) > len(ranked):
        error = (f"{len(keys) - len(ranked):,} code objects with the fewest events are not "
                 f"drawn (a report draws {MAX_GRAPHS} graphs at the most)")
    drawn = set(ranked)
    ready = view._dots if browser else view._svgs
    order = [k for k in view._order if k in drawn and k in ready]
    state = {"code": view.code if view.code in ready else order[0], "view": view.view,
             "block": -1, "edge": -1, "follow": True,
             "_graphs": {k: view._graphs[k] for k in order}, "_order": order,
             "_svgs": dict(view._svgs), "_dots": dict(view._dots), "_layout": view._layout,
             # big graphs stay folded: no kernel here to lay an opened section out
             "_maps": {k: view._maps[k] for k in order if k in view._maps}, "_open": {},
             "_can_open": False,
             "_viz": f"IPY_MODEL_{VIZ_MODEL}" if browser else None, "_error": error or ""}
    return state, None


def _by_events(trace: Trace, keys: list[str]) -> list[str]:
    """Graph keys (``c<code index>``) with the most events first."""
    from collections import Counter

    d = trace._d
    starts = [*d.code_start, len(trace)]
    events: Counter = Counter()
    for cid, start, end in zip(d.code_id, starts, starts[1:]):
        events[f"c{cid}"] += end - start
    return sorted(keys, key=lambda k: -events[k])


def _codes_table(trace: Trace) -> dict:
    """Per code object that ran: name, place, counts per kind and its first event."""
    infos = trace.code_infos()
    index = {id(info): cid for cid, info in enumerate(infos)}
    d = trace._d
    first: dict[int, int] = {}
    for cid, start in zip(d.code_id, d.code_start):
        first.setdefault(cid, start)
    kinds = list(trace.totals())
    rows = []
    for info, per in trace.counts().items():
        cid = index.get(id(info), -1)
        rows.append({"key": f"c{cid}", "qualname": info.qualname, "where": info.location,
                     "counts": [per.get(k, 0) for k in kinds], "first": first.get(cid, -1)})
    return {"kinds": kinds, "rows": rows}


def _timeline(trace: Trace) -> tuple[dict, dict[str, bytes]]:
    from .widgets import _payload
    from .widgets.timeline import SPEEDS, Timeline

    meta, buffers = _payload.build(trace)
    state = {"_meta": meta, "_columns": {}, "_speeds": list(SPEEDS), "step": 0,
             "seek_kind": Timeline.default_seek_kind(trace), "playing": False, "speed": 5.0}
    return state, buffers


def _quiet(message: str) -> None:
    pass


def _asset(name: str) -> str:
    return (_WIDGETS / name).read_text(encoding="utf-8")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def report_html(trace: Trace, *, title: str | None = None, command: str | None = None,
                progress=_quiet) -> str:
    """The report's HTML text (see the module docstring); ``progress`` gets status lines."""
    from . import __version__
    from .trace import Trace

    if not isinstance(trace, Trace):
        from .errors import InvalidArgumentError

        raise InvalidArgumentError(f"a report needs a monviz.Trace, not {type(trace).__name__}")
    progress("packing the trace")
    timeline, buffers = _timeline(trace)
    cfg, missing = _graphs(trace, progress)
    info = {"timeline": timeline, "cfg": cfg, "cfg_missing": missing,
            "codes": _codes_table(trace), "viz": None}
    if cfg is not None and cfg["_layout"] == "browser":  # the page lays the graphs out
        from .render.graph import viz_js

        version, source = viz_js()
        info["viz"] = {"model": VIZ_MODEL, "version": version, "buffer": "viz.js"}
        buffers = {**buffers, "viz.js": source}
    progress("compressing")
    blob = gzip.compress(_pack(info, buffers), compresslevel=6, mtime=0)
    data = base64.b64encode(blob).decode()
    title = title or f"monviz report: {len(trace):,} events"
    about = (f"monviz {__version__} · Python {trace.python} · {len(trace):,} events · "
             f"made {time.strftime('%Y-%m-%d %H:%M')}")
    css = "\n".join(_asset(n) for n in ("timeline.css", "cfgview.css", "report.css"))
    modules = {"monviz-host-js": "host.js", "monviz-timeline-js": "timeline.js",
               "monviz-cfg-js": "cfgview.js"}
    scripts = "\n".join(f'<script id="{id_}" type="text/plain">{_b64(_asset(name))}</script>'
                        for id_, name in modules.items())
    esc = html.escape
    cmd = (f"<p class='monviz-command'><code>{esc(command)}</code></p>" if command else "")
    exc = (f"<p class='monviz-raised'>the program raised <code>{esc(trace.exception_repr)}"
           "</code></p>" if trace.exception_repr else "")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="monviz {esc(__version__)}">
<title>{esc(title)}</title>
<style>
{css}
</style>
</head>
<body>
<header class="monviz-report-head">
<h1>{esc(title)}</h1>
{cmd}{exc}<p class="monviz-about">{esc(about)}</p>
</header>
<p id="monviz-status">Opening the trace… (this page needs JavaScript)</p>
<main>
<section id="monviz-timeline"></section>
<section id="monviz-cfg"></section>
<h2>Code objects</h2>
<section id="monviz-explorer"></section>
</main>
<footer>Keys: ← → step (Shift: 10), Home / End, Space plays. Choose a code object to see
its graph. Made by monviz, which records CPython's <code>sys.monitoring</code> events.</footer>
<script id="monviz-data" type="application/octet-stream">{data}</script>
{scripts}
<script type="module">
const src = (id) => "data:text/javascript;base64," + document.getElementById(id).textContent;
const host = await import(src("monviz-host-js"));
await host.boot({{
  data: document.getElementById("monviz-data").textContent,
  timelineModule: src("monviz-timeline-js"),
  cfgModule: src("monviz-cfg-js"),
}});
</script>
</body>
</html>
"""


def save_html(trace: Trace, path, *, title: str | None = None, command: str | None = None,
              progress=_quiet) -> pathlib.Path:
    """Write :func:`report_html` to ``path``; the path written."""
    path = pathlib.Path(path)
    text = report_html(trace, title=title, command=command, progress=progress)
    path.write_text(text, encoding="utf-8")
    return path


def stderr_progress(message: str) -> None:
    """Progress on one line of a terminal's stderr (nothing when stderr is not one);
    an empty message clears the line."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\x1b[K{'monviz: ' + message if message else ''}")
        sys.stderr.flush()
