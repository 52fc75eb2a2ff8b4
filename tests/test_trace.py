"""The Trace: a sequence of Events with queries, JSON, and an escaped HTML summary.

Every query is checked against the same answer computed by iterating the trace.
"""

from __future__ import annotations

import json
import random
import textwrap
import threading
from collections import Counter

import pytest
from platform_marks import needs_threads

import monviz
from monviz import Event, Trace
from monviz.versions import BRANCH_EVENTS

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


# -- the fast paths (10M events stay interactive): the same answers as a walk over every row --

MANY_CODES = textwrap.dedent("""
    def fib(n):
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    def squares(n):
        for i in range(n):
            yield i * i

    def fails(i):
        raise ValueError(i)

    class Box:
        def __init__(self, v):
            self.v = v

        def grow(self):
            self.v += 1
            return self.v

    for r in range(3):
        fib(7 + r)
        total = sum(squares(20 + r))
        box = Box(r)
        for _ in range(4 + r):
            box.grow()
        try:
            fails(r)
        except ValueError:
            pass
        if r == 1:
            sorted([3, 1, 2], key=lambda x: -x)
""")

DEEP = textwrap.dedent("""
    def down(n):
        if n:
            return down(n - 1) + 1
        return 0

    down(300)   # deeper than a byte: the depth column is 2 bytes wide
    down(5)
""")


def threaded_target():
    def leaf(n):
        return n * 2

    def worker(out):
        out.append(sum(leaf(i) for i in range(40)))

    def target():
        out: list = []
        threads = [threading.Thread(target=worker, args=(out,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        worker(out)
        return out

    return target


def make_case(case: str, tmp_path) -> Trace:
    """A trace of each shape the fast paths meet: several code objects, a 2-byte depth
    column, threads, the cap, filters, a saved file and JSON."""
    if case == "threads":
        return monviz.record(threaded_target())
    if case == "deep":
        return monviz.record(DEEP, filename="<deep>")
    if case == "lines only":  # no frame events kept: runs change without a PY_START
        return monviz.record(MANY_CODES, filename="<many>", events=["LINE"])
    full = monviz.record(MANY_CODES, filename="<many>")
    if case == "several codes":
        return full
    if case == "capped":
        capped = monviz.record(MANY_CODES, filename="<many>", max_events=700)
        assert capped.truncated and len(capped) == 700
        return capped
    if case == "filtered events":
        return full.filter(events=["LINE", *BRANCH_EVENTS, "JUMP", "CALL", "PY_RETURN", "RAISE"])
    if case == "filtered code":
        return full.filter(code=["fib", "grow"])
    if case == "loaded":
        return monviz.load(full.save(tmp_path / "t.monviz"))
    if case == "json":
        return Trace.from_json(full.to_json())
    raise AssertionError(case)


CASES = ["several codes", "deep", pytest.param("threads", marks=needs_threads), "lines only",
         "capped", "filtered events", "filtered code", "loaded", "json"]


def fresh(trace: Trace) -> Trace:
    """The same columns in a new Trace: no index of any kind built yet."""
    return trace._with(trace._d)


def walk(trace: Trace) -> tuple[list[Event], list[int]]:
    """Every event decoded by one pass over the columns, row by row, in plain Python;
    and the code index of every row. The ground truth for the fast paths."""
    from monviz import _stream as s

    d, n = trace._d, len(trace)
    code_of: list[int] = []
    thread_of: list[int] = []
    for column, starts, values in ((code_of, d.code_start, d.code_id),
                                   (thread_of, d.thread_start, d.thread_idx)):
        bounds = [*starts, n]
        for value, start, end in zip(values, bounds, bounds[1:]):
            column.extend([value] * (end - start))
    assert len(code_of) == len(thread_of) == n
    stored = len(d.depth) == n
    level = d.level0
    seen = Counter()  # rows of each rank-ordered table so far
    events = []
    for i in range(n):
        name = trace.kind_names[d.kind[i]]
        shape = s.shape(name)
        push, pop = shape in (s.START, s.THROW), shape in (s.EXIT, s.UNWIND)
        depth = d.depth[i] if stored else max(level + push - 1, 0)
        level += push - pop
        info = trace.code_infos()[code_of[i]] if code_of[i] >= 0 else monviz.trace.UNKNOWN_CODE
        a = d.a[i]
        target = func = arg0 = value = exception = time_ns = None
        if shape == s.JUMPISH:
            target = d.jump_dest[seen["jump"]]
            seen["jump"] += 1
        if shape == s.CALLISH:
            func, arg0 = d.values[d.call_func[seen["call"]]], d.values[d.call_arg0[seen["call"]]]
            seen["call"] += 1
        if shape in (s.EXIT, s.UNWIND, s.THROW, s.EXC, s.VALUED):
            text = d.values[d.value_ids[seen["value"]]]
            seen["value"] += 1
            if shape == s.EXIT:
                value = text
            else:
                exception = text
        if shape in (s.START, s.EXIT, s.UNWIND):
            time_ns = d.time_ns[seen["time"]]
            seen["time"] += 1
        line = a if shape == s.LINE else info.line_for(a)
        events.append(Event(i, name, info, None if shape == s.LINE else a, line, target, func,
                            arg0, value, exception, depth, d.threads[thread_of[i]], time_ns))
    assert seen["jump"] == len(d.jump_dest) and seen["time"] == len(d.time_ns)
    return events, code_of


@pytest.mark.parametrize("backend", ["compiled", "python"])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("block", [1, 7, 1024])
def test_each_event_looked_up_alone_is_the_walks(backend, case, block, use_backend, tmp_path,
                                                 monkeypatch):
    """``trace[i]`` counts its ranks and depth per block of rows instead of building an
    index of every row: any row, in any order, from any block size."""
    use_backend(backend)
    trace = make_case(case, tmp_path)
    expected, _ = walk(trace)
    monkeypatch.setattr(monviz.trace, "_BLOCK", block)
    monkeypatch.setattr(monviz.trace, "_WARM_MIN", 10**9)  # never the full indexes
    alone = fresh(trace)
    order = list(range(len(trace)))
    random.Random(len(trace)).shuffle(order)
    for i in order:
        assert alone[i] == expected[i], i
        assert alone.time_of(i) == expected[i].time_ns
    assert not {"jump_dest", "time_ns", "value_ids", "call_func", "depth"} & set(alone._index)
    assert alone.time_of(-1) is None and alone.time_of(len(trace)) is None
    assert alone[-1] == expected[-1] and alone[3:9] == expected[3:9]


@pytest.mark.parametrize("case", CASES)
def test_iteration_and_lookups_past_the_warm_up_are_the_walks(case, tmp_path, monkeypatch):
    """After enough lookups the full indexes are built; the answers do not change."""
    trace = make_case(case, tmp_path)
    expected, _ = walk(trace)
    monkeypatch.setattr(monviz.trace, "_BLOCK", 16)
    monkeypatch.setattr(monviz.trace, "_WARM_MIN", 50)
    assert list(fresh(trace)) == expected
    looked = fresh(trace)
    assert [looked[i] for i in reversed(range(len(trace)))] == expected[::-1]
    if len(trace) > 100 and any(e.time_ns is not None for e in expected):
        assert "time_ns" in looked._index  # the warm-up happened


def counts_by_walk(trace: Trace) -> list:
    """counts() computed from every event: per code index, then merged by CodeInfo (in code
    index order), names in kind order; as nested lists, so the order is compared too."""
    events, code_of = walk(trace)
    per_code: dict[int, Counter] = {}
    for ev, cid in zip(events, code_of):
        per_code.setdefault(cid, Counter())[trace.kind_names.index(ev.event)] += 1
    merged: dict = {}
    for cid in sorted(per_code):
        info = trace.code_infos()[cid] if cid >= 0 else monviz.trace.UNKNOWN_CODE
        merged.setdefault(info, Counter()).update(per_code[cid])
    return [(info, [(trace.kind_names[k], n) for k, n in sorted(row.items())])
            for info, row in merged.items()]


@pytest.mark.parametrize("backend", ["compiled", "python"])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("chunk", "long_run"), [(1, 64), (3, 2), (32, 64), (1000, 0)])
def test_counts_are_a_count_over_every_event(backend, case, chunk, long_run, use_backend,
                                             tmp_path, monkeypatch):
    """counts() counts runs (grouped, each distinct group once), never events: the same
    table, in the same order, as counting every event, whatever the group size."""
    use_backend(backend)
    trace = make_case(case, tmp_path)
    monkeypatch.setattr(monviz.trace, "_CHUNK", chunk)
    monkeypatch.setattr(monviz.trace, "_LONG_RUN", long_run)
    got = [(info, list(row.items())) for info, row in fresh(trace).counts().items()]
    assert got == counts_by_walk(trace)
    by_name = Counter(e.event for e in walk(trace)[0])
    assert list(trace.totals().items()) == sorted(by_name.items(),
                                                  key=lambda kv: trace.kind_names.index(kv[0]))


@pytest.mark.parametrize("backend", ["compiled", "python"])
@pytest.mark.parametrize("case", CASES)
def test_codes_are_those_of_the_walk_in_order_of_first_event(backend, case, use_backend,
                                                             tmp_path):
    """codes() reads the runs' code indexes, less the empty runs a filter leaves."""
    use_backend(backend)
    trace = make_case(case, tmp_path)
    _, code_of = walk(trace)
    infos = trace.code_infos()
    expected = [infos[c] if c >= 0 else monviz.trace.UNKNOWN_CODE for c in dict.fromkeys(code_of)]
    assert fresh(trace).codes() == expected
    if case == "filtered code":  # rows of whole runs were dropped: those runs are empty
        starts = list(trace._d.code_start)
        assert len(set(starts)) < len(starts)


def test_a_run_of_256_rows_is_not_empty():
    """Run lengths are compared as whole lanes: 256 rows (a zero low byte) is no empty run."""
    from array import array

    trace = monviz.record("def f():\n    return 1\nf()\nfor i in range(300):\n    i += 1\n",
                          filename="<tail>", events=["LINE"])
    module = trace._d.code_id[0]
    other = next(c for c in range(len(trace.code_infos())) if c != module)
    trace._d.code_start = array("H", [0, 256, 256, 512])  # the second run is empty
    trace._d.code_id = array("b", [other, module, other, module])
    _, code_of = walk(trace)
    assert fresh(trace).codes() == [trace.code_infos()[c] for c in dict.fromkeys(code_of)]
    assert len(trace.codes()) == 2
    assert [(i, list(r.items())) for i, r in trace.counts().items()] == counts_by_walk(trace)
    trace._d.code_id = array("b", [-1, module, -1, other])  # code objects not known
    _, code_of = walk(trace)
    assert fresh(trace).codes() == [monviz.trace.UNKNOWN_CODE, trace.code_infos()[other]]
    assert [(i, list(r.items())) for i, r in trace.counts().items()] == counts_by_walk(trace)
    assert fresh(trace)[0].code == monviz.trace.UNKNOWN_CODE


@pytest.mark.parametrize("typecode", ["B", "b", "H"])
def test_counts_with_run_starts_narrower_than_the_row_count(typecode):
    """Run starts kept in lanes too narrow for the row count (a hand-made file: monviz
    writes starts wide enough for it) are widened before their lengths are taken."""
    from array import array

    trace = monviz.record("def f():\n    return 1\nf()\nfor i in range(300):\n    i += 1\n",
                          filename="<tail>", events=["LINE"])
    assert len(trace) > 600 and max(trace._d.code_start) < 128
    trace._d.code_start = array(typecode, list(trace._d.code_start))
    assert [(i, list(r.items())) for i, r in trace.counts().items()] == counts_by_walk(trace)


def reference_overview(trace: Trace, width: int, bins: int) -> str:
    """The overview as it was drawn from a per-event list of depths and code indexes."""
    import math
    from html import escape

    from monviz.render.timeline import GUTTER, _bins, code_colour, kind_colour

    events, code_of = walk(trace)
    n = len(events)
    kinds = bytes(trace.kind_names.index(e.event) for e in events)
    depth = [e.depth for e in events]
    spans = _bins(n, bins)
    bw = (width - GUTTER - 8) / len(spans)
    max_depth = max(depth)
    row = max(2.0, min(10.0, 110 / (max_depth + 1)))
    flame_h = row * (max_depth + 1)
    present = sorted(set(kinds))
    strip, top = 11, 22
    strips_top = top + flame_h + 10
    height = strips_top + strip * len(present) + 6
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="monviz-overview" width="{width}" '
             f'height="{height:.0f}" viewBox="0 0 {width} {height:.0f}" '
             'font-family="sans-serif" font-size="11">',
             f'<text x="4" y="14" fill="#333">{n:,} events · call depth 0–{max_depth} · '
             f'event index →</text>',
             f'<text x="4" y="{top + 10}" fill="#666">call depth</text>']
    cells: list = []
    for b, (s, e) in enumerate(spans):
        seg = depth[s:e]
        d = max(seg)
        cid = code_of[s + seg.index(d)]
        if cells and cells[-1][2:] == (d, cid) and cells[-1][1] == b - 1:
            cells[-1] = (cells[-1][0], b, d, cid)
        else:
            cells.append((b, b, d, cid))
    for b0, b1, d, cid in cells:
        x, w = GUTTER + b0 * bw, (b1 - b0 + 1) * bw
        if d:
            parts.append(f'<rect x="{x:.1f}" y="{top}" width="{w:.1f}" height="{d * row:.1f}" '
                         'fill="#e4e8ee"/>')
        parts.append(f'<rect x="{x:.1f}" y="{top + d * row:.1f}" width="{w:.1f}" '
                     f'height="{row:.1f}" fill="{code_colour(cid)}"/>')
    for r, k in enumerate(present):
        name = trace.kind_names[k]
        colour = kind_colour(name)
        y = strips_top + r * strip
        parts.append(f'<text x="{GUTTER - 6}" y="{y + 9}" text-anchor="end" fill="{colour}">'
                     f'{escape(name)}</text>')
        runs: list = []
        for b, (s, e) in enumerate(spans):
            c = sum(1 for x in kinds[s:e] if x == k)
            if not c:
                continue
            level = 1 + min(3, int(4 * math.log1p(c) / math.log1p(e - s + 1)))
            if runs and runs[-1][1] == b - 1 and runs[-1][2] == level:
                runs[-1][1] = b
            else:
                runs.append([b, b, level])
        for b0, b1, level in runs:
            parts.append(f'<rect x="{GUTTER + b0 * bw:.1f}" y="{y + 1}" '
                         f'width="{(b1 - b0 + 1) * bw:.1f}" height="{strip - 2}" '
                         f'fill="{colour}" fill-opacity="{level / 4:.2f}"/>')
    parts.append("</svg>")
    return "".join(parts)


@pytest.mark.parametrize("backend", ["compiled", "python"])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("bins", [1, 7, 300])
def test_the_overview_is_the_one_drawn_from_every_event(backend, case, bins, use_backend,
                                                         tmp_path):
    """The static overview searches the depth column per bin (bytes.find) and looks the
    code objects up in the runs: the same picture as one drawn from per-event lists."""
    from monviz.render.timeline import WIDTH, overview_svg

    use_backend(backend)
    trace = make_case(case, tmp_path)
    assert overview_svg(fresh(trace), WIDTH, bins) == reference_overview(trace, WIDTH, bins)
    if case == "deep":
        assert max(e.depth for e in trace) > 255
