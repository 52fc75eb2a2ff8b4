"""values=True: frames and variables per step, checked against a raw sys.monitoring oracle.

The oracle below is written from the documented API alone: a LINE callback that
copies ``repr`` of every local of the frame it fires in. Its snapshots, one per
LINE event, must equal the innermost frame of ``trace.frames_at(i)`` at each
LINE event ``i``, on both backends; and the events of a values recording must
equal those of a recording without.
"""

from __future__ import annotations

import sys
import threading
import weakref

import pytest
from platform_marks import needs_threads
from sysmon_state import spying, state

import monviz
from monviz.errors import InvalidArgumentError, MonvizError

mon = sys.monitoring
BACKENDS = ["compiled", "python"]

SEARCH = """\
def search(xs, target):
    lo, hi = 0, len(xs) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if xs[mid] == target:
            return mid
        if xs[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1

data = [1, 3, 5, 7, 9, 11, 13]
found = search(data, 11)
missing = search(data, 4)
"""

PROGRAMS = {
    "search": SEARCH,
    "recursion": """\
def fact(n):
    if n <= 1:
        return 1
    r = n * fact(n - 1)
    return r

total = fact(5)
""",
    "sort": """\
xs = [5, 2, 4, 1, 3]
for i in range(len(xs)):
    for j in range(len(xs) - 1 - i):
        if xs[j] > xs[j + 1]:
            xs[j], xs[j + 1] = xs[j + 1], xs[j]
""",
    "generator": """\
def squares(n):
    for k in range(n):
        sq = k * k
        yield sq

got = []
for s in squares(3):
    got.append(s)
""",
    "exceptions": """\
def boom(x):
    y = x + 1
    raise ValueError(y)

def catch():
    try:
        boom(1)
    except ValueError as e:
        msg = str(e)
    return msg

out = catch()
""",
    "deletion": """\
def f():
    a = 1
    b = [a]
    del a
    b.append(2)
    return b

f()
""",
}


class LocalsOracle:
    """Raw LINE recorder: (qualname, line, {name: repr}) at every LINE of the tree."""

    def __init__(self, code, tool_id: int = 2):
        self.tool, self.rows, self.codes = tool_id, [], []
        stack = [code]
        while stack:
            c = stack.pop()
            self.codes.append(c)
            stack += [k for k in c.co_consts if isinstance(k, type(code))]

    def on_line(self, code, line):
        frame = sys._getframe(1)
        names = frame.f_locals
        if not code.co_flags & 1:  # a module: its own names only
            names = {k: v for k, v in names.items() if not k.startswith("_")}
        self.rows.append((code.co_qualname, line, {k: repr(v) for k, v in names.items()}))

    def run(self, code, ns):
        mon.use_tool_id(self.tool, "oracle")
        mon.register_callback(self.tool, mon.events.LINE, self.on_line)
        for c in self.codes:
            mon.set_local_events(self.tool, c, mon.events.LINE)
        try:
            exec(code, ns)
        finally:
            for c in self.codes:
                mon.set_local_events(self.tool, c, 0)
            mon.register_callback(self.tool, mon.events.LINE, None)
            mon.free_tool_id(self.tool)
        return self.rows


def oracle(source: str):
    code = compile(source, "<prog>", "exec", dont_inherit=True)
    return LocalsOracle(code).run(code, {"__name__": "__main__"})


def shown_locals(trace: monviz.Trace):
    rows = []
    for i, ev in enumerate(trace):
        if ev.event == "LINE":
            top = trace.frames_at(i)[-1]
            assert (top.qualname, top.line) == (ev.code.qualname, ev.line)
            rows.append((top.qualname, top.line, top.locals))
    return rows


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_each_line_shows_the_locals_the_oracle_saw(name, backend, use_backend):
    use_backend(backend)
    trace = monviz.record(PROGRAMS[name], filename="<prog>", values=True)
    expected = [(q, line, {k: v for k, v in loc.items() if not v.startswith("<")})
                for q, line, loc in oracle(PROGRAMS[name])]
    got = [(q, line, {k: v for k, v in loc.items() if not v.startswith("<")})
           for q, line, loc in shown_locals(trace)]
    assert got == expected
    assert trace.values.failures == 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_values_do_not_change_the_recorded_events(name, backend, use_backend):
    use_backend(backend)

    def events(values: bool):
        rows = monviz.record(PROGRAMS[name], filename="<p>", values=values).to_records()
        return [{k: v for k, v in r.items() if k != "time_ns"} for r in rows]

    assert events(True) == events(False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_call_stack_holds_each_callers_locals(backend, use_backend):
    use_backend(backend)
    trace = monviz.record(PROGRAMS["recursion"], values=True)
    deepest = max(range(len(trace)), key=lambda i: len(trace.frames_at(i)))
    frames = trace.frames_at(deepest)
    assert [f.qualname for f in frames] == ["<module>"] + ["fact"] * 5
    assert [f.locals["n"] for f in frames[1:]] == ["5", "4", "3", "2", "1"]
    assert [f.line for f in frames[1:-1]] == [4, 4, 4, 4]  # each waits in fact(n - 1)
    assert len({f.serial for f in frames}) == 6


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_history_of_one_variable(backend, use_backend):
    use_backend(backend)
    trace = monviz.record(SEARCH, values=True)
    mids = trace.values_of("mid", code="search")
    assert [c.value for c in mids] == ["3", "5", "3", "1", "2"]
    assert len({c.frame for c in mids}) == 2  # two calls of search
    for change in mids:
        assert trace[change.index].code.qualname == "search"
        assert trace.frames_at(change.index)[-1].locals["mid"] == change.value
    assert trace.values_of("mid", code="<module>") == []
    assert trace.values_of("nothing") == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_aliases_are_one_object_and_old_steps_keep_old_contents(backend, use_backend):
    use_backend(backend)
    trace = monviz.record("a = [1]\nb = a\nb.append(2)\nc = list(a)\nend = 0\n", values=True)
    lines = {ev.line: i for i, ev in enumerate(trace) if ev.event == "LINE"}
    at3, at5 = trace.frames_at(lines[3])[-1], trace.frames_at(lines[5])[-1]
    assert at3.locals == {"a": "[1]", "b": "[1]"}
    assert at3.objects["a"] == at3.objects["b"]
    assert at5.locals["a"] == at5.locals["b"] == "[1, 2]"
    assert at5.objects["c"] != at5.objects["a"]  # an equal copy is another object
    assert {"a", "b"} <= at5.changed or "c" in at5.changed
    assert [c.value for c in trace.values_of("b")] == ["[1]", "[1, 2]"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_what_changed_is_stored(backend, use_backend):
    use_backend(backend)
    src = "a = 1\nb = 'x'\nc = (1, 2)\nfor i in range(2000):\n    pass\n"
    trace = monviz.record(src, values=True)
    v = trace.values
    assert len(v) == sum(ev.event in ("LINE", "PY_RETURN") for ev in trace)
    changes = len(v.changes) // 3
    assert changes <= 2000 + 10  # i changes each time; a, b, c are written once
    assert trace.frames_at(len(trace) - 1)[-1].locals == {"a": "1", "b": "'x'", "c": "(1, 2)",
                                                         "i": "1999"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_frame_that_ended_is_not_on_the_stack(backend, use_backend):
    use_backend(backend)
    trace = monviz.record(PROGRAMS["exceptions"], values=True)
    handled = next(i for i, ev in enumerate(trace)
                   if ev.event == "LINE" and ev.code.qualname == "catch" and ev.line == 9)
    frames = trace.frames_at(handled)
    assert [f.qualname for f in frames] == ["<module>", "catch"]
    assert frames[-1].locals["e"] == "ValueError(2)"


def test_generator_frames_follow_their_caller():
    trace = monviz.record(PROGRAMS["generator"], values=True)
    yields = [i for i, ev in enumerate(trace) if ev.event == "PY_YIELD"]
    for i, expected in zip(yields, ["0", "1", "4"]):
        frames = trace.frames_at(i)
        assert [f.qualname for f in frames] == ["<module>", "squares"]
        assert frames[-1].locals["sq"] == expected


class Watched:
    reprs = 0

    def __init__(self):
        self.items = [1]

    def __repr__(self):
        Watched.reprs += 1
        return "W"

    @property
    def size(self):
        Watched.reprs += 1
        return 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_capturing_runs_none_of_the_programs_code(backend, use_backend):
    use_backend(backend)
    Watched.reprs = 0
    ns = {"Watched": Watched}
    trace = monviz.record("w = Watched()\nw.items.append(2)\nv = [w]\n", namespace=ns, values=True)
    assert Watched.reprs == 0
    assert trace.frames_at(len(trace) - 1)[-1].locals["v"] == "[Watched(items=[1, 2])]"


def test_objects_are_let_go_as_the_program_lets_go_of_them():
    """An object is held until the next step of the frame that held it, then released:
    the program sees its weak reference die where it would without monviz.

    (LINE events only: a CALL's arg0 of default repr is still kept by the event
    recorder until the recording ends, with or without values; see the README.)"""
    src = ("import weakref\nclass T: pass\nt = T()\nw = weakref.ref(t)\ndel t\n"
           "alive = w() is not None\n")
    unobserved: dict = {"__name__": "__main__"}
    exec(compile(src, "<p>", "exec", dont_inherit=True), unobserved)
    ns: dict = {"__name__": "__main__"}
    trace = monviz.record(src, namespace=ns, values=True, events=["LINE", "PY_RETURN"])
    assert ns["alive"] is unobserved["alive"] is False
    ref = weakref.ref(ns["T"])
    ns.clear()
    del trace
    import gc
    gc.collect()
    assert ref() is None  # nothing of the program kept by the trace


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_values_recording_leaves_sys_monitoring_as_it_was(backend, use_backend):
    use_backend(backend)
    before = state()
    with spying() as spy:
        monviz.record("def f(x):\n    raise KeyError(x)\nf([1])\n", values=True)
        with monviz.Recorder(values=True) as rec:
            y = [1, 2]
            y.append(3)
            done = True  # noqa: F841 (the step at which y holds 3)
    spy.assert_left_clean(before)
    assert rec.trace.frames_at(len(rec.trace) - 1)[-1].locals["y"] == "[1, 2, 3]"


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_after_the_cap_stay_consistent(backend, use_backend):
    use_backend(backend)
    trace = monviz.record("t = 0\nfor i in range(1000):\n    t += i\n", values=True,
                          max_events=100)
    assert trace.truncated and len(trace) == 100
    assert max(trace.values.point_event) < 100
    assert trace.frames_at(99)[-1].locals["t"] == repr(sum(range(int(
        trace.frames_at(99)[-1].locals["i"]))))


@needs_threads
def test_threads_each_show_their_own_frames():
    src = """\
import threading
def work(n):
    total = 0
    for k in range(n):
        total += k
    return total
ts = [threading.Thread(target=work, args=(n,)) for n in (50, 60)]
for t in ts:
    t.start()
for t in ts:
    t.join()
"""
    trace = monviz.record(src, values=True)
    for i, ev in enumerate(trace):
        if ev.event == "LINE" and ev.code.qualname == "work":
            frames = trace.frames_at(i)
            assert [f.qualname for f in frames] == ["work"]
            assert frames[0].line == ev.line
            assert frames[0].locals["n"] in ("50", "60")
    finals = {c.value for c in trace.values_of("total") if trace[c.index].event == "PY_RETURN"}
    assert finals <= {repr(sum(range(50))), repr(sum(range(60)))}


def test_values_survive_a_json_round_trip():
    trace = monviz.record(SEARCH, values=True)
    again = monviz.Trace.from_json(trace.to_json())
    for i in range(len(trace)):
        assert again.frames_at(i) == [f._replace(code=g.code) for f, g in
                                      zip(trace.frames_at(i), again.frames_at(i))]
    assert again.values_of("mid") == trace.values_of("mid")


def test_a_trace_without_values_says_how_to_get_them():
    trace = monviz.record("x = 1\n")
    assert trace.values is None
    with pytest.raises(MonvizError, match="values=True"):
        trace.frames_at(0)


def test_bad_values_arguments_are_named():
    with pytest.raises(InvalidArgumentError, match="values must be True or False, not 'yes'"):
        monviz.record("x = 1\n", values="yes")
    with pytest.raises(InvalidArgumentError, match="events must include LINE"):
        monviz.record("x = 1\n", events=["CALL"], values=True)
    with pytest.raises(IndexError):
        monviz.record("x = 1\n", values=True).frames_at(10_000)


@needs_threads
def test_a_with_block_recorder_in_another_thread_records_that_thread():
    out = {}

    def body():
        with monviz.Recorder(values=True) as rec:
            z = 41
            z += 1
        out["trace"] = rec.trace

    t = threading.Thread(target=body)
    t.start()
    t.join()
    trace = out["trace"]
    assert [c.value for c in trace.values_of("z")] == ["41", "42"] or \
        [c.value for c in trace.values_of("z")] == ["41"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_values_the_callbacks_are_todays_exactly(backend, use_backend):
    """values=False registers the recorder's own callbacks, unwrapped: today's cost."""
    use_backend(backend)
    seen: dict[bool, list] = {}
    real = mon.register_callback
    for values in (False, True):
        got: list = []

        def spy(tool, event, func, got=got):
            if func is not None:
                got.append(func)
            return real(tool, event, func)

        mon.register_callback = spy
        try:
            monviz.record("x = 1\n", values=values)
        finally:
            mon.register_callback = real
        seen[values] = got
    def wrapped(f) -> bool:  # monviz.frames.wrap's functions
        return getattr(f, "__qualname__", "").startswith("wrap.<locals>")

    assert not any(map(wrapped, seen[False]))
    assert sum(map(wrapped, seen[True])) == 4  # LINE, PY_RETURN, PY_YIELD, PY_UNWIND
