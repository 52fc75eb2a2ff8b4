"""The compiled backend and the pure-Python backend record the same Trace.

Specification by agreement: every program of the oracle suite
(``test_recorder_oracle.PROGRAMS``, itself checked against an independent
recorder) is recorded once with each backend, for several event sets and both
scopes, and the Event streams must be identical in every field but
``time_ns`` (whose presence must still agree). The two recordings are two
executions, so what differs between any two runs of a program is normalised
first: object addresses in reprs (``0x7f...``) and ``threading``'s thread
names and states (``<Thread(Thread-7 (work), started 1407...)>``); with several
threads, only each thread's own stream is deterministic, so streams are
compared per thread. (With scope="all" the threaded and asyncio programs are
left out: the library internals they run vary from run to run.)

Past ``max_events`` both keep the same first events and say ``truncated``;
they differ, as documented, in ``dropped``: the compiled backend stops
monitoring from inside the callback of the first event past the cap (one
dropped event), the pure-Python one when its watchdog notices (every event
raised until then is counted).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import re
import textwrap
import threading
import warnings
from array import array
from collections import Counter

import pytest
import test_recorder_oracle as oracle

import monviz
from monviz import backends

COMPILED, PYTHON = backends.COMPILED, backends.PYTHON
BACKENDS = (COMPILED, PYTHON)

needs_compiled = pytest.mark.skipif(
    backends.speedups is None,
    reason=f"the compiled backend is not available: {backends.why_not}")

EVENT_SETS: dict[str, list[str]] = {
    "all": oracle.ALL,
    "LINE": ["LINE"],
    # no frame event asked for: the recorder enables them, then drops their rows
    "branch+jump": [*oracle.BRANCHES, "JUMP"],
    "exceptions": ["RAISE", "RERAISE", "EXCEPTION_HANDLED", "PY_UNWIND", "PY_THROW"],
    "calls": ["CALL", "C_RETURN", "C_RAISE"],
    "values": ["PY_RETURN", "PY_YIELD", "STOP_ITERATION"],
}
SCOPES = ("user", "all")
THREADED = {"threads"}
ASYNCIO = {"asyncio_run", "async_for"}

ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
THREAD_NAME = re.compile(r"\bThread-\d+\b")
#: a Thread's repr ends with its state and ident: "initial", "started 1407...", "stopped"
THREAD_STATE = re.compile(r"(<\w+\([^<>]*?, )(?:initial|started|stopped)[^<>)]*\)>")
TEXT_FIELDS = ("callable", "arg0", "value", "exception")


def _normal(text: str | None) -> str | None:
    if text is None:
        return None
    text = THREAD_NAME.sub("Thread-N", ADDRESS.sub("0x?", text))
    return THREAD_STATE.sub(r"\1?)>", text)


def row(ev: monviz.Event, threads: list[int] | None = None) -> tuple:
    """Every field of an Event but ``time_ns`` (only whether it is set), texts normalised.

    With ``threads`` (the trace's thread list), the thread is its position there and
    the index is left out: both depend on how threads interleaved.
    """
    code = (ev.code.qualname, ev.code.filename, ev.code.firstlineno)
    head = (ev.event, code, ev.offset, ev.line, ev.target,
            *(_normal(getattr(ev, f)) for f in TEXT_FIELDS), ev.depth, ev.time_ns is None)
    if threads is None:
        return (ev.index, *head, ev.thread)
    return (*head, threads.index(ev.thread))


def rows(trace: monviz.Trace) -> list[tuple]:
    return [row(ev) for ev in trace]


def per_thread(trace: monviz.Trace) -> Counter:
    """The multiset of per-thread streams (thread 0, the recording thread, is tagged so)."""
    threads = trace.threads
    streams: dict[int, list] = {}
    for ev in trace:
        streams.setdefault(ev.thread, []).append(row(ev, threads))
    return Counter((t == threads[0], tuple(s)) for t, s in streams.items())


def nonempty_counts(trace: monviz.Trace) -> dict:
    """``trace.counts()`` less code objects listed with no events (see
    test_counts_lists_the_same_code_objects_with_either_backend)."""
    return {info: n for info, n in trace.counts().items() if n}


def assert_same(compiled: list, python: list, label: str) -> None:
    """Equal streams, or a message showing where they first part."""
    if compiled == python:
        return
    at = next(i for i, (a, b) in enumerate(itertools.zip_longest(compiled, python)) if a != b)
    lines = [f"{label}: the backends differ at event {at} "
             f"(compiled {len(compiled)} events, python {len(python)})", "   compiled | python"]
    for i in range(max(at - 3, 0), min(at + 4, max(len(compiled), len(python)))):
        a = compiled[i] if i < len(compiled) else None
        b = python[i] if i < len(python) else None
        lines.append(f"{'!!' if a != b else '  '} {i}: {a} | {b}")
    pytest.fail("\n".join(lines))


@functools.cache
def _warm(name: str) -> None:
    """Run a program once unrecorded: lazy first-time work in the standard library
    (seen with scope="all") then happens in neither recording."""
    _, namespace = oracle.load(name)
    with contextlib.suppress(Exception):
        namespace["main"]()


def record_program(use_backend, backend: str, name: str, events, scope="user", **kw):
    """Record ``main`` of oracle program ``name`` (freshly loaded) with ``backend``.

    The cyclic GC is off during the recording: a collection could run some earlier
    test's finalizers (generators closing) in the middle of one recording and not of
    the other.
    """
    _warm(name)
    _, namespace = oracle.load(name)
    use_backend(backend)
    gc.disable()
    try:
        return monviz.record(namespace["main"], events=list(events), scope=scope, **kw)
    finally:
        gc.enable()


def record_both(use_backend, name, events, scope="user", **kw):
    return tuple(record_program(use_backend, b, name, events, scope, **kw) for b in BACKENDS)


#: With scope="all" some programs also record library internals whose values or order
#: depend on the run: threading's (sets ordered by address, thread idents) and
#: asyncio's (task numbers, weakref callbacks of tasks freed when their cycles go).
#: Those are compared with the user scope only.
RUN_DEPENDENT_IN_ALL = THREADED | ASYNCIO
CASES = [pytest.param(name, scope, id=f"{name}-{scope}")
         for name in oracle.PROGRAMS for scope in SCOPES
         if not (scope == "all" and name in RUN_DEPENDENT_IN_ALL)]


# -- the streams ---------------------------------------------------------------------


@needs_compiled
@pytest.mark.parametrize("events", EVENT_SETS.values(), ids=EVENT_SETS.keys())
@pytest.mark.parametrize(("name", "scope"), CASES)
def test_both_backends_record_the_same_events(use_backend, name, scope, events):
    compiled, python = record_both(use_backend, name, events, scope)
    label = f"{name}, scope={scope}, events={events}"
    if events is oracle.ALL:
        assert len(compiled) > 0, f"{label}: nothing was recorded"
    for trace in (compiled, python):
        assert {e.event for e in trace} <= set(events), label
        assert not trace.truncated and trace.dropped == 0, label
        assert trace.threads[:1] in ([], [threading.get_ident()]), label
    assert compiled.events == python.events
    assert _normal(compiled.exception_repr) == _normal(python.exception_repr)
    if name in THREADED:
        assert per_thread(compiled) == per_thread(python), label
    else:
        assert_same(rows(compiled), rows(python), label)
        assert compiled.totals() == python.totals()
        assert nonempty_counts(compiled) == nonempty_counts(python)


@needs_compiled
def test_the_programs_give_every_kind_of_event_and_of_field_to_compare(use_backend):
    """The comparison above is not vacuous: every event of the catalogue, and every
    field, shows up in the programs' streams of one backend or the other."""
    seen_events: set[str] = set()
    seen_fields: set[str] = set()
    for name in oracle.PROGRAMS:
        compiled, _ = record_both(use_backend, name, oracle.ALL)
        seen_events |= {e.event for e in compiled}
        seen_fields |= {f for e in compiled for f in ("target", *TEXT_FIELDS)
                        if getattr(e, f) is not None}
        seen_fields |= {"depth>0"} if any(e.depth for e in compiled) else set()
    assert seen_events == set(oracle.ALL)
    assert seen_fields == {"target", *TEXT_FIELDS, "depth>0"}


@needs_compiled
@pytest.mark.parametrize("events", [oracle.ALL, ["LINE"], ["CALL", "PY_RETURN"]],
                         ids=["all", "LINE", "CALL+PY_RETURN"])
@pytest.mark.parametrize("name", ["recursion", "generator_send_throw_close", "with_statement",
                                  "uncaught_exception"])
def test_a_with_block_records_the_same_with_either_backend(use_backend, name, events):
    """``monviz.Recorder``: the block's own frame is open (level0) and the exit is cut."""
    traces = []
    for backend in BACKENDS:
        _, namespace = oracle.load(name)
        use_backend(backend)
        with monviz.Recorder(events) as rec:
            try:  # noqa: SIM105 (recorded code: plain statements, no contextlib calls)
                namespace["main"]()
            except ValueError:
                pass
        traces.append(rec.trace)
    assert len(traces[0]) > 0
    assert_same(rows(traces[0]), rows(traces[1]), f"with-block {name}, {events}")


@needs_compiled
def test_counts_lists_the_same_code_objects_with_either_backend(use_backend):
    compiled, python = record_both(use_backend, "recursion", ["RAISE"])
    assert {e.code.qualname for e in compiled} == {"dive", "main"}
    assert compiled.counts() == nonempty_counts(compiled)
    assert python.counts() == compiled.counts()


class _Equal:  # object.__repr__, but every instance equal to every other
    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0


class _Unhashable:
    __hash__ = None


class _Touchy:
    def __eq__(self, other):
        raise RuntimeError("do not compare me")

    def __hash__(self):
        return 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_kept_by_reference_are_told_apart_by_identity(use_backend, backend):
    """Objects shown by object.__repr__ are kept by reference while recording: each
    event shows its own object's address, however the objects compare or hash."""
    objects = [_Equal(), _Equal(), _Unhashable(), _Unhashable(), _Touchy(), _Touchy()]

    def echo(x):
        return x

    def main():
        for obj in objects:
            echo(obj)

    use_backend(backend)
    trace = monviz.record(main, events=["PY_RETURN"])
    assert [e.value for e in trace] == [*map(repr, objects), "None"]


class _Loud:
    reprs = 0

    def __repr__(self):
        type(self).reprs += 1
        return "_Loud()"


@pytest.mark.parametrize("backend", [
    pytest.param(COMPILED, marks=needs_compiled),
    PYTHON])
def test_a_value_is_described_only_for_events_asked_for(use_backend, monkeypatch, backend):
    def make():
        return _Loud()

    def fail():
        raise KeyError(_Loud())  # its PY_UNWIND is not asked for either

    def main():
        make()
        try:  # noqa: SIM105 (recorded code: plain statements, no contextlib calls)
            fail()
        except KeyError:
            pass

    use_backend(backend)
    monkeypatch.setattr(_Loud, "reprs", 0)
    trace = monviz.record(main, events=["LINE"])
    assert {"make", "fail"} <= {e.code.qualname.rsplit(".", 1)[-1] for e in trace}
    assert _Loud.reprs == 0
    monviz.record(main, events=["LINE", "PY_RETURN"])
    assert _Loud.reprs == 1  # now make's return value


# -- threads -------------------------------------------------------------------------

THREADS_PROGRAM = textwrap.dedent("""
    import threading

    def square(i):
        return i * i

    def work(tag, n, turns, my_turn, your_turn):
        mine = []  # (a shared list's repr, as CALL's arg0, would depend on the interleaving)
        for i in range(n):
            if i < turns:
                my_turn()  # the workers take turns: their events interleave
            mine.append(square(i))
            if i < turns:
                your_turn()
        return tag

    def main():
        a, b = threading.Semaphore(1), threading.Semaphore(0)
        workers = [threading.Thread(target=work, args=("a", 12, 10, a.acquire, b.release)),
                   threading.Thread(target=work, args=("b", 17, 10, b.acquire, a.release))]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        return len(workers)
""")

DEPTH_IN_THREAD = {"main": 0, "work": 0, "square": 1}


@needs_compiled
@pytest.mark.parametrize("events", [oracle.ALL, ["LINE"], ["PY_START", "PY_RETURN", "CALL"]],
                         ids=["all", "LINE", "PY_START+PY_RETURN+CALL"])
def test_two_threads_give_the_same_stream_per_thread(use_backend, events):
    code = compile(THREADS_PROGRAM, "<two-threads>", "exec", dont_inherit=True)
    traces = {}
    for backend in BACKENDS:
        namespace: dict = {"__name__": "two_threads"}
        exec(code, namespace)
        use_backend(backend)
        traces[backend] = trace = monviz.record(namespace["main"], events=events)
        assert trace.exception is None
        assert len(trace.threads) == 3, f"{backend}: {trace.threads}"
        assert trace.threads[0] == threading.get_ident()
        # each event at its own thread's call depth: a worker's frames start at 0
        wrong = [(e.index, e.code.qualname, e.depth, e.thread) for e in trace
                 if e.depth != DEPTH_IN_THREAD[e.code.qualname]]
        assert not wrong, f"{backend}: wrong depths {wrong[:5]}"
        assert {e.code.qualname for e in trace if e.thread == trace.threads[0]} == {"main"}
        assert {e.code.qualname for e in trace if e.thread != trace.threads[0]} >= {"work"}
        workers = [e.thread for e in trace if e.code.qualname != "main"]
        switches = sum(a != b for a, b in itertools.pairwise(workers))
        assert switches >= 10, f"{backend}: the workers took no turns; nothing was tested"
    assert per_thread(traces[COMPILED]) == per_thread(traces[PYTHON])


# -- the cap ---------------------------------------------------------------------------

CAP_PROGRAMS = [n for n in oracle.PROGRAMS if n not in THREADED]


@needs_compiled
@pytest.mark.parametrize("events", [oracle.ALL, ["LINE"], ["CALL", "C_RETURN", "C_RAISE"]],
                         ids=["all", "LINE", "calls"])
@pytest.mark.parametrize("name", CAP_PROGRAMS)
def test_past_the_cap_both_keep_the_same_first_events(use_backend, name, events):
    """``truncated``, ``len == max_events``, the same kept events (the uncapped trace's
    first ones); ``dropped`` as each backend documents it."""
    full, full_python = record_both(use_backend, name, events)
    assert_same(rows(full), rows(full_python), f"{name} uncapped")
    if len(full) < 2:
        pytest.skip(f"{name} raises fewer than 2 of {events}")
    cap = len(full) // 2
    compiled, python = record_both(use_backend, name, events, max_events=cap)
    label = f"{name}, {events}, max_events={cap} of {len(full)}"
    for trace in (compiled, python):
        assert trace.truncated, label
        assert len(trace) == cap, label
        assert 1 <= trace.dropped <= len(full) - cap, label
        assert "truncated" in repr(trace)
    # compiled: monitoring stops in the callback of the first event past the cap
    assert compiled.dropped == 1, label
    assert_same(rows(compiled), rows(full)[:cap], f"{label}: compiled vs uncapped")
    assert_same(rows(python), rows(full)[:cap], f"{label}: python vs uncapped")
    # the exception of the target is kept however the recording was cut
    assert _normal(compiled.exception_repr) == _normal(full.exception_repr)
    assert _normal(python.exception_repr) == _normal(full.exception_repr)


@needs_compiled
@pytest.mark.parametrize("events", [oracle.ALL, ["LINE"], [*oracle.BRANCHES, "JUMP"]],
                         ids=["all", "LINE", "branch+jump"])
@pytest.mark.parametrize("name", ["branches_and_loops", "recursion", "uncaught_exception",
                                  "generator_send_throw_close"])
def test_exactly_max_events_is_not_truncated(use_backend, name, events):
    """A cap equal to the number of kept events loses nothing, however many frame
    events (enabled, not kept) come after the last kept one."""
    full, _ = record_both(use_backend, name, events)
    compiled, python = record_both(use_backend, name, events, max_events=len(full))
    for trace in (compiled, python):
        assert not trace.truncated and trace.dropped == 0
        assert rows(trace) == rows(full)
    one_less, one_less_python = record_both(use_backend, name, events,
                                            max_events=len(full) - 1)
    for trace in (one_less, one_less_python):
        assert trace.truncated and trace.dropped == 1  # one event past the cap, either way
        assert rows(trace) == rows(full)[:-1]


@needs_compiled
def test_a_cap_of_one(use_backend):
    compiled, python = record_both(use_backend, "branches_and_loops", oracle.ALL, max_events=1)
    assert rows(compiled) == rows(python)
    assert [e.event for e in compiled] == ["PY_START"]
    assert compiled.truncated and python.truncated
    assert compiled.dropped == 1 and python.dropped >= 1


# -- choosing the backend ------------------------------------------------------------


@pytest.mark.parametrize(("value", "forced"), [
    (None, False), ("", False), ("0", False), ("1", True), ("yes", True), ("true", True)])
def test_monviz_pure_python_chooses_the_backend(monkeypatch, value, forced):
    """Set to anything but "" or "0", MONVIZ_PURE_PYTHON forces the pure-Python backend;
    it is read at each call (no restart needed)."""
    if value is None:
        monkeypatch.delenv(backends.PURE_ENV, raising=False)
    else:
        monkeypatch.setenv(backends.PURE_ENV, value)
    expected = PYTHON if forced or backends.speedups is None else COMPILED
    assert monviz.backend() == expected
    assert backends.forced_pure() is forced
    assert backends.describe().startswith(expected)
    if forced:
        assert backends.PURE_ENV in backends.describe()
    # the recording really uses it: compiled columns are read in place (memoryview)
    trace = monviz.record(oracle.load("recursion")[1]["main"], events=["PY_START"])
    assert len(trace) > 0
    assert isinstance(trace._d.kind, memoryview if expected == COMPILED else array)


@needs_compiled
def test_the_backend_can_change_between_recordings(use_backend):
    _, namespace = oracle.load("recursion")
    kinds = []
    for backend in (COMPILED, PYTHON, COMPILED):
        use_backend(backend)
        assert monviz.backend() == backend
        kinds.append(type(monviz.record(namespace["main"], events=["LINE"])._d.kind))
    assert kinds == [memoryview, array, memoryview]


def test_without_the_extension_monviz_says_why_once(monkeypatch):
    """Where the extension is missing (not asked for), one warning at the first recording."""
    monkeypatch.setattr(backends, "speedups", None)
    monkeypatch.setattr(backends, "why_not", "monviz._speedups could not be imported (test)")
    monkeypatch.setattr(backends, "_told", False)
    monkeypatch.delenv(backends.PURE_ENV, raising=False)
    assert monviz.backend() == PYTHON
    assert "could not be imported (test)" in backends.describe()
    _, namespace = oracle.load("recursion")
    with pytest.warns(backends.PurePythonBackendWarning, match=backends.PURE_ENV):
        first = monviz.record(namespace["main"], events=["LINE"])
    assert isinstance(first._d.kind, array)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monviz.record(namespace["main"], events=["LINE"])  # said once only
    monkeypatch.setattr(backends, "_told", False)
    monkeypatch.setenv(backends.PURE_ENV, "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monviz.record(namespace["main"], events=["LINE"])  # asked for: nothing to say
