"""``python -m monviz run``: the program runs as ``python script.py`` / ``python -m module``
would, and a report is written however it ends.

Each test runs a program twice in child processes, plainly and under ``monviz run``,
and compares what can be seen from outside: the program's stdout and stderr byte for
byte (monviz's one line of its own is asked away with ``-q``, or looked for after
the program's output), the exit status, and what the program saw (argv, ``__name__``,
``sys.path[0]``, ``__file__``, ``__spec__``, its annotations). Where no subprocess can
start (Pyodide) those tests skip; the in-process ones still run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from platform_marks import needs_subprocesses

import monviz
from monviz import run
from monviz.__main__ import split_run_argv

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(monviz.__file__)))

#: What a program can see of how it was started, printed as one JSON line.
SEES = textwrap.dedent("""
    import json, sys
    def f(x: "int") -> list[int]:
        return [x]
    main = sys.modules["__main__"]
    print(json.dumps({
        "argv": sys.argv, "name": __name__, "path0": sys.path[0], "file": __file__,
        "spec": getattr(__spec__, "name", None), "package": __package__,
        "main_is_me": main.__dict__ is globals(), "annotations": repr(f.__annotations__),
    }))
""")


def python(*args, cwd, stdin=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, input=stdin)


def both(tmp_path, *program, options=("-q",)):
    """(plain run, monviz run) of the same command line (``script.py args`` or ``-m m``)."""
    plain = python(*program, cwd=tmp_path)
    out = tmp_path / "report.html"
    recorded = python("-m", "monviz", "run", *options, "-o", str(out), *program, cwd=tmp_path)
    return plain, recorded, out


def write(tmp_path, name, text) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return name


# -- the program sees what python would show it -----------------------------------------


@needs_subprocesses
def test_a_script_sees_its_argv_name_path_and_file_as_under_python(tmp_path):
    write(tmp_path, "sub/prog.py", SEES)
    plain, recorded, report = both(tmp_path, "sub/prog.py", "a", "--flag", "-m", "x")
    assert plain.returncode == recorded.returncode == 0, recorded.stderr
    assert json.loads(recorded.stdout) == json.loads(plain.stdout)
    seen = json.loads(recorded.stdout)
    assert seen["argv"] == ["sub/prog.py", "a", "--flag", "-m", "x"]  # the program's words
    assert seen["path0"] == str(tmp_path / "sub") and seen["main_is_me"]
    assert seen["annotations"] == "{'x': 'int', 'return': list[int]}"  # no PEP 563
    assert report.exists()


@needs_subprocesses
def test_a_module_run_with_dash_m_sees_what_python_dash_m_shows_it(tmp_path):
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/tool.py", SEES)
    plain, recorded, report = both(tmp_path, "-m", "pkg.tool", "one", "two")
    assert plain.returncode == recorded.returncode == 0, recorded.stderr
    assert json.loads(recorded.stdout) == json.loads(plain.stdout)
    assert json.loads(recorded.stdout)["spec"] == "pkg.tool"
    assert report.exists()


@needs_subprocesses
def test_a_package_runs_its_main_module_as_with_python_dash_m(tmp_path):
    write(tmp_path, "app/__init__.py", "")
    write(tmp_path, "app/__main__.py", SEES)
    plain, recorded, _ = both(tmp_path, "-m", "app")
    assert json.loads(recorded.stdout) == json.loads(plain.stdout)
    assert json.loads(recorded.stdout)["spec"] == "app.__main__"


@needs_subprocesses
def test_standard_input_and_output_are_the_programs_own(tmp_path):
    write(tmp_path, "echo.py", """
        import sys
        data = sys.stdin.read()
        sys.stdout.write(data.upper())
        sys.stderr.write("to stderr\\n")
    """)
    plain = python("echo.py", cwd=tmp_path, stdin="hello\n")
    recorded = python("-m", "monviz", "run", "-q", "echo.py", cwd=tmp_path, stdin="hello\n")
    assert (recorded.stdout, recorded.stderr) == (plain.stdout, plain.stderr) == (
        "HELLO\n", "to stderr\n")


@needs_subprocesses
def test_monviz_says_what_it_wrote_after_the_programs_output(tmp_path):
    write(tmp_path, "hi.py", "import sys\nprint('hi')\nprint('err', file=sys.stderr)\n")
    done = python("-m", "monviz", "run", "hi.py", cwd=tmp_path)
    assert done.stdout == "hi\n"
    assert done.stderr.startswith("err\nmonviz: wrote monviz-report.html (")
    assert "open it in a browser" in done.stderr
    assert (tmp_path / "monviz-report.html").exists()  # the default name


# -- it ends as python would ----------------------------------------------------------


@needs_subprocesses
@pytest.mark.parametrize("ending, status", [
    ("pass", 0), ("raise SystemExit(3)", 3), ("sys.exit('bye <now>')", 1),
    ("sys.exit(None)", 0), ("raise ValueError('bad')", 1), ("1/0", 1),
])
def test_the_exit_status_and_stderr_are_pythons(tmp_path, ending, status):
    write(tmp_path, "end.py", f"""
        import sys
        def deeper():
            {ending}
        print("before")
        deeper()
    """)
    plain, recorded, report = both(tmp_path, "end.py")
    assert plain.returncode == status
    assert (recorded.returncode, recorded.stdout, recorded.stderr) == (
        plain.returncode, plain.stdout, plain.stderr)
    assert report.exists()


@needs_subprocesses
def test_a_traceback_shows_only_the_programs_frames(tmp_path):
    write(tmp_path, "tb.py", "def f():\n    raise KeyError('k')\nf()\n")
    _, recorded, _ = both(tmp_path, "tb.py")
    assert "monviz" not in recorded.stderr
    assert recorded.stderr.startswith("Traceback (most recent call last):\n  File \"")


@needs_subprocesses
def test_a_script_that_raises_still_yields_the_report_with_the_exception(tmp_path):
    write(tmp_path, "raises.py", "def f(n):\n    return 1 / n\nf(1)\nf(0)\n")
    _, recorded, report = both(tmp_path, "raises.py")
    assert recorded.returncode == 1
    text = report.read_text()
    assert "the program raised <code>ZeroDivisionError" in text


@needs_subprocesses
def test_ctrl_c_writes_the_report_and_ends_the_process_by_sigint(tmp_path):
    write(tmp_path, "ctrlc.py", "def f():\n    raise KeyboardInterrupt\nf()\n")
    plain, recorded, report = both(tmp_path, "ctrlc.py")
    assert plain.returncode == -signal.SIGINT
    assert recorded.returncode == plain.returncode
    assert recorded.stderr == plain.stderr
    assert report.exists()


@needs_subprocesses
def test_a_syntax_error_is_shown_as_python_shows_it_and_nothing_runs(tmp_path):
    write(tmp_path, "bad.py", "x = (\n")
    plain, recorded, report = both(tmp_path, "bad.py")
    assert (recorded.returncode, recorded.stderr) == (plain.returncode, plain.stderr)
    assert not report.exists()


@needs_subprocesses
@pytest.mark.parametrize("program", [["missing.py"], ["-m", "no_such_module_here"]])
def test_a_missing_program_is_reported_as_python_reports_it(tmp_path, program):
    plain, recorded, _ = both(tmp_path, *program)
    assert (recorded.returncode, recorded.stderr) == (plain.returncode, plain.stderr)


@needs_subprocesses
def test_threads_the_program_started_are_waited_for_and_recorded(tmp_path):
    write(tmp_path, "threads.py", """
        import threading, time
        def work():
            time.sleep(0.05)
            print("worker done")
        threading.Thread(target=work).start()
        print("main done")
    """)
    plain, recorded, _ = both(tmp_path, "threads.py", options=("-q", "--format", "json"))
    assert sorted(recorded.stdout.splitlines()) == sorted(plain.stdout.splitlines())
    trace = monviz.Trace.from_json((tmp_path / "report.html").read_text())
    assert "work" in {c.qualname for c in trace.codes()}
    assert len(trace.threads) == 2


# -- options ----------------------------------------------------------------------------


@needs_subprocesses
def test_recording_options_are_those_of_the_monitor_magic(tmp_path):
    write(tmp_path, "opts.py", "def f(x):\n    return x\ndef g(x):\n    return f(x)\ng(1)\n")
    out = tmp_path / "t.json"
    done = python("-m", "monviz", "run", "-q", "--format", "json", "-o", str(out), "--events",
                  "PY_START,LINE", "--only", "f", "opts.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trace = monviz.Trace.from_json(out.read_text())
    assert {c.qualname for c in trace.codes()} == {"f"}
    assert set(trace.totals()) == {"PY_START", "LINE"}


@needs_subprocesses
def test_max_events_caps_the_recording_and_says_so(tmp_path):
    write(tmp_path, "loop.py", "for i in range(1000):\n    pass\n")
    done = python("-m", "monviz", "run", "--max-events", "50", "loop.py", cwd=tmp_path)
    assert done.returncode == 0
    assert "wrote monviz-report.html (50 events, " in done.stderr
    assert "more not kept (--max-events)" in done.stderr


@needs_subprocesses
@pytest.mark.parametrize("options, says", [
    (["--events", "LINEZ"], "LINEZ"), (["--scope", "mine"], "mine"),
    (["--tool-id", "9"], "9"), (["--max-events", "0"], "max_events"),
    (["--format", "pdf"], "pdf"), ([], "name the program to run"),
    (["-m"], "-m needs a module name"),
])
def test_bad_options_are_one_clear_message_and_the_program_does_not_run(
        tmp_path, options, says):
    write(tmp_path, "never.py", "open('ran', 'w').write('yes')\n")
    program = [] if options in ([], ["-m"]) else ["never.py"]
    done = python("-m", "monviz", "run", *options, *program, cwd=tmp_path)
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 3  # usage line(s) and the message
    assert not (tmp_path / "ran").exists()


def test_the_program_arguments_start_at_the_script_or_module():
    assert split_run_argv(["-e", "LINE", "s.py", "-e", "x"]) == (["-e", "LINE"], "s.py",
                                                                  None, ["-e", "x"])
    assert split_run_argv(["-q", "-m", "pkg.mod", "-q"]) == (["-q"], None, "pkg.mod", ["-q"])
    assert split_run_argv(["-mpkg", "a"]) == ([], None, "pkg", ["a"])
    assert split_run_argv(["--events=LINE", "--", "-odd.py", "1"]) == (
        ["--events=LINE"], "-odd.py", None, ["1"])
    assert split_run_argv(["-o", "out.html"]) == (["-o", "out.html"], None, None, [])


# -- in-process API ---------------------------------------------------------------------


def test_a_recorded_program_leaves_argv_path_and_main_as_they_were(tmp_path):
    write(tmp_path, "p.py", "import sys\nsys.argv.append('changed')\nx = 1\n")
    before = (list(sys.argv), sys.path[0], sys.modules["__main__"])
    program = run.script(str(tmp_path / "p.py"), ["arg"])
    outcome = run.record_program(program, events=monviz.events.parse_events(None),
                                 max_events=1000)
    assert (sys.argv, sys.path[0], sys.modules["__main__"]) == before
    assert outcome.failure is None and outcome.main.x == 1
    assert outcome.main.__name__ == "__main__"
    assert {c.qualname for c in outcome.trace.codes()} == {"<module>"}


@needs_subprocesses
def test_format_chrome_writes_a_chrome_trace_of_the_run(tmp_path):
    from test_chrome import check_format

    write(tmp_path, "calls.py", "def f(n):\n    return n and f(n - 1)\nf(3)\n")
    done = python("-m", "monviz", "run", "--format", "chrome", "calls.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote monviz-trace.json (" in done.stderr and "Perfetto" in done.stderr
    doc = json.loads((tmp_path / "monviz-trace.json").read_text(encoding="utf-8"))
    check_format(doc)
    assert [e["name"] for e in doc["traceEvents"] if e["ph"] == "B"] == ["<module>"] + ["f"] * 4


@needs_subprocesses
def test_values_option_puts_the_variables_in_the_report(tmp_path):
    write(tmp_path, "loop.py", "total = 0\nfor k in range(3):\n    total += k\n")
    done = python("-m", "monviz", "run", "--values", "-o", "r.html", "loop.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    from test_report import unpack

    info, buffers = unpack((tmp_path / "r.html").read_text(encoding="utf-8"))
    values = info["timeline"]["_meta"]["frame_values"]
    assert values["names"] == ["total", "k"]
    assert "fv_changes" in buffers and "fv_texts" in buffers
