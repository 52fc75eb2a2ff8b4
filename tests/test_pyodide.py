"""monviz in Pyodide (CPython 3.14 compiled to WebAssembly), and the paths it takes there.

Pyodide cannot start threads or subprocesses and has no C extension
(``monviz.versions.HAS_THREADS``, ``HAS_SUBPROCESSES``, ``NO_C_EXTENSION``). So:

* the pure-Python recorder enforces ``max_events`` in its callbacks instead of a
  watchdog thread. Those tests run everywhere: on the desktop the no-thread path
  is forced (``monviz.recorder.HAS_THREADS`` patched), in Pyodide it is the only one;
* ``compare()`` refuses with a MonvizError (forced the same way on the desktop);
* inside Pyodide, the platform facts themselves are checked;
* on the desktop, ``test_the_oracle_tests_pass_in_pyodide`` runs ``tools/pyodide-test``
  (Pyodide in Node.js) on the oracle tests, this file included. It fetches Pyodide
  with ``npm pack`` and the wheels with ``pip download`` when the cache is missing;
  it is skipped, saying so, only where ``node`` is missing.
"""

from __future__ import annotations

import _thread
import os
import re
import shutil
import subprocess
import sys
import warnings

import pytest
import test_recorder_oracle as oracle
from platform_marks import needs_subprocesses

import monviz
from monviz import backends, recorder
from monviz.errors import MonvizError
from monviz.versions import HAS_SUBPROCESSES, HAS_THREADS, WEBASSEMBLY

comparing = sys.modules["monviz.compare"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
in_pyodide = pytest.mark.skipif(not WEBASSEMBLY, reason="checks Pyodide itself")


@pytest.fixture
def no_watchdog(monkeypatch, use_backend):
    """Record with the pure-Python backend as where no thread can start."""
    use_backend(backends.PYTHON)
    monkeypatch.setattr(recorder, "HAS_THREADS", False)


def key(ev: monviz.Event) -> tuple:
    return (ev.event, ev.code.qualname, ev.offset, ev.line, ev.target, ev.depth)


CAP_PROGRAMS = [n for n in oracle.PROGRAMS if n not in oracle.THREADED]


# -- the cap without a watchdog --------------------------------------------------------


@pytest.mark.parametrize("events", [oracle.ALL, ["LINE"], ["CALL", "C_RETURN", "C_RAISE"]],
                         ids=["all", "LINE", "calls"])
@pytest.mark.parametrize("name", CAP_PROGRAMS)
def test_past_the_cap_the_first_events_are_kept_and_one_is_dropped(no_watchdog, name, events):
    """As the compiled backend: monitoring stops in the callback of the first kept
    event past the cap, so ``dropped`` is 1; the kept events are the uncapped ones'."""
    _, namespace = oracle.load(name)
    full = monviz.record(namespace["main"], events=events)
    if len(full) < 2:
        pytest.skip(f"{name} raises fewer than 2 of {events}")
    assert not full.truncated and full.dropped == 0
    cap = len(full) // 2
    _, namespace = oracle.load(name)
    capped = monviz.record(namespace["main"], events=events, max_events=cap)
    label = f"{name}, {events}, max_events={cap} of {len(full)}"
    assert capped.truncated and len(capped) == cap and capped.dropped == 1, label
    assert list(map(key, capped)) == list(map(key, full))[:cap], label
    assert (capped.exception is None) == (full.exception is None), label


@pytest.mark.parametrize("events", [oracle.ALL, ["LINE"], [*oracle.BRANCHES, "JUMP"]],
                         ids=["all", "LINE", "branch+jump"])
@pytest.mark.parametrize("name", ["branches_and_loops", "recursion", "uncaught_exception",
                                  "generator_send_throw_close"])
def test_exactly_max_events_loses_nothing_and_one_less_drops_one(no_watchdog, name, events):
    """Frame events enabled but not asked for do not count, however many come last."""
    _, namespace = oracle.load(name)
    full = monviz.record(namespace["main"], events=events)
    exact = monviz.record(namespace["main"], events=events, max_events=len(full))
    assert not exact.truncated and exact.dropped == 0
    assert list(map(key, exact)) == list(map(key, full))
    one_less = monviz.record(namespace["main"], events=events, max_events=len(full) - 1)
    assert one_less.truncated and one_less.dropped == 1
    assert list(map(key, one_less)) == list(map(key, full))[:-1]


@pytest.mark.parametrize("cap", [1, 10, 1000])
def test_a_long_loop_is_cut_at_the_cap_and_runs_on_to_its_end(no_watchdog, cap):
    seen = {}

    def long_runner():
        seen["threads"] = _thread._count()
        total = 0
        for i in range(100_000):
            total += i
        seen["total"] = total

    before = _thread._count()
    for events in (None, ["LINE"]):  # LINE alone: the frame events are not counted
        trace = monviz.record(long_runner, events=events, max_events=cap)
        assert len(trace) == cap and trace.truncated and trace.dropped == 1
        assert seen == {"threads": before, "total": sum(range(100_000))}  # no watchdog
    assert {e.event for e in trace} == {"LINE"}


def test_a_with_block_is_capped_too(no_watchdog):
    with monviz.Recorder(events=["LINE"], max_events=5) as rec:
        total = 0
        for i in range(50):
            total += i
    assert len(rec.trace) == 5 and rec.trace.truncated and rec.trace.dropped == 1
    assert total == sum(range(50))


@pytest.mark.skipif(not HAS_THREADS, reason="the watchdog needs a thread")
def test_with_threads_the_callbacks_are_not_wrapped(monkeypatch, use_backend):
    """On the desktop the pure-Python backend keeps its watchdog: no cost per event."""
    use_backend(backends.PYTHON)

    def refuse(*args):
        raise AssertionError("a callback was wrapped to check the cap")

    monkeypatch.setattr(recorder._Session, "_capped", refuse)
    trace = monviz.record(oracle.load("recursion")[1]["main"], max_events=3)
    assert len(trace) == 3 and trace.truncated


# -- compare() without subprocesses ---------------------------------------------------


@pytest.fixture
def no_subprocesses(monkeypatch):
    """compare() as where no subprocess can start."""
    monkeypatch.setattr(comparing, "HAS_SUBPROCESSES", False)
    monkeypatch.setattr(monviz.interpreters, "HAS_SUBPROCESSES", False)
    monviz.interpreters.find.cache_clear()
    yield
    monviz.interpreters.find.cache_clear()


def test_compare_says_it_needs_subprocesses(no_subprocesses):
    with pytest.raises(MonvizError, match=r"in a subprocess .* cannot start subprocesses"):
        comparing.compare("x = 1\n", ["3.13", "3.14"])
    found = monviz.interpreters.find("3.14")
    assert isinstance(found, str) and "cannot start subprocesses" in found
    with pytest.raises(MonvizError, match="cannot start subprocesses"):
        monviz.interpreters.Interpreter("3.14", ("python3.14",), "PATH").run(["-V"])


def test_compare_checks_its_arguments_first(no_subprocesses):
    with pytest.raises(monviz.errors.InvalidArgumentError, match="choose from"):
        comparing.compare("x = 1", ["2.7"])


# -- inside Pyodide -------------------------------------------------------------------


@in_pyodide
def test_the_platform_facts_are_true_here():
    assert not HAS_THREADS and not HAS_SUBPROCESSES
    with pytest.raises(RuntimeError, match="can't start new thread"):
        _thread.start_new_thread(lambda: None, ())
    with pytest.raises(OSError):
        subprocess.run(["true"])


@in_pyodide
def test_the_pure_python_backend_is_chosen_says_why_and_warns_nothing(monkeypatch):
    monkeypatch.delenv(backends.PURE_ENV, raising=False)
    assert monviz.backend() == backends.PYTHON
    why = backends.describe()
    assert "WebAssembly" in why and "C extension is not built" in why, why
    monkeypatch.setattr(backends, "_told", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trace = monviz.record("x = 1\n", events=["LINE"])
    assert [e.event for e in trace] == ["LINE"]


@in_pyodide
def test_compare_refuses_here():
    with pytest.raises(MonvizError, match="cannot start subprocesses"):
        comparing.compare("x = 1\n", ["3.14"])


# -- the oracle tests in Pyodide, from the desktop ------------------------------------

#: What test_the_oracle_tests_pass_in_pyodide runs there (about 20-30 s): the oracle
#: tests (test_differential without its Hypothesis-generated programs, 15 s more in
#: Pyodide; `tools/pyodide-test` alone runs them), this file, teardown and errors.
PYODIDE_SUBSET = ["tests/test_recorder_oracle.py", "tests/test_cpython_monitoring.py",
                  "tests/test_differential.py", "tests/test_pyodide.py",
                  "tests/test_teardown.py", "tests/test_errors.py",
                  "-k", "not generated", "-q"]
SUMMARY = re.compile(r"^pyodide-test: Python (\S+) on (\S+): (\d+) passed, (\d+) skipped, "
                     r"(\d+) failed, (\d+) errors", re.M)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("node") is None,
                    reason="node is missing: Pyodide runs in Node.js (apt-get install nodejs npm)")
@needs_subprocesses
def test_the_oracle_tests_pass_in_pyodide():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "pyodide-test"),
                           *PYODIDE_SUBSET], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert "(Pyodide 314.0.6," in out and "monviz backend: python (" in out, out[-6000:]
    (summary,) = SUMMARY.findall(out)
    version, platform, passed, _skipped, failed, errors = summary
    assert (version, platform) == ("3.14.2", "emscripten")
    assert (int(failed), int(errors)) == (0, 0), out[-6000:]
    assert int(passed) >= 150, out[-6000:]  # the subset really ran
    assert "checks Pyodide itself" not in out, out[-6000:]  # ran there, not skipped
