"""monviz.compare records one program under several Pythons and finds what differs.

The known differences come from ../shared/reference/sysmon-reference.md §12 and
newer-pythons.md §4. compare() starts other interpreters, so these tests run
from the main interpreter (3.13) only; there, under CI=true, a missing version
is a failure, not a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import monviz  # noqa: F401  (imports the monviz.compare submodule)
from monviz import interpreters
from monviz.errors import InvalidArgumentError

#: the module (monviz.compare, the attribute, is the function)
comparing = sys.modules["monviz.compare"]

ON_MAIN = sys.version_info[:2] == (3, 13)
pytestmark = pytest.mark.skipif(not ON_MAIN, reason="compare() is tested from Python 3.13")


def need(*versions: str) -> None:
    reasons = [r for r in map(interpreters.find, versions) if isinstance(r, str)]
    if reasons:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have every Python version: " + "; ".join(reasons))
        pytest.skip("; ".join(reasons))


def run(source: str, versions, events=None) -> comparing.Comparison:
    result = comparing.compare(textwrap.dedent(source), versions, events)
    assert not result.unavailable, result.unavailable
    return result


def rows_of(result, event: str, qualname: str):
    return [r for r in result.rows
            if any(e is not None and e.event == event and e.code.qualname == qualname
                   for e in r.events.values())]


def test_fall_through_destination_is_offset_plus_2_on_312_and_plus_4_on_313():
    need("3.12", "3.13")
    result = run("""
        def f(x):
            if x:
                x += 1
            return x
        f(1)
    """, ["3.12", "3.13"], events="BRANCH")
    (row,) = rows_of(result, "BRANCH", "f")
    old, new = row.events["3.12"], row.events["3.13"]
    assert (old.target - old.offset, new.target - new.offset) == (2, 4)
    assert row.difference == comparing.OFFSET


def test_the_jump_out_of_an_except_handler_exists_on_312_only():
    need("3.12", "3.13")
    result = run("""
        def gen():
            try:
                yield 1
            except ValueError:
                pass
            yield 2

        g = gen()
        next(g)
        g.throw(ValueError)
    """, ["3.12", "3.13"], events="JUMP")
    only_312 = [r for r in result.differences([comparing.MISSING])
                if r.events.get("3.12") and not r.events.get("3.13")]
    assert [(r.events["3.12"].event, r.events["3.12"].code.qualname, r.events["3.12"].line)
            for r in only_312] == [("JUMP", "gen", 6)]


def test_a_star_args_call_of_a_python_function_has_no_call_event_on_3_12_1():
    need("3.12", "3.13")
    result = run("""
        def f(*args):
            return args
        args = (1, 2)
        f(*args)
    """, ["3.12", "3.13"], events="CALL")
    (row,) = [r for r in result.rows if r.events.get("3.13") and r.events["3.13"].callable == "f"]
    if result.traces["3.12"].python == "3.12.1":  # gh-116626, fixed in later 3.12 releases
        assert row.events.get("3.12") is None and row.difference == comparing.MISSING
    else:
        assert row.events["3.12"].callable == "f"


def test_314_reports_branch_left_and_right_where_313_reports_branch():
    need("3.13", "3.14")
    result = run("""
        def f(n):
            for i in range(n):
                if i:
                    pass
        f(2)
    """, ["3.13", "3.14"], events="flow")
    pairs = {(r.events["3.13"].event, r.events["3.14"].event)
             for r in result.rows if r.events.get("3.13") and r.events.get("3.14")
             and r.events["3.13"].event == "BRANCH"}
    assert pairs == {("BRANCH", "BRANCH_LEFT"), ("BRANCH", "BRANCH_RIGHT")}
    assert all(r.difference == comparing.EVENT for r in result.rows
               if r.events.get("3.13") and r.events["3.13"].event == "BRANCH")


def test_every_supported_version_records_the_same_lines():
    need(*interpreters.SUPPORTED)
    result = run("""
        total = 0
        for i in range(3):
            total += i
    """, interpreters.SUPPORTED, events="LINE")
    assert result.versions == list(interpreters.SUPPORTED)
    assert not result.differences()


def test_a_version_that_cannot_run_is_reported_not_dropped(monkeypatch):
    need("3.13")
    real = interpreters.find
    monkeypatch.setattr(interpreters, "find",
                        lambda v: "no such Python here" if v == "3.12" else real(v))
    result = comparing.compare("x = 1\n", ["3.12", "3.13"], "LINE")
    assert result.unavailable == {"3.12": "no such Python here"}
    assert result.versions == ["3.13"]
    assert "Python 3.12: not recorded: no such Python here" in result.to_text()
    assert "no such Python here" in result._repr_html_()


def test_bad_arguments_say_what_is_valid():
    with pytest.raises(InvalidArgumentError, match=r"choose from 3\.12, 3\.13, 3\.14, 3\.15"):
        comparing.compare("x = 1", ["2.7"])
    with pytest.raises(InvalidArgumentError, match="source text"):
        comparing.compare(42)


def test_the_html_table_escapes_user_text_and_marks_differences():
    need("3.12", "3.13")
    result = run("""
        f = lambda x: 1 if x else 2
        f(1)
    """, ["3.12", "3.13"], events="PY_START,BRANCH")
    page = result._repr_html_()
    assert "&lt;lambda&gt;" in page and "<lambda>" not in page
    rows = page.split("<tbody>")[1].split("</tr>")[:-1]
    marked = [row.startswith("<tr class='monviz-diff-offset'>") for row in rows]
    assert marked == [r.difference == comparing.OFFSET for r in result.rows]
    assert any(marked) and not all(marked)


def test_the_command_line_prints_the_aligned_table(tmp_path):
    need("3.12", "3.13")
    script = tmp_path / "prog.py"
    script.write_text("def f(x):\n    if x:\n        x += 1\n    return x\nf(1)\n")
    out = subprocess.run([sys.executable, "-m", "monviz", "compare", str(script),
                          "--versions", "3.12,3.13", "--events", "BRANCH"],
                         capture_output=True, text=True, check=True).stdout
    header, branch, summary = out.strip().splitlines()
    assert header.split() == ["3.12", "3.13"]
    assert branch.startswith("~ BRANCH f:2")
    assert summary.startswith("1 aligned events")
