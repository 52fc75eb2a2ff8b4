"""The Trace: a sequence of Events with queries, JSON, and an escaped HTML summary.

Every query is checked against the same answer computed by iterating the trace.
"""

from __future__ import annotations

import json
import textwrap
import threading
from collections import Counter

import pytest
from platform_marks import needs_threads

import monviz
from monviz import Event, Trace

SOURCE = textwrap.dedent("""
    def square(x):
        return x * x

    def gen(n):
        for i in range(n):
            yield square(i)

    total = sum(gen(3))
    try:
        square(None)
    except TypeError:
        pass
""")


@pytest.fixture(scope="module")
def trace() -> Trace:
    return monviz.record(SOURCE, filename="<trace-test>")


def test_len_and_indexing(trace):
    events = list(trace)
    assert len(trace) == len(events) > 20
    assert trace[0] == events[0] and trace[-1] == events[-1] == trace[len(trace) - 1]
    assert trace[-len(trace)] == events[0]
    assert trace[2:5] == events[2:5]
    assert [e.index for e in events] == list(range(len(trace)))


@pytest.mark.parametrize("where", ["len", "-len-1", "huge"])
def test_an_index_out_of_range_says_how_long_the_trace_is(trace, where):
    n = len(trace)
    i = {"len": n, "-len-1": -n - 1, "huge": 10**9}[where]
    with pytest.raises(IndexError) as info:
        trace[i]
    assert str(n) in str(info.value) and "out of range" in str(info.value)


def test_iteration_yields_events(trace):
    assert all(type(e) is Event for e in trace)
    assert Event._fields == ("index", "event", "code", "offset", "line", "target", "callable",
                             "arg0", "value", "exception", "depth", "thread", "time_ns")


def test_to_records_are_plain_dicts_of_the_event_fields(trace):
    records = trace.to_records()
    assert len(records) == len(trace)
    for record, event in zip(records, trace):
        assert list(record) == list(Event._fields)
        assert record["code"] == event.code.qualname
        assert {k: v for k, v in record.items() if k != "code"} == {
            k: v for k, v in event._asdict().items() if k != "code"}
    json.dumps(records)  # plain data only


def test_line_events_have_no_offset_and_jumps_have_targets(trace):
    for e in trace:
        if e.event == "LINE":
            assert e.offset is None and e.line is not None
        else:
            assert isinstance(e.offset, int)
        assert (e.target is not None) == (e.event in ("JUMP", "BRANCH", "BRANCH_LEFT",
                                                      "BRANCH_RIGHT"))


def test_codes_are_those_with_events_in_order_of_first_event(trace):
    expected = list(dict.fromkeys(e.code for e in trace))
    assert trace.codes() == expected
    assert [c.qualname for c in expected] == ["<module>", "gen", "square"]


def test_counts_and_totals_match_iteration(trace):
    expected: dict = {}
    for e in trace:
        expected.setdefault(e.code, Counter())[e.event] += 1
    assert trace.counts() == {code: dict(c) for code, c in expected.items()}
    assert trace.totals() == dict(Counter(e.event for e in trace))


@pytest.mark.parametrize("events, code", [
    (["LINE"], None),
    ("line, py_return", None),
    ("exceptions", None),
    (None, "square"),
    (["PY_START", "PY_RETURN"], "gen"),
])
def test_filter_keeps_what_iteration_would(trace, events, code):
    wanted = set(monviz.events.names_of(monviz.events.parse_events(events))) if events else None
    expected = [e for e in trace if (wanted is None or e.event in wanted)
                and (code is None or e.code.qualname == code)]
    got = trace.filter(events=events, code=code)
    key = lambda e: e[1:]  # noqa: E731  (indexes are renumbered)
    assert list(map(key, got)) == list(map(key, expected))
    assert len(got) == len(expected) > 0
    assert [e.index for e in got] == list(range(len(got)))


def test_filter_by_function_code_object_or_code_info():
    def helper():
        return 1

    def target():
        return helper() + helper()

    trace = monviz.record(target)
    by_name = trace.filter(code=helper.__code__.co_qualname)
    assert len(by_name) > 0 and {e.code.qualname for e in by_name} == {helper.__qualname__}
    for spec in (helper, helper.__code__, by_name[0].code, [helper]):
        assert [e[1:] for e in trace.filter(code=spec)] == [e[1:] for e in by_name]


def test_json_round_trip_keeps_records_and_sources(trace):
    again = Trace.from_json(trace.to_json())
    assert again.to_records() == trace.to_records()
    assert again.sources == trace.sources and again.sources["<trace-test>"] == SOURCE
    assert [c.qualname for c in again.codes()] == [c.qualname for c in trace.codes()]
    assert again.source_of(again.codes()[0]) == SOURCE
    assert (again.truncated, again.dropped) == (trace.truncated, trace.dropped)
    assert again.to_json() == trace.to_json()


def test_json_round_trip_of_a_truncated_failing_trace():
    def fails():
        for _ in range(1000):
            pass
        raise RuntimeError("late")

    capped = monviz.record(fails, max_events=10)
    assert capped.truncated and capped.dropped > 0 and len(capped) == 10
    assert isinstance(capped.exception, RuntimeError)
    again = Trace.from_json(capped.to_json())
    assert (again.truncated, again.dropped) == (True, capped.dropped)
    assert again.exception is None  # no live objects in JSON
    assert again.exception_repr == capped.exception_repr == "RuntimeError('late')"
    assert again.to_records() == capped.to_records()


def test_from_json_refuses_other_json():
    with pytest.raises(monviz.MonvizError, match="monviz-trace"):
        Trace.from_json(json.dumps({"columns": {}}))


def test_a_trace_without_failure_has_no_exception(trace):
    assert trace.exception is None and trace.exception_repr is None
    assert trace.truncated is False and trace.dropped == 0


@needs_threads
def test_threads_are_the_threads_that_produced_events_recording_thread_first():
    def work(out):
        for i in range(50):
            out.append(i)

    def target():
        out: list = []
        worker = threading.Thread(target=work, args=(out,))
        worker.start()
        worker.join()
        work(out)
        return len(out)

    for _ in range(20):  # thread switches race with the recording's own start and end
        trace = monviz.record(target)
        assert trace.threads[0] == threading.get_ident()
        assert set(trace.threads) == {e.thread for e in trace}
        assert len(trace.threads) == 2


# -- HTML ----------------------------------------------------------------------------

HOSTILE_VALUE = "<img src=x onerror=alert(1)>"
HOSTILE_NAME = "<script>alert('name')</script>"


class Hostile:
    def __repr__(self):
        return HOSTILE_VALUE


def test_html_summary_escapes_every_user_string():
    def evil():
        return Hostile()

    evil.__qualname__ = HOSTILE_NAME  # shown as the CALL's callable
    renamed = evil.__code__.replace(co_qualname="<script>code</script>")

    def target():
        evil()
        return renamed_fn()

    renamed_fn = type(evil)(renamed, {"Hostile": Hostile})
    trace = monviz.record(target, events=["CALL", "PY_RETURN"])
    text = trace._repr_html_()
    assert any(e.value == HOSTILE_VALUE for e in trace)
    assert any(e.callable == HOSTILE_NAME for e in trace)
    assert any(e.code.qualname == "<script>code</script>" for e in trace)
    assert "<img" not in text and "<script" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;script&gt;alert(" in text and "&lt;script&gt;code&lt;/script&gt;" in text


def test_html_summary_escapes_file_names_and_exceptions():
    filename = "<cell' onmouseover='alert(1)>"
    trace = monviz.record("raise ValueError('<b>bold</b>')", filename=filename)
    text = trace._repr_html_()
    assert "onmouseover='alert" not in text and "<b>bold" not in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text


# -- memory ----------------------------------------------------------------------------


def test_a_long_recording_takes_at_most_20_bytes_per_event():
    def loop():
        total = 0
        for i in range(60_000):
            total += i
        return total

    trace = monviz.record(loop, max_events=100_000)
    assert len(trace) == 100_000
    assert trace.nbytes / len(trace) <= 20


@needs_threads
def test_events_of_interleaved_threads_keep_their_thread_code_and_depth():
    """Threads switching every few microseconds: each event still names its own thread,
    and the per-thread call depth is right (a thread switch can fall between any two
    events, so thread and event must be written together)."""
    import sys

    def leaf(n):
        return n + 1

    def worker(name, out):
        total = 0
        for i in range(300):
            total += leaf(i)
        out[name] = total

    def target():
        out = {}
        threads = [threading.Thread(target=worker, args=(n, out)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(3):  # races show up in some runs only
            check_threads(monviz.record(target))
    finally:
        sys.setswitchinterval(old)


def check_threads(trace):
    me = threading.get_ident()
    # a finished thread's id can be reused by the next one: 2 to 4 ids for 4 threads
    assert trace.threads[0] == me and 2 <= len(trace.threads) <= 4
    for ev in trace:
        name = ev.code.qualname.rpartition(".")[2]
        if name in ("worker", "leaf"):
            assert ev.thread != me, ev
            expected = 0 if name == "worker" else 1
        else:
            assert name == "target" and ev.thread == me, ev
            expected = 0
        assert ev.depth == expected, ev
    per_thread = {t: sum(1 for e in trace if e.thread == t and e.event == "PY_START"
                         and e.code.qualname.endswith("leaf")) for t in trace.threads[1:]}
    assert sum(per_thread.values()) == 900
    assert all(n % 300 == 0 for n in per_thread.values())


def test_counts_add_up_code_objects_that_look_the_same():
    """IPython compiles each top-level statement of a cell as its own <module> code object,
    all with the cell's name and first line: their counts share a row, none is lost."""
    first = compile("def f():\n    return 1\nx = f()\n", "<cell-1>", "exec", dont_inherit=True)
    second = compile("y = 2\n", "<cell-1>", "exec", dont_inherit=True)

    def run():
        namespace: dict = {}
        exec(first, namespace)
        exec(second, namespace)

    trace = monviz.record(run, events=["PY_START", "LINE"])
    rows = {info.qualname: row for info, row in trace.counts().items()
            if info.filename == "<cell-1>"}
    by_iteration = Counter(e.event for e in trace
                           if e.code.filename == "<cell-1>" and e.code.qualname == "<module>")
    assert rows["<module>"] == dict(by_iteration) == {"PY_START": 2, "LINE": 3}
    assert sum(sum(r.values()) for r in trace.counts().values()) == len(trace)
