"""monviz.Explorer: code objects of a trace, and the set_local_events "what if" re-run."""

from __future__ import annotations

import re
import sys

import pytest

pytest.importorskip("ipywidgets")

import monviz
from monviz.widgets.explorer import Explorer, LocalRun, codes_table_html, tool_ids_html

mon = sys.monitoring


def program():
    def inner(n):
        total = 0
        for i in range(n):
            total += i
        return total

    def outer(n):
        return inner(n) + inner(n + 1)

    return inner, outer


def test_only_the_chosen_code_objects_raise_events_and_the_bits_are_decoded():
    inner, outer = program()
    before = [(mon.get_tool(i), mon.get_events(i)) for i in range(6)]
    run = LocalRun({inner.__code__: ["LINE"]}, lambda: outer(3))()
    assert run.global_bits == 0
    assert run.local_bits == {inner.__code__.co_qualname: mon.events.LINE}
    assert {q for q, _ in run.seen} == {inner.__code__.co_qualname}
    assert {e for _, e in run.seen} == {"LINE"}
    assert run.seen[inner.__code__.co_qualname, "LINE"] > 0
    html = run.report_html()
    assert "get_local_events(tool, " in html and ">32<" in html and "LINE" in html
    assert [(mon.get_tool(i), mon.get_events(i)) for i in range(6)] == before
    assert mon.get_local_events(3, inner.__code__) == 0


def test_two_code_objects_with_different_events():
    inner, outer = program()
    run = LocalRun({inner.__code__: ["PY_RETURN"], outer.__code__: ["LINE", "CALL"]},
                   lambda: outer(2))()
    assert run.seen[inner.__code__.co_qualname, "PY_RETURN"] == 2
    assert run.seen[outer.__code__.co_qualname, "CALL"] == 2
    assert (inner.__code__.co_qualname, "LINE") not in run.seen
    assert run.local_bits[outer.__code__.co_qualname] == mon.events.LINE | mon.events.CALL


def test_the_explorer_reruns_what_was_ticked():
    inner, outer = program()
    trace = monviz.record(lambda: outer(3))
    explorer = Explorer(trace, rerun=lambda: outer(3))
    index = next(i for i, c in enumerate(explorer._infos) if c.code is inner.__code__)
    branch = next(n for (_, n) in explorer.checks if n.startswith("BRANCH"))
    explorer.checks[index, branch].value = True
    run = explorer.run_what_if()
    assert {q for q, _ in run.seen} == {inner.__code__.co_qualname}
    assert run.seen  # the loop's branch ran


def test_the_tables_escape_names_and_the_repr_has_no_address():
    trace = monviz.record("f = lambda: 1\nf()\n")
    table = codes_table_html(trace)
    assert "&lt;lambda&gt;" in table and "<lambda>" not in table
    mon.use_tool_id(4, "<b>sneaky</b>")
    try:
        assert "&lt;b&gt;sneaky&lt;/b&gt;" in tool_ids_html()
    finally:
        mon.free_tool_id(4)
    explorer = Explorer(trace)
    assert not re.search(r"0x[0-9a-f]{6,}", repr(explorer))
    assert repr(explorer).startswith("monviz.Explorer(")


def test_an_explorer_without_rerun_says_why_it_cannot_rerun():
    explorer = Explorer(monviz.record("x = 1\n"))
    with pytest.raises(monviz.MonvizError, match="rerun="):
        explorer.run_what_if()
