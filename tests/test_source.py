"""User source is compiled exactly as ``python file.py`` would: a recorded program is the program.

``compile()`` inherits the calling module's ``__future__`` flags unless told not to,
and every monviz module (and this test module) has ``from __future__ import
annotations``. These tests run one program through every entry point that turns
user text into code -- ``record(str)``, ``python -m monviz record`` and ``run``,
``monviz.compare``'s child runs, ``cfg(str)`` and ``%%monitor`` -- and check that
what the program observes (its annotations, the ``co_flags`` and bytecode of each of
its code objects) is what a plain ``python file.py`` run of it observes, and that
the events recorded are those of the unrecorded program's bytecode.
"""

from __future__ import annotations
import __future__

import json
import os
import subprocess
import sys
import textwrap

import pytest
from raw_recorder import RawRecorder
from test_recorder_oracle import assert_same_stream, effective

import monviz
from monviz import interpreters
from monviz.versions import BRANCH_EVENTS

#: The program reports what it sees into ``facts``, and into the JSON file named by
#: $MONVIZ_FACTS when that is set (for the runs in another process).
PROGRAM = textwrap.dedent('''
    import json, os, sys

    def f(x: "int", *, y: list[int] = None) -> "list[int]":
        return [x]

    class Point:
        x: int
        y: "float" = 0.0

        def norm(self) -> float:
            return (self.x * self.x + self.y * self.y) ** 0.5

    def annotations_of(obj):
        return {k: repr(v) for k, v in obj.__annotations__.items()}

    def tree(code):
        yield code
        for const in code.co_consts:
            if hasattr(const, "co_code"):
                yield from tree(const)

    facts = {
        "f": annotations_of(f),
        "Point": annotations_of(Point),
        "norm": annotations_of(Point.norm),
        "codes": [[c.co_qualname, c.co_flags, c.co_code.hex()]
                  for c in tree(sys._getframe().f_code)],
    }
    if os.environ.get("MONVIZ_FACTS"):
        with open(os.environ["MONVIZ_FACTS"], "w") as out:
            json.dump(facts, out)
    print("the program prints")  # on stdout, where the trace must not be looked for
''')

#: The same program asking for PEP 563 itself: that request must be honoured.
FUTURE_PROGRAM = "from __future__ import annotations\n" + PROGRAM
PROGRAMS = {"plain": PROGRAM, "future-annotations": FUTURE_PROGRAM}
ANNOTATIONS_FLAG = __future__.annotations.compiler_flag
#: monviz's package folder, so that a child Python imports this monviz
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(monviz.__file__)))


def child_env(facts_path) -> dict[str, str]:
    return {**os.environ, "MONVIZ_FACTS": str(facts_path), "PYTHONPATH": PACKAGE_PARENT}


@pytest.fixture(params=PROGRAMS)
def program(request, tmp_path):
    """(source, path of the file, facts of a plain ``python file.py`` run of it)."""
    source = PROGRAMS[request.param]
    path = tmp_path / "program.py"
    path.write_text(source)
    subprocess.run([sys.executable, str(path)], env=child_env(tmp_path / "plain.json"),
                   check=True, timeout=60)
    return source, path, json.loads((tmp_path / "plain.json").read_text())


def test_the_plain_run_is_the_reference_these_tests_think_it_is(program):
    """Without PEP 563 the annotations are objects; with it, strings. No other flag."""
    source, _, plain = program
    asked = source.startswith("from __future__ import annotations")
    assert plain["f"]["y"] == ("'list[int]'" if asked else "list[int]")
    assert plain["Point"]["x"] == ("'int'" if asked else "<class 'int'>")
    assert all(bool(flags & ANNOTATIONS_FLAG) == asked for _, flags, _ in plain["codes"])


def test_record_of_source_text_runs_the_program_as_python_does(program):
    source, path, plain = program
    namespace = {"__name__": "__main__"}
    monviz.record(source, filename=str(path), namespace=namespace)
    assert namespace["facts"] == plain


def test_the_command_line_runs_the_file_as_python_does(program, tmp_path):
    _, path, plain = program
    facts = tmp_path / "cli.json"
    done = subprocess.run([sys.executable, "-m", "monviz", "record", str(path), "--json",
                           "-o", str(tmp_path / "trace.json")],
                          env=child_env(facts), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(facts.read_text()) == plain
    trace = monviz.Trace.from_json((tmp_path / "trace.json").read_text())
    assert {c.qualname for c in trace.codes()} >= {"<module>", "Point", "annotations_of", "tree"}


def test_monviz_run_runs_the_file_as_python_does(program, tmp_path):
    """``python -m monviz run`` compiles the script from its bytes with no flag of monviz's."""
    _, path, plain = program
    facts = tmp_path / "run.json"
    done = subprocess.run([sys.executable, "-m", "monviz", "run", "-q", "--format", "json",
                           "-o", str(tmp_path / "trace.json"), str(path)],
                          env=child_env(facts), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "the program prints\n"
    assert json.loads(facts.read_text()) == plain


def test_the_command_line_decodes_a_file_as_python_does(tmp_path):
    """A PEP 263 coding line is honoured (``python FILE`` would), not read as UTF-8."""
    path = tmp_path / "latin.py"
    path.write_bytes("# -*- coding: latin-1 -*-\nword = 'café'\n".encode("latin-1"))
    done = subprocess.run([sys.executable, "-m", "monviz", "record", str(path), "-e", "LINE"],
                          env=child_env(tmp_path / "unused.json"), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "LINE" in done.stdout


def test_compare_runs_the_program_as_python_does(program, tmp_path, monkeypatch):
    """compare()'s child for this interpreter: the same facts, and the program's own
    stdout does not get in the way of the trace."""
    source, _, plain = program
    facts = tmp_path / "compare.json"
    monkeypatch.setenv("MONVIZ_FACTS", str(facts))
    here = "{}.{}".format(*sys.version_info[:2])
    result = monviz.compare(source, versions=[here])
    assert not result.unavailable, result.unavailable
    assert json.loads(facts.read_text()) == plain


#: Events compared with the raw recorder in the stream tests below.
STREAM_EVENTS = ["PY_START", "PY_RETURN", "LINE", "CALL", "JUMP", *BRANCH_EVENTS]

CLASS_PROGRAM = textwrap.dedent('''
    class Point:
        x: int
        y: "float" = 0.0

        def __init__(self, x: int, y: float = 0.0) -> None:
            self.x, self.y = x, y

    def far(points: list[Point]) -> list[Point]:
        return [p for p in points if p.x > 1]

    far([Point(1), Point(2, 3.0)])
''')


def plain_stream(source: str, filename: str) -> list[tuple]:
    """The raw recorder's stream of ``source`` compiled as ``python file.py`` compiles it."""
    code = compile(source, filename, "exec", dont_inherit=True)
    with RawRecorder(effective(STREAM_EVENTS), 3, [code]) as raw:
        exec(code, {"__name__": "__main__"})
    return [(n, c.co_qualname, off, line, tgt)
            for n, c, off, line, tgt in raw.rows if n in STREAM_EVENTS]


def rows(trace: monviz.Trace, filename: str) -> list[tuple]:
    ours = [c for c in trace.codes() if c.filename == filename]
    return [(e.event, e.code.qualname, e.offset, e.line, e.target)
            for e in trace.filter(code=ours)]


def test_record_of_source_text_raises_the_events_of_the_plain_programs_bytecode():
    trace = monviz.record(CLASS_PROGRAM, events=STREAM_EVENTS, filename="<source-stream>")
    assert_same_stream(plain_stream(CLASS_PROGRAM, "<source-stream>"),
                       rows(trace, "<source-stream>"), "record(str)")


def test_compare_raises_the_events_of_the_plain_programs_bytecode():
    here = "{}.{}".format(*sys.version_info[:2])
    result = monviz.compare(CLASS_PROGRAM, versions=[here], events=STREAM_EVENTS)
    assert not result.unavailable, result.unavailable
    filename = sys.modules["monviz.compare"].FILENAME
    assert_same_stream(plain_stream(CLASS_PROGRAM, filename),
                       rows(result.traces[here], filename), "compare")


def test_cfg_of_source_text_is_the_graph_of_the_plain_programs_bytecode(program):
    source, _, plain = program
    graph = monviz.cfg(source)

    def walk(g):
        yield g
        for child in g.children:
            yield from walk(child)

    assert [[g.code.co_qualname, g.code.co_flags, g.code.co_code.hex()]
            for g in walk(graph)] == plain["codes"]


def test_cfg_of_source_text_reports_a_syntax_error_with_its_position():
    with pytest.raises(monviz.SourceSyntaxError) as info:
        monviz.cfg("def f(:\n    pass\n", filename="<broken>")
    assert (info.value.filename, info.value.lineno) == ("<broken>", 1)


def test_cfg_takes_a_filename_only_with_source_text():
    with pytest.raises(monviz.InvalidArgumentError, match="filename= applies to source text"):
        monviz.cfg(test_cfg_takes_a_filename_only_with_source_text, filename="x.py")


def test_cfg_of_source_text_can_draw_its_lines():
    """Its source is registered under its file name, as for recorded source."""
    import linecache

    graph = monviz.cfg("x = 1\nif x:\n    y = 2\n", filename="<cfg-lines>")
    assert linecache.getline(graph.code.co_filename, 3) == "    y = 2\n"


def test_every_interpreter_for_compare_is_this_one_or_another_process():
    """compare() never runs user code in this process: its flags cannot leak from here."""
    here = "{}.{}".format(*sys.version_info[:2])
    found = interpreters.find(here)
    assert not isinstance(found, str) and found.argv == (sys.executable,)


# -- %%monitor --------------------------------------------------------------------

IPython = pytest.importorskip("IPython")


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "monviz")
    yield ip
    ip.user_ns.pop("facts", None)


@pytest.mark.parametrize("name", PROGRAMS)
def test_a_monitored_cell_runs_as_the_same_cell_unmonitored(shell, name):
    """IPython compiles the cell (each top-level statement its own code object); under
    %%monitor it must see exactly what the plain cell sees."""
    from IPython.utils.capture import capture_output

    cell = PROGRAMS[name].replace("import json, os, sys", "import json, os, sys  # cell")
    with capture_output():
        assert shell.run_cell(cell).success
        plain = shell.user_ns.pop("facts")
        assert shell.run_cell("%%monitor --view none\n" + cell).success
    assert shell.user_ns["facts"] == plain
    annotations_asked = name == "future-annotations"
    assert plain["Point"]["x"] == ("'int'" if annotations_asked else "<class 'int'>")
