"""monviz.record reports exactly the events that sys.monitoring delivers.

Ground truth is ``raw_recorder.RawRecorder``, written from the documented API
alone. Both record **at the same time**, as two tools (monviz on id 4, the oracle
on id 3): every event is delivered to both (descending id order, and no tool
sees events caused by another tool's callback), so the two streams describe one
execution and need no determinism. monviz always enables the frame events
(and CALL with C_RETURN/C_RAISE) to know which code object an event belongs to,
and the set of enabled events changes what CPython reports (STOP_ITERATION vs
RAISE, see the reference §7), so the oracle enables that same effective set and
only the requested events are compared.

Every program keeps all its code in one compiled module, and the target is its
``main``: the oracle watches the module's whole code tree, monviz (scope="user")
watches ``main``'s and discovers the rest when it starts. Which *other* code
monviz records is a question of scope (test_recorder_scope.py), so monviz's
events from code outside the program's tree are left out of the comparison
here; an event of the program's code attributed to another code object would
still show up as missing.
"""

from __future__ import annotations

import gc
import itertools
import sys
import textwrap
import threading
import types
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from platform_marks import params, runnable
from raw_recorder import EVENTS, RawRecorder

import monviz
from monviz.events import CATALOGUE
from monviz.versions import ASYNCIO_RUN_SWITCHES_STACKS, BRANCH_EVENTS

MONVIZ_TOOL, ORACLE_TOOL = 4, 3
#: BRANCH, or BRANCH_LEFT and BRANCH_RIGHT on 3.14+ (where BRANCH is their deprecated alias)
BRANCHES = list(BRANCH_EVENTS)
ALL = [name for name, info in CATALOGUE.items() if not info.deprecated]
FRAME_EVENTS = ("PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND", "PY_THROW")
TIMED = {"PY_START", "PY_RESUME", "PY_RETURN", "PY_YIELD", "PY_UNWIND"}
C_EVENTS = ("C_RETURN", "C_RAISE")

PROGRAMS: dict[str, str] = {
    "branches_and_loops": """
        def classify(n):
            if n % 2 == 0:
                kind = "even"
            else:
                kind = "odd"
            return kind

        def main():
            out = []
            for i in range(5):
                if i == 3:
                    break
                out.append(classify(i))
            n = 0
            while n < 3:
                n += 1
                if n == 1:
                    continue
            return out, n if n else None
    """,
    "generator_send_throw_close": """
        def gen():
            try:
                x = yield 1
                yield x * 2
            except ValueError:
                yield "caught"
            finally:
                cleaned = True

        def main():
            g = gen()
            first = next(g)
            second = g.send(5)
            third = g.throw(ValueError("boom"))
            g.close()
            fresh = gen()
            try:
                fresh.throw(KeyError("never started"))
            except KeyError:
                pass
            suspended = gen()
            next(suspended)
            suspended.close()
            abandoned = gen()
            next(abandoned)
            del abandoned  # closed when collected: PY_THROW with GeneratorExit
            return first, second, third, next(iter([]), "default")
    """,
    "coroutine_by_hand": """
        class Ready:
            def __init__(self, value):
                self.value = value

            def __await__(self):
                got = yield self.value
                return got

        async def child(n):
            got = await Ready(n)
            return got + 1

        async def parent():
            a = await child(1)
            b = await child(a)
            return a + b

        def main():
            coro = parent()
            sent = coro.send(None)
            try:
                while True:
                    sent = coro.send(sent * 10)
            except StopIteration as stop:
                return stop.value
    """,
    "asyncio_run": """
        import asyncio

        async def worker(n):
            await asyncio.sleep(0)
            if n == 2:
                raise ValueError(n)
            return n * n

        async def amain():
            results = list(await asyncio.gather(worker(0), worker(1)))
            try:
                results.append(await worker(2))
            except ValueError:
                results.append(None)
            return results

        def main():
            return asyncio.run(amain())
    """,
    "async_for": """
        import asyncio

        class Countdown:
            def __init__(self, n):
                self.n = n

            def __aiter__(self):
                return self

            async def __anext__(self):
                if self.n == 0:
                    raise StopAsyncIteration
                self.n -= 1
                return self.n

        async def agen(n):
            for i in range(n):
                yield i
                await asyncio.sleep(0)

        async def amain():
            total = 0
            async for v in Countdown(3):
                total += v
            async for v in agen(3):
                total += v
            return total

        def main():
            by_hand = amain()
            try:
                while True:
                    by_hand.send(None)
            except StopIteration as stop:
                first = stop.value
            return first, asyncio.run(amain())
    """,
    "exceptions_through_finally": """
        def inner(x):
            try:
                return 10 // x
            finally:
                note = "inner finally"

        def middle(x):
            try:
                return inner(x)
            finally:
                note = "middle finally"

        def main():
            results = []
            for x in (2, 0):
                try:
                    results.append(middle(x))
                except ZeroDivisionError as exc:
                    results.append(str(exc))
                else:
                    results.append("ok")
            try:
                try:
                    raise KeyError("a")
                except KeyError:
                    raise
            except KeyError:
                results.append("reraised")
            try:
                int("x")
            except ValueError:
                results.append("C_RAISE")
            return results
    """,
    "except_star": """
        def fail():
            raise ExceptionGroup("many", [ValueError(1), TypeError(2), KeyError(3)])

        def main():
            seen = []
            try:
                fail()
            except* ValueError as eg:
                seen.append(len(eg.exceptions))
            except* TypeError:
                seen.append("type")
            except* KeyError:
                seen.append("key")
            try:
                try:
                    fail()
                except* ValueError:
                    seen.append("partial")
            except* (TypeError, KeyError) as rest:
                seen.append(len(rest.exceptions))
            return seen
    """,
    "match_statement": """
        class Point:
            __match_args__ = ("x", "y")

            def __init__(self, x, y):
                self.x, self.y = x, y

        def describe(subject):
            match subject:
                case []:
                    return "empty"
                case [x]:
                    return f"one {x}"
                case [x, *rest] if x > 10:
                    return "big head"
                case {"kind": "circle", "r": r}:
                    return r
                case Point(0, y):
                    return y
                case Point(x=x, y=y) if x == y:
                    return "diagonal"
                case str() | bytes():
                    return "text"
                case _:
                    return "other"

        def main():
            subjects = ([], [1], [20, 1], [1, 2], {"kind": "circle", "r": 2},
                        Point(0, 5), Point(3, 3), Point(1, 2), "s", 4.5)
            return [describe(s) for s in subjects]
    """,
    "comprehensions": """
        def main():
            squares = [x * x for x in range(5) if x % 2]
            lookup = {x: x + 1 for x in range(3)}
            uniq = {x % 2 for x in range(4)}
            total = sum(x for x in range(4) if x > 1)
            nested = [[y for y in range(x)] for x in range(3)]
            lazy = (len(s) for s in ["a", "bb"])
            return squares, lookup, uniq, total, nested, list(lazy)
    """,
    "recursion": """
        def fib(n):
            if n < 2:
                return n
            return fib(n - 1) + fib(n - 2)

        def dive(n):
            if n == 0:
                raise LookupError("bottom")
            return dive(n - 1)

        def main():
            try:
                dive(3)
            except LookupError:
                pass
            return fib(5)
    """,
    "c_calls": """
        def target(a, b=0, *rest, key=None, **kw):
            return a + b + len(rest) + len(kw)

        def main():
            args = (1, 2, 3)
            kwargs = {"key": "k", "extra": 1}
            parts = ["a", "b"]
            out = [
                target(*args),
                target(1, b=2, key=3),
                target(*args, **kwargs),
                max(*[7, 8]),
                sorted([3, 1, 2], reverse=True),
                "-".join(parts),
                dict(a=9),
                len(parts),
                divmod(7, 2),
            ]
            try:
                int("nope")
            except ValueError:
                out.append("C_RAISE")
            return out
    """,
    "class_bodies": """
        class Base:
            greeting = "hi"

            def __init__(self, name):
                self.name = name

            def greet(self):
                return f"{self.greeting} {self.name}"

        def main():
            class Child(Base):
                greeting = "hello"

                def __init__(self, name):
                    super().__init__(name.upper())

                @property
                def shout(self):
                    return self.greet() + "!"

            class Empty:
                pass

            Empty()
            return Child("ann").shout, Base("bob").greet()
    """,
    "lambdas_called_from_c": """
        def main():
            words = ["ccc", "a", "bb"]
            by_len = sorted(words, key=lambda w: len(w))
            doubled = list(map(lambda w: w * 2, words))
            short = list(filter(lambda w: len(w) < 3, words))
            return by_len, doubled, short, min(words, key=lambda w: w[-1])
    """,
    "yield_from": """
        def sub(n):
            for i in range(n):
                yield i
            return n * 10

        def delegator():
            total = yield from sub(2)
            got = yield total
            result = yield from sub(1)
            return got, result

        def main():
            g = delegator()
            out = [next(g), next(g), next(g)]
            out.append(g.send("sent"))
            try:
                next(g)
            except StopIteration as stop:
                out.append(stop.value)
            return out
    """,
    "for_over_generators": """
        def counted(n):
            for i in range(n):
                yield i
            return "done"

        def main():
            seen = [v for v in counted(2)]
            for v in counted(1):
                seen.append(v)
            it = iter([1])
            next(it)
            try:
                next(it)
            except StopIteration:
                seen.append("exhausted")
            return seen
    """,
    "exception_changed_while_handled": """
        def main():
            try:
                try:
                    raise ValueError("first")
                except ValueError as exc:
                    exc.args = ("second",)
                    raise
            except ValueError as exc:
                return exc.args
    """,
    "with_statement": """
        class Managed:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return exc[0] is KeyError

        def main():
            with Managed():
                x = 1
            with Managed():
                raise KeyError("swallowed")
            return x
    """,
    "stdlib_calls_back_into_user_code": """
        import contextlib
        import functools

        @contextlib.contextmanager
        def opened(name):
            try:
                yield name.upper()
            except KeyError:
                pass
            finally:
                closed = True

        def logged(func):
            @functools.wraps(func)
            def wrapper(*args):
                return func(*args)
            return wrapper

        @logged
        def add(a, b):
            return a + b

        def main():
            with opened("a") as a:
                x = add(1, 2)
            with opened("b"):
                raise KeyError("inside")
            return a, x, functools.reduce(add, [1, 2, 3])
    """,
    "generator_started_before_recording": """
        def ticker():
            n = 0
            while True:
                got = yield n
                n += got or 1

        running = ticker()
        next(running)

        def main():
            first = running.send(5)
            second = next(running)
            return first + second
    """,
    "threads": """
        import threading

        def work(out, n):
            for i in range(n):
                out.append(i * i)

        def main():
            out = []
            t = threading.Thread(target=work, args=(out, 3))
            t.start()
            t.join()
            work(out, 2)
            return out
    """,
    "uncaught_exception": """
        def check(x):
            if x > 2:
                raise ValueError(f"too big: {x}")
            return x

        def main():
            total = 0
            for x in range(5):
                total += check(x)
            return total
    """,
}

#: Programs that start a thread, and those that run coroutines with asyncio.run().
THREADED = {"threads"}
ASYNCIO = {"asyncio_run", "async_for"}
#: One parameter per program (those in THREADED skip where no thread can start), and the
#: programs that loops over every program run here.
PROGRAM_PARAMS = params(PROGRAMS, THREADED)
RUNNABLE = runnable(PROGRAMS, THREADED)


def depth_agrees(name: str, ev, detail: dict) -> bool:
    """monviz's depth (from frame events) is the depth the oracle's frame walk finds.

    Except where asyncio.run() switches stacks (Pyodide): the coroutines it runs have
    frames that do not link back to ``main``, which is still open, so the walk finds one
    frame less than monviz counts for them (and the same for coroutines ``main`` drives
    itself, and for ``main``'s own events).
    """
    if ASYNCIO_RUN_SWITCHES_STACKS and name in ASYNCIO and ev.code.qualname != "main":
        return ev.depth - detail["depth"] in (0, 1)
    return ev.depth == detail["depth"]


def bits(names) -> int:
    out = 0
    for name in names:
        out |= EVENTS[name]
    return out


def effective(names) -> int:
    """What monviz enables for a request: the request, the frame events, CALL with C events."""
    wanted = set(names) | set(FRAME_EVENTS)
    if wanted & set(C_EVENTS):
        wanted |= {"CALL", *C_EVENTS}
    return bits(wanted)


def load(name: str):
    """Compile and run program ``name`` as a module; return (module code, namespace)."""
    code = compile(textwrap.dedent(PROGRAMS[name]), f"<oracle-{name}>", "exec", dont_inherit=True)
    namespace = {"__name__": f"oracle_{name}"}
    exec(code, namespace)
    return code, namespace


def record_both(name: str, events) -> tuple[monviz.Trace, RawRecorder]:
    """Record ``main`` of program ``name`` with monviz and the oracle at once.

    The trace returned keeps only the events of the program's own code objects.
    """
    code, namespace = load(name)
    with RawRecorder(effective(events), ORACLE_TOOL, [code]) as raw:
        trace = monviz.record(namespace["main"], events=list(events), tool_id=MONVIZ_TOOL)
    # Only one program is meant to fail: any other failure (such as asyncio.run() refused
    # because a running event loop leaked from another test) would compare the wrong thing.
    assert (trace.exception is None) == (name != "uncaught_exception"), trace.exception_repr
    ours = [info for info in trace.codes() if info.filename == code.co_filename]
    return trace.filter(code=ours), raw


def oracle_rows(raw: RawRecorder, events) -> list[tuple]:
    return [(n, c.co_qualname, off, line, tgt) for n, c, off, line, tgt in raw.rows if n in events]


def oracle_details(raw: RawRecorder, events) -> list[dict]:
    return [d for row, d in zip(raw.rows, raw.details) if row[0] in events]


def monviz_rows(trace: monviz.Trace) -> list[tuple]:
    return [(e.event, e.code.qualname, e.offset, e.line, e.target) for e in trace]


def assert_same_stream(expected: list, actual: list, label: str) -> None:
    """Equal streams, or a message showing where they first part."""
    if expected == actual:
        return
    at = next(i for i, (a, b) in enumerate(itertools.zip_longest(expected, actual)) if a != b)
    lo = max(at - 3, 0)
    lines = [f"{label}: streams differ at event {at} "
             f"(oracle {len(expected)} events, monviz {len(actual)})", "   oracle | monviz"]
    for i in range(lo, min(at + 4, max(len(expected), len(actual)))):
        a = expected[i] if i < len(expected) else None
        b = actual[i] if i < len(actual) else None
        lines.append(f"{'!!' if a != b else '  '} {i}: {a} | {b}")
    pytest.fail("\n".join(lines))


# -- the streams -------------------------------------------------------------------


@pytest.mark.parametrize("name", PROGRAM_PARAMS)
def test_every_event_matches_the_oracle(name):
    trace, raw = record_both(name, ALL)
    if len(trace.threads) > 1:
        # A thread switch can fall between the two tools' callbacks for one event, so
        # the interleaving of threads may differ between the streams; each thread's
        # own stream may not.
        for thread in trace.threads:
            ours = [r for r, e in zip(monviz_rows(trace), trace) if e.thread == thread]
            theirs = [r for r, d in zip(raw.rows, raw.details) if d["thread"] == thread]
            expected = [(n, c.co_qualname, off, line, tgt) for n, c, off, line, tgt in theirs
                        if n in ALL]
            assert_same_stream(expected, ours, f"{name}, thread {trace.threads.index(thread)}")
        return
    assert_same_stream(oracle_rows(raw, ALL), monviz_rows(trace), name)


@pytest.mark.parametrize("event", ALL)
def test_one_event_alone_matches_the_oracle_in_every_program(event):
    """Asked for one event, monviz keeps exactly that event's stream (frame events dropped)."""
    for name in RUNNABLE:
        trace, raw = record_both(name, [event])
        assert_same_stream(oracle_rows(raw, [event]), monviz_rows(trace), f"{name}, {event}")
        assert {e.event for e in trace} <= {event}


@pytest.mark.parametrize("events", [
    ["LINE", *BRANCHES, "JUMP"],
    ["STOP_ITERATION"],
    ["STOP_ITERATION", *BRANCHES],
    ["CALL", "C_RETURN", "C_RAISE"],
    ["RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW"],
    ["PY_YIELD", "PY_RESUME", "LINE"],
], ids="+".join)
def test_event_combinations_match_the_oracle(events):
    for name in RUNNABLE:
        trace, raw = record_both(name, events)
        assert_same_stream(oracle_rows(raw, events), monviz_rows(trace), f"{name}, {events}")


def test_the_programs_raise_every_event_of_this_interpreter():
    """The oracle tests above cover the whole catalogue, not a convenient part of it."""
    seen = set()
    for name in RUNNABLE:
        _, raw = record_both(name, ALL)
        seen |= {row[0] for row in raw.rows}
    assert seen == set(ALL)


def test_stop_iteration_depends_on_the_events_enabled():
    """A for loop over a generator that returns: STOP_ITERATION without BRANCH, RAISE with it.

    The programs above really reach both cases, so the oracle comparisons cover them.
    """
    alone, _ = record_both("for_over_generators", ["STOP_ITERATION", "RAISE"])
    with_branch, _ = record_both("for_over_generators", ["STOP_ITERATION", "RAISE", *BRANCHES])
    assert "STOP_ITERATION" in {e.event for e in alone if e.code.qualname == "main"}
    assert "STOP_ITERATION" not in {e.event for e in with_branch if e.code.qualname == "main"}
    assert any(e.event == "RAISE" and "StopIteration('done')" in e.exception
               for e in with_branch if e.code.qualname == "main")


def test_an_uncaught_exception_is_kept_and_events_stop_at_the_failure():
    trace, raw = record_both("uncaught_exception", ALL)
    assert isinstance(trace.exception, ValueError)
    assert str(trace.exception) == "too big: 3"
    assert trace.exception_repr == "ValueError('too big: 3')"
    last = trace[-1]
    assert (last.event, last.code.qualname, last.depth) == ("PY_UNWIND", "main", 0)
    assert last.exception == "ValueError('too big: 3')"
    assert len(trace) == len(oracle_rows(raw, ALL))


# -- what each event carries -------------------------------------------------------


def _expected_callable(func) -> str | None:
    """The name monviz should show, for callables whose name is unambiguous."""
    if isinstance(func, types.FunctionType | type):
        return func.__qualname__
    if isinstance(func, types.BuiltinFunctionType) and isinstance(func.__self__, types.ModuleType):
        return func.__qualname__
    return None


def _plain(text: str) -> bool:
    """A repr monviz can show unabridged and unreordered (short, no dict or set)."""
    return len(text) <= 60 and "{" not in text


@pytest.mark.parametrize("name", PROGRAM_PARAMS)
def test_fields_agree_with_the_oracle(name):
    """depth, thread, time_ns, callable, arg0, value and exception, event by event."""
    trace, raw = record_both(name, ALL)
    details = oracle_details(raw, ALL)
    assert len(details) == len(trace)
    me = threading.get_ident()
    for ev, d in zip(trace, details):
        where = f"{name} event {ev.index} {ev.event} in {ev.code.qualname}"
        assert d["frame_ok"], f"oracle could not see the frame of {where}"
        assert depth_agrees(name, ev, d), (where, ev.depth, d["depth"])
        assert ev.thread == d["thread"], where
        if name != "threads":
            assert ev.thread == me, where
        assert (ev.time_ns is not None) == (ev.event in TIMED), where
        if ev.event in ("CALL", "C_RETURN", "C_RAISE"):
            expected = _expected_callable(d["callable"])
            if expected is not None:
                assert ev.callable == expected, where
            if _plain(d["arg0"]):
                assert ev.arg0 == d["arg0"], where
        else:
            assert ev.callable is None and ev.arg0 is None, where
        for key in ("value", "exception"):
            if key in d and _plain(d[key]):
                assert getattr(ev, key) == d[key], where
            elif key not in d:
                assert getattr(ev, key) is None, where
    times = [e.time_ns for e in trace if e.time_ns is not None]
    assert times == sorted(times) and times[0] >= 0


def test_time_ns_is_set_exactly_on_the_timed_frame_events():
    trace, _ = record_both("generator_send_throw_close", ALL)
    kinds = {e.event for e in trace}
    assert TIMED | {"PY_THROW", "LINE", "CALL"} <= kinds
    assert {e.event for e in trace if e.time_ns is not None} == TIMED


def _record_source(source: str, events=("CALL", "PY_RETURN", "RAISE")):
    code = compile(textwrap.dedent(source), "<fields>", "exec", dont_inherit=True)
    ns: dict = {}
    exec(code, ns)
    return monviz.record(ns["main"], events=list(events))


def test_a_call_without_arguments_shows_arg0_as_missing():
    trace = _record_source("""
        def f():
            return 1
        def main():
            return f()
    """, events=["CALL"])
    assert [(e.callable, e.arg0) for e in trace] == [("f", "MISSING")]


def test_arg0_and_callables_as_sys_monitoring_passes_them():
    trace = _record_source("""
        class K:
            def meth(self, x):
                return x
        def main():
            k = K()
            k.meth(4)
            "-".join(["a"])
            dict(a=9)
            return len([1, 2])
    """, events=["CALL"])
    calls = [(e.callable, e.arg0) for e in trace]
    assert calls[0] == ("K", "MISSING")
    assert calls[1][0] == "K.meth" and calls[1][1].startswith("<")  # self, by its repr
    assert calls[2:] == [("str.join", "'-'"), ("dict", "9"), ("len", "[1, 2]")]


def test_a_returned_list_shows_its_value_at_return_not_after_mutation():
    trace = _record_source("""
        def make():
            return [1, 2]
        def main():
            xs = make()
            xs.append(3)
            return xs
    """, events=["PY_RETURN"])
    assert [(e.code.qualname, e.value) for e in trace] == [
        ("make", "[1, 2]"), ("main", "[1, 2, 3]")]


def test_a_returned_dict_shows_its_keys_in_insertion_order():
    """repr order is the dict's order: a learner must see what the program built."""
    trace = _record_source("""
        def main():
            return {"b": 1, "a": 2}
    """, events=["PY_RETURN"])
    assert [e.value for e in trace] == [repr({"b": 1, "a": 2})]


def test_exceptions_show_their_repr():
    trace = _record_source("""
        def main():
            try:
                raise KeyError("k")
            except KeyError:
                pass
            return 1 / 0
    """, events=["RAISE", "EXCEPTION_HANDLED", "PY_UNWIND"])
    assert [(e.event, e.exception) for e in trace] == [
        ("RAISE", "KeyError('k')"), ("EXCEPTION_HANDLED", "KeyError('k')"),
        ("RAISE", "ZeroDivisionError('division by zero')"),
        ("PY_UNWIND", "ZeroDivisionError('division by zero')"),
    ]
    assert isinstance(trace.exception, ZeroDivisionError)


def test_depth_is_the_call_depth():
    trace = _record_source("""
        def leaf():
            return 0
        def mid():
            return leaf()
        def main():
            return mid()
    """, events=["PY_START"])
    assert [(e.code.qualname, e.depth) for e in trace] == [("main", 0), ("mid", 1), ("leaf", 2)]


def test_no_user_object_is_kept_alive_after_record_returns():
    """Values are recorded as text; only trace.exception keeps a user object."""

    class Payload:
        def __repr__(self):
            return "Payload()"

    class Failure(Exception):
        pass

    made = []

    def target():
        obj = Payload()
        made.append(weakref.ref(obj))
        [obj].append(obj)  # passes through CALL arg0 too
        return obj

    def failing():
        obj = Payload()
        made.append(weakref.ref(obj))
        raise Failure(obj)

    trace = monviz.record(lambda: target(), events=ALL)
    assert "Payload()" in {e.value for e in trace}
    failed = monviz.record(failing, events=ALL)
    assert isinstance(failed.exception, Failure)
    gc.collect()
    assert made[0]() is None, "the returned object is still alive"
    assert made[1]() is failed.exception.args[0], "trace.exception keeps its exception"
    del failed
    gc.collect()
    assert made[1]() is None, "the exception's argument outlives the trace"
    assert trace.exception is None and len(trace) > 0


def test_events_are_tagged_with_the_recording_thread():
    trace = _record_source("""
        def main():
            return len("abc")
    """, events=ALL)
    assert {e.thread for e in trace} == {threading.get_ident()}


def test_the_oracle_itself_leaves_no_tool_behind():
    _, raw = record_both("branches_and_loops", ALL)
    assert raw.rows
    assert sys.monitoring.get_tool(ORACLE_TOOL) is None
    assert sys.monitoring.get_events(ORACLE_TOOL) == 0
    assert all(sys.monitoring.register_callback(ORACLE_TOOL, bit, None) is None
               for bit in EVENTS.values())


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(RUNNABLE)), st.sets(st.sampled_from(ALL), min_size=1))
def test_any_event_set_matches_the_oracle(name, events):
    events = sorted(events)
    trace, raw = record_both(name, events)
    assert_same_stream(oracle_rows(raw, events), monviz_rows(trace), f"{name}, {events}")
    details = oracle_details(raw, events)
    assert len(trace) == len(details)
    assert all(depth_agrees(name, e, d) for e, d in zip(trace, details)), (
        [e.depth for e in trace], [d["depth"] for d in details])
