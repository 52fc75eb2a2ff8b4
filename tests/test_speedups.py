"""The compiled backend's own guarantees (``monviz._speedups``, ``monviz/_compiled.py``).

* The Trace reads the C columns in place: each ``trace._d.<column>`` is a
  read-only ``memoryview`` of a ``monviz._speedups.Column``, no copy.
* Each column is as narrow as its values allow, and widening keeps every value
  (checked against the pure-Python backend, which packs with ``array``).
* The cap is enforced in C: at the first kept event past ``max_events`` the
  callback switches the tool's events off, so the rest runs unmonitored.
* Teardown, memory (no user object kept, the recorder's reference cycle
  collected, the reuse pool) and the texts of odd values and exceptions, which
  must read as the pure-Python backend writes them.

Every recording here is forced onto the compiled backend (MONVIZ_PURE_PYTHON is
cleared per test), so this module means the same under MONVIZ_PURE_PYTHON=1.
"""

from __future__ import annotations

import _thread
import gc
import signal
import sys
import textwrap
import time
import weakref

import pytest
from sysmon_state import spying, state

import monviz
import monviz.recorder
from monviz import _stream, backends
from monviz.events import CATALOGUE
from monviz.trace import Trace
from monviz.values import MAX_REPR, DeferredTexts
from monviz.versions import BRANCH_EVENTS

pytestmark = pytest.mark.skipif(
    backends.speedups is None,
    reason=f"the compiled backend is not available: {backends.why_not}")

speedups = backends.speedups
mon = sys.monitoring
COMPILED, PYTHON = backends.COMPILED, backends.PYTHON
ALL = [name for name, info in CATALOGUE.items() if not info.deprecated]
WIDTH = {"B": 1, "H": 2, "I": 4, "Q": 8}


@pytest.fixture(autouse=True)
def compiled(use_backend):
    """Record with the compiled backend unless a test asks for the other."""
    use_backend(COMPILED)


def row(ev: monviz.Event) -> tuple:
    """Every field but ``time_ns`` (only whether it is set); code by its description."""
    return (*ev[:2], (ev.code.qualname, ev.code.filename, ev.code.firstlineno), *ev[3:-1],
            ev.time_ns is None)


def rows(trace: monviz.Trace) -> list[tuple]:
    return [row(ev) for ev in trace]


def record_both(use_backend, target, events, **kw) -> tuple[monviz.Trace, monviz.Trace]:
    """``target`` recorded with the compiled backend, then with the pure-Python one."""
    out = []
    for backend in (COMPILED, PYTHON):
        use_backend(backend)
        out.append(monviz.record(target, events=events, **kw))
    use_backend(COMPILED)
    return out[0], out[1]


def load(source: str, name: str = "main", filename: str = "<speedups-test>"):
    namespace: dict = {"__name__": "speedups_test"}
    exec(compile(textwrap.dedent(source), filename, "exec", dont_inherit=True), namespace)
    return namespace[name]


def column(trace: monviz.Trace, name: str) -> memoryview:
    col = getattr(trace._d, name)
    assert isinstance(col, memoryview), f"{name} is a {type(col).__name__}, not read in place"
    return col


def live_recorders() -> int:
    return sum(type(o) is speedups.Recorder for o in gc.get_objects())


def tiny():
    return 1


# -- columns read in place ----------------------------------------------------------


def test_every_column_is_a_read_only_view_of_the_c_memory():
    trace = monviz.record(load("""
        def work(n):
            out = []
            for i in range(n):
                if i % 2:
                    out.append(i)
            return out
        def main():
            try:
                raise KeyError("k")
            except KeyError:
                pass
            return work(5)
    """), events=ALL)
    assert len(trace) > 20
    for name in _stream.PACKED:
        col = column(trace, name)
        assert type(col.obj) is speedups.Column, name
        assert col.readonly and col.ndim == 1, name
        assert col.format in WIDTH and col.itemsize == WIDTH[col.format], (name, col.format)
        assert len(col.obj) == len(col), name
        # a second view of the same Column sees the same memory
        assert memoryview(col.obj).tolist() == col.tolist(), name
        if len(col):
            with pytest.raises(TypeError, match="read-only"):
                col[0] = col[0]
    with pytest.raises(TypeError, match="not writable"):  # a writable buffer is refused
        import ctypes
        ctypes.c_char.from_buffer(trace._d.kind.obj)
    with pytest.raises(TypeError):
        speedups.Column()
    assert len(column(trace, "kind")) == len(trace) == len(column(trace, "depth"))
    events = list(trace)  # reading every event leaves the columns where they are
    assert events and all(isinstance(getattr(trace._d, n), memoryview) for n in _stream.PACKED)


def test_a_tiny_function_fits_every_column_in_one_byte():
    trace = monviz.record(tiny, events=ALL)
    assert {"PY_START", "LINE", "PY_RETURN"} <= {e.event for e in trace}
    narrow = {n: column(trace, n).format for n in _stream.PACKED if n != "time_ns"}
    assert set(narrow.values()) == {"B"}, narrow


# -- as narrow as the values allow, and right after widening --------------------------


def long_function(statements: int) -> str:
    """A function whose bytecode runs past offset 255, with a branch at the end."""
    body = "\n".join(f"    x = x + {i}" for i in range(statements))
    return f"def main():\n    x = 0\n{body}\n    if x > 0:\n        x = -x\n    return x\n"


def test_offsets_past_255_widen_the_offset_column(use_backend):
    main = load(long_function(120))
    assert len(main.__code__.co_code) > 255
    compiled, python = record_both(use_backend, main, ["PY_RETURN"])
    assert column(compiled, "a").format == "H"
    assert compiled[0].offset > 255
    assert rows(compiled) == rows(python)


def test_a_column_widened_mid_recording_keeps_its_earlier_rows(use_backend):
    """Rows written one byte wide before the first wide value are copied over right."""
    main = load(long_function(120))
    events = ["PY_START", "LINE", *BRANCH_EVENTS, "JUMP", "PY_RETURN", "INSTRUCTION"]
    compiled, python = record_both(use_backend, main, events)
    a = column(compiled, "a")
    assert a.format == "H" and min(a) < 256 and max(a) > 255
    assert column(compiled, "jump_dest").format == "H"  # the final branch jumps past 255
    assert rows(compiled) == rows(python)
    assert [compiled._d.a[i] for i in range(len(compiled))] == list(python._d.a)


def test_line_numbers_past_65535_take_four_bytes(use_backend):
    source = "\n" * 70_000 + "def main():\n    x = 1\n    return x\n"
    main = load(source, filename="<far-down>")
    compiled, python = record_both(use_backend, main, ["LINE", "PY_START"])
    assert column(compiled, "a").format == "I"
    assert [e.line for e in compiled if e.event == "LINE"] == [70_002, 70_003]
    assert rows(compiled) == rows(python)


def test_depth_past_255_widens_the_depth_column(use_backend):
    main = load("""
        def down(n):
            return n if n == 0 else down(n - 1)
        def main():
            return down(300)
    """)
    compiled, python = record_both(use_backend, main, ["PY_START", "PY_RETURN"])
    assert column(compiled, "depth").format == "H"
    assert max(e.depth for e in compiled) == 301
    assert [e.depth for e in compiled if e.event == "PY_START"] == list(range(302))
    assert rows(compiled) == rows(python)


def test_many_code_objects_values_and_callables_widen_their_tables(use_backend):
    """code_id, code_start, value_ids, call_func and call_arg0 past 255 entries."""
    defs = "\n".join(f"def f{i}(x):\n    return x * {i} + 1000\n" for i in range(300))
    calls = "\n".join(f"    out.append(f{i}({i} * 7))" for i in range(300))
    main = load(f"{defs}\ndef main():\n    out = []\n{calls}\n    return len(out)\n")
    compiled, python = record_both(use_backend, main, ["CALL", "PY_RETURN"])
    formats = {n: column(compiled, n).format for n in
               ("code_id", "code_start", "value_ids", "call_func", "call_arg0")}
    assert formats == dict.fromkeys(formats, "H"), formats
    assert len(compiled.codes()) == 301
    assert rows(compiled) == rows(python)
    returns = [e.value for e in compiled if e.event == "PY_RETURN" and e.code.qualname != "main"]
    assert returns == [str(i * 7 * i + 1000) for i in range(300)]


def test_time_widens_as_needed_and_stays_right():
    before = time.perf_counter_ns()
    trace = monviz.record(load("""
        import time
        def nap():
            time.sleep(0.002)
        def main():
            nap()
            return 1
    """), events=["PY_START", "PY_RETURN", "LINE"])
    elapsed = time.perf_counter_ns() - before
    times = column(trace, "time_ns")
    assert times.format in ("I", "Q")  # past 65535 ns (the nap alone is 2,000,000)
    stamps = [e.time_ns for e in trace if e.time_ns is not None]
    assert stamps == list(times) and len(stamps) == 4
    assert stamps == sorted(stamps) and stamps[0] >= 0 and stamps[-1] <= elapsed
    starts = {e.code.qualname: e.time_ns for e in trace if e.event == "PY_START"}
    ends = {e.code.qualname: e.time_ns for e in trace if e.event == "PY_RETURN"}
    assert ends["nap"] - starts["nap"] >= 2_000_000
    assert [e.time_ns is None for e in trace] == [e.event == "LINE" for e in trace]


# -- the cap, in C -------------------------------------------------------------------


def test_the_cap_switches_monitoring_off_from_inside_the_callback():
    """At the first LINE past the cap, the tool's global and local events are already off
    when the target's next line runs; no watchdog thread is involved."""
    seen = {}
    threads_before = _thread._count()

    def target():
        x = 1
        x += 1
        x += 1
        x += 1  # the 4th LINE: one past the cap; events are off after its callback
        tool = next(t for t in range(6) if mon.get_tool(t) == "monviz")
        seen["global"] = mon.get_events(tool)
        seen["local"] = mon.get_local_events(tool, target.__code__)
        seen["threads"] = _thread._count()
        total = 0
        for i in range(100_000):  # unmonitored: adds nothing to the trace
            total += i
        return total

    before = state()
    with spying() as spy:
        trace = monviz.record(target, events=["LINE"], max_events=3)
    spy.assert_left_clean(before)
    assert spy.codes, "nothing was instrumented"
    assert seen == {"global": 0, "local": 0, "threads": threads_before}
    assert trace.truncated and len(trace) == 3 and trace.dropped == 1
    assert [e.line for e in trace] == [e.line for e in monviz.record(target, events=["LINE"])][:3]


def test_frame_events_past_the_cap_that_are_not_kept_do_not_trip_it():
    """Only kept events count: a cap equal to the LINEs asked for is not reached by the
    PY_RETURN the recorder also enabled."""
    full = monviz.record(tiny, events=["LINE"])
    trace = monviz.record(tiny, events=["LINE"], max_events=len(full))
    assert not trace.truncated and trace.dropped == 0 and len(trace) == len(full) == 1


# -- teardown -------------------------------------------------------------------------


def _returns():
    return [sum(range(3))]


def _raises():
    _returns()
    raise ValueError("from the target")


def _interrupted():
    _returns()
    raise KeyboardInterrupt


def _signalled():
    _returns()
    signal.raise_signal(signal.SIGINT)
    return "not reached"


def _loops():
    total = 0
    for i in range(20_000):
        total += i
    return total


ENDINGS = {"returns": _returns, "raises": _raises, "KeyboardInterrupt": _interrupted,
           "SIGINT": _signalled, "past the cap": _loops}


@pytest.mark.usefixtures("default_sigint")
@pytest.mark.parametrize("scope", ["user", "all"])
@pytest.mark.parametrize("ending", ENDINGS)
def test_teardown_leaves_no_trace(monkeypatch, ending, scope):
    """sys.monitoring as found, the SIGINT handler as found, and the session and its C
    recorder freed, however the recording ends."""
    sessions = []
    made = monviz.recorder.new_session

    def new_session(*args, **kw):
        session = made(*args, **kw)
        sessions.append((type(session).__name__, weakref.ref(session)))
        return session

    monkeypatch.setattr(monviz.recorder, "new_session", new_session)
    before = state()
    handler = signal.getsignal(signal.SIGINT)
    trace = failure = None
    with spying() as spy:
        try:
            trace = monviz.record(ENDINGS[ending], events=ALL, max_events=50, scope=scope)
        except BaseException as exc:
            failure = exc
    spy.assert_left_clean(before)
    assert signal.getsignal(signal.SIGINT) is handler
    assert spy.codes and spy.callbacks
    [(kind, session)] = sessions
    assert kind == "CompiledSession"
    if ending in ("KeyboardInterrupt", "SIGINT"):
        assert isinstance(failure, KeyboardInterrupt)
    else:
        assert failure is None
        assert trace.truncated == (ending == "past the cap")
        assert isinstance(trace.exception, ValueError) == (ending == "raises")
    if failure is not None or ending == "raises":
        # the exception's traceback holds record()'s frame, which holds the exception
        # (and the session): a cycle of the program's making, for the collector
        del failure, trace
        gc.collect()
    else:
        del trace  # nothing else holds the session: freed at once
    assert session() is None, "the session outlives its recording"


def test_a_recording_that_fails_to_start_leaves_a_cycle_the_collector_frees():
    """start() failing after the C recorder was made (here: a bogus code object to
    watch) tears monitoring down; the recorder <-> session cycle (the recorder holds
    the session's bound methods) is then garbage that gc collects."""

    class NotCode:
        co_consts = ()

    before = state()
    session = monviz.recorder.new_session(sys.monitoring.events.LINE, None, 10, "user")
    with pytest.raises(TypeError):
        session.start(watch=[NotCode()])
    assert state() == before
    assert isinstance(session.crec, speedups.Recorder)
    ref = weakref.ref(session)
    del session
    gc.collect()
    assert ref() is None, "the session and its recorder were not collected"
    assert live_recorders() == 0
    assert len(monviz.record(tiny, events=["PY_START"])) == 1


def test_no_recorder_object_survives_recordings():
    for ending in ("returns", "raises", "past the cap"):
        monviz.record(ENDINGS[ending], max_events=50)
    with pytest.raises(KeyboardInterrupt):
        monviz.record(_interrupted)
    gc.collect()
    assert live_recorders() == 0


# -- no user object kept ----------------------------------------------------------------


def test_no_user_object_is_kept_alive_after_recording():
    """Values are recorded as text; only trace.exception keeps a user object."""

    class Payload:
        def __repr__(self):
            return "Payload()"

    class Plain:  # object.__repr__: kept by reference while recording, text after
        pass

    class Failure(Exception):
        pass

    made: dict[str, weakref.ref] = {}

    def take(x):
        return None

    def target():
        returned, plain, argument = Payload(), Plain(), Payload()
        made.update(returned=weakref.ref(returned), plain=weakref.ref(plain),
                    argument=weakref.ref(argument))
        take(argument)
        take(plain)
        try:
            raise Failure(Payload())
        except Failure as caught:
            made["caught"] = weakref.ref(caught)
            made["caught arg"] = weakref.ref(caught.args[0])
        return returned, plain

    def failing():
        obj = Payload()
        made["raised arg"] = weakref.ref(obj)
        raise Failure(obj)

    trace = monviz.record(lambda: target(), events=ALL)
    assert {"take", "target"} <= {e.code.qualname.rsplit(".", 1)[-1] for e in trace}
    assert "Payload()" in {e.arg0 for e in trace}
    assert any(e.value and "Plain object at 0x" in e.value for e in trace)
    failed = monviz.record(failing, events=ALL)
    assert isinstance(failed.exception, Failure)
    gc.collect()
    alive = [name for name, ref in made.items() if ref() is not None]
    assert alive == ["raised arg"], f"still alive after recording: {alive}"
    assert made["raised arg"]() is failed.exception.args[0]  # trace.exception keeps it
    del failed
    gc.collect()
    assert made["raised arg"]() is None, "the exception's argument outlives the trace"


class Kept:
    pass


def test_a_value_with_object_repr_is_kept_until_the_end_then_released(use_backend):
    """Kept by reference while recording (its address cannot be reused, so the text,
    made at the end, is right), in both backends; released when recording ends."""
    seen: dict = {}

    def make():
        return Kept()

    def target():
        obj = make()
        seen["id"], seen["ref"] = id(obj), weakref.ref(obj)
        del obj
        seen["alive in recording"] = seen["ref"]() is not None
        return None

    for backend in (COMPILED, PYTHON):
        use_backend(backend)
        seen.clear()
        trace = monviz.record(target, events=["PY_RETURN"])
        assert seen["alive in recording"], backend
        assert seen["ref"]() is None, backend
        assert trace[0].value == f"<{Kept.__module__}.Kept object at {seen['id']:#x}>", backend


# -- memory -----------------------------------------------------------------------------


def test_freed_columns_go_to_a_pool_the_next_recording_reuses():
    speedups.release_memory()
    assert speedups.pool_size() == 0
    trace = monviz.record(_loops, events=["LINE", *BRANCH_EVENTS, "JUMP"])
    assert len(trace) > 10_000
    during = speedups.pool_size()
    del trace  # no reference cycle: freed at once
    freed = speedups.pool_size()
    assert freed > during
    assert freed >= 10_000  # at least the kind column's rows, one byte each
    again = monviz.record(_loops, events=["LINE"])
    assert speedups.pool_size() < freed, "the next recording did not take from the pool"
    del again
    assert speedups.pool_size() > 0
    speedups.release_memory()
    assert speedups.pool_size() == 0


# -- texts: as the pure-Python backend writes them -----------------------------------------


class BrokenRepr:
    def __repr__(self):
        raise RuntimeError("no repr")


class BrokenError(Exception):
    def __repr__(self):
        raise RuntimeError("no repr")


class Plain:
    pass


PLAIN = Plain()  # one object for both recordings: its text (with its address) must match


def _broken_values():
    def echo(x):
        return x

    echo(BrokenRepr())
    try:
        raise BrokenError("b")
    except BrokenError:
        pass
    try:
        raise ValueError(BrokenRepr())  # the exception's repr calls the broken one
    except ValueError:
        pass
    return BrokenRepr()


def _long_exception():
    try:
        raise ValueError("x" * 500)
    except ValueError:
        pass
    raise KeyError("k" * 300)


def _huge_ints():
    def echo(x):
        return x

    echo(10 ** 5000)  # too many digits to print: shown by its size
    echo(-(10 ** 100))  # printable
    try:
        raise ValueError(-(10 ** 100))
    except ValueError:
        pass
    return 2 ** 64


def _missing_and_plain():
    def nothing():
        return PLAIN

    nothing()  # CALL with no argument: arg0 is MISSING
    plain = nothing()
    return [plain]


def _stop_iteration():
    def gen(value):
        yield 1
        return value

    out = []
    for value in (PLAIN, BrokenRepr(), "done", 2 ** 70):
        for v in gen(value):
            out.append(v)
    return out


TEXT_TARGETS = {"broken repr": _broken_values, "long exception": _long_exception,
                "huge ints": _huge_ints, "MISSING and object.__repr__": _missing_and_plain,
                "STOP_ITERATION": _stop_iteration}


@pytest.mark.parametrize("events", [ALL, ["STOP_ITERATION", "CALL", "PY_RETURN"]],
                         ids=["all", "STOP_ITERATION+CALL+PY_RETURN"])
@pytest.mark.parametrize("name", TEXT_TARGETS)
def test_odd_values_read_the_same_as_with_the_pure_python_backend(use_backend, name, events):
    compiled, python = record_both(use_backend, TEXT_TARGETS[name], events)
    assert len(compiled) > 0
    assert rows(compiled) == rows(python)
    assert compiled.exception_repr == python.exception_repr


def _texts(trace: monviz.Trace) -> set[str]:
    return {t for e in trace for t in (e.arg0, e.value, e.exception) if t is not None}


def test_the_odd_texts_are_what_values_py_says():
    """What the comparisons above compare is the documented text, not a shared mistake."""
    texts = _texts(monviz.record(_broken_values, events=ALL))
    assert "<BrokenRepr object; repr failed: RuntimeError>" in texts
    assert "<BrokenError object; repr failed: RuntimeError>" in texts
    assert "<ValueError object; repr failed: RuntimeError>" in texts

    trace = monviz.record(_long_exception, events=["RAISE"])
    long_value = repr(ValueError("x" * 500))
    assert [e.exception for e in trace] == [
        long_value[:MAX_REPR - 3] + "...", repr(KeyError("k" * 300))[:MAX_REPR - 3] + "..."]
    assert trace.exception_repr == repr(KeyError("k" * 300))[:MAX_REPR - 3] + "..."

    texts = _texts(monviz.record(_huge_ints, events=ALL))
    assert f"<int of {(10 ** 5000).bit_length()} bits>" in texts
    assert repr(-(10 ** 100)) in texts and str(2 ** 64) in texts
    assert repr(ValueError(-(10 ** 100))) in texts

    trace = monviz.record(_missing_and_plain, events=["CALL", "PY_RETURN"])
    assert ("nothing", "MISSING") in {(e.callable.rsplit(".", 1)[-1], e.arg0)
                                      for e in trace if e.event == "CALL"}
    assert repr(PLAIN) in {e.value for e in trace}
    assert f"[{PLAIN!r}]" in {e.value for e in trace}

    trace = monviz.record(_stop_iteration, events=["STOP_ITERATION"])
    assert [e.exception for e in trace] == [  # the StopIteration carrying the value
        f"StopIteration({PLAIN!r})", "<StopIteration object; repr failed: RuntimeError>",
        "StopIteration('done')", f"StopIteration({2 ** 70})"]


def _huge_int_in_exception():
    def gen():
        yield 1
        return 10 ** 5000

    try:
        raise ValueError(10 ** 5000)  # BaseException.__repr__ fails: too many digits
    except ValueError:
        pass
    return list(gen())  # the StopIteration that ends gen() carries the huge int


def test_an_exception_whose_repr_fails_at_the_end_is_worded_as_the_pure_python_one(
        use_backend):
    compiled, python = record_both(use_backend, _huge_int_in_exception,
                                   ["RAISE", "STOP_ITERATION"])
    assert rows(compiled) == rows(python)
    texts = {e.exception for e in python}  # STOP_ITERATION is raised on some versions only
    assert "<ValueError object; repr failed: ValueError>" in texts
    assert texts <= {"<ValueError object; repr failed: ValueError>",
                     "<StopIteration object; repr failed: ValueError>"}


class TextLike(str):
    pass


class WordyError(Exception):
    def __repr__(self):
        return TextLike("WordyError(...)")


def _wordy():
    try:
        raise WordyError()
    except WordyError:
        pass


def test_an_exception_repr_is_kept_as_a_plain_str(use_backend):
    compiled, python = record_both(use_backend, _wordy, ["RAISE"])
    assert [e.exception for e in python] == ["WordyError(...)"]
    assert [type(e.exception) for e in python] == [str]
    assert rows(compiled) == rows(python)
    assert [type(e.exception) for e in compiled] == [str]


class CountedError(Exception):
    calls = 0

    def __repr__(self):
        type(self).calls += 1
        raise RuntimeError("no repr")


def _counted():
    try:
        raise CountedError()
    except CountedError:
        pass


def test_a_failing_exception_repr_runs_once_per_event(use_backend, monkeypatch):
    calls = {}
    for backend in (COMPILED, PYTHON):
        use_backend(backend)
        monkeypatch.setattr(CountedError, "calls", 0)
        trace = monviz.record(_counted, events=["RAISE"])
        assert [e.exception for e in trace] == ["<CountedError object; repr failed: "
                                                "RuntimeError>"]
        calls[backend] = CountedError.calls
    assert calls == {COMPILED: 1, PYTHON: 1}


class InterruptingRepr:
    def __repr__(self):
        raise KeyboardInterrupt("from __repr__")


class InterruptingError(Exception):
    def __repr__(self):
        raise KeyboardInterrupt("from __repr__")


def _interrupt_in_value():
    def make():
        return InterruptingRepr()

    make()
    return "not reached"


def _interrupt_in_exception():
    try:
        raise InterruptingError()
    except InterruptingError:
        pass
    return "not reached"


@pytest.mark.parametrize("target", [
    _interrupt_in_value,
    _interrupt_in_exception])
def test_keyboard_interrupt_in_a_repr_propagates_as_with_the_pure_python_backend(
        use_backend, target):
    """Raised from the callback into the program (not swallowed), which stops there;
    teardown first, then record() re-raises it. Events up to that point are kept."""
    events = ["LINE", "CALL", "PY_RETURN", "RAISE", "PY_UNWIND"]
    traces = {}
    for backend in (COMPILED, PYTHON):
        use_backend(backend)
        before = state()
        with pytest.raises(KeyboardInterrupt, match="from __repr__"):
            monviz.record(target, events=events)
        assert state() == before, backend
        rec = monviz.Recorder(events)
        with pytest.raises(KeyboardInterrupt, match="from __repr__"), rec:
            target()
        assert state() == before, backend
        assert isinstance(rec.trace.exception, KeyboardInterrupt)
        traces[backend] = rec.trace
    assert len(traces[COMPILED]) > 0
    assert rows(traces[COMPILED]) == rows(traces[PYTHON])
    assert "not reached" not in {e.value for e in traces[COMPILED]}


def _atoms_and_a_builtin_exception():
    def give(x):
        return x

    for x in (7, 10 ** 12, 2.5, "short", b"bytes", None, True, 1j, "s" * 500):
        give(x)
    try:
        raise KeyError("k")
    except KeyError:
        pass


def test_small_atoms_and_builtin_exceptions_get_their_text_when_first_read(use_backend):
    """Recording ends without a pass over the values: they read as in the other backend."""
    compiled, python = record_both(use_backend, _atoms_and_a_builtin_exception,
                                   ["PY_RETURN", "RAISE"])
    values = compiled._d.values
    assert isinstance(values, DeferredTexts)
    assert 0 < values._pending.count(0) < len(values)  # the long str was cut at the end
    first = [e.value or e.exception for e in compiled]  # reads some entries one by one
    assert first == [e.value or e.exception for e in python]
    assert "KeyError('k')" in first and "2.5" in first and "b'bytes'" in first
    assert values.tolist() == list(values) and values._pending.count(0) == len(values)
    assert all(type(t) is str for t in values.tolist())
    again = Trace.from_json(compiled.to_json())
    assert [e.value for e in again] == [e.value for e in compiled]


def test_a_compiled_trace_can_be_deep_copied(use_backend):
    """copy.deepcopy worked on pure-Python traces: memoryview columns become arrays."""
    import copy

    use_backend(COMPILED)
    trace = monviz.record(_atoms_and_a_builtin_exception)
    twin = copy.deepcopy(trace)
    assert [tuple(e) for e in twin] == [tuple(e) for e in trace]
    assert not any(isinstance(getattr(twin._d, n), memoryview) for n in _stream.PACKED)


_NAPS = """
import json, time, monviz, monviz._speedups as s
def nap():
    time.sleep(0.003)
def main():
    nap(); nap()
before = time.perf_counter_ns()
trace = monviz.record(main, ["PY_START", "PY_RETURN"])
elapsed = time.perf_counter_ns() - before
print(json.dumps({"tsc": s.TSC_TICKS, "elapsed": elapsed,
                  "times": [[e.event, e.code.qualname, e.time_ns] for e in trace]}))
"""


@pytest.mark.parametrize("ticks", ["ns", "default"])
def test_frame_times_are_ns_with_either_clock(ticks, tmp_path):
    """The TSC (where the kernel keeps time with it) or clock_gettime: the same ns."""
    import json
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("MONVIZ_TICKS", backends.PURE_ENV)}
    if ticks == "ns":
        env["MONVIZ_TICKS"] = "ns"
    root = os.path.dirname(os.path.dirname(os.path.abspath(monviz.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    script = tmp_path / "naps.py"  # a file: code run by `python -c` is not user code
    script.write_text(_NAPS)
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    got = json.loads(out.stdout)
    if ticks == "ns":
        assert got["tsc"] == 0
    stamps = [t for _, _, t in got["times"]]
    assert stamps == sorted(stamps) and stamps[0] >= 0 and stamps[-1] <= got["elapsed"]
    naps = [end - start for (_, q, start), (_, _, end) in zip(got["times"][1:], got["times"][2:])
            if q == "nap"][::2]
    assert len(naps) == 2 and all(3_000_000 <= n < got["elapsed"] for n in naps), got
