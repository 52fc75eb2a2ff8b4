"""Recording while other sys.monitoring tools are active changes nothing for them.

A stand-in tool holds ids 1 (like coverage.py) and 3 with its own callbacks and
global and local events; monviz must pick id 4, and the stand-in must see the
same events with or without a recording going on, during it and after it, and
find its settings untouched. Then the real coverage.py (``COVERAGE_CORE=sysmon``)
measures a script that records with monviz.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter

import pytest
from platform_marks import needs_subprocesses
from sysmon_state import EVENT_BITS, spying

import monviz
from monviz.versions import BRANCH_EVENTS

mon = sys.monitoring
E = mon.events
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def work(n):
    total = 0
    for i in range(n):
        if i % 2:
            total += len(str(i))
    try:
        raise KeyError(n)
    except KeyError:
        pass
    return total


class StandIn:
    """Another tool: on id 1 global PY_START and local LINE on ``work``; on id 3
    global RAISE and local BRANCH and CALL on ``work``. It counts what it sees."""

    def __init__(self):
        self.seen: Counter = Counter()

    def cb(self, tool, name):
        def callback(code, *args):
            if code is work.__code__:
                self.seen[tool, name] += 1
        return callback

    def __enter__(self):
        code = work.__code__
        mon.use_tool_id(1, "stand-in 1")
        mon.use_tool_id(3, "stand-in 3")
        for tool, names in ((1, ("PY_START", "LINE")), (3, ("RAISE", "BRANCH", "CALL"))):
            for name in names:
                mon.register_callback(tool, EVENT_BITS[name], self.cb(tool, name))
        mon.set_events(1, E.PY_START)
        mon.set_local_events(1, code, E.LINE)
        mon.set_events(3, E.RAISE)
        mon.set_local_events(3, code, E.BRANCH | E.CALL)
        return self

    def settings(self):
        code = work.__code__
        return {t: (mon.get_tool(t), mon.get_events(t), mon.get_local_events(t, code))
                for t in range(6)}

    def __exit__(self, *exc):
        for tool in (1, 3):
            mon.set_events(tool, 0)
            mon.set_local_events(tool, work.__code__, 0)
            for bit in EVENT_BITS.values():
                mon.register_callback(tool, bit, None)
            mon.free_tool_id(tool)


def test_monviz_takes_a_free_id_and_leaves_the_other_tool_untouched():
    with StandIn() as other:
        work(5)
        alone = Counter(other.seen)
        other.seen.clear()
        settings = other.settings()
        with spying() as spy:
            trace = monviz.record(lambda: work(5))
        during = Counter(other.seen)
        other.seen.clear()
        assert spy.tools == [4]
        assert other.settings() == settings
        work(5)
        after = Counter(other.seen)
    assert set(alone) == {(1, "PY_START"), (1, "LINE"), (3, "RAISE"), (3, "BRANCH"), (3, "CALL")}
    assert during == alone, "the other tool missed (or got extra) events during the recording"
    assert after == alone, "the other tool's events changed after the recording"
    work_events = Counter(e.event for e in trace if e.code.qualname == "work")
    # the other tool enables BRANCH, which is BRANCH_LEFT|BRANCH_RIGHT on 3.14+
    branches = sum(work_events[name] for name in BRANCH_EVENTS)
    assert work_events["RAISE"] == 1 and branches == alone[3, "BRANCH"]


def test_an_explicit_id_held_by_another_tool_is_refused_and_its_tool_kept():
    with StandIn() as other:
        settings = other.settings()
        with pytest.raises(monviz.ToolIdInUse) as info:
            monviz.record(lambda: work(1), tool_id=3)
        assert info.value.holder == "stand-in 3"
        assert other.settings() == settings
        work(3)
        assert other.seen[1, "LINE"] > 0


# -- coverage.py --------------------------------------------------------------------

SCRIPT = '''
import json, sys
import monviz

def only_during(n):
    total = 0  # during
    for i in range(n):  # during
        total += i  # during
    return total  # during

def only_after():
    return "after"  # after

def never():
    return "never"  # never

def main():
    trace = monviz.record(lambda: only_during(4), events=["LINE", "PY_RETURN"])
    only_after()
    print(json.dumps({
        "tool": sys.monitoring.get_tool(1),
        "lines": [e.line for e in trace if e.event == "LINE" and e.code.qualname == "only_during"],
        "returns": [e.value for e in trace if e.event == "PY_RETURN"],
    }))

main()
'''


def marked(text: str, mark: str) -> set[int]:
    return {n for n, line in enumerate(text.splitlines(), 1) if line.endswith(f"# {mark}")}


@needs_subprocesses
def test_coverage_sysmon_core_still_measures_while_monviz_records(tmp_path):
    pytest.importorskip("coverage", reason="coverage is not installed in this environment")
    script = tmp_path / "script.py"
    text = textwrap.dedent(SCRIPT)
    script.write_text(text)
    env = dict(os.environ, COVERAGE_CORE="sysmon",
               PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    env.pop("COVERAGE_PROCESS_START", None)
    run = subprocess.run([sys.executable, "-m", "coverage", "run", "--rcfile=", str(script)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if result["tool"] != "coverage.py":
        pytest.skip(f"coverage did not use its sys.monitoring core on this Python "
                    f"(tool 1 is {result['tool']!r}); stderr: {run.stderr.strip()[:200]}")
    report = subprocess.run([sys.executable, "-m", "coverage", "json", "--rcfile=", "-o",
                             "cov.json"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    data = json.loads((tmp_path / "cov.json").read_text())
    (measured,) = [f for name, f in data["files"].items() if name.endswith("script.py")]
    executed, missing = set(measured["executed_lines"]), set(measured["missing_lines"])
    assert marked(text, "during") <= executed, "coverage lost lines run while monviz recorded"
    assert marked(text, "after") <= executed, "coverage lost lines run after the recording"
    assert marked(text, "never") <= missing
    during = sorted(marked(text, "during"))
    assert result["lines"] == [during[0]] + [during[1], during[2]] * 4 + [during[1], during[3]]
    assert result["returns"] == ["6", "6"]
