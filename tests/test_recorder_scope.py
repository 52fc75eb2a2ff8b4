"""Which code a recording covers (scope), and the cap on how many events it keeps.

scope="user": the target and the user's other code (earlier cells, their own
files), never the standard library, site-packages or monviz. scope="all":
every Python code object except monviz's own. Where code comes from is judged
here from the modules' own ``__file__`` and ``sysconfig``, not from monviz.scope.
"""

from __future__ import annotations

import fractions
import importlib.util
import json
import os
import sysconfig
import textwrap
import urllib.parse

import pytest

import monviz

MONVIZ_DIR = os.path.dirname(os.path.abspath(monviz.__file__)) + os.sep
STDLIB_DIR = os.path.realpath(sysconfig.get_paths()["stdlib"]) + os.sep
PURELIB_DIR = os.path.realpath(sysconfig.get_paths()["purelib"]) + os.sep


def filenames(trace) -> set[str]:
    return {os.path.realpath(c.filename) if not c.filename.startswith("<") else c.filename
            for c in trace.codes()}


def uses_the_stdlib():
    """Python code in three stdlib modules, called from the target."""
    text = json.dumps({"a": [1, 2]}, indent=1)
    third = fractions.Fraction(1, 3) + fractions.Fraction(1, 6)
    body = textwrap.dedent("    x\n    y\n")
    return text, third, body


STDLIB_FILES = {os.path.realpath(m.__file__) for m in (fractions, textwrap)} | {
    os.path.realpath(json.__file__)}


def test_user_scope_leaves_out_the_standard_library():
    trace = monviz.record(uses_the_stdlib, scope="user")
    assert [c.qualname for c in trace.codes()] == ["uses_the_stdlib"]
    assert not any(f.startswith(STDLIB_DIR) for f in filenames(trace))
    assert "CALL" in trace.totals()  # the calls into the stdlib are the target's own events


def test_all_scope_includes_the_standard_library():
    trace = monviz.record(uses_the_stdlib, scope="all")
    assert filenames(trace) >= STDLIB_FILES
    qualnames = {c.qualname for c in trace.codes()}
    assert {"dumps", "Fraction.__new__", "dedent"} <= qualnames


@pytest.mark.parametrize("scope", ["user", "all"])
def test_monviz_own_code_never_appears(scope):
    namespace: dict = {}
    trace = monviz.record("import json\nx = json.dumps([1])\n", namespace=namespace, scope=scope)
    assert namespace["x"] == "[1]"
    assert len(trace) > 0
    assert not [f for f in filenames(trace) if f.startswith(MONVIZ_DIR)]


def test_all_scope_has_only_code_the_target_ran():
    """monviz's own teardown (contextlib, signal, threading it calls) is not the target's."""

    def pure():
        total = 0
        for i in range(3):
            total += i
        return total

    trace = monviz.record(pure, scope="all")
    assert [c.qualname for c in trace.codes()] == [pure.__qualname__]
    assert trace[-1].event == "PY_RETURN" and trace[-1].value == "3"


def test_user_scope_leaves_out_code_the_stdlib_generates_for_itself():
    """A stdlib namedtuple's ``__new__`` is compiled from a string (``<string>``) but is
    the standard library's code, as asyncio.run's selector keys are."""

    def parse():
        return urllib.parse.urlsplit("http://host/path?q")  # a SplitResult, a namedtuple

    trace = monviz.record(parse, scope="user")
    assert [c.qualname for c in trace.codes()] == [parse.__qualname__]


def test_user_scope_leaves_out_site_packages():
    approx = pytest.approx  # pytest lives in site-packages

    def compare():
        return approx(1.0) == 1.0

    assert pytest.__file__.startswith(PURELIB_DIR) or "site-packages" in pytest.__file__
    user = monviz.record(compare, scope="user")
    everything = monviz.record(compare, scope="all")
    assert [c.qualname for c in user.codes()] == [compare.__qualname__]
    assert os.path.realpath(pytest.__file__).rsplit(os.sep, 2)[0] in " ".join(filenames(everything))


def test_code_from_an_earlier_cell_is_user_code():
    namespace: dict = {}
    cell_1 = "def double(x):\n    return 2 * x\n"
    exec(compile(cell_1, "<cell-1>", "exec", dont_inherit=True), namespace)
    trace = monviz.record("y = double(21)\n", namespace=namespace, filename="<cell-2>")
    assert namespace["y"] == 42
    assert {(c.qualname, c.filename) for c in trace.codes()} == {
        ("<module>", "<cell-2>"), ("double", "<cell-1>")}
    doubled = [e for e in trace if e.code.qualname == "double"]
    assert [e.event for e in doubled] == ["PY_START", "LINE", "PY_RETURN"]
    assert doubled[-1].value == "42" and doubled[0].depth == 1


def test_code_from_the_users_own_file_is_user_code(tmp_path):
    path = tmp_path / "my_helpers.py"
    path.write_text("def triple(x):\n    return 3 * x\n")
    spec = importlib.util.spec_from_file_location("my_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def target():
        return module.triple(2)

    trace = monviz.record(target, events=["PY_START", "PY_RETURN"])
    assert [(e.event, e.code.qualname, e.value) for e in trace] == [
        ("PY_START", target.__qualname__, None), ("PY_START", "triple", None),
        ("PY_RETURN", "triple", "6"), ("PY_RETURN", target.__qualname__, "6")]
    assert trace.source_of(trace[-2].code) == path.read_text()


# -- the cap ---------------------------------------------------------------------------


def make_long_runner():
    done = []

    def long_runner():
        total = 0
        for i in range(100_000):
            total += i
        done.append(total)

    return long_runner, done


@pytest.mark.parametrize("cap", [1, 10, 1000])
def test_a_cap_keeps_exactly_n_events_and_the_target_still_finishes(cap):
    target, done = make_long_runner()
    trace = monviz.record(target, max_events=cap)
    assert len(trace) == cap
    assert trace.truncated is True
    assert trace.dropped > 0
    assert done == [sum(range(100_000))], "the target did not run to completion"


def test_a_capped_trace_is_the_start_of_the_full_trace():
    def short():
        out = []
        for i in range(30):
            out.append(i % 3)
        return out

    full = monviz.record(short)
    capped = monviz.record(short, max_events=len(full) // 2)
    exact = monviz.record(short, max_events=len(full))
    key = lambda e: (e.event, e.code.qualname, e.offset, e.line, e.target, e.arg0, e.value)  # noqa: E731
    assert list(map(key, capped)) == list(map(key, full))[: len(full) // 2]
    assert capped.truncated and not full.truncated
    assert list(map(key, exact)) == list(map(key, full))
    assert exact.dropped == 0


def test_a_cap_counts_only_the_events_asked_for():
    """Frame events monviz adds for itself do not use up the cap."""
    target, done = make_long_runner()
    trace = monviz.record(target, events=["LINE"], max_events=500)
    assert len(trace) == 500 and {e.event for e in trace} == {"LINE"}
    assert done
