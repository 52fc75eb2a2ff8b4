"""make docs: the static site shows every tutorial, with the views' static renderings."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

pytest.importorskip("nbconvert")
pytestmark = pytest.mark.notebook

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_builder():
    spec = importlib.util.spec_from_file_location("docs_build", ROOT / "docs" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_tutorial_becomes_a_page_with_its_static_views(tmp_path):
    builder = load_builder()
    pages = builder.build(tmp_path)
    notebooks = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.ipynb"))
    assert [p.stem for p in pages] == [n.stem for n in notebooks] and pages
    index = (tmp_path / "index.html").read_text()
    for page in pages:
        assert f'href="{page.name}"' in index
    start = (tmp_path / "00_start_here.html").read_text()
    assert "monviz trace" in start  # the Trace's static HTML summary
    texts = [p.read_text() for p in pages]
    assert not any("application/vnd.jupyter.widget-view+json" in t for t in texts)
    graphs = [p.name for p, t in zip(pages, texts) if "<svg" in t]
    if any("monviz.cfg" in n.read_text() for n in notebooks):
        assert graphs, "no page shows a control-flow graph's SVG"
