"""The event catalogue says what this interpreter does: checked against the interpreter.

Names and bits against ``sys.monitoring.events``; ``local`` by asking
``set_local_events``; ``can_disable`` by returning DISABLE for real; the
argument names by registering callbacks of exactly that arity and firing them.
"""

from __future__ import annotations

import sys
import textwrap
import warnings
from types import CodeType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monviz import versions
from monviz.errors import UnknownEventError
from monviz.events import CATALOGUE, CURRENT, GROUPS, bits_of, names_of, parse_events

#: the branch events of this interpreter (BRANCH is their deprecated alias on 3.14+)
BRANCHES = bits_of(versions.BRANCH_EVENTS)

mon = sys.monitoring
SCRATCH_TOOL = 4
C_ALL = mon.events.CALL | mon.events.C_RETURN | mon.events.C_RAISE


@pytest.fixture
def scratch_tool():
    """A tool id of our own, cleaned up completely afterwards."""
    assert mon.get_tool(SCRATCH_TOOL) is None
    mon.use_tool_id(SCRATCH_TOOL, "test_events scratch")
    touched: list[CodeType] = []
    yield touched
    mon.set_events(SCRATCH_TOOL, 0)
    for code in touched:
        mon.set_local_events(SCRATCH_TOOL, code, 0)
    for info in CATALOGUE.values():
        mon.register_callback(SCRATCH_TOOL, info.bit, None)
    mon.free_tool_id(SCRATCH_TOOL)
    mon.restart_events()  # re-arm what the DISABLE tests switched off


def test_names_and_bits_are_exactly_the_interpreters():
    expected = {n: v for n, v in vars(mon.events).items() if n != "NO_EVENTS"}
    assert {name: info.bit for name, info in CATALOGUE.items()} == expected
    assert all(info.name == name for name, info in CATALOGUE.items())
    assert list(CATALOGUE) == sorted(CATALOGUE, key=lambda n: CATALOGUE[n].bit)


def test_the_local_flag_is_what_set_local_events_accepts(scratch_tool):
    probe = (lambda: None).__code__
    scratch_tool.append(probe)
    for name, info in CATALOGUE.items():
        try:
            mon.set_local_events(SCRATCH_TOOL, probe, info.bit)
            accepted = True
        except ValueError:
            accepted = False
        mon.set_local_events(SCRATCH_TOOL, probe, 0)
        assert info.local == accepted, name


def test_c_return_and_c_raise_are_local_only_together_with_call(scratch_tool):
    probe = (lambda: None).__code__
    scratch_tool.append(probe)
    ancillary = [info for info in CATALOGUE.values() if info.kind == "ancillary"]
    assert {info.name for info in ancillary} == {"C_RETURN", "C_RAISE"}
    mon.set_local_events(SCRATCH_TOOL, probe, C_ALL)
    assert mon.get_local_events(SCRATCH_TOOL, probe) & mon.events.CALL


# A program that raises every event of 3.12/3.13 at least once, and the same
# events at the same locations when run again.
PROGRAM = textwrap.dedent("""
    def gen():
        try:
            yield 1
        except KeyError:
            yield 2

    def sub():
        yield 1
        return 2

    def delegate():
        result = yield from sub()
        return result

    def run():
        for i in range(2):
            if i:
                pass
        g = gen()
        next(g)
        g.throw(KeyError())
        g.close()
        list(delegate())
        try:
            len(5)
        except TypeError:
            pass
        try:
            try:
                raise ValueError
            finally:
                pass
        except ValueError:
            pass
        return len("ab")
""")


def load_program():
    code = compile(PROGRAM, "<test_events>", "exec", dont_inherit=True)
    namespace: dict = {}
    exec(code, namespace)
    tree = [code]
    for c in tree:
        tree.extend(k for k in c.co_consts if isinstance(k, CodeType))
    return namespace["run"], {id(c): c for c in tree}


def exact_callback(nargs: int, body):
    """A callback taking exactly ``nargs`` positional arguments (so arity errors show)."""
    params = ", ".join(f"a{i}" for i in range(nargs))
    namespace = {"body": body}
    exec(f"def callback({params}):\n    return body({params})\n", namespace)
    return namespace["callback"]


def arm(name: str, tree: dict, body, touched: list) -> None:
    info = CATALOGUE[name]
    mon.register_callback(SCRATCH_TOOL, info.bit, exact_callback(1 + len(info.args), body))
    bits = C_ALL if info.kind == "ancillary" else info.bit
    if info.local or info.kind == "ancillary":
        for code in tree.values():
            mon.set_local_events(SCRATCH_TOOL, code, bits)
            touched.append(code)
    else:
        mon.set_events(SCRATCH_TOOL, bits)


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_callbacks_with_the_listed_arguments_fit(scratch_tool, name):
    run, tree = load_program()
    calls = []
    arm(name, tree, lambda code, *args: calls.append(args) if id(code) in tree else None,
        scratch_tool)
    run()  # a callback of the wrong arity would raise TypeError here
    assert calls, f"the program never raised {name}"
    assert all(len(args) == len(CATALOGUE[name].args) for args in calls)


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_can_disable_is_what_returning_disable_does(scratch_tool, name):
    run, tree = load_program()
    seen = []

    def body(code, *args):
        if id(code) not in tree:
            return None
        seen.append((id(code), args[0]))
        return mon.DISABLE

    arm(name, tree, body, scratch_tool)
    try:
        run()
        first = len(seen)
        run()  # the same path again: every location it reaches was disabled
    except ValueError as exc:
        assert not CATALOGUE[name].can_disable, f"{name}: {exc}"
        assert str(exc) == f"Cannot disable {name} events. Callback removed."
        assert mon.register_callback(SCRATCH_TOOL, CATALOGUE[name].bit, None) is None
    else:
        assert CATALOGUE[name].can_disable, f"{name} was disabled without an error"
        assert first, f"the program never raised {name}"
        assert len(seen) == first, f"{name} fired again where it was disabled"


def test_at_least_one_local_and_one_global_event_were_disable_tested():
    assert CATALOGUE["LINE"].local and CATALOGUE["LINE"].can_disable
    assert not CATALOGUE["C_RETURN"].can_disable
    # the exception events became local in 3.15, and DISABLE stopped raising for them
    later = sys.version_info >= (3, 15)
    assert CATALOGUE["RAISE"].local == CATALOGUE["RAISE"].can_disable == later


# -- parsing --------------------------------------------------------------------


@pytest.mark.parametrize("group", ["all", "default", "calls", "lines", "flow", "exceptions",
                                   "generators"])
def test_groups_parse_to_their_members(group):
    assert parse_events(group) == bits_of(GROUPS[group])
    assert parse_events(group.upper()) == parse_events(group)
    assert GROUPS[group] and GROUPS[group] <= set(CATALOGUE)


def test_default_is_every_event_but_instruction():
    assert set(names_of(parse_events(None))) == set(CURRENT) - {"INSTRUCTION"}
    assert parse_events("all") == bits_of(CURRENT)
    assert set(CATALOGUE) - set(CURRENT) == set(versions.DEPRECATED_ALIASES)


def test_branch_is_a_deprecated_alias_of_left_and_right_on_314():
    if versions.HAS_BRANCH_LEFT_RIGHT:
        with pytest.warns(DeprecationWarning, match="BRANCH_LEFT and BRANCH_RIGHT"):
            assert parse_events("BRANCH") == mon.events.BRANCH_LEFT | mon.events.BRANCH_RIGHT
        assert CATALOGUE["BRANCH"].deprecated and "BRANCH" not in GROUPS["all"]
    else:
        assert parse_events("BRANCH") == mon.events.BRANCH
        assert not CATALOGUE["BRANCH"].deprecated


@pytest.mark.parametrize("spec", ["line", "Line", "LINE", " line ", ["line"], ["LiNe"]])
def test_names_are_case_insensitive(spec):
    assert parse_events(spec) == mon.events.LINE


def test_several_names_in_one_string():
    expected = mon.events.LINE | BRANCHES | mon.events.JUMP
    with warnings.catch_warnings():  # BRANCH is deprecated on 3.14+
        warnings.simplefilter("ignore", DeprecationWarning)
        assert parse_events("line, branch jump") == expected
        assert parse_events("LINE|BRANCH|JUMP") == expected
        assert parse_events(["line", mon.events.BRANCH, "jump"]) == expected


def test_int_bit_sets_are_accepted():
    bits = mon.events.LINE | mon.events.RAISE
    assert parse_events(bits) == bits
    with warnings.catch_warnings():  # every bit includes the deprecated BRANCH on 3.14+
        warnings.simplefilter("ignore", DeprecationWarning)
        assert parse_events(bits_of(CATALOGUE)) == bits_of(CURRENT)


@pytest.mark.parametrize("bad", [0, -1, 1 << 30, bits_of(CATALOGUE) + 1])
def test_invalid_bits_are_rejected(bad):
    with pytest.raises(UnknownEventError, match="invalid event bit set"):
        parse_events(bad)


@settings(max_examples=50, deadline=None)
@given(st.sets(st.sampled_from(sorted(CURRENT)), min_size=1))
def test_names_of_and_parse_events_round_trip(names):
    bits = parse_events(names)
    assert bits == bits_of(names)
    assert names_of(bits) == [n for n in CATALOGUE if n in names]  # catalogue order
    assert parse_events(names_of(bits)) == bits
    assert parse_events(bits) == bits
