"""``%%monitor`` and the Explorer in real front ends: JupyterLab 4 and Notebook 7.

One server (``jupyter lab`` with the ``notebook`` package installed also serves
Notebook 7's ``/notebooks/...`` pages) and one notebook per front end, written
by the test into the served temporary root:

1. ``%load_ext monviz``
2. ``classify`` (a loop and a branch, calling ``helper``) and ``helper``
3. ``%%monitor``: the default view, the linked timeline + graph, and the cell's last value
4. ``%%monitor --view explorer``: the code-object table, and the dropdown switching
   the graph between ``classify`` and ``helper``
5. ``print(result)``: the cells' assignments live in the user namespace
"""

from __future__ import annotations

import re

import pytest
from labserver import write_notebook

pytestmark = pytest.mark.browser
pytest.importorskip("nbformat")  # for write_notebook
pytest.importorskip("notebook", reason="Notebook 7 (the `notebook` package) is in the dev extra")
expect = pytest.importorskip("playwright.sync_api").expect

DEFS = '''\
def helper(x):
    return x * 10


def classify(n):
    total = 0
    for i in range(n):
        if i % 2:
            total += helper(i)
        else:
            total -= 1
    return f"classify({n}) = {total}"
'''
VALUE = "classify(3) = 8"  # i=0: -1, i=1: +10, i=2: -1

CELLS = [
    "%load_ext monviz",
    DEFS,
    "%%monitor\nresult = classify(3)\nresult",
    "%%monitor --view explorer\nresult = classify(3)\nresult",
    "print('RESULT', result)",
]

# Lab in a workspace of its own: the default one would reopen this notebook in the other
# browser tests, which share the server and address cells by position
FRONT_ENDS = {"lab": "lab/workspaces/monviz-magic/tree", "notebook7": "notebooks"}


def _kernel_idle(page, front: str):
    """A locator that exists once the notebook's kernel is started and idle."""
    if front == "lab":  # the execution indicator reads "idle" before the kernel even starts
        return page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\|\s*Idle"))
    # Notebook 7 has no status bar, and its execution indicator also reads "idle" before the
    # session exists (kernel name "No Kernel"; Run All then does nothing): require both
    kernel = page.locator(".jp-Toolbar-kernelName .jp-ToolbarButtonComponent-label",
                          has_text=re.compile(r"^Python 3 \(ipykernel\)$"))
    return (page.locator(".jp-NotebookPanel")  # one locator: both hold in the same query
            .filter(has=page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]'))
            .filter(has=kernel))


def _choose(select, qualname: str) -> None:
    """Pick the dropdown option of this code object: "classify (file:line)" (ipywidgets
    writes the option's text with a no-break space, its value with a plain one)."""
    option = select.locator(f'option[value^="{qualname} ("]')
    expect(option).to_have_count(1)
    select.select_option(value=option.get_attribute("value"))


def _out_value(cell):
    """The cell's ``Out[n]:`` value (without its prompt)."""
    return cell.locator(".jp-OutputArea-executeResult .jp-OutputArea-output")


@pytest.mark.parametrize("front", list(FRONT_ENDS))
def test_monitor_magic_and_explorer(lab, page, artifacts, front):
    name = f"magic-{front}.ipynb"
    write_notebook(lab, name, CELLS)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    page.goto(f"{lab['base']}/{FRONT_ENDS[front]}/{name}?token={lab['token']}")
    page.locator(".jp-NotebookPanel").wait_for(timeout=60_000)
    idle = _kernel_idle(page, front)
    idle.wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    cells = page.locator(".jp-Notebook .jp-Cell")
    expect(cells).to_have_count(len(CELLS))

    # -- cell 3: the linked timeline + graph, and the cell's last value ----------------
    linked = cells.nth(2).locator(".monviz-linked")
    timeline = linked.locator(".monviz-timeline")
    expect(timeline).to_have_attribute("data-drawn", "1", timeout=60_000)
    expect(timeline.locator("canvas.monviz-tl-canvas")).to_be_visible()
    graph = linked.locator(".monviz-cfgview")
    expect(graph).to_have_attribute("data-ready", "1", timeout=30_000)
    expect(graph.locator("svg.monviz-cfg-svg")).to_be_visible()
    expect(graph.locator("g.monviz-block").first).to_be_visible()
    expect(_out_value(cells.nth(2))).to_have_text(repr(VALUE), timeout=30_000)

    # -- cell 5: the magic's cells ran in the user namespace -----------------------------
    expect(cells.nth(4).locator(".jp-OutputArea-output")).to_have_text(
        f"RESULT {VALUE}", timeout=60_000)
    expect(idle).to_be_visible(timeout=60_000)

    # -- cell 4: the Explorer ---------------------------------------------------------
    explorer = cells.nth(3).locator(".monviz-explorer")
    expect(_out_value(cells.nth(3))).to_have_text(repr(VALUE))
    table = explorer.locator("table.monviz-codes")
    expect(table).to_be_visible()
    first_column = table.locator("tbody tr td:first-child")
    for qualname in ("classify", "helper", "<module>"):  # "<module>": shown as text, escaped
        expect(first_column.filter(has_text=re.compile(rf"^{re.escape(qualname)}$"))
               ).not_to_have_count(0)
    chooser = explorer.locator(".widget-dropdown select")
    shown = explorer.locator(".monviz-cfgview")  # the graph in the Explorer's detail Output
    title = shown.locator(".monviz-cfg-status")
    expect(title).to_have_text("<module>", timeout=30_000)  # the first code object, as text
    for qualname in ("classify", "helper"):  # it starts on the first <module>
        _choose(chooser, qualname)
        expect(title).to_have_text(qualname, timeout=30_000)
        expect(shown).to_have_count(1)
        expect(shown).to_have_attribute("data-ready", "1")
        expect(shown.locator("svg.monviz-cfg-svg")).to_be_visible()
        expect(explorer.locator(".monviz-timeline")).to_have_attribute("data-drawn", "1")
        selected = shown.locator("select.monviz-cfg-select")
        expect(selected.locator(f'option[value="{selected.input_value()}"]')).to_have_text(
            re.compile(rf"^{re.escape(qualname)} \(line \d+\)$"))
    assert not dialogs, f"a dialog opened: {dialogs}"

    shown.locator(".monviz-cfg-bar").scroll_into_view_if_needed()  # timeline above, graph below
    page.screenshot(path=str(artifacts / f"magic-{front}.png"))
