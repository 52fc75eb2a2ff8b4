"""Build the static tutorial site: every notebook in tutorials/ as an HTML page, plus an index.

The notebooks are committed executed, so nothing runs here. Saved widget state is
dropped first: without a kernel or the widget JavaScript, a page should show each
widget's static fallback (the overview timeline, tables and the graph's SVG),
which monviz puts in every widget's mimebundle.

    python docs/build.py [OUTPUT_DIR]        (default: docs/site)
"""

from __future__ import annotations

import html
import pathlib
import sys

import nbformat
from nbconvert import HTMLExporter

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"


def without_widget_state(nb):
    """Drop saved widget state, and widget views, so the static fallbacks are shown."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            data.pop("application/vnd.jupyter.widget-view+json", None)
    return nb


def title_of(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


def build(out: pathlib.Path) -> list[pathlib.Path]:
    """Write one page per notebook and an index; return the pages."""
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    pages, entries = [], []
    for path in sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb")):
        nb = without_widget_state(nbformat.read(path, as_version=4))
        body, _ = exporter.from_notebook_node(nb)
        page = out / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
        entries.append(f'<li><a href="{html.escape(page.name)}">'
                       f"{html.escape(title_of(nb, path.stem))}</a></li>")
    (out / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>monviz tutorials</title>"
        "<h1>monviz tutorials</h1><p>Learn <code>sys.monitoring</code> by experiment. "
        "Start with 00 and go in order; the teacher's guide is tutorials/README.md.</p>"
        f"<ol start='0'>{''.join(entries)}</ol>", encoding="utf-8")
    return pages


if __name__ == "__main__":
    target = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "site"
    built = build(target)
    print(f"built {len(built)} pages and an index in {target}")
