"""Where control-flow graphs are laid out: ``dot`` here, or Viz.js in the browser.

``MONVIZ_LAYOUT`` (auto | dot | browser), the missing-``dot`` and Pyodide cases, what
the CFGView widget ships in each (SVG or DOT text, and Viz.js once per kernel), and
the static copies. What the browser then draws is tests/browser/test_cfg_wasm_browser.py.
"""

from __future__ import annotations

import os
import re
import textwrap

import ipywidgets
import pytest

import monviz
from monviz.errors import MonvizError
from monviz.render import graph as drawing
from monviz.widgets import CFGView
from monviz.widgets import cfgview as cfgview_module

EVIL = "<img src=x onerror=alert(1)>"
SOURCE = textwrap.dedent(f'''\
    def classify(n, tag):
        total = 0
        for i in range(n):
            if tag == "{EVIL}":
                total += i
            else:
                total -= 1
        return total


    def other(x):
        return -x if x else x


    result = classify(3, "x") + other(2)
''')


@pytest.fixture(scope="module")
def recorded():
    ns: dict = {}
    trace = monviz.record(SOURCE, namespace=ns)
    return trace, ns


@pytest.fixture
def need_viz():
    """Viz.js where tools/fetch-viz puts it (CI=true: it must be there)."""
    if not drawing.VIZ_JS.is_file():
        message = f"{drawing.VIZ_JS} is missing: run tools/fetch-viz"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def browser(monkeypatch, need_viz):
    monkeypatch.setenv(drawing.LAYOUT_ENV, "browser")


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """A PATH on which Graphviz's ``dot`` cannot be found, and no MONVIZ_LAYOUT."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(drawing.LAYOUT_ENV, raising=False)
    return tmp_path


@pytest.fixture
def no_dot_runs(monkeypatch):
    """Fail the test if anything asks ``dot`` for an SVG."""
    def refuse(_):
        raise AssertionError("dot was run")

    monkeypatch.setattr(drawing, "svg", refuse)


# -- the choice ---------------------------------------------------------------------------

def test_auto_lays_out_with_dot_when_it_is_on_path_and_in_the_browser_when_not(
        monkeypatch, tmp_path):
    monkeypatch.delenv(drawing.LAYOUT_ENV, raising=False)
    assert drawing.layout() == ("dot" if drawing.have_dot() else "browser")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not drawing.have_dot() and drawing.layout() == "browser"
    dot = tmp_path / "dot"
    dot.write_text("#!/bin/sh\n")
    dot.chmod(0o755)
    assert drawing.have_dot() and drawing.layout() == "dot"


def test_pyodide_always_lays_out_in_the_browser(monkeypatch):
    monkeypatch.delenv(drawing.LAYOUT_ENV, raising=False)
    monkeypatch.setattr(drawing.versions, "HAS_SUBPROCESSES", False)  # as under Pyodide
    assert not drawing.have_dot()
    assert drawing.layout() == "browser"


@pytest.mark.parametrize("value, expected", [("dot", "dot"), ("browser", "browser"),
                                             (" Browser ", "browser"), ("", None)])
def test_monviz_layout_forces_either(monkeypatch, value, expected):
    monkeypatch.setenv(drawing.LAYOUT_ENV, value)
    assert drawing.layout() == (expected or ("dot" if drawing.have_dot() else "browser"))


def test_a_bad_monviz_layout_says_what_it_may_be(monkeypatch):
    monkeypatch.setenv(drawing.LAYOUT_ENV, "wasm")
    with pytest.raises(MonvizError, match=r"MONVIZ_LAYOUT must be one of auto, dot, browser, "
                                          r"not 'wasm'"):
        drawing.layout()
    view = CFGView(lambda: 0)  # the widget still draws (with dot), and says why
    assert "MONVIZ_LAYOUT must be one of" in view._error
    bundle = monviz.cfg(lambda: 0)._repr_mimebundle_()
    assert "MONVIZ_LAYOUT must be one of" in bundle["text/html"]


# -- Viz.js -------------------------------------------------------------------------------

def test_viz_js_is_the_pinned_self_contained_module(need_viz):
    version, source = drawing.viz_js()
    assert version == "3.31.0"
    assert source.startswith(b"/*!\nViz.js 3.31.0")
    assert len(source) == 1_188_719
    assert re.search(rb"\bexport\s*\{[^}]*\binstance\b", source[-2000:])
    assert not re.search(rb"^\s*import\s", source, re.M)  # imports nothing
    assert drawing.viz_js()[1] is source  # read once
    licence = (drawing.VIZ_JS.parent / "LICENSE").read_text()
    assert "Viz.js 3.31.0" in licence and "Permission is hereby granted" in licence
    assert "Eclipse Public License - v 1.0" in licence and "Expat" in licence


def test_viz_js_is_the_file_tools_fetch_viz_pins(need_viz):
    import hashlib
    from pathlib import Path

    tool = (Path(__file__).resolve().parents[1] / "tools" / "fetch-viz").read_text()
    pins = dict(re.findall(r'^(VERSION|SHA256) = "([^"]+)"', tool, re.M))
    assert pins["VERSION"] == drawing.viz_js()[0]
    assert pins["SHA256"] == hashlib.sha256(drawing.VIZ_JS.read_bytes()).hexdigest()


def test_without_viz_js_the_message_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(drawing, "VIZ_JS", tmp_path / "viz.js")
    with pytest.raises(drawing.MissingVizJs, match="run tools/fetch-viz"):
        drawing.viz_js()
    (tmp_path / "viz.js").write_text("export const not = 'it';\n")
    with pytest.raises(drawing.MissingVizJs, match=r"is not Viz\.js"):
        drawing.viz_js()


def test_the_browser_gets_the_same_dot_with_a_font_viz_js_can_measure():
    graph = monviz.cfg(lambda x: x or 1)
    dot = graph.to_dot()
    text = drawing.browser_source(dot)
    assert 'fontname="DejaVu Sans Mono"' in dot.source and "Courier New" not in dot.source
    assert text == dot.source.replace('fontname="DejaVu Sans Mono"', 'fontname="Courier New"')
    assert 'fontname="DejaVu Sans Mono"' in dot.source  # the Digraph itself is unchanged


# -- the widget -----------------------------------------------------------------------------

def test_with_layout_in_the_browser_the_widget_ships_dot_text_and_viz_js(
        recorded, browser, no_dot_runs):
    trace, ns = recorded
    view = CFGView(ns["classify"], trace)
    assert view._layout == "browser" and view._svgs == {}
    assert set(view._dots) == set(view._entries)  # the first EAGER graphs: all of them here
    text = view._dots[view.code]
    assert text.startswith("digraph classify {") and "b0 [label=<" in text
    assert text == view.dot_of()
    assert "ran 1×" in text  # the overlay's counts, as in the SVG
    assert EVIL not in text and "&lt;img src=x onerror=alert(1)&gt;" in text  # escaped
    version, source = drawing.viz_js()
    asset = view._viz
    assert isinstance(asset, cfgview_module.VizAsset)
    assert (asset.version, asset.source) == (version, source)
    state = view.get_state()
    assert state["_viz"] == f"IPY_MODEL_{asset.model_id}"  # a reference, not 1.2 MB
    assert state["_layout"] == "browser" and state["_dots"] == view._dots


def test_viz_js_travels_once_per_kernel_however_many_views(recorded, browser, no_dot_runs):
    trace, ns = recorded
    first, second = CFGView(ns["classify"], trace), CFGView(ns["other"])
    assert first._viz is second._viz
    assert monviz.cfg(ns["other"])._repr_mimebundle_() is not None
    assert cfgview_module.viz_asset() is first._viz
    _, _, buffers = ipywidgets.widgets.widget._remove_buffers(first._viz.get_state())
    assert [len(b) for b in buffers] == [len(drawing.viz_js()[1])]  # binary, not JSON text
    first._viz.close()  # Widget.close_all() in a notebook: made again when next needed
    third = CFGView(ns["other"])
    assert third._viz is not first._viz and third._viz.comm is not None


def test_in_the_browser_graphs_are_shipped_when_shown_and_again_for_the_other_view(
        recorded, browser, no_dot_runs, monkeypatch):
    trace, ns = recorded
    monkeypatch.setattr(cfgview_module, "EAGER", 1)
    view = CFGView(trace)
    assert list(view._dots) == ["c0"]
    view.show_code(ns["classify"])
    assert view.code in view._dots and len(view._dots) == 2
    view.view = "bytecode"
    assert list(view._dots) == [view.code] and "FOR_ITER" in view._dots[view.code]


def test_without_dot_the_widget_lays_out_in_the_browser(recorded, no_dot, need_viz):
    trace, ns = recorded
    view = CFGView(ns["classify"], trace)
    assert view._layout == "browser" and view._dots and not view._svgs and not view._error
    data = view._repr_mimebundle_()[0]
    assert "image/svg+xml" not in data  # no dot for a static copy
    assert "apt-get install graphviz" in data["text/html"]
    assert "laid out in the browser" in data["text/html"]


def test_the_static_copy_runs_no_dot_when_the_browser_lays_out(recorded, browser, no_dot_runs):
    trace, ns = recorded
    data = CFGView(ns["classify"], trace)._repr_mimebundle_()[0]
    assert "image/svg+xml" not in data and "application/vnd.jupyter.widget-view+json" in data
    assert "MONVIZ_LAYOUT=browser" in data["text/html"]


def test_with_neither_dot_nor_viz_js_the_widget_says_both(recorded, no_dot, monkeypatch,
                                                          tmp_path):
    monkeypatch.setattr(drawing, "VIZ_JS", tmp_path / "absent.js")
    monkeypatch.setattr(cfgview_module, "_asset", None)
    trace, ns = recorded
    view = CFGView(ns["classify"], trace)
    assert view._layout == "browser" and view._viz is None and view._dots == {}
    assert "tools/fetch-viz" in view._error and "apt-get install graphviz" in view._error
    assert "tools/fetch-viz" in view._repr_mimebundle_()[0]["text/html"]
    bundle = monviz.cfg(ns["classify"])._repr_mimebundle_()
    assert "tools/fetch-viz" in bundle["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" not in bundle


def test_forcing_dot_without_dot_keeps_the_install_message(recorded, no_dot, monkeypatch):
    monkeypatch.setenv(drawing.LAYOUT_ENV, "dot")
    trace, ns = recorded
    view = CFGView(ns["classify"], trace)
    assert view._layout == "dot" and view._viz is None and not view._dots
    assert "apt-get install graphviz" in view._error
    assert "apt-get install graphviz" in view._repr_mimebundle_()[0]["text/html"]


# -- a graph's own display ------------------------------------------------------------------

def test_a_graph_displays_as_a_browser_laid_widget_without_dot(recorded, no_dot, need_viz,
                                                               monkeypatch):
    made = []

    class Seen(cfgview_module.DotView):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(cfgview_module, "DotView", Seen)
    _, ns = recorded
    graph = monviz.cfg(ns["classify"])
    bundle = graph._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    (widget,) = made
    ref = bundle["application/vnd.jupyter.widget-view+json"]
    assert ref["model_id"] == widget.model_id
    assert widget._dot == drawing.browser_source(graph.to_dot())
    assert widget._viz is cfgview_module.viz_asset()
    assert bundle["text/plain"].startswith("<monviz.ControlFlowGraph classify:")
    assert "apt-get install graphviz" in bundle["text/html"]
    graph.overlay(recorded[0])._repr_mimebundle_()
    assert "ran 1×" in made[-1]._dot
