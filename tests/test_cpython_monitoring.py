"""CPython's own event-sequence tests (``Lib/test/test_monitoring.py``), replayed through monviz.

Each case below is one check of CPython's test suite rewritten as a short program, the
events its recorders ask for, and the sequence CPython's test expects, per version, as
written in the test file shipped with each interpreter we run: 3.12.1 and 3.13.0 (pyenv's
``lib/python3.X/test``), 3.14.10 and 3.15.2 (Debian's ``libpython3.X-testsuite``). The
tuples have the shape of CPython's recorders (``LineRecorder`` gives ``("line", co_name,
line - co_firstlineno)``, ``JumpRecorder`` ``("jump", co_name, from_line, to_line)``...);
``adapt`` turns monviz's events into the same shape.

What is left out of CPython's lists: its harness (``CheckEvents.get_events``) sets the
events globally and calls the function itself, so its lists also hold the harness's own
events (``("line", "get_events", 10)``, the CALL of the function, the CALL of
``set_events``; ``gather_events`` drops its last event and ``check_lines`` its first and
last). monviz records the function's call and nothing of its caller, so those entries are
not in the tables; MonitoringCountTest's CALL count loses the harness's call likewise.

Three tests per case:

* ``test_replay``: monviz (both backends) gives CPython's expected sequence, or, where a
  case documents why not on this version (``differs``), exactly that other sequence.
* ``test_raw_recorder_with_cpythons_events``: the independent raw recorder
  (``raw_recorder.py``) enabling only the events CPython's test enables gives CPython's
  expected sequence: the table is transcribed right, and a documented difference does
  not come from the program.
* ``test_monviz_matches_raw_recorder``: monviz's stream is, field by field, the raw
  recorder's with monviz's effective event set (the request plus the frame events it
  always enables, and CALL/C_RETURN/C_RAISE together): a documented difference is what
  CPython reports for that event set, not a monviz error.

Differences: one, on every version (``LIST_APPEND``, ``kind="values"``): CPython's
CallRecorder keeps the arg0 *object*, so ``[].append(2)``'s CALL is expected with ``[2]``,
the list after the call; monviz and the raw recorder show its repr at the CALL, ``[]``.
No case shows a difference from monviz's effective event set: the extra frame events
change none of these sequences (STOP_ITERATION stays STOP_ITERATION with them, and the
LINE that 3.13 drops for a function whose body is on its ``def`` line when LINE is set
without PY_START occurs in no case here).

Replayed: MonitoringCountTest (counts), MonitoringEventsTest, LineMonitoringTest
(``test_lines_single``, ``test_lines_loop``, the ``check_lines`` cases),
ExceptionMonitoringTest (``test_simple_try_except``, ``test_implicit_stop_iteration``,
the ``check_balanced`` cases, ``test_throw``, ``test_no_unwind_for_shim_frame``,
``test_gen_unwind``), TestManyEvents, TestLineAndInstructionEvents (``test_simple``,
``test_c_call``, ``test_try_except``), TestInstallIncrementally (its ``must_include``
checks), TestLocalEvents (``test_simple``, ``test_c_call``, ``test_try_except``),
TestBranchAndJumpEvents (all but ``test_callback_set_frame_lineno``), TestBranchConsistency,
TestLoadSuperAttr, TestRegressions.test_call_function_ex. A case is run on the versions
whose test file has it (``since``, ``until``). Where CPython's test warms the code up
first (``test_no_unwind_for_shim_frame``; 3.14+'s ``test_implicit_stop_iteration``, once
with its loop kept unspecialised by a set, so StopIteration is raised: RAISE, once
specialised: STOP_ITERATION), ``warm`` does the same and ``adaptive`` checks that the
recording starts on the path CPython's test means.

Skipped, as tests of the API rather than of a program's events: MonitoringBasicTest,
MontoringDisableAndRestartTest, TestDisable, TestSetGetEvents, TestUninitialized (tool
ids, DISABLE, restart_events, get/set_events); MultipleMonitorsTest and
``test_lines_two`` (several tools at once: monviz is one tool);
TestLineAndInstructionEvents ``test_with_restart`` (the ``test_simple`` program again
around ``restart_events()``), ``test_turn_off_only_instruction`` and
``test_disable_line_keeps_instruction_events`` (switching events or DISABLE mid-run);
TestInstallIncrementally's *order* of installation (monviz sets its events at once; the
expected events are replayed); ``test_set_non_local_event`` and 3.15's ``test_local_*``
(which code objects accept local exception events, and DISABLE); TestBranchAndJumpEvents
``test_callback_set_frame_lineno`` (a callback setting ``f_lineno``); SimulateProfileTest
(balance and frame-stack invariants of ``test.profilee``, not a sequence);
TestRegressions but ``test_call_function_ex`` (crashes, callbacks calling set_events,
results under monitoring); TestOptimizer, TestTier2Optimizer (the JIT/optimizer API);
TestMonitoringAtShutdown (a subprocess at shutdown); TestCApiEventGeneration (needs
``_testcapi``). TestLoadSuperAttr compiles its programs as ``<string>``, which monviz's
``scope="user"`` never records (that is how the standard library generates code); they
are compiled under another name here, which changes no event.
"""

from __future__ import annotations

import dis
import os
import re
import sys
import textwrap
import types
from dataclasses import dataclass, field
from typing import NamedTuple

import pytest
from raw_recorder import EVENTS, RawRecorder

import monviz
from monviz.versions import BRANCH_EVENTS, HAS_BRANCH_LEFT_RIGHT

PY = sys.version_info[:2]
V12, V13, V14, V15 = (3, 12), (3, 13), (3, 14), (3, 15)
BACKENDS = ["compiled", "python"]
RAW_TOOL = 3
MISSING = sys.monitoring.MISSING

FRAME_EVENTS = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "PY_THROW")
C_EVENTS = ("C_RETURN", "C_RAISE")


class NS(NamedTuple):
    """An expected value that is an object of the program (``d["b"]`` in CPython's test)."""

    name: str


# -- the programs' events in CPython's shapes ---------------------------------------------


class Row(NamedTuple):
    """One event, from monviz or from the raw recorder, with what the adapters need."""

    event: str
    code: types.CodeType
    offset: int | None
    line: int | None
    target: int | None
    call: str | None  # the callable's __name__
    pycall: bool  # the callable is a Python function or method (MonitoringEventsTest)
    arg: str | None  # the CALL / C_RETURN / C_RAISE arg0, as a repr ("MISSING")
    value: str | None  # PY_RETURN's value, as a repr
    exc: str | None  # the exception's type name

    def key(self) -> tuple:
        """Everything but the live code object: what the two recorders must agree on
        (object addresses left out: each recorder runs the program afresh)."""
        arg, value = (_ADDRESS.sub(" at 0x", t) if t else t for t in (self.arg, self.value))
        return (self.event, self.code.co_qualname, self.offset, self.line, self.target,
                self.call, arg, value, self.exc)


_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


_EXC_TYPE = re.compile(r"([A-Za-z_][\w.]*)\(")


def _exc_name(text: str | None) -> str | None:
    if text is None:
        return None
    m = _EXC_TYPE.match(text)
    return m.group(1) if m else text


def line_from_offset(code: types.CodeType, offset: int) -> int | str:
    """CPython's test's ``line_from_offset``: relative line, or ``[offset=N]``."""
    for start, end, line in code.co_lines():
        if start <= offset < end:
            if line is None:
                return f"[offset={offset}]"
            return line - code.co_firstlineno
    return -1


def _branch_label(row: Row, offsets: bool = False, legacy: bool = True):
    """BranchRecorder (E.BRANCH; both halves on 3.14+) or BranchLeft/RightRecorder."""
    if legacy or not HAS_BRANCH_LEFT_RIGHT:
        name = "branch"
    else:
        name = "branch left" if row.event == "BRANCH_LEFT" else "branch right"
    return _jump_label(row, name, offsets)


def _jump_label(row: Row, name: str = "jump", offsets: bool = False):
    if offsets:
        return (name, row.code.co_name, row.offset, row.target)
    return (name, row.code.co_name, line_from_offset(row.code, row.offset),
            line_from_offset(row.code, row.target))


@dataclass(frozen=True)
class Recorder:
    """One of CPython's test recorders: the events it enables, and the tuple it appends."""

    events: tuple[str, ...]
    label: object  # Row -> tuple


def _unwind(r: Row):
    if PY == V12:  # 3.12's UnwindRecorder does not record the code's name
        return ("unwind", r.exc)
    return ("unwind", r.exc, r.code.co_name)


def _return(r: Row):
    if PY == V12:  # 3.12's ReturnRecorder records the value only
        return ("return", r.value)
    return ("return", r.code.co_name, r.value)


def _simple(r: Row):
    """MonitoringEventsTest.gather_events: the event's name only."""
    if r.event == "CALL":
        return "py_call" if r.pycall else "c_call"
    return SIMPLE_NAMES[r.event]


SIMPLE_NAMES = {"PY_START": "start", "PY_RESUME": "resume", "PY_RETURN": "return",
                "PY_YIELD": "yield", "JUMP": "jump", "RAISE": "raise", "PY_UNWIND": "unwind",
                "EXCEPTION_HANDLED": "exception_handled", "C_RAISE": "c_raise",
                "C_RETURN": "c_return", **dict.fromkeys(BRANCH_EVENTS, "branch")}

RECORDERS: dict[str, Recorder] = {
    "Exception": Recorder(("RAISE",), lambda r: ("raise", r.exc)),
    "StopIteration": Recorder(("STOP_ITERATION",), lambda r: ("raise", r.exc)),
    "Reraise": Recorder(("RERAISE",), lambda r: ("reraise", r.exc)),
    "Unwind": Recorder(("PY_UNWIND",), _unwind),
    "Handled": Recorder(("EXCEPTION_HANDLED",), lambda r: ("handled", r.exc)),
    "Throw": Recorder(("PY_THROW",), lambda r: ("throw", r.exc)),
    "Call": Recorder(("CALL",), lambda r: ("call", r.call, r.arg)),
    "Return": Recorder(("PY_RETURN",), _return),
    "Line": Recorder(("LINE",), lambda r: ("line", r.code.co_name,
                                           r.line - r.code.co_firstlineno)),
    "CReturn": Recorder(("C_RETURN",), lambda r: ("C return", r.call, r.arg)),
    "CRaise": Recorder(("C_RAISE",), lambda r: ("C raise", r.call, r.arg)),
    "Instruction": Recorder(("INSTRUCTION",), lambda r: ("instruction", r.code.co_name,
                                                         r.offset)),
    "Jump": Recorder(("JUMP",), _jump_label),
    "Branch": Recorder(BRANCH_EVENTS, _branch_label),
    "BranchLeft": Recorder(("BRANCH_LEFT",), lambda r: _branch_label(r, legacy=False)),
    "BranchRight": Recorder(("BRANCH_RIGHT",), lambda r: _branch_label(r, legacy=False)),
    "BranchLeftOffset": Recorder(("BRANCH_LEFT",),
                                 lambda r: _branch_label(r, offsets=True, legacy=False)),
    "BranchRightOffset": Recorder(("BRANCH_RIGHT",),
                                  lambda r: _branch_label(r, offsets=True, legacy=False)),
    # MonitoringCountTest's counters: one event, counted
    **{name: Recorder((name,), lambda r: r.event)
       for name in ("PY_START", "PY_RESUME", "PY_RETURN")},
    # MonitoringEventsTest's SIMPLE_EVENT_SET, one name per event
    "Simple": Recorder(("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "JUMP",
                        *BRANCH_EVENTS, "RAISE", "PY_UNWIND", "EXCEPTION_HANDLED",
                        "C_RAISE", "C_RETURN", "CALL"), _simple),
}
EXCEPTION_RECORDERS = ("Exception", "Reraise", "Handled", "Unwind")
MANY = ("Exception", "Call", "Line", "CReturn", "CRaise")
LOCAL = ("Call", "Line", "CReturn", "CRaise")
LINE_AND_INSTRUCTION = ("Instruction", "Line")
JUMP_AND_BRANCH = ("Jump", "Branch")
JUMP_BRANCH_AND_LINE = ("Jump", "Branch", "Line")
FLOW_AND_LINE = ("Jump", "Branch", "Line", "Exception", "Return")
BRANCHES = ("BranchLeft", "BranchRight")
BRANCH_OFFSETS = ("BranchLeftOffset", "BranchRightOffset")
SUPER = ("Call", "Line", "CRaise", "CReturn")


# -- the table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Diff:
    """What monviz gives instead of CPython's expectation, and why.

    ``kind="events"``: CPython reports this with monviz's effective event set (the raw
    recorder agrees), and CPython's expectation with the test's own set.
    ``kind="values"``: CPython's recorder keeps the live object and its test compares it
    after the run; monviz (like the raw recorder, whatever the event set) shows the
    value's repr when the event happened.
    """

    expected: object
    reason: str
    kind: str = "events"


def everywhere(diff: Diff) -> dict:
    return dict.fromkeys((V12, V13, V14, V15), diff)


LIST_APPEND = Diff(
    [("line", "func", 1), ("line", "func", 2), ("call", "append", []),
     ("C return", "append", [2]), ("line", "func", 3)],
    "`[].append(2)` calls list.append with arg0 the list: CPython's CallRecorder keeps "
    "the list and compares it after the call appended to it ([2]); monviz's arg0 is the "
    "repr at the CALL, when the list was still empty ([]; [2] at the C_RETURN)",
    kind="values")


@dataclass(frozen=True)
class Case:
    """One CPython check. ``expected`` (and ``source``) may be ``{since_version: value}``."""

    name: str  # CPython's Class.test_method (and variant)
    source: object
    recorders: object  # names in RECORDERS, or {since_version: names}
    expected: object
    mode: str = "exact"  # exact | lines | includes | balanced | first | count | co_branches
    target: str = "func"  # the function to run, or "make()" for one made by make()
    since: tuple[int, int] = V12  # first version whose test file has this check
    until: tuple[int, int] = V15  # last one
    warm: str = ""  # run in the program's namespace before the recording (specialisation)
    #: (adaptive instruction, present?) in the target when the recording starts
    adaptive: tuple[str, bool] | None = None
    differs: dict = field(default_factory=dict)  # {version: Diff}

    def at(self, table):
        """The value of a ``{since_version: value}`` table for this interpreter."""
        if not isinstance(table, dict):
            return table
        return table[max(v for v in table if v <= PY)]

    @property
    def recorder_names(self) -> tuple[str, ...]:
        return self.at(self.recorders)

    @property
    def events(self) -> list[str]:
        """The events CPython's recorders enable (BRANCH: both halves on 3.14+)."""
        return list(dict.fromkeys(e for r in self.recorder_names for e in RECORDERS[r].events))


def li(name: str, *steps) -> list[tuple]:
    """TestLineAndInstructionEvents' lists: ``(line, *instruction offsets)`` per line."""
    out = []
    for line, *offsets in steps:
        out.append(("line", name, line))
        out.extend(("instruction", name, off) for off in offsets)
    return out


LINEAR = """
def func():
    line = 1
    line = 2
    line = 3
    line = 4
    line = 5
"""
BRANCH = """
def func():
    if "true".startswith("t"):
        line = 2
        line = 3
    else:
        line = 5
    line = 6
"""
TRY_NO_RAISE = """
def func():
    try:
        line = 2
        line = 3
    except:
        line = 5
    line = 6
"""
TRY_RAISE_3 = """
def func():
    try:
        line = 2
        raise 3
    except:
        line = 5
    line = 6
"""
TRY_KEYERROR = """
def func():
    try:
        line = 2
        raise KeyError
    except:
        line = 5
    line = 6
"""
GENERATOR_WITH_LINE = """
def func():
    def a():
        yield
    def b():
        yield from a()
    next(b())
"""
SIMPLE = """
def func():
    line1 = 1
    line2 = 2
    line3 = 3
"""
C_CALL = """
def func():
    line1 = 1
    [].append(2)
    line3 = 3
"""
SIMPLE_PROGRAMS = """
def just_pass():
    pass

def just_raise():
    raise Exception

def just_call():
    len([])

def caught():
    try:
        1/0
    except Exception:
        pass

def nested_call():
    just_pass()
"""
COUNT_PROGRAMS = """
import sys

PAIR = (0,1)

def f1():
    pass

def f2():
    len([])
    sys.getsizeof(0)

def floop():
    for item in PAIR:
        pass

def gen():
    yield
    yield

def g1():
    for _ in gen():
        pass
"""
STOP_ITERATION = {
    V12: """
def gen():
    yield 1
    return 2

def func():
    for _ in gen():
        pass
""",
    V14: """
def gen():
    yield 1
    return 2

def func(iterator=None):
    if iterator is None:
        iterator = gen()
    for _ in iterator:
        pass
"""}
EXPLICIT_RERAISE = """
def func():
    try:
        try:
            1/0
        except:
            raise
    except:
        pass
"""
EXPLICIT_RERAISE_NAMED = """
def func():
    try:
        try:
            1/0
        except Exception as ex:
            raise
    except:
        pass
"""
IMPLICIT_RERAISE = """
def func():
    try:
        try:
            1/0
        except ValueError:
            pass
    except:
        pass
"""
IMPLICIT_RERAISE_NAMED = """
def func():
    try:
        try:
            1/0
        except ValueError as ex:
            pass
    except:
        pass
"""
TRY_FINALLY = """
def func():
    try:
        try:
            1/0
        finally:
            pass
    except:
        pass
"""
ASYNC_FOR_RAISE = """
def func():

    async def async_generator():
        for i in range(1):
            raise ZeroDivisionError
            yield i

    async def async_loop():
        try:
            async for item in async_generator():
                pass
        except Exception:
            pass

    try:
        async_loop().send(None)
    except StopIteration:
        pass
"""
THROW = """
def gen():
    yield 1
    yield 2

def func():
    try:
        g = gen()
        next(g)
        g.throw(IndexError)
    except IndexError:
        pass
"""
SHIM_FRAME = """
class ValueErrorRaiser:
    def __init__(self):
        raise ValueError()

def func():
    try:
        return ValueErrorRaiser()
    except ValueError:
        pass
"""
GEN_UNWIND = """
def gen():
    yield 1

def func():
    g = gen()
    next(g)
    g.close()
"""
INSTALL_INCREMENTALLY = """
class TestInstallIncrementally:
    @staticmethod
    def func1():
        line1 = 1

    @staticmethod
    def func2():
        len(())

func1 = TestInstallIncrementally.func1
func2 = TestInstallIncrementally.func2
"""
LOOP_312 = """
def func():
    x = 1
    for a in range(2):
        if a:
            x = 4
        else:
            x = 6
"""
# 3.13's test_loop adds a line after the loop and a while loop.
LOOP = {V12: LOOP_312, V13: LOOP_312 + """    7

def whilefunc(n=0):
    while n < 3:
        n += 1 # line 2
    3
"""}
EXCEPT_STAR = """
def make():
    class Foo:
        def meth(self):
            pass

    def func():
        try:
            try:
                raise KeyError
            except* Exception as e:
                f = Foo(); f.meth()
        except KeyError:
            pass

    return func
"""
WHILE_OFFSETS = """
def func(n=0):
    while n<4:
        pass
        n += 1
    return None
"""
ASYNC_FOR = """
def func():
    async def gen():
        yield 2
        yield 3

    async def foo():
        async for y in gen():
            2
        pass # line 3

    try:
        foo().send(None)
    except StopIteration:
        pass
"""
ASYNC_FOR_CONSISTENCY = """
async def gen():
    yield 2
    yield 3

async def foo():
    async for y in gen():
        2
    pass # line 3

def func():
    try:
        foo().send(None)
    except StopIteration:
        pass
"""
MATCH = """
def func(v=1):
    x = 0
    for v in range(4):
        match v:
            case 1:
                x += 1
            case 2:
                x += 2
            case _:
                x += 3
    return x
"""
CALL_FUNCTION_EX = """
def f(a=1, b=2):
    return a + b
args = (1, 2)
empty_args = []

def func():
    f(*args)
    f(*empty_args)
"""
SUPER_METHOD_CALL = """
class A:
    def method(self, x):
        return x

class B(A):
    def method(self, x):
        return super(
        ).method(
            x
        )

b = B()
def f():
    return b.method(1)
"""
SUPER_METHOD_CALL_ERROR = """
class A:
    def method(self, x):
        return x

class B(A):
    def method(self, x):
        return super(
            x,
            self,
        ).method(
            x
        )

b = B()
def f():
    try:
        return b.method(1)
    except TypeError:
        pass
    else:
        assert False, "should have raised TypeError"
"""
SUPER_ATTR = """
class A:
    x = 1

class B(A):
    def method(self):
        return super(
        ).x

b = B()
def f():
    return b.method()
"""
OTHER_TYPE_CALL = """
class C:
    def method(self):
        return {cls}().__repr__{call}
c = C()
def f():
    return c.method()
"""



def _super_cases() -> list[Case]:
    """TestLoadSuperAttr: each program with ``super = super`` (no LOAD_SUPER_ATTR) and with
    ``x = 1`` (LOAD_SUPER_ATTR); the events must be the same."""
    method_call = {
        V12: [("line", "f", 1), ("call", "method", NS("b")), ("line", "method", 1),
              ("call", "super", MISSING), ("C return", "super", MISSING),
              ("line", "method", 2), ("line", "method", 3), ("line", "method", 2),
              ("call", "method", 1), ("line", "method", 1), ("line", "method", 1)],
        # 3.14's test: the CALL of A.method through super() has arg0 b, not 1
        V14: [("line", "f", 1), ("call", "method", NS("b")), ("line", "method", 1),
              ("call", "super", MISSING), ("C return", "super", MISSING),
              ("line", "method", 2), ("line", "method", 3), ("line", "method", 2),
              ("call", "method", NS("b")), ("line", "method", 1), ("line", "method", 1)],
    }
    method_call_error = [
        ("line", "f", 1), ("line", "f", 2), ("call", "method", NS("b")),
        ("line", "method", 1), ("line", "method", 2), ("line", "method", 3),
        ("line", "method", 1), ("call", "super", 1), ("C raise", "super", 1),
        ("line", "f", 3), ("line", "f", 4)]
    attr = [("line", "f", 1), ("call", "method", NS("b")), ("line", "method", 1),
            ("call", "super", MISSING), ("C return", "super", MISSING),
            ("line", "method", 2), ("line", "method", 1)]
    cases = []
    for test, program, expected in (("test_method_call", SUPER_METHOD_CALL, method_call),
                                    ("test_method_call_error", SUPER_METHOD_CALL_ERROR,
                                     method_call_error),
                                    ("test_attr", SUPER_ATTR, attr)):
        for optimized in (False, True):
            prefix = "x = 1" if optimized else "super = super"
            cases.append(Case(f"TestLoadSuperAttr.{test}[optimized={optimized}]",
                              f"{prefix}\n{program.lstrip()}", SUPER, expected, target="f"))
    for call_method in (True, False):
        for cls in ("super", "int"):
            repr_arg = 0 if cls == "int" else MISSING
            expected = [("line", "f", 1), ("call", "method", NS("c")), ("line", "method", 1),
                        ("call", cls, MISSING), ("C return", cls, MISSING)]
            if call_method:
                expected += [("call", "__repr__", repr_arg), ("C return", "__repr__", repr_arg)]
            source = OTHER_TYPE_CALL.format(cls=cls, call="()" if call_method else "")
            cases.append(Case(f"TestLoadSuperAttr.test_vs_other_type_call"
                              f"[call_method={call_method},{cls}]", source, SUPER, expected,
                              target="f"))
    return cases


CASES: list[Case] = [
    # MonitoringCountTest: how many events of one kind. CPython's test_call_count counts
    # 3 CALLs: one is its harness calling f2.
    Case("MonitoringCountTest.test_start_count", COUNT_PROGRAMS, ("PY_START",), 1,
         mode="count", target="f1"),
    Case("MonitoringCountTest.test_resume_count", COUNT_PROGRAMS, ("PY_RESUME",), 2,
         mode="count", target="g1"),
    Case("MonitoringCountTest.test_return_count", COUNT_PROGRAMS, ("PY_RETURN",), 1,
         mode="count", target="f1"),
    Case("MonitoringCountTest.test_call_count", COUNT_PROGRAMS, ("Call",), 3 - 1,
         mode="count", target="f2"),
    Case("MonitoringCountTest.test_c_return_count", COUNT_PROGRAMS, ("CReturn",), 2,
         mode="count", target="f2"),
    # MonitoringEventsTest: SIMPLE_EVENT_SET, one name per event
    Case("MonitoringEventsTest.test_just_pass", SIMPLE_PROGRAMS, ("Simple",),
         ["start", "return"], target="just_pass"),
    # CPython's test_just_raise swallows its own assertion error (its harness's except
    # clause adds events of its own); the function's own events are these
    Case("MonitoringEventsTest.test_just_raise", SIMPLE_PROGRAMS, ("Simple",),
         ["start", "raise", "unwind"], target="just_raise"),
    Case("MonitoringEventsTest.test_just_call", SIMPLE_PROGRAMS, ("Simple",),
         ["start", "c_call", "c_return", "return"], target="just_call"),
    Case("MonitoringEventsTest.test_caught", SIMPLE_PROGRAMS, ("Simple",),
         ["start", "raise", "exception_handled", "branch", "return"], target="caught"),
    Case("MonitoringEventsTest.test_nested_call", SIMPLE_PROGRAMS, ("Simple",),
         ["start", "py_call", "start", "return", "return"], target="nested_call"),
    # LineMonitoringTest: LINE alone; lines relative to the function's co_firstlineno
    Case("LineMonitoringTest.test_lines_single", COUNT_PROGRAMS, ("Line",), [1],
         mode="lines", target="f1"),
    Case("LineMonitoringTest.test_lines_loop", COUNT_PROGRAMS, ("Line",), [1, 2, 1, 2, 1],
         mode="lines", target="floop"),
    Case("LineMonitoringTest.test_linear", LINEAR, ("Line",), [1, 2, 3, 4, 5], mode="lines"),
    Case("LineMonitoringTest.test_branch", BRANCH, ("Line",), [1, 2, 3, 6], mode="lines"),
    Case("LineMonitoringTest.test_try_except[func1]", TRY_NO_RAISE, ("Line",), [1, 2, 3, 6],
         mode="lines"),
    Case("LineMonitoringTest.test_try_except[func2]", TRY_RAISE_3, ("Line",),
         [1, 2, 3, 4, 5, 6], mode="lines"),
    Case("LineMonitoringTest.test_generator_with_line", GENERATOR_WITH_LINE, ("Line",),
         [1, 3, 5, 4, 2, 4], mode="lines", since=V13),
    # ExceptionMonitoringTest
    Case("ExceptionMonitoringTest.test_simple_try_except", TRY_KEYERROR, ("Exception",),
         [("raise", KeyError)]),
    # 3.12/3.13 record STOP_ITERATION alone; 3.14+ RAISE and STOP_ITERATION, once with the
    # loop unspecialised and once specialised (when CPython skips raising StopIteration)
    Case("ExceptionMonitoringTest.test_implicit_stop_iteration", STOP_ITERATION,
         ("StopIteration",), [("raise", StopIteration)], until=V13),
    Case("ExceptionMonitoringTest.test_implicit_stop_iteration[unspecialized]",
         STOP_ITERATION, ("Exception", "StopIteration"), [("raise", StopIteration)],
         since=V14, warm="func(set(range(100)))", adaptive=("FOR_ITER_GEN", False)),
    Case("ExceptionMonitoringTest.test_implicit_stop_iteration[specialized]",
         STOP_ITERATION, ("Exception", "StopIteration"), [("raise", StopIteration)],
         since=V14, warm="for _ in range(200): func()", adaptive=("FOR_ITER_GEN", True)),
    Case("ExceptionMonitoringTest.test_explicit_reraise", EXPLICIT_RERAISE,
         EXCEPTION_RECORDERS, None, mode="balanced"),
    Case("ExceptionMonitoringTest.test_explicit_reraise_named", EXPLICIT_RERAISE_NAMED,
         EXCEPTION_RECORDERS, None, mode="balanced"),
    Case("ExceptionMonitoringTest.test_implicit_reraise", IMPLICIT_RERAISE,
         EXCEPTION_RECORDERS, None, mode="balanced"),
    Case("ExceptionMonitoringTest.test_implicit_reraise_named", IMPLICIT_RERAISE_NAMED,
         EXCEPTION_RECORDERS, None, mode="balanced"),
    Case("ExceptionMonitoringTest.test_try_finally", TRY_FINALLY, EXCEPTION_RECORDERS, None,
         mode="balanced"),
    Case("ExceptionMonitoringTest.test_async_for", ASYNC_FOR_RAISE, EXCEPTION_RECORDERS, None,
         mode="balanced"),
    Case("ExceptionMonitoringTest.test_throw", THROW, EXCEPTION_RECORDERS, None,
         mode="balanced"),
    Case("ExceptionMonitoringTest.test_throw[first]", THROW, (*EXCEPTION_RECORDERS, "Throw"),
         [("throw", IndexError)], mode="first"),
    Case("ExceptionMonitoringTest.test_no_unwind_for_shim_frame", SHIM_FRAME,
         ("Return", "Unwind"), [("unwind", ValueError, "__init__"), ("return", "func", None)],
         since=V13, warm="for _ in range(200): func()",
         adaptive=("CALL_ALLOC_AND_ENTER_INIT", True)),
    Case("ExceptionMonitoringTest.test_gen_unwind", GEN_UNWIND, ("Unwind",),
         [("unwind", GeneratorExit, "gen")], since=V14),
    # TestManyEvents
    Case("TestManyEvents.test_simple", SIMPLE, MANY,
         [("line", "func", 1), ("line", "func", 2), ("line", "func", 3)]),
    Case("TestManyEvents.test_c_call", C_CALL, MANY,
         [("line", "func", 1), ("line", "func", 2), ("call", "append", [2]),
          ("C return", "append", [2]), ("line", "func", 3)], differs=everywhere(LIST_APPEND)),
    Case("TestManyEvents.test_try_except", TRY_KEYERROR, MANY,
         [("line", "func", 1), ("line", "func", 2), ("line", "func", 3), ("raise", KeyError),
          ("line", "func", 4), ("line", "func", 5), ("line", "func", 6)]),
    # TestLineAndInstructionEvents (3.14 adds the final RETURN_VALUE after LOAD_CONST;
    # 3.15's code starts 2 bytes later)
    Case("TestLineAndInstructionEvents.test_simple", SIMPLE, LINE_AND_INSTRUCTION, {
        V12: li("func", (1, 2, 4), (2, 6, 8), (3, 10, 12, 14)),
        V14: li("func", (1, 2, 4), (2, 6, 8), (3, 10, 12, 14, 16)),
        V15: li("func", (1, 4, 6), (2, 8, 10), (3, 12, 14, 16, 18))}),
    Case("TestLineAndInstructionEvents.test_c_call", C_CALL, LINE_AND_INSTRUCTION, {
        V12: li("func", (1, 2, 4), (2, 6, 8, 28, 30, 38), (3, 40, 42, 44)),
        V14: li("func", (1, 2, 4), (2, 6, 8, 28, 30, 38), (3, 40, 42, 44, 46)),
        V15: li("func", (1, 4, 6), (2, 8, 10, 30, 32, 40), (3, 42, 44, 46, 48))}),
    Case("TestLineAndInstructionEvents.test_try_except", TRY_KEYERROR, LINE_AND_INSTRUCTION, {
        V12: li("func", (1, 2), (2, 4, 6), (3, 8, 18, 20), (4, 22), (5, 24, 26, 28),
                (6, 30, 32, 34)),
        V14: li("func", (1, 2), (2, 4, 6), (3, 8, 18, 20), (4, 22), (5, 24, 26, 28),
                (6, 30, 32, 34, 36)),
        V15: li("func", (1, 4), (2, 6, 8), (3, 10, 20, 22), (4, 24), (5, 26, 28, 30),
                (6, 32, 34, 36, 38))}),
    # TestInstallIncrementally: must_include, the same for either order of installation
    # (the harness's CALL of func2 left out)
    Case("TestInstallIncrementally.test_line_then_instruction", INSTALL_INCREMENTALLY,
         ("Line", "Instruction"), {
             V12: [("instruction", "func1", 2), ("line", "func1", 2),
                   ("instruction", "func1", 4), ("instruction", "func1", 6)],
             V15: [("instruction", "func1", 4), ("line", "func1", 2),
                   ("instruction", "func1", 6), ("instruction", "func1", 8)]},
         mode="includes", target="func1"),
    Case("TestInstallIncrementally.test_call_then_instruction", INSTALL_INCREMENTALLY,
         ("Call", "Instruction"), {
             V12: [("instruction", "func2", 2), ("call", "len", ()),
                   ("instruction", "func2", 12), ("instruction", "func2", 14)],
             V15: [("instruction", "func2", 4), ("call", "len", ()),
                   ("instruction", "func2", 14), ("instruction", "func2", 16)]},
         mode="includes", target="func2"),
    # TestLocalEvents: the events set on the function's code object only
    Case("TestLocalEvents.test_simple", SIMPLE, LOCAL,
         [("line", "func", 1), ("line", "func", 2), ("line", "func", 3)]),
    Case("TestLocalEvents.test_c_call", C_CALL, LOCAL,
         [("line", "func", 1), ("line", "func", 2), ("call", "append", [2]),
          ("C return", "append", [2]), ("line", "func", 3)], differs=everywhere(LIST_APPEND)),
    Case("TestLocalEvents.test_try_except", TRY_KEYERROR, LOCAL,
         [("line", "func", n) for n in range(1, 7)]),
    # TestBranchAndJumpEvents (3.13 added a line 7 after the loop, so its exit is seen)
    Case("TestBranchAndJumpEvents.test_loop[jump,branch]", LOOP, JUMP_AND_BRANCH, {
        V12: [("branch", "func", 2, 2), ("branch", "func", 3, 6), ("jump", "func", 6, 2),
              ("branch", "func", 2, 2), ("branch", "func", 3, 4), ("jump", "func", 4, 2),
              ("branch", "func", 2, 2)],
        V13: [("branch", "func", 2, 2), ("branch", "func", 3, 6), ("jump", "func", 6, 2),
              ("branch", "func", 2, 2), ("branch", "func", 3, 4), ("jump", "func", 4, 2),
              ("branch", "func", 2, 7)]}),
    Case("TestBranchAndJumpEvents.test_loop[jump,branch,line]", LOOP, JUMP_BRANCH_AND_LINE, {
        V12: [("line", "func", 1), ("line", "func", 2), ("branch", "func", 2, 2),
              ("line", "func", 3), ("branch", "func", 3, 6), ("line", "func", 6),
              ("jump", "func", 6, 2), ("line", "func", 2), ("branch", "func", 2, 2),
              ("line", "func", 3), ("branch", "func", 3, 4), ("line", "func", 4),
              ("jump", "func", 4, 2), ("line", "func", 2), ("branch", "func", 2, 2)],
        V13: [("line", "func", 1), ("line", "func", 2), ("branch", "func", 2, 2),
              ("line", "func", 3), ("branch", "func", 3, 6), ("line", "func", 6),
              ("jump", "func", 6, 2), ("line", "func", 2), ("branch", "func", 2, 2),
              ("line", "func", 3), ("branch", "func", 3, 4), ("line", "func", 4),
              ("jump", "func", 4, 2), ("line", "func", 2), ("branch", "func", 2, 7),
              ("line", "func", 7)]}),
    Case("TestBranchAndJumpEvents.test_loop[branch left/right]", LOOP, BRANCHES,
         [("branch left", "func", 2, 2), ("branch right", "func", 3, 6),
          ("branch left", "func", 2, 2), ("branch left", "func", 3, 4),
          ("branch right", "func", 2, 7)], since=V14),
    Case("TestBranchAndJumpEvents.test_loop[whilefunc]", LOOP, BRANCHES,
         [("branch left", "whilefunc", 1, 2)] * 3 + [("branch right", "whilefunc", 1, 3)],
         target="whilefunc", since=V14),
    Case("TestBranchAndJumpEvents.test_loop[offsets]", LOOP, BRANCH_OFFSETS, {
        V14: [("branch left", "func", 28, 32), ("branch right", "func", 44, 58),
              ("branch left", "func", 28, 32), ("branch left", "func", 44, 50),
              ("branch right", "func", 28, 70)],
        V15: [("branch left", "func", 32, 36), ("branch right", "func", 48, 62),
              ("branch left", "func", 32, 36), ("branch left", "func", 48, 54),
              ("branch right", "func", 32, 74)]}, since=V14),
    Case("TestBranchAndJumpEvents.test_except_star[jump,branch,line]", EXCEPT_STAR,
         JUMP_BRANCH_AND_LINE, {
             v: [("line", "func", 1), ("line", "func", 2), ("line", "func", 3),
                 ("line", "func", 4), ("branch", "func", 4, 4), ("line", "func", 5),
                 ("line", "meth", 1), *jumps]
             for v, jumps in {
                 V12: [("jump", "func", 5, 5), ("jump", "func", 5, "[offset=114]"),
                       ("branch", "func", "[offset=120]", "[offset=122]")],
                 V13: [("jump", "func", 5, "[offset=118]"),
                       ("branch", "func", "[offset=122]", "[offset=126]")],
                 V14: [("jump", "func", 5, "[offset=120]"),
                       ("branch", "func", "[offset=124]", "[offset=130]")],
                 V15: [("jump", "func", 5, "[offset=122]"),
                       ("branch", "func", "[offset=126]", "[offset=132]")]}.items()},
         target="make()"),
    Case("TestBranchAndJumpEvents.test_except_star[flow,line]", EXCEPT_STAR, FLOW_AND_LINE, {
        v: [("line", "func", 1), ("line", "func", 2), ("line", "func", 3),
            ("raise", KeyError), ("line", "func", 4), ("branch", "func", 4, 4),
            ("line", "func", 5), ("line", "meth", 1), ret("meth"), *jumps, ret("func")]
        for v, ret, jumps in (
            (V12, lambda name: ("return", None),
             [("jump", "func", 5, 5), ("jump", "func", 5, "[offset=114]"),
              ("branch", "func", "[offset=120]", "[offset=122]")]),
            (V13, lambda name: ("return", name, None),
             [("jump", "func", 5, "[offset=118]"),
              ("branch", "func", "[offset=122]", "[offset=126]")]),
            (V14, lambda name: ("return", name, None),
             [("jump", "func", 5, "[offset=120]"),
              ("branch", "func", "[offset=124]", "[offset=130]")]),
            (V15, lambda name: ("return", name, None),
             [("jump", "func", 5, "[offset=122]"),
              ("branch", "func", "[offset=126]", "[offset=132]")]))},
         target="make()"),
    Case("TestBranchAndJumpEvents.test_while_offset_consistency", WHILE_OFFSETS,
         BRANCH_OFFSETS, {
             V14: [("branch left", "func", 10, 16)] * 4 + [("branch right", "func", 10, 40)],
             V15: [("branch left", "func", 12, 18)] * 4 + [("branch right", "func", 12, 42)]},
         since=V14),
    Case("TestBranchAndJumpEvents.test_async_for", ASYNC_FOR, BRANCHES,
         [("branch left", "foo", 1, 1), ("branch left", "foo", 1, 1),
          ("branch right", "foo", 1, 3), ("branch left", "func", 12, 12)], since=V14),
    Case("TestBranchAndJumpEvents.test_match", MATCH, BRANCHES,
         [("branch left", "func", 2, 2), ("branch right", "func", 4, 6),
          ("branch right", "func", 6, 8), ("branch left", "func", 2, 2),
          ("branch left", "func", 4, 5), ("branch left", "func", 2, 2),
          ("branch right", "func", 4, 6), ("branch left", "func", 6, 7),
          ("branch left", "func", 2, 2), ("branch right", "func", 4, 6),
          ("branch right", "func", 6, 8), ("branch right", "func", 2, 10)], since=V14),
    # TestBranchConsistency: every BRANCH_LEFT/RIGHT is an edge of code.co_branches()
    Case("TestBranchConsistency.test_simple[func]", LOOP, BRANCH_OFFSETS, None,
         mode="co_branches", since=V14),
    Case("TestBranchConsistency.test_simple[whilefunc]", LOOP, BRANCH_OFFSETS, None,
         mode="co_branches", target="whilefunc", since=V14),
    Case("TestBranchConsistency.test_except_star", EXCEPT_STAR, BRANCH_OFFSETS, None,
         mode="co_branches", target="make()", since=V14),
    Case("TestBranchConsistency.test4", WHILE_OFFSETS, BRANCH_OFFSETS, None,
         mode="co_branches", since=V14),
    Case("TestBranchConsistency.test_async_for", ASYNC_FOR_CONSISTENCY, BRANCH_OFFSETS, None,
         mode="co_branches", since=V14),
    *_super_cases(),
    # TestRegressions.test_call_function_ex: CALL's arg0 for f(*args)
    Case("TestRegressions.test_call_function_ex", CALL_FUNCTION_EX, ("Call",),
         [("call", "f", 1), ("call", "f", MISSING)], since=V13),
]


# -- running a case -----------------------------------------------------------------------


def load(case: Case):
    """Compile and run the case's program as a module; return (code, namespace, target)."""
    source = textwrap.dedent(case.at(case.source))
    code = compile(source, f"<cpython-{case.name}>", "exec", dont_inherit=True)
    namespace = {"__name__": "cpython_case"}
    exec(code, namespace)
    target = namespace["make"]() if case.target == "make()" else namespace[case.target]
    if case.warm:  # let the interpreter specialise the code (or not) first
        exec(case.warm, namespace)
    if case.adaptive:  # as CPython's test asserts: the path it means is the one taken
        opname, present = case.adaptive
        opnames = {i.opname for i in dis.get_instructions(target, adaptive=True)}
        assert (opname in opnames) is present, sorted(opnames)
    return code, namespace, target


def _call_name(description: str | None) -> str | None:
    """A CALL's callable as CPython's recorders name it (``func.__name__``)."""
    if description is None:
        return None
    return description.removesuffix(" (bound)").rsplit(".", 1)[-1]


def record_with_monviz(case: Case):
    """The case's target recorded by monviz: (rows, namespace, target, exception type)."""
    _, namespace, target = load(case)
    trace = monviz.record(target, events=case.events)
    assert not trace.truncated
    rows = []
    for e in trace:
        name = _call_name(e.callable)
        pycall = e.callable is not None and (
            e.callable.endswith(" (bound)")
            or isinstance(namespace.get(name), types.FunctionType))
        rows.append(Row(e.event, e.code.code, e.offset, e.line, e.target, name, pycall,
                        e.arg0, e.value, _exc_name(e.exception)))
    return rows, namespace, target, type(trace.exception)


def bits_of(names) -> int:
    """An event set as ``set_events`` takes it; C_RETURN/C_RAISE only go with CALL."""
    names = set(names)
    if names & set(C_EVENTS):
        names |= {"CALL", *C_EVENTS}
    bits = 0
    for name in names:
        bits |= EVENTS[name]
    return bits


def effective(case: Case) -> int:
    """What monviz enables for the case's request: it, the frame events, C events with CALL."""
    return bits_of([*case.events, *FRAME_EVENTS])


def record_with_raw(case: Case, bits: int):
    """The case's target recorded by the raw recorder with ``bits``, over the program's
    whole code tree: (rows of the case's events only, namespace, target, exception type)."""
    code, namespace, target = load(case)
    failure = None
    with RawRecorder(bits, RAW_TOOL, [code]) as raw:
        try:
            target()
        except Exception as exc:
            failure = exc
    wanted = set(case.events)
    rows = []
    for (name, c, off, line, dest), d in zip(raw.rows, raw.details):
        if name not in wanted:
            continue
        func = d.get("callable")
        rows.append(Row(name, c, off, line, dest, func.__name__ if "callable" in d else None,
                        isinstance(func, types.FunctionType | types.MethodType),
                        d.get("arg0"), d.get("value"), _exc_name(d.get("exception"))))
    return rows, namespace, target, type(failure)


# -- CPython's checks ---------------------------------------------------------------------


def adapt(case: Case, rows: list[Row]) -> list:
    """The rows as CPython's recorders for this case would have appended them."""
    out = []
    for row in rows:
        for name in case.recorder_names:
            recorder = RECORDERS[name]
            if row.event in recorder.events:
                out.append(recorder.label(row))
                break
    return out


def _text(value, namespace: dict) -> str:
    """An expected value as monviz and the raw recorder show it: its repr."""
    if value is MISSING:
        return "MISSING"
    if isinstance(value, NS):
        return repr(namespace[value.name])
    return repr(value)


def normalise(expected, namespace: dict):
    """CPython's expected tuples with their values turned into the recorders' texts."""
    if not isinstance(expected, list):
        return expected
    out = []
    for item in expected:
        if isinstance(item, tuple):
            head, *rest = item
            if head in ("call", "C return", "C raise"):
                rest[1] = _text(rest[1], namespace)
            elif head in ("raise", "reraise", "handled", "throw", "unwind"):
                rest[0] = rest[0].__name__
            elif head == "return":
                rest[-1] = _text(rest[-1], namespace)
            item = (head, *rest)
        out.append(item)
    return out


def check(case: Case, rows: list[Row], expected, namespace: dict, target) -> None:
    """CPython's assertion for the case (``expected`` as CPython's test writes it)."""
    got = adapt(case, rows)
    expected = normalise(expected, namespace)
    mode = case.mode
    if mode == "exact":
        assert got == expected
    elif mode == "lines":  # check_lines: every LINE, relative to the function's first line
        first = target.__code__.co_firstlineno
        assert [r.line - first for r in rows if r.event == "LINE"] == expected
    elif mode == "includes":  # TestInstallIncrementally.check_events: assertIn each
        missing = [item for item in expected if item not in got]
        assert not missing, f"not in {got}"
    elif mode == "first":
        assert got[:1] == expected[:1]
    elif mode == "count":
        assert len(got) == expected, got
    elif mode == "balanced":  # CheckEvents.check_balanced
        assert got, "no exception event at all"
        assert len(got) % 2 == 0, got
        for raised, handled in zip(got[::2], got[1::2]):
            assert raised[0] in ("raise", "reraise"), got
            assert handled[0] in ("handled", "unwind"), got
            assert raised[1] == handled[1], got
    elif mode == "co_branches":  # TestBranchConsistency.check_branches
        assert got, "no branch event at all"
        for row in rows:
            sides = {"BRANCH_LEFT": 1, "BRANCH_RIGHT": 2}[row.event]
            edges = {(b[0], b[sides]) for b in row.code.co_branches()}
            assert (row.offset, row.target) in edges, (row.event, row.code.co_qualname)
    else:
        raise AssertionError(f"unknown mode {mode!r}")


def _cases():
    for case in CASES:
        marks = []
        if not case.since <= PY <= case.until:
            marks.append(pytest.mark.skip(
                reason="not in this version's Lib/test/test_monitoring.py"))
        yield pytest.param(case, id=case.name, marks=marks)


# -- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(_cases()))
def test_replay(case: Case, backend: str, use_backend):
    """monviz gives the sequence CPython's test expects (or the documented difference)."""
    use_backend(backend)
    rows, namespace, target, _ = record_with_monviz(case)
    cpython = case.at(case.expected)
    diff = case.differs.get(PY)
    if diff is None:
        check(case, rows, cpython, namespace, target)
        return
    check(case, rows, diff.expected, namespace, target)
    with pytest.raises(AssertionError):  # the documented difference is a difference
        check(case, rows, cpython, namespace, target)


@pytest.mark.parametrize("case", list(_cases()))
def test_raw_recorder_with_cpythons_events(case: Case):
    """With only the events CPython's test enables, the raw recorder sees what it expects
    (for a difference of ``kind="values"``, the values monviz shows too)."""
    rows, namespace, target, _ = record_with_raw(case, bits_of(case.events))
    diff = case.differs.get(PY)
    if diff is not None and diff.kind == "values":
        check(case, rows, diff.expected, namespace, target)
    else:
        check(case, rows, case.at(case.expected), namespace, target)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(_cases()))
def test_monviz_matches_raw_recorder(case: Case, backend: str, use_backend):
    """monviz's events are the raw recorder's with monviz's effective event set."""
    use_backend(backend)
    ours, _, _, our_failure = record_with_monviz(case)
    theirs, _, _, their_failure = record_with_raw(case, effective(case))
    assert ours, "the case recorded no event"
    assert [r.key() for r in ours] == [r.key() for r in theirs]
    assert our_failure is their_failure


def test_every_case_is_named_once_and_checks_something():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
    for case in CASES:
        if not case.since <= PY <= case.until:
            continue
        assert case.recorder_names and all(r in RECORDERS for r in case.recorder_names)
        if case.mode in ("exact", "lines", "includes", "first"):
            assert case.at(case.expected), case.name
        for diff in case.differs.values():
            assert diff.kind in ("events", "values") and diff.reason, case.name


# -- the figures for the record ------------------------------------------------------------


def _matches(case: Case, rows: list[Row], expected, namespace: dict, target) -> bool:
    try:
        check(case, rows, expected, namespace, target)
    except AssertionError:
        return False
    return True


def main() -> None:
    """Print, per backend, how many of this version's cases monviz replays as CPython
    expects, and the reason for each one that differs."""
    from monviz import backends

    cases = [c for c in CASES if c.since <= PY <= c.until]
    print(f"Python {sys.version.split()[0]}: {len(cases)} cases of Lib/test/test_monitoring.py")
    for name in BACKENDS:
        if name == backends.COMPILED and backends.speedups is None:
            print(f"  {name}: not available ({backends.why_not})")
            continue
        os.environ.pop(backends.PURE_ENV, None)
        if name == backends.PYTHON:
            os.environ[backends.PURE_ENV] = "1"
        differing = []
        for case in cases:
            rows, namespace, target, _ = record_with_monviz(case)
            if not _matches(case, rows, case.at(case.expected), namespace, target):
                differing.append(case)
        print(f"  {name:8} as CPython expects: {len(cases) - len(differing)}/{len(cases)}")
        for case in differing:
            diff = case.differs.get(PY)
            print(f"    {case.name}: {diff.reason if diff else 'UNDOCUMENTED DIFFERENCE'}")


if __name__ == "__main__":
    main()
