"""The widgets without a browser: payload, static fallback, reprs, traits, escaping.

The payload is checked against the Trace it came from (its columns read back
from the bytes; per-kind facts against the event catalogue). The JavaScript
that reads it (``TraceData`` in timeline.js) is run under Node, when there is
one, and must give back every event exactly as ``trace[i]`` does. Browser
behaviour is tested in tests/browser/.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
import time
import zlib
from array import array
from itertools import chain, repeat
from pathlib import Path

import ipywidgets
import pytest

import monviz
from monviz import Trace, _stream
from monviz.cfg import cfg
from monviz.events import CATALOGUE
from monviz.render.timeline import kind_colour, overview_svg, timeline_html
from monviz.versions import BRANCH_EVENTS
from monviz.widgets import CFGView, Linked, Timeline, _payload, show

EVIL = "<img src=x onerror=alert(1)>"
#: what a conditional branch is reported as (BRANCH until 3.13, BRANCH_LEFT/RIGHT from 3.14)
BRANCHES = ("BRANCH", "BRANCH_LEFT", "BRANCH_RIGHT")
JUMPS = (*BRANCHES, "JUMP")

SOURCE = textwrap.dedent('''\
    class Evil:
        def __repr__(self):
            return "<img src=x onerror=alert(1)>"


    def classify(n, tag):
        total = 0
        for i in range(n):
            if tag == "<img src=x onerror=alert(1)>":
                total += i
            else:
                total -= 1
        return Evil() if total < 0 else total


    result = classify(3, "x")
''')


@pytest.fixture(scope="module")
def recorded():
    ns: dict = {}
    trace = monviz.record(SOURCE, namespace=ns)
    return trace, ns


@pytest.fixture(scope="module")
def trace(recorded) -> Trace:
    return recorded[0]


# -- synthetic traces of any length ------------------------------------------------------

_TILE = textwrap.dedent("""\
    def fib(n):
        if n < 2:
            return n
        return fib(n - 1) + fib(n - 2)


    fib(9)
""")


def synthetic(n: int) -> Trace:
    """A trace of at least ``n`` events: a real small recording, repeated (balanced frames,
    so depths and spans stay right); times keep increasing."""
    base = monviz.record(_TILE)
    d = _stream.Decoded()
    for name in _stream.PACKED:  # arrays, also from the compiled backend's memoryviews
        col = getattr(base._d, name)
        setattr(d, name, array(_stream.typecode(col), col.tobytes()))
    d.values, d.threads = base._d.values, base._d.threads
    size = len(base)
    reps = math.ceil(n / size)
    out = _stream.Decoded()
    for name in ("kind", "a", "jump_dest", "value_ids", "call_func", "call_arg0"):
        setattr(out, name, getattr(d, name) * reps)
    out.depth = array(d.depth.typecode)
    shift = d.time_ns[-1] + 1000
    offsets = chain.from_iterable(repeat(r * shift, len(d.time_ns)) for r in range(reps))
    out.time_ns = array("q", map(sum, zip(d.time_ns * reps, offsets)))
    starts = [s + r * size for r in range(reps) for s in d.code_start]
    out.code_start = _stream.narrow(starts, reps * size, signed=False)
    out.code_id = d.code_id * reps
    out.thread_start, out.thread_idx = array("B", [0]), array("B", [0])
    out.values, out.threads, out.dropped, out.level0 = d.values, d.threads, 0, 0
    out.count = len(out.kind)
    return Trace(out, kind_names=base.kind_names, codes=base.code_infos(), sources=base.sources,
                 events=base.events)


# -- payload ---------------------------------------------------------------------------


def _read(buffers, described, name):
    col = array({v: k for k, v in _payload.TYPES.items() if k not in "lL"}[
        described[name]["type"]])
    col.frombytes(buffers[name])
    return col


def test_payload_columns_are_the_trace_columns(trace):
    meta, buffers = _payload.build(trace)
    described = meta["columns"]
    assert meta["n"] == len(trace)
    assert list(_read(buffers, described, "kind")) == list(trace._d.kind)
    assert list(_read(buffers, described, "depth")) == [ev.depth for ev in trace]
    runs = list(zip(_read(buffers, described, "code_start"), _read(buffers, described, "code_id")))
    dense = [next(c for s, c in reversed(runs) if s <= i) for i in range(len(trace))]
    assert dense == trace.code_ids()
    jumps = iter(_read(buffers, described, "jump_dest"))
    assert [next(jumps) if ev.target is not None else None for ev in trace] == \
        [ev.target for ev in trace]
    assert json.loads(buffers["values"]) == list(trace._d.values)
    for name, info in described.items():
        assert len(buffers[name]) == info["length"] * array(
            {v: k for k, v in _payload.TYPES.items() if k not in "lL"}[info["type"]]).itemsize


def test_payload_kinds_come_from_the_catalogue(trace):
    meta, _ = _payload.build(trace)
    assert [k["name"] for k in meta["kinds"]] == list(trace.kind_names)
    for k in meta["kinds"]:
        assert k["meaning"] == CATALOGUE[k["name"]].meaning
        assert k["colour"] == kind_colour(k["name"])
    by = {k["name"]: k for k in meta["kinds"]}
    assert by["LINE"]["line"] and not by["CALL"]["line"]
    assert by["PY_START"]["push"] and by["PY_RETURN"]["pop"]
    assert by["PY_RETURN"]["field"] == "value" and by["RAISE"]["field"] == "exception"
    layout = _stream.Layout.of(trace.kind_names)
    for table, kinds in meta["tables"].items():
        assert kinds == [k for k in range(len(trace.kind_names)) if layout.tables[table][k]]


def test_payload_codes_and_sources(trace):
    meta, _ = _payload.build(trace)
    infos = trace.code_infos()
    assert [c["qualname"] for c in meta["codes"]] == [i.qualname for i in infos]
    classify = next(c for c in meta["codes"] if c["qualname"] == "classify")
    assert meta["files"][classify["file"]]["source"] == SOURCE
    code = next(i.code for i in infos if i.qualname == "classify")
    positions = list(code.co_positions())
    assert len(classify["positions"]) == 4 * len(positions)
    assert classify["positions"][4:8] == [-1 if v is None else v for v in positions[1]]


def test_payload_of_a_million_events_is_small_fast_and_has_no_per_event_loop():
    big = synthetic(1_000_000)
    assert len(big) >= 1_000_000
    best = math.inf
    for _ in range(2):
        fresh = big._with(big._d)  # nothing derived yet (depths are derived inside)
        t = time.perf_counter()
        payload = _payload.build(fresh)
        best = min(best, time.perf_counter() - t)
    sent = _payload.nbytes(payload)
    print(f"\npayload of {len(big):,} events: {sent / 1e6:.1f} MB in {best * 1000:.0f} ms")
    assert sent < 32e6
    assert sent / len(big) < 16
    assert best < 1.0

    # the Python lines run do not grow with the number of events
    def lines_run(t: Trace) -> int:
        count = 0

        def tracer(frame, event, arg):
            nonlocal count
            if event == "line" and "monviz" in frame.f_code.co_filename:
                count += 1
            return tracer

        sys.settrace(tracer)
        try:
            _payload.build(t)
        finally:
            sys.settrace(None)
        return count

    small = synthetic(2_000)
    assert lines_run(small._with(small._d)) == lines_run(synthetic(200_000))


# -- static fallback and escaping ------------------------------------------------------------


def test_static_html_shows_user_strings_as_text(recorded):
    trace, ns = recorded
    html = Timeline(trace)._repr_mimebundle_()[0]["text/html"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;module&gt;" in html
    assert "<img" not in html and "<module>" not in html
    view = CFGView(ns["classify"], trace)
    svg = view._repr_mimebundle_()[0]["image/svg+xml"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg  # the `if tag == "<img ...>"` line
    assert "<img" not in svg
    linked = show(trace)._repr_mimebundle_()["text/html"]
    assert "<img" not in linked and "&lt;img src=x onerror=alert(1)&gt;" in linked
    assert "<svg" in linked  # the graph, inline


def test_static_overview_is_bounded_for_a_million_events():
    """Its size does not grow with the trace (its time is in benchmarks/widgets.py)."""
    big = synthetic(1_000_000)
    html = timeline_html(big)
    svg = overview_svg(big)
    assert svg.count("<rect") < 5000
    assert len(html) < 300_000
    assert len(timeline_html(synthetic(10_000))) > len(html) / 10


def test_bundles_carry_widget_view_text_and_static(trace, recorded):
    bundle, _ = Timeline(trace)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "application/vnd.jupyter.widget-view+json", "text/html"}
    bundle, _ = CFGView(recorded[1]["classify"])._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


def test_reprs_have_no_address(trace, recorded):
    widgets = [Timeline(trace), CFGView(recorded[1]["classify"], trace), show(trace)]
    texts = [repr(w) for w in widgets]
    assert texts[0] == f"Timeline({len(trace)} events, 3 code objects, step=0)"
    assert texts[1].startswith("CFGView(classify: ")
    assert texts[2].startswith(f"monviz.show({len(trace)} events")
    for w, text in zip(widgets, texts):
        assert "0x" not in text and " at " not in text
        bundle = w._repr_mimebundle_()
        plain = (bundle[0] if isinstance(bundle, tuple) else bundle)["text/plain"]
        assert "0x" not in plain


# -- traits and Python-side behaviour ------------------------------------------------------


def test_step_is_clamped_and_names_the_event(trace):
    w = Timeline(trace)
    w.step = 5
    assert w.event == trace[5]
    w.step = 10**9
    assert w.step == len(trace) - 1
    w.step = -3
    assert w.step == 0
    assert w.seek_kind in BRANCHES


def test_next_and_previous_of_a_kind(trace):
    w = Timeline(trace)
    kind = w.seek_kind
    branches = [ev.index for ev in trace if ev.event == kind]
    assert w.next_of() == branches[0] == w.step
    assert w.next_of(kind.lower()) == branches[1]
    assert w.previous_of() == branches[0]
    assert w.previous_of() is None and w.step == branches[0]
    returns = [ev.index for ev in trace if ev.event == "PY_RETURN"]
    assert w.next_of("PY_RETURN") == next(r for r in returns if r > branches[0])


def test_an_empty_trace_still_makes_a_widget_and_a_page():
    empty = monviz.record("x = 1", events=list(BRANCH_EVENTS))  # no branch in it
    assert len(empty) == 0
    w = Timeline(empty)
    assert w.step == 0 and w.event is None and w.seek_kind == ""
    assert "0 events" in w._repr_mimebundle_()[0]["text/html"]


def test_timeline_rejects_non_traces():
    with pytest.raises(monviz.MonvizError, match=r"needs a monviz\.Trace"):
        Timeline([1, 2, 3])


def test_cfgview_switches_graphs_and_renders_lazily(recorded, monkeypatch):
    trace, ns = recorded
    monkeypatch.setattr("monviz.widgets.cfgview.EAGER", 1)
    view = CFGView(trace)
    assert view.code == "c0" and list(view._svgs) == ["c0"]
    assert set(view.codes.values()) == {"<module>", "Evil", "classify"}
    view.show_code(ns["classify"])
    assert view.graph.qualname == "classify" and view.code in view._svgs
    graph = cfg(ns["classify"])
    branch = next(e for e in graph.edges if e.kind == "branch")
    view.highlight(block=branch.dst, edge=view.graph.edges[graph.edges.index(branch)])
    assert (view.block, view.edge) == (branch.dst, graph.edges.index(branch))
    view.view = "bytecode"
    assert list(view._svgs) == [view.code] and "FOR_ITER" in view._svgs[view.code]
    assert view.graph.qualname == "classify"
    with pytest.raises(monviz.MonvizError, match="no graph for"):
        view.show_code("nope")


def test_cfgview_draws_no_counts_for_huge_traces(recorded, monkeypatch):
    trace, ns = recorded
    monkeypatch.setattr("monviz.widgets.cfgview.OVERLAY_LIMIT", 10)
    view = CFGView(ns["classify"], trace)
    assert "ran " not in view._svgs[view.code] and "counts are not drawn" in view._error
    monkeypatch.setattr("monviz.widgets.cfgview.OVERLAY_LIMIT", 10**9)
    assert "ran 1×" in CFGView(ns["classify"], trace)._svgs["c3"]


def test_cfgview_describes_edges_by_the_pairs_events_report(recorded):
    trace, ns = recorded
    view = CFGView(ns["classify"], trace)
    desc = view._graphs[view.code]
    for ev in trace:
        if ev.event in JUMPS and ev.code.qualname == "classify":
            edge = view.graph.edge_for(ev.offset, ev.target, ev.event)
            assert view.graph.edges.index(edge) in desc["pairs"][f"{ev.offset},{ev.target}"]


def test_show_links_timeline_cursor_to_the_graph(trace):
    linked = show(trace)
    assert isinstance(linked, Linked) and isinstance(linked, ipywidgets.VBox)
    assert linked.children == (linked.timeline, linked.cfgview)
    link = linked._link
    assert link.source == (linked.timeline, "cursor") and link.target == (linked.cfgview, "cursor")
    linked.step = 7
    assert linked.timeline.step == 7


def test_show_without_live_code_shows_the_timeline_alone(trace):
    loaded = Trace.from_json(trace.to_json())
    linked = show(loaded)
    assert linked.cfgview is None and linked.children == (linked.timeline,)


def test_widgets_are_exported_lazily():
    code = "import sys, monviz; print('anywidget' in sys.modules, monviz.Timeline.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert out == ["False", "Timeline"]
    assert monviz.show is show and monviz.CFGView is CFGView


# -- the browser's reading of the payload, under Node ------------------------------------------

_NODE_SCRIPT = """
import { readFileSync } from "node:fs";
import { Inflater, ListReader, TraceData } from "./timeline.mjs";
// SLICE > 0: as the view works while chunks come: each chunk taken in (enqueue), then
// derived SLICE events at a time (work), the next chunk often taken in before the last
// is done; the value strings parsed SLICE bytes at a time
const SLICE = Number(process.argv[2] || 0);
// "deflate": the chunks and the value strings came deflated, as a browser asks for them
const inflater = process.argv[3] === "deflate" ? new Inflater() : null;
const inflated = async (names, part) => {
  if (!inflater) return part;
  const out = await inflater.inflate(names.map((name) => part[name]));
  return Object.fromEntries(names.map((name, j) => [name, out[j]]));
};
const { meta, names } = JSON.parse(readFileSync("meta.json", "utf8"));
const cols = {};
for (const n of names) {
  const b = readFileSync(n + ".bin"); // a view into a shared pool: offsets as in a browser
  cols[n] = new DataView(b.buffer, b.byteOffset, b.byteLength);
}
const d = new TraceData(meta, cols);
// the other chunks (a streamed Timeline), in order, and the value strings after them
const valuesBuf = (await inflated(["v"], { v: readFileSync("values.json") })).v;
if (!d.values && SLICE) { // first, as the view asks for them first
  const reader = new ListReader(valuesBuf);
  while (reader.step(SLICE));
  d.values = reader.items;
}
const loadedAfter = [d.loaded];
const partial = []; // between slices: the last event derived, as the view would show it
const work = () => {
  d.work(SLICE);
  const i = d.loaded - 1;
  partial.push({ ...d.details(i), stack: d.stack(i).map((f) => [f.code, f.start, f.line]),
                 cursor: d.cursor(i) });
};
for (const { head, file } of JSON.parse(readFileSync("chunks.json", "utf8"))) {
  let part = {};
  head.names.forEach((name) => {
    const b = readFileSync(`${file}_${name}.bin`);
    part[name] = new DataView(b.buffer, b.byteOffset, b.byteLength);
  });
  if (Boolean(head.deflate) !== (inflater !== null)) throw new Error("deflated or not?");
  part = await inflated(head.names, part);
  if (SLICE) {
    d.enqueue(head, part);
    work();
  } else d.append(head, part);
  loadedAfter.push(d.loaded);
}
while (SLICE && d.backlog > 0) work();
if (!d.values) d.setValues(valuesBuf);
const out = [];
for (let i = 0; i < d.n; i++) {
  const det = d.details(i);
  out.push({ ...det, stack: d.stack(i).map((f) => [f.code, f.start, f.line]),
             cursor: d.cursor(i) });
}
const spans = [];
for (let s = 0; s < d.spanCount; s++) {
  spans.push([d.spanStart[s], d.spanEnd[s], d.spanDepth[s], d.spanCode[s]]);
}
const counts = Array.from(d.running.slice(0, d.kinds.length));
console.log(JSON.stringify({ events: out, spans, loadedAfter, counts, partial,
                             blocks: Array.from(d.blocks) }));
"""


def _run_trace_data(trace, tmp_path, chunk=None, slice_=0, deflated=False) -> dict:
    """What timeline.js's TraceData reads from the payload, chunk after chunk under Node
    (``slice_``: derived that many events at a time; ``deflated``: the chunks and value
    strings sent deflated, inflated by timeline.js's Inflater)."""
    meta, buffers, cuts = _payload.build_chunked(trace, chunk)
    (tmp_path / "meta.json").write_text(json.dumps({"meta": meta, "names": list(buffers)}))
    for name, data in buffers.items():
        (tmp_path / f"{name}.bin").write_bytes(data)
    chunks = []
    for c in range(1, cuts.count):
        head, parts = cuts.chunk(c, deflated)
        for name, data in parts.items():
            (tmp_path / f"c{c}_{name}.bin").write_bytes(data)
        chunks.append({"head": json.loads(json.dumps(head)), "file": f"c{c}"})
    (tmp_path / "chunks.json").write_text(json.dumps(chunks))
    values = _payload.values_buffer(trace)
    (tmp_path / "values.json").write_bytes(_payload.deflate(values) if deflated else values)
    js = Path(monviz.widgets.__file__).parent / "timeline.js"
    shutil.copy(js, tmp_path / "timeline.mjs")
    (tmp_path / "run.mjs").write_text(_NODE_SCRIPT)
    result = subprocess.run(["node", "run.mjs", str(slice_), "deflate" * deflated],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _python_stack(trace) -> list:
    """[(code, first event, line)] of the open frames at each event, outermost first,
    from the events alone (a frame's line: its last event before the next frame began)."""
    out, frames = [], []
    for ev in trace:
        while frames and frames[-1][3] > ev.depth:
            frames.pop()
        if frames and frames[-1][3] == ev.depth and (
                frames[-1][0] != ev.code or ev.event in ("PY_START", "PY_THROW")):
            frames.pop()
        if not frames or frames[-1][3] < ev.depth:
            frames.append([ev.code, ev.index, None, ev.depth])
        frames[-1][2] = ev.line
        out.append([(f[0], f[1], f[2]) for f in frames])
    return out


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js not installed")
def test_browser_side_reads_every_event_as_python_does(trace, tmp_path):
    meta, _ = _payload.build(trace)
    got = _run_trace_data(trace, tmp_path)
    assert got["loadedAfter"] == [len(trace)]  # one chunk: the whole trace at once
    assert len(got["spans"]) == sum(1 for ev in trace if ev.event == "PY_START")  # per frame
    for ev, js_ev in zip(trace, got["events"], strict=True):
        for field in ("event", "line", "offset", "target", "callable", "arg0", "value",
                      "exception", "depth"):
            assert js_ev[field] == getattr(ev, field), (ev, field, js_ev[field])
        assert js_ev["code"] == ev.code.qualname
        assert js_ev["time"] == ev.time_ns
        # the open frames: as many as the depth says, innermost this event's code object
        assert len(js_ev["stack"]) == ev.depth + 1
        assert meta["codes"][js_ev["stack"][-1][0]]["qualname"] == ev.code.qualname
        cursor = js_ev["cursor"]
        assert (cursor["offset"], cursor["line"], cursor["target"]) == (
            ev.offset, ev.line, ev.target)
    # the jump just taken, for each event of classify: the last BRANCH/JUMP of its frame
    last = None
    for ev, js_ev in zip(trace, got["events"]):
        if ev.code.qualname != "classify":
            continue
        if ev.event == "PY_START":
            last = None
        if ev.event in JUMPS:
            last = [ev.offset, ev.target, ev.event]
        assert js_ev["cursor"]["jump"] == last, ev


# -- a saved notebook without widget state ----------------------------------------------------


@pytest.mark.notebook
def test_nbconvert_html_shows_the_static_fallback(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        f"import monviz\ntrace = monviz.record({SOURCE!r})\nmonviz.show(trace)")]
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", store_widget_state=False,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    data = nb.cells[0].outputs[0]["data"]
    assert data["text/plain"].startswith("monviz.show(")
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert "monviz-overview" in html and "monviz-cfg-static" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html


_NODE_VALUES = """
import { readFileSync } from "node:fs";
import { TraceData } from "./timeline.mjs";
const { meta, names, asks } = JSON.parse(readFileSync("meta.json", "utf8"));
const cols = {};
for (const n of names) {
  const b = readFileSync(n + ".bin");
  cols[n] = new DataView(b.buffer, b.byteOffset, b.byteLength);
}
const d = new TraceData(meta, cols);
const frames = [];
for (let i = 0; i < d.n; i++) frames.push(d.fv.framesAt(i));
const histories = asks.map(([f, name]) => d.fv.history(f, name));
console.log(JSON.stringify({ frames, histories }));
"""

VALUES_PROGRAM = """\
def search(xs, target):
    lo, hi = 0, len(xs) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if xs[mid] == target:
            return mid
        if xs[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1

def fill(grid, k):
    row = grid[k]
    row.append(k)
    return grid

data = [2, 4, 6, 8, 10, 12]
alias = data
found = search(data, 10)
grid = [[], []]
for k in range(2):
    fill(grid, k)
alias.append(found)
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js not installed")
def test_browser_side_shows_the_variables_python_does(tmp_path):
    trace = monviz.record(VALUES_PROGRAM, values=True)
    meta, buffers = _payload.build(trace)
    asks = sorted({(f.serial, name) for i in range(len(trace)) for f in trace.frames_at(i)
                   for name in f.locals})
    (tmp_path / "meta.json").write_text(json.dumps({"meta": meta, "names": list(buffers),
                                                    "asks": asks}))
    for name, data in buffers.items():
        (tmp_path / f"{name}.bin").write_bytes(data)
    shutil.copy(Path(monviz.widgets.__file__).parent / "timeline.js", tmp_path / "timeline.mjs")
    (tmp_path / "run.mjs").write_text(_NODE_VALUES)
    result = subprocess.run(["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    infos = trace.code_infos()
    for i in range(len(trace)):
        expected = [{"frame": f.serial, "qualname": f.qualname, "line": f.line,
                     "vars": [{"name": k, "text": v, "tag": f.objects.get(k),
                               "changed": k in f.changed} for k, v in f.locals.items()]}
                    for f in trace.frames_at(i)]
        shown = [{"frame": f["frame"], "qualname": infos[f["code"]].qualname, "line": f["line"],
                  "vars": f["vars"]} for f in got["frames"][i]]
        assert shown == expected, i
    assert any(len(fs) == 2 for fs in got["frames"])
    for (serial, name), history in zip(asks, got["histories"], strict=True):
        expected = [(c.index, c.line, c.value) for c in trace.values_of(name)
                    if c.frame == serial]
        assert [(h["event"], h["line"], h["text"]) for h in history] == expected, name


def test_the_static_view_of_a_values_trace_shows_the_last_steps_variables_escaped():
    from monviz.render.timeline import timeline_html, values_html

    trace = monviz.record("xs = ['<b>']\nys = xs\nn = len(xs)\n", values=True)
    html = timeline_html(trace)
    assert values_html(trace) in html
    assert "&lt;b&gt;" in html and "<b>'" not in html
    frame = trace.frames_at(len(trace) - 1)[-1]
    assert html.count(f"#{frame.objects['xs']} ") == 2  # xs and ys: one object
    assert values_html(monviz.record("x = 1\n")) == ""


# -- honest limits: a recording the cap stopped says so, and how to raise it -------------------


def test_a_capped_recording_says_what_was_dropped_and_how_to_raise_the_cap():
    import inspect

    from monviz import magic
    from monviz.recorder import DEFAULT_MAX_EVENTS
    from monviz.render.timeline import cap_notice

    full = monviz.record(_TILE)
    capped = monviz.record(_TILE, max_events=40)
    assert capped.truncated and capped.dropped >= 1 and len(capped) == 40
    assert cap_notice(full) is None and _payload.build(full)[0]["cap"] is None
    head, how = _payload.build(capped)[0]["cap"]
    assert "stopped at 40 events (the cap)" in head
    assert f"at least {capped.dropped:,} more" in head
    # the options it names are the real ones, with a larger cap that they accept
    assert "max_events=400" in how and "--max-events 400" in how
    assert "max_events" in inspect.signature(monviz.record).parameters
    assert '"--max-events"' in inspect.getsource(magic)
    assert "%%monitor --max-events" in how and "python -m monviz run --max-events" in how
    run_help = subprocess.run([sys.executable, "-m", "monviz", "run", "--help"],
                              capture_output=True, text=True, check=True).stdout
    assert "--max-events" in run_help
    assert f"the default is {DEFAULT_MAX_EVENTS:,}" in how
    # the static view carries the same words, escaped
    html = timeline_html(capped)
    assert "monviz-cap" in html and "%%monitor --max-events 400" in html
    assert "monviz-cap" not in timeline_html(full)


def test_the_cap_banner_escapes_what_it_shows(monkeypatch):
    from monviz.render import timeline as render_timeline

    capped = monviz.record(_TILE, max_events=5)
    monkeypatch.setattr(render_timeline, "cap_notice", lambda trace: [EVIL, EVIL])
    html = render_timeline.cap_notice_html(capped)
    assert "<img" not in html and html.count("&lt;img src=x onerror=alert(1)&gt;") == 2


# -- streaming: a big trace's columns in chunks -------------------------------------------------


def test_chunks_put_together_are_the_columns_and_their_ranks_are_exact():
    big = synthetic(5000)
    cuts = _payload.Chunks(big, 777)
    assert cuts.count == math.ceil(len(big) / 777)
    whole, _ = _payload.columns(big)
    joined: dict[str, bytes] = {}
    for c in range(cuts.count):
        head, parts = cuts.chunk(c)
        assert (head["start"], head["end"]) == cuts.bounds(c)
        for name in ("kind", "a", "depth", *_payload.TABLES):
            joined[name] = joined.get(name, b"") + parts[name]
        # the ranks are the counts of each table's events before the chunk
        layout = _stream.Layout.of(big.kind_names)
        for name, r0 in head["ranks"].items():
            assert r0 == sum(layout.tables[name][k] for k in big._d.kind[:head["start"]])
    for name, data in joined.items():
        assert data == whole[name], name
    plan = cuts.plan()
    assert sum(plan["kind_counts"]) == len(big)
    assert plan["max_depth"] == max(big.depths())
    assert plan["totals"] == {name: len(getattr(big._d, name)) for name in _payload.TABLES}


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js not installed")
@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_a_trace_streamed_in_chunks_reads_every_event_and_stack_as_python_does(tmp_path, chunk):
    """Chunk after chunk, the browser ends with every event, span, count and stack of the
    whole trace: the same details as ``trace[i]``, and the stack Python derives."""
    big = synthetic(1500)
    (tmp_path / "whole").mkdir()
    (tmp_path / "parts").mkdir()
    whole = _run_trace_data(big, tmp_path / "whole")
    got = _run_trace_data(big, tmp_path / "parts", chunk)
    n = len(big)
    assert got["loadedAfter"] == [min(n, k * chunk) for k in range(1, math.ceil(n / chunk) + 1)]
    assert got["spans"] == whole["spans"] and got["blocks"] == whole["blocks"]
    assert got["events"] == whole["events"]
    kinds = big.totals()
    assert {big.kind_names[k]: c for k, c in enumerate(got["counts"]) if c} == kinds
    stacks = _python_stack(big)
    infos = big.code_infos()
    for ev, js_ev in zip(big, got["events"], strict=True):
        for field in ("event", "line", "offset", "target", "callable", "arg0", "value", "depth"):
            assert js_ev[field] == getattr(ev, field), (ev, field)
        expected = [(c.qualname, start, line) for c, start, line in stacks[ev.index]]
        assert [(infos[c].qualname, start, line) for c, start, line in js_ev["stack"]] == \
            expected, ev.index


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js not installed")
@pytest.mark.parametrize(("chunk", "slice_", "deflated"), [
    (64, 1, False), (100, 7, True), (1000, 333, False), (700, 5000, True)])
def test_chunks_derived_a_slice_at_a_time_are_the_whole_trace(tmp_path, chunk, slice_,
                                                              deflated):
    """As the view does while chunks come (deflated, as a browser asks for them, and
    inflated): each chunk taken in at once, derived a slice of events at a time between
    frames, later chunks taken in before earlier ones are done. At the end every event,
    span, block and stack is the whole trace's; between slices the last event derived
    already reads as it does in the whole trace."""
    big = synthetic(1500)
    (tmp_path / "whole").mkdir()
    (tmp_path / "parts").mkdir()
    whole = _run_trace_data(big, tmp_path / "whole")
    got = _run_trace_data(big, tmp_path / "parts", chunk, slice_, deflated)
    n = len(big)
    assert got["spans"] == whole["spans"] and got["blocks"] == whole["blocks"]
    assert got["counts"] == whole["counts"] and got["events"] == whole["events"]
    # after each chunk taken in, one slice: never further than the chunks that came
    loaded, expected = chunk, [chunk]
    for k in range(1, math.ceil(n / chunk)):
        loaded = min(min((k + 1) * chunk, n), loaded + slice_)
        expected.append(loaded)
    assert got["loadedAfter"] == expected
    assert len(got["partial"]) >= math.ceil((n - chunk) / slice_)
    for ev in got["partial"]:
        assert ev == whole["events"][ev["step"]], ev["step"]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js not installed")
def test_the_value_strings_parsed_a_slice_at_a_time_are_json_parse(tmp_path):
    """ListReader cuts the list between items and parses the pieces: whatever the cuts,
    the items are JSON.parse's, strings with quotes, backslashes, brackets, commas and
    any Unicode included."""
    items = ["", ",", "]", "[", '"', '\\', '\\"', '\\\\', 'a\\",b', "{[,]}", "é€😀",
             "\u2028\n\t", "x" * 5000, EVIL, '["nested", "list"]', "\\" * 7 + '"']
    cases = {"items": json.dumps(items), "ascii": json.dumps(items, ensure_ascii=True),
             "spaced": " \n[ " + ",\n ".join(json.dumps(x, ensure_ascii=False) for x in items)
             + " ]\n", "empty": "[]", "one": '["only"]', "mixed": json.dumps(
                 [1, None, [2, "]"], {"k": "v,"}, "end"]),
             "trace": _payload.values_buffer(synthetic(2000)).decode()}
    (tmp_path / "cases.json").write_text(json.dumps(cases, ensure_ascii=False))
    shutil.copy(Path(monviz.widgets.__file__).parent / "timeline.js", tmp_path / "timeline.mjs")
    (tmp_path / "run.mjs").write_text("""
import { readFileSync } from "node:fs";
import { ListReader } from "./timeline.mjs";
const cases = JSON.parse(readFileSync("cases.json", "utf8"));
const out = {};
for (const [name, text] of Object.entries(cases)) {
  const bytes = new TextEncoder().encode(text);
  const expected = JSON.stringify(JSON.parse(text));
  out[name] = [1, 2, 3, 7, 64, 1 << 17].map((limit) => {
    const r = new ListReader(new DataView(bytes.buffer));
    let steps = 0;
    while (r.step(limit)) steps++;
    return [JSON.stringify(r.items) === expected, steps];
  });
}
console.log(JSON.stringify(out));
""")
    result = subprocess.run(["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    for name, runs in got.items():
        assert all(same for same, _ in runs), (name, runs)
    # small limits take many slices (a string is never cut); a large one, few
    assert got["items"][0][1] > len(items) and got["items"][-1][1] == 0
    assert got["trace"][0][1] > got["trace"][-1][1]


def test_a_big_timeline_streams_and_answers_for_each_chunk(monkeypatch):
    big = synthetic(3000)
    monkeypatch.setattr(_payload, "STREAM_ABOVE", 1000)
    monkeypatch.setattr(_payload, "CHUNK", 512)
    widget = Timeline(big)
    plan = widget._meta["stream"]
    assert plan["chunks"] == math.ceil(len(big) / 512) and "values" not in widget._columns
    sent = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append(
        (content, buffers)))
    widget._on_request(widget, {"type": "chunk", "index": 2}, [])
    widget._on_request(widget, {"type": "values"}, [])
    widget._on_request(widget, {"type": "chunk", "index": 99}, [])  # out of range: ignored
    # a browser that can inflate asks for them deflated (zlib), and gets the same bytes
    widget._on_request(widget, {"type": "chunk", "index": 2, "deflate": True}, [])
    widget._on_request(widget, {"type": "values", "deflate": True}, [])
    (head, bufs), (vhead, vbufs), (zhead, zbufs), (zvhead, zvbufs) = sent
    assert head["type"] == "chunk" and (head["start"], head["end"]) == (1024, 1536)
    assert bufs[head["names"].index("kind")] == bytes(big._d.kind[1024:1536])
    assert vhead == {"type": "values"} and json.loads(vbufs[0]) == list(big._d.values)
    assert "deflate" not in head and zhead == {**head, "deflate": True}
    assert [zlib.decompress(b) for b in zbufs] == bufs
    assert zvhead == {"type": "values", "deflate": True} and zlib.decompress(zvbufs[0]) == vbufs[0]
    small = Timeline(synthetic(300))
    assert small._meta["stream"]["chunks"] == 1 and "values" in small._columns


def test_the_static_view_of_a_huge_trace_keeps_to_counts_per_kind(monkeypatch):
    from monviz.render import summary

    big = synthetic(3000)
    monkeypatch.setattr(summary, "BRIEF_ABOVE", 1000)
    html = timeline_html(big)
    assert "counts per kind" in html and "more events" not in html
    for name, count in big.totals().items():
        assert f"<th>{name}</th>" in html and f"<td>{count:,}</td>" in html
