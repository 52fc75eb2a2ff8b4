"""``trace.to_chrome_trace()``: Chrome Trace Event JSON, checked against the format's rules.

``check_format`` below is the "Trace Event Format" document's rules for what we
write (JSON Object Format; B/E duration events; thread-scoped instant events; M
metadata), written out: required fields and their types per phase, B/E balanced
and nested per thread, timestamps in order per thread. The same files are loaded
by chrome://tracing's own importer in tests/browser/test_chrome_browser.py.
Expectations come from the trace itself: every event of it is in the file once.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from itertools import pairwise

import pytest
from platform_marks import needs_threads

import monviz
from monviz import _stream
from monviz.chrome import save_chrome_trace

PHASES = {"B", "E", "i", "M"}


def check_format(doc: dict) -> None:
    """Raise AssertionError where ``doc`` breaks the Trace Event Format."""
    assert set(doc) <= {"traceEvents", "displayTimeUnit", "otherData"}
    assert doc["displayTimeUnit"] in ("ms", "ns")
    assert isinstance(doc["traceEvents"], list)
    open_: dict[tuple, list[str]] = {}
    last_ts: dict[tuple, float] = {}
    for e in doc["traceEvents"]:
        assert e["ph"] in PHASES, e
        assert isinstance(e["name"], str) and isinstance(e["pid"], int)
        assert isinstance(e["tid"], int), e
        if "args" in e:
            assert isinstance(e["args"], dict)
        if e["ph"] == "M":
            assert e["name"] in ("process_name", "thread_name") and "name" in e["args"]
            continue
        assert isinstance(e["ts"], int | float) and e["ts"] >= 0, e
        key = (e["pid"], e["tid"])
        assert e["ts"] >= last_ts.get(key, 0), ("time goes back on a thread", e)
        last_ts[key] = e["ts"]
        if e["ph"] == "B":
            open_.setdefault(key, []).append(e["name"])
        elif e["ph"] == "E":
            assert open_.get(key), ("E without B", e)
            assert open_[key].pop() == e["name"], ("E closes another slice", e)
        else:
            assert e["s"] == "t", e
    assert not any(open_.values()), ("slices left open", open_)


def parsed(trace) -> dict:
    """The file as written and read back (so only JSON survives)."""
    return json.loads(json.dumps(trace.to_chrome_trace(), ensure_ascii=False))


def slices(doc) -> list[tuple[int, str, int]]:
    """(tid, name, depth) of every B event, in file order."""
    depth: Counter = Counter()
    out = []
    for e in doc["traceEvents"]:
        if e["ph"] == "B":
            out.append((e["tid"], e["name"], depth[e["tid"]]))
            depth[e["tid"]] += 1
        elif e["ph"] == "E":
            depth[e["tid"]] -= 1
    return out


def opened(trace) -> list:
    layout = _stream.Layout.of(trace.kind_names)
    return [ev for ev in trace if layout.push[trace.kind_names.index(ev.event)]]


RECURSIVE = "def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\nfact(4)\n"
GENERATOR = "def gen():\n    yield 1\n    yield 2\nfor x in gen():\n    pass\n"
UNWINDS = ("def inner():\n    raise ValueError('<no>')\ndef outer():\n    inner()\n"
           "try:\n    outer()\nexcept ValueError:\n    pass\n")
THREADS = ("import threading\ndef work(n):\n    return n * 2\n"
           "t = threading.Thread(target=work, args=(3,))\nt.start()\nt.join()\nwork(1)\n")


@pytest.mark.parametrize("backend", ["compiled", "python"])
@pytest.mark.parametrize("source", [RECURSIVE, GENERATOR, UNWINDS,
                                    pytest.param(THREADS, marks=needs_threads)],
                         ids=["recursive", "generator", "unwinds", "threads"])
def test_every_event_is_in_the_file_once_and_the_file_keeps_the_format(source, backend,
                                                                       use_backend):
    use_backend(backend)
    trace = monviz.record(source)
    doc = parsed(trace)
    check_format(doc)
    indexes = [e["args"]["index"] for e in doc["traceEvents"] if e["ph"] in "Bi"]
    indexes += [e["args"]["end_index"] for e in doc["traceEvents"]
                if e["ph"] == "E" and "end_index" in e["args"]]
    assert sorted(indexes) == list(range(len(trace)))
    assert doc["otherData"]["events"] == len(trace)


def test_calls_are_slices_nested_as_the_frames_were():
    trace = monviz.record(RECURSIVE)
    doc = parsed(trace)
    got = slices(doc)
    assert [(name, depth) for _, name, depth in got] == [
        (ev.code.qualname, ev.depth) for ev in opened(trace)]
    assert [name for _, name, _ in got] == ["<module>", "fact", "fact", "fact", "fact"]


def test_a_generator_is_one_slice_per_resumption():
    trace = monviz.record(GENERATOR)
    doc = parsed(trace)
    gens = [e for e in doc["traceEvents"] if e["ph"] in "BE" and e["name"] == "gen"]
    starts = [e["args"]["event"] for e in gens if e["ph"] == "B"]
    ends = [e["args"]["end_event"] for e in gens if e["ph"] == "E"]
    assert starts == ["PY_START", "PY_RESUME", "PY_RESUME"]
    assert ends == ["PY_YIELD", "PY_YIELD", "PY_RETURN"]


def test_an_exception_closes_each_frame_it_unwinds():
    trace = monviz.record(UNWINDS)
    doc = parsed(trace)
    unwound = [e["name"] for e in doc["traceEvents"]
               if e["ph"] == "E" and e["args"].get("end_event") == "PY_UNWIND"]
    assert unwound == ["inner", "outer"]
    raised = [e for e in doc["traceEvents"] if e["name"] == "RAISE"]
    assert raised[0]["args"]["exception"] == "ValueError('<no>')"
    assert raised[0]["cat"] == "exception"


@needs_threads
def test_each_thread_has_its_own_named_track():
    trace = monviz.record(THREADS)
    doc = parsed(trace)
    check_format(doc)
    names = {e["tid"]: e["args"]["name"] for e in doc["traceEvents"]
             if e["name"] == "thread_name"}
    assert len(names) == len(trace.threads) == 2
    on = {(tid, name) for tid, name, _ in slices(doc)}
    assert (1, "work") in on and (0, "work") in on


def test_instant_events_carry_code_offset_line_and_destination():
    trace = monviz.record("def f(x):\n    if x:\n        return 1\n    return 2\nf(0)\nf(1)\n",
                          events=["LINE", "JUMP", *monviz.versions.BRANCH_EVENTS, "CALL"])
    doc = parsed(trace)
    codes = doc["otherData"]["codes"]
    by_index = {e["args"]["index"]: e for e in doc["traceEvents"] if e["ph"] == "i"}
    assert by_index
    for i, e in by_index.items():
        ev = trace[i]
        assert e["name"] == ev.event
        assert e["args"]["code"] == ev.code.qualname
        assert codes[e["args"]["code_id"]]["qualname"] == ev.code.qualname
        assert e["args"].get("offset") == ev.offset and e["args"].get("line") == ev.line
        assert e["args"].get("destination") == ev.target
        assert e["args"].get("callable") == ev.callable


def test_user_strings_survive_exactly():
    tricky = 'quote " back \\ </script> ünïcode \u2028 \x00'
    trace = monviz.record(f"def f(x):\n    return x\nf({tricky!r})\n")
    doc = parsed(trace)
    returns = [e for e in doc["traceEvents"] if e["ph"] == "E" and e["name"] == "f"]
    assert returns[0]["args"]["end_value"] == repr(tricky)


def test_a_capped_trace_closes_its_open_slices_and_says_it_was_capped():
    trace = monviz.record(RECURSIVE, max_events=6)
    assert trace.truncated
    doc = parsed(trace)
    check_format(doc)
    unfinished = [e for e in doc["traceEvents"] if e["args"].get("unfinished")]
    assert unfinished and all(e["ph"] == "E" for e in unfinished)
    assert doc["otherData"]["truncated"] is True


def test_time_never_goes_back_and_spreads_untimed_events_between_timed_ones():
    trace = monviz.record(RECURSIVE)
    doc = parsed(trace)
    stamps = {e["args"].get("index", e["args"].get("end_index")): e["ts"]
              for e in doc["traceEvents"] if e["ph"] != "M"}
    timed = [i for i in range(len(trace)) if trace.time_of(i) is not None]
    for i in timed:
        assert stamps[i] == pytest.approx(trace.time_of(i) / 1000)
    for a, b in pairwise(timed):
        for i in range(a + 1, b):
            assert stamps[a] <= stamps[i] <= stamps[b]


def test_a_trace_without_frame_events_has_no_times_so_its_clock_is_the_event_index():
    """Only frame events are timed; a trace of LINE events alone keeps none of them."""
    trace = monviz.record(RECURSIVE, events=["LINE"])
    doc = parsed(trace)
    check_format(doc)
    assert doc["otherData"]["clock"].startswith("event index")
    instants = [e for e in doc["traceEvents"] if e["ph"] == "i"]
    assert [e["ts"] for e in instants] == [float(i) for i in range(len(trace))]
    assert not [e for e in doc["traceEvents"] if e["ph"] in "BE"]


def test_the_checker_refuses_what_breaks_the_format():
    """The checker can fail: each of these breaks one rule."""
    good = parsed(monviz.record(RECURSIVE))
    check_format(good)
    broken = []
    doc = json.loads(json.dumps(good))
    doc["traceEvents"] = [e for e in doc["traceEvents"] if e["ph"] != "E"][:]
    broken.append(doc)
    doc = json.loads(json.dumps(good))
    b = next(i for i, e in enumerate(doc["traceEvents"]) if e["ph"] == "B" and i > 3)
    doc["traceEvents"][b]["ts"] = -1
    broken.append(doc)
    doc = json.loads(json.dumps(good))
    next(e for e in doc["traceEvents"] if e["ph"] == "i")["s"] = "x"
    broken.append(doc)
    for doc in broken:
        with pytest.raises(AssertionError):
            check_format(doc)


def test_save_chrome_trace_writes_compact_json(tmp_path):
    trace = monviz.record(RECURSIVE)
    path = save_chrome_trace(trace, tmp_path / "t.json")
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == parsed(trace)
    assert ", " not in text[:200]


def test_a_path_ending_in_gz_is_written_gzipped(tmp_path):
    trace = monviz.record(RECURSIVE)
    path = save_chrome_trace(trace, tmp_path / "t.json.gz")
    assert json.loads(gzip.decompress(path.read_bytes())) == parsed(trace)
