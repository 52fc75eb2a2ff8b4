"""``trace.save_html`` / ``monviz.report``: one self-contained, escaped HTML file.

What the page does in a browser is tests/browser/test_report_browser.py; here, what
the file holds: nothing from elsewhere, every user string escaped or inside the
payload, and a payload that decodes (as the page's host.js decodes it) back to
exactly what the notebook's widgets receive.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import struct

import pytest

import monviz
from monviz import report
from monviz.render import graph as render_graph
from monviz.widgets import _payload

EVIL = "</script><img src=x onerror=alert(1)>"
PROGRAM = f'''
class Evil:
    def __repr__(self):
        return {EVIL!r}

def pick(n):
    for i in range(n):
        if i % 2:
            return Evil()
    return None

pick(3)
'''


@pytest.fixture(scope="module")
def trace():
    return monviz.record(PROGRAM, filename="<evil </title>>")


def unpack(text: str) -> tuple[dict, dict[str, bytes]]:
    """The page's payload, decoded as widgets/host.js decodes it."""
    data = re.search(r'<script id="monviz-data" type="application/octet-stream">([^<]*)'
                     r"</script>", text).group(1)
    raw = gzip.decompress(base64.b64decode(data))
    (length,) = struct.unpack_from("<I", raw)
    info = json.loads(raw[4:4 + length])
    buffers = {name: raw[off:off + n] for name, (off, n) in info["buffers"].items()}
    for off, _ in info["buffers"].values():
        assert off % 8 == 0  # typed arrays view the buffers in place
    return info, buffers


def test_the_page_fetches_nothing_from_anywhere(trace):
    text = report.report_html(trace)
    assert not re.search(r"https?://|//cdn|<link\b|\bsrc=|@import|url\(", text, re.I)
    modules = re.findall(r'<script id="(monviz-[a-z-]+-js)" type="text/plain">([^<]*)</script>',
                         text)
    assert [name for name, _ in modules] == ["monviz-host-js", "monviz-timeline-js",
                                             "monviz-cfg-js"]
    for _, body in modules:  # the widgets' own modules, importing nothing
        assert not re.search(r"^\s*import\s+[^\s(]", base64.b64decode(body).decode(), re.M)


def test_the_payload_is_what_the_notebook_widgets_receive(trace):
    info, buffers = unpack(report.report_html(trace))
    meta, columns = _payload.build(trace)
    assert info["timeline"]["_meta"] == json.loads(json.dumps(meta))
    assert buffers == columns
    assert info["timeline"]["_meta"]["n"] == len(trace)


def test_every_code_object_that_ran_has_its_graph_and_its_row(trace):
    info, _ = unpack(report.report_html(trace))
    ran = {c.qualname for c in trace.codes()}
    assert {g["qualname"] for g in info["cfg"]["_graphs"].values()} == ran
    assert set(info["cfg"]["_svgs"]) == set(info["cfg"]["_order"])
    rows = {r["qualname"]: r for r in info["codes"]["rows"]}
    assert set(rows) == ran
    for info_, per in trace.counts().items():
        row = rows[info_.qualname]
        assert dict(zip(info["codes"]["kinds"], row["counts"])) == {
            k: per.get(k, 0) for k in info["codes"]["kinds"]}
        assert trace[row["first"]].code.qualname == info_.qualname


def test_user_strings_outside_the_payload_are_escaped(trace):
    text = report.report_html(trace, title=EVIL, command=f"python {EVIL}")
    assert EVIL not in text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in text
    assert text.count("</script>") == text.count("<script")  # none closed early


def test_the_exception_the_program_raised_is_shown_escaped():
    failed = monviz.record("raise ValueError('<b>no</b>')")
    text = report.report_html(failed)
    assert "the program raised <code>ValueError(&#x27;&lt;b&gt;no&lt;/b&gt;&#x27;)</code>" in text


def test_without_dot_the_report_says_why_there_are_no_graphs(trace, monkeypatch):
    def no_dot(_):
        raise render_graph.MissingGraphviz(render_graph.INSTALL_HINT)

    monkeypatch.setenv(render_graph.LAYOUT_ENV, "dot")  # only dot: no browser layout
    monkeypatch.setattr(render_graph, "svg", no_dot)
    info, _ = unpack(report.report_html(trace))
    assert info["cfg"] is None
    assert info["cfg_missing"].startswith("The control-flow graphs are not in this report: ")
    assert "apt-get install graphviz" in info["cfg_missing"]


@pytest.fixture
def need_viz():
    if not render_graph.VIZ_JS.is_file():
        message = f"{render_graph.VIZ_JS} is missing: run tools/fetch-viz"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def browser_layout(monkeypatch, need_viz):
    """MONVIZ_LAYOUT=browser, and a test that fails if anything runs dot."""
    def refuse(_):
        raise AssertionError("dot was run")

    monkeypatch.setenv(render_graph.LAYOUT_ENV, "browser")
    monkeypatch.setattr(render_graph, "svg", refuse)


def test_laid_out_in_the_browser_the_report_carries_dot_text_and_viz_js(trace, browser_layout):
    said: list[str] = []
    text = report.report_html(trace, progress=said.append)
    info, buffers = unpack(text)
    cfg = info["cfg"]
    assert cfg["_layout"] == "browser" and cfg["_svgs"] == {}
    assert set(cfg["_dots"]) == set(cfg["_order"]) == set(cfg["_graphs"])
    assert {g["qualname"] for g in cfg["_graphs"].values()} == {c.qualname for c in trace.codes()}
    assert all(d.startswith("digraph ") for d in cfg["_dots"].values())
    assert cfg["_viz"] == f"IPY_MODEL_{report.VIZ_MODEL}"
    version, source = render_graph.viz_js()
    assert info["viz"] == {"model": report.VIZ_MODEL, "version": version, "buffer": "viz.js"}
    assert buffers.pop("viz.js") == source
    assert buffers == _payload.build(trace)[1]  # the timeline's columns, as before
    assert any(s.startswith("writing control-flow graphs: ") for s in said)
    dots = "".join(cfg["_dots"].values())
    assert "Evil" in dots and EVIL not in dots  # user text escaped in the labels
    # still nothing from elsewhere, and no user string outside the payload
    assert not re.search(r"https?://|//cdn|<link\b|\bsrc=|@import|url\(", text, re.I)
    assert text.count("</script>") == text.count("<script")


def test_viz_js_costs_a_browser_laid_report_about_half_a_megabyte(trace, browser_layout,
                                                                   monkeypatch):
    browser = len(report.report_html(trace))
    monkeypatch.undo()
    if not render_graph.have_dot():
        pytest.skip("needs dot for the comparison")
    monkeypatch.setenv(render_graph.LAYOUT_ENV, "dot")
    laid_out = len(report.report_html(trace))
    assert 400_000 < browser - laid_out < 700_000, (browser, laid_out)


def test_without_dot_on_path_the_report_is_laid_out_in_the_browser(trace, monkeypatch,
                                                                   tmp_path, need_viz):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(render_graph.LAYOUT_ENV, raising=False)
    info, buffers = unpack(report.report_html(trace))
    assert info["cfg"]["_layout"] == "browser" and info["cfg"]["_dots"]
    assert "viz.js" in buffers and info["cfg_missing"] is None


def test_with_neither_dot_nor_viz_js_the_report_says_how_to_get_either(trace, monkeypatch,
                                                                      tmp_path):
    from monviz.widgets import cfgview

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(render_graph.LAYOUT_ENV, raising=False)
    monkeypatch.setattr(render_graph, "VIZ_JS", tmp_path / "absent.js")
    monkeypatch.setattr(cfgview, "_asset", None)
    info, buffers = unpack(report.report_html(trace))
    assert info["cfg"] is None and info["viz"] is None and "viz.js" not in buffers
    assert info["cfg_missing"].startswith("The control-flow graphs are not in this report: ")
    assert "tools/fetch-viz" in info["cfg_missing"]
    assert "apt-get install graphviz" in info["cfg_missing"]


def test_a_trace_loaded_from_json_makes_a_report_without_graphs(trace):
    loaded = monviz.Trace.from_json(trace.to_json())
    info, _ = unpack(report.report_html(loaded))
    assert info["cfg"] is None and "not in this report" in info["cfg_missing"]
    assert info["timeline"]["_meta"]["n"] == len(trace)


def test_a_report_draws_the_busiest_graphs_when_there_are_too_many(trace, monkeypatch):
    monkeypatch.setattr(report, "MAX_GRAPHS", 1)
    info, _ = unpack(report.report_html(trace))
    busiest = max(trace.counts().items(), key=lambda kv: sum(kv[1].values()))[0]
    assert [g["qualname"] for g in info["cfg"]["_graphs"].values()] == [busiest.qualname]
    assert "code objects with the fewest events are not drawn" in info["cfg"]["_error"]


def test_save_html_writes_the_file_and_says_where(trace, tmp_path):
    path = trace.save_html(tmp_path / "r.html", title="mine")
    assert path == tmp_path / "r.html"
    assert "<title>mine</title>" in path.read_text(encoding="utf-8")


def test_progress_is_reported_while_the_report_is_made(trace, monkeypatch):
    monkeypatch.setenv(render_graph.LAYOUT_ENV, "dot")
    said: list[str] = []
    report.report_html(trace, progress=said.append)
    assert said[0] == "packing the trace" and said[-1] == "compressing"
    assert any(s.startswith("laying out control-flow graphs: ") for s in said)


def test_a_report_needs_a_trace():
    with pytest.raises(monviz.InvalidArgumentError, match=r"needs a monviz\.Trace, not list"):
        report.report_html([])


def test_a_big_function_is_drawn_folded_in_the_report_which_cannot_open_sections():
    body = "".join(f"    if x == {k}:\n        y = {k}\n    else:\n        y = -{k}\n"
                   for k in range(300))
    source = f"def big(x):\n    y = 0\n{body}    return y\n\nbig(7)\n"
    info, _ = unpack(report.report_html(monviz.record(source, filename="<big cell>")))
    cfg = info["cfg"]
    (key,) = [k for k, g in cfg["_graphs"].items() if g["qualname"] == "big"]
    folded = cfg["_maps"][key]
    assert len(folded["sections"]) > 5 and folded["opened"] == []
    assert cfg["_can_open"] is False and cfg["_open"] == {}
    drawn = cfg["_svgs"].get(key) or cfg["_dots"][key]
    assert drawn.count("s1") and "cluster_s" not in drawn
    assert all(f"b{b}" not in folded["nodes"] for b in range(len(folded["section_of"])))
