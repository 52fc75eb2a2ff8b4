"""Every row of docs/versions.md, checked on the interpreter running the tests.

Each test runs a minimal program under raw ``sys.monitoring`` (or monviz where
that is the point) and asserts what this version does; ``make test`` runs the
file on 3.12, 3.13, 3.14 and 3.15, so the table is checked on all four.
"""

from __future__ import annotations

import dis
import sys
import textwrap

import pytest

import monviz
from monviz import versions

mon = sys.monitoring
E = mon.events
PY = sys.version_info[:2]
TOOL = 5 if mon.get_tool(5) is None else 4


GLOBAL_ONLY = () if PY >= (3, 15) else ("RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND",
                                         "PY_THROW")


class Raw:
    """A minimal recorder: the listed events, on one code object (or everywhere).

    Events that cannot be set per code object are set globally and filtered.
    """

    def __init__(self, names, code=None, *, result=None, everywhere=False):
        self.names, self.code, self.rows = names, code, []
        self.result = result  # what every callback returns (for ``code``)
        self.everywhere = everywhere  # set globally even where a local set is possible

    def __enter__(self):
        local = glob = 0
        for name in self.names:
            bit = getattr(E, name)
            if self.code is None or name in GLOBAL_ONLY or self.everywhere:
                glob |= bit
            else:
                local |= bit

            def cb(code, *args, name=name):
                if self.code is None or code is self.code:
                    self.rows.append((name, code.co_name, *args))
                    return self.result
                return None

            mon.register_callback(TOOL, bit, cb)
        mon.use_tool_id(TOOL, "versions-test")
        mon.set_events(TOOL, glob)
        if local:
            mon.set_local_events(TOOL, self.code, local)
        return self

    def __exit__(self, *exc):
        mon.set_events(TOOL, 0)
        if self.code is not None:
            mon.set_local_events(TOOL, self.code, 0)
        for name in self.names:
            mon.register_callback(TOOL, getattr(E, name), None)
        mon.free_tool_id(TOOL)
        mon.restart_events()


def compile_function(source: str, name: str):
    namespace: dict = {}
    code = compile(textwrap.dedent(source), f"<versions-{name}>", "exec", dont_inherit=True)
    exec(code, namespace)
    return namespace[name]


# -- names and numbers ------------------------------------------------------------


def test_branch_left_and_right_arrive_in_314_and_later_events_are_renumbered():
    assert hasattr(E, "BRANCH_LEFT") == hasattr(E, "BRANCH_RIGHT") == (PY >= (3, 14))
    assert (1024 if PY >= (3, 14) else 512) == E.STOP_ITERATION
    assert (1 << 18 if PY >= (3, 14) else 256) == E.BRANCH
    assert (PY >= (3, 14)) == versions.HAS_BRANCH_LEFT_RIGHT


def test_clear_tool_id_arrives_in_314():
    assert hasattr(mon, "clear_tool_id") == versions.HAS_CLEAR_TOOL_ID == (PY >= (3, 14))


# -- tool ids ----------------------------------------------------------------------


def test_free_tool_id_clears_events_and_callbacks_from_314_on():
    f = compile_function("def f():\n    return 1\n", "f")
    seen = []
    mon.use_tool_id(TOOL, "versions-test")
    mon.register_callback(TOOL, E.LINE, lambda code, line: seen.append(line))
    mon.set_events(TOOL, E.PY_START)
    mon.set_local_events(TOOL, f.__code__, E.LINE)
    mon.free_tool_id(TOOL)
    try:
        left = (mon.get_events(TOOL), mon.get_local_events(TOOL, f.__code__))
        f()
        after = mon.get_local_events(TOOL, f.__code__)
        assert (PY >= (3, 14)) == versions.FREE_TOOL_ID_CLEARS
        if PY >= (3, 14):
            # cleared, and no callback fires; but get_local_events still reports the
            # old set until the code object runs again
            assert left == (0, E.LINE) and seen == [] and after == 0
        else:  # only the name is released: events stay set and the callback fires
            assert left == (E.PY_START, E.LINE) and seen == [2] and after == E.LINE
    finally:  # 3.12/3.13: set_events needs the id in use, register_callback does not
        mon.use_tool_id(TOOL, "versions-test")
        mon.set_events(TOOL, 0)
        mon.set_local_events(TOOL, f.__code__, 0)
        mon.register_callback(TOOL, E.LINE, None)
        mon.free_tool_id(TOOL)


# -- exception events --------------------------------------------------------------


def test_exception_events_can_be_set_per_code_object_from_315_on():
    f = compile_function("def f():\n    return 1\n", "f")
    mon.use_tool_id(TOOL, "versions-test")
    try:
        for name in ("RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW"):
            bit = getattr(E, name)
            if PY >= (3, 15):
                mon.set_local_events(TOOL, f.__code__, bit)
                assert mon.get_local_events(TOOL, f.__code__) == bit
            else:
                with pytest.raises(ValueError, match=f"invalid local event set {bit:#x}"):
                    mon.set_local_events(TOOL, f.__code__, bit)
            mon.set_local_events(TOOL, f.__code__, 0)
    finally:
        mon.free_tool_id(TOOL)
    assert (PY >= (3, 15)) == versions.EXCEPTION_EVENTS_LOCAL


RAISES_THREE_TIMES = """
def f():
    for _ in range(3):
        try:
            raise KeyError
        except KeyError:
            pass
"""


def test_returning_disable_from_a_global_raise_is_an_error_until_315():
    f = compile_function(RAISES_THREE_TIMES, "f")
    message = r"Cannot disable RAISE events\. Callback removed\."
    with Raw(["RAISE"], f.__code__, result=mon.DISABLE, everywhere=True) as raw:
        if PY >= (3, 15):
            f()  # ignored: the callback stays and keeps firing
        else:
            with pytest.raises(ValueError, match=message):
                f()
    assert len(raw.rows) == (3 if PY >= (3, 15) else 1)


@pytest.mark.skipif(PY < (3, 15), reason="exception events are local from 3.15 on")
def test_returning_disable_from_a_local_raise_turns_it_off_for_the_code_object():
    f = compile_function(RAISES_THREE_TIMES, "f")
    with Raw(["RAISE"], f.__code__, result=mon.DISABLE) as raw:
        f()
        assert mon.get_local_events(TOOL, f.__code__) == 0
        mon.restart_events()
        f()  # restart_events does not bring it back
    assert len(raw.rows) == 1


# -- offsets and destinations ------------------------------------------------------


def test_a_branch_that_falls_through_lands_2_4_or_6_bytes_on():
    """3.12: right after POP_JUMP_IF_*; 3.13: after its cache entry; 3.14: after NOT_TAKEN too."""
    f = compile_function("""
        def f(x):
            if x:
                x += 1
            return x
    """, "f")
    names = ["BRANCH_LEFT", "BRANCH_RIGHT"] if PY >= (3, 14) else ["BRANCH"]
    with Raw(names, f.__code__) as raw:
        f(1)
    ((name, _, offset, dest),) = raw.rows
    assert name == names[0]
    assert dest - offset == {(3, 12): 2, (3, 13): 4}.get(PY, 6)


def test_the_jump_out_of_an_except_handler_is_gone_from_313_on():
    gen = compile_function("""
        def gen():
            try:
                yield 1
            except ValueError:
                pass
            yield 2
    """, "gen")
    with Raw(["JUMP"], gen.__code__) as raw:
        g = gen()
        next(g)
        g.throw(ValueError)
    assert len(raw.rows) == (1 if PY == (3, 12) else 0)


def test_py_throw_is_reported_at_the_yield_on_312_and_at_the_resume_after_it_later():
    gen = compile_function("""
        def gen():
            try:
                yield 1
            except ValueError:
                yield 2
    """, "gen")
    with Raw(["PY_THROW"], gen.__code__) as raw:
        g = gen()
        next(g)
        g.throw(ValueError)
    ((_, _, offset, _exc),) = [r for r in raw.rows if r[1] == "gen"]
    at = {i.offset: i.opname for i in dis.get_instructions(gen.__code__)}
    assert at[offset] == ("YIELD_VALUE" if PY == (3, 12) else "RESUME")


def test_a_generator_starts_at_offset_4_until_315_moves_it():
    """3.15 gave RESUME an inline cache; the prologue before it is unchanged."""
    gen = compile_function("def gen():\n    yield 1\n", "gen")
    with Raw(["PY_START"], gen.__code__) as raw:
        next(gen())
    ((_, _, offset),) = raw.rows
    at = {i.offset: i.opname for i in dis.get_instructions(gen.__code__)}
    assert at[offset - 2 if at.get(offset) is None else offset] in ("POP_TOP", "RESUME", "NOP")
    assert offset == 4


# -- events that appear or not -----------------------------------------------------


def test_one_line_functions_get_no_line_event_with_only_line_enabled_from_313_on():
    """gh-155992 (open): enabling PY_START too brings the LINE back — monviz always does."""
    f = compile_function("def f(x): return x + 1\n", "f")
    with Raw(["LINE"], f.__code__) as raw:
        f(1)
    assert len(raw.rows) == (1 if PY == (3, 12) else 0)
    with Raw(["LINE", "PY_START"], f.__code__) as raw:
        f(1)
    assert [r[0] for r in raw.rows] == ["PY_START", "LINE"]
    assert [e.event for e in monviz.record(lambda: f(1), events="LINE")
            if e.code.qualname == "f"] == ["LINE"]


def test_a_star_args_call_of_a_python_function_has_a_call_event_except_on_3_12_1():
    """gh-116626, fixed in 3.12 releases after 3.12.1."""
    main = compile_function("""
        def main():
            def f(*args):
                return args
            args = (1, 2)
            return f(*args)
    """, "main")
    with Raw(["CALL"], main.__code__) as raw:
        main()
    calls = [r for r in raw.rows if getattr(r[3], "__name__", "") == "f"]
    assert len(calls) == (0 if sys.version_info[:3] == (3, 12, 1) else 1)


def test_while_has_two_tests_until_314_and_one_after():
    f = compile_function("""
        def f(n):
            while n > 0:
                n -= 1
            return n
    """, "f")
    names = ["BRANCH_LEFT", "BRANCH_RIGHT"] if PY >= (3, 14) else ["BRANCH"]
    with Raw(names, f.__code__) as raw:
        f(2)
    sources = {r[2] for r in raw.rows}
    assert len(sources) == (1 if PY >= (3, 14) else 2)


def test_a_class_body_with_annotations_gets_an_annotate_function_from_314_on():
    """PEP 649: from 3.14 the annotations are a code object of their own, run when
    ``__annotations__`` is first read; the body starts after ``MAKE_CELL __classdict__``.
    (Compiled as ``python file.py`` would: PEP 563, which monviz's own modules ask for,
    would turn all of this off, which is why monviz compiles with ``dont_inherit``.)"""
    source = "class Point:\n    x: int\n    y: float = 0.0\n"
    code = compile(source, "<versions-class>", "exec", dont_inherit=True)
    body = next(c for c in code.co_consts if isinstance(c, type(code)))
    namespace: dict = {}
    with Raw(["PY_START"]) as raw:
        exec(code, namespace)
        annotations = namespace["Point"].__annotations__
    starts = [(name, offset) for _, name, offset in raw.rows
              if name in ("Point", "__annotate__")]
    assert annotations == {"x": int, "y": float}
    if PY >= (3, 14):
        assert starts == [("Point", 2), ("__annotate__", 2)]
        assert dis.get_instructions(body).__next__().opname == "MAKE_CELL"
    else:
        assert starts == [("Point", 0)]
        assert "SETUP_ANNOTATIONS" in {i.opname for i in dis.get_instructions(body)}
