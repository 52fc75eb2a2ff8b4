"""Run a script or a module as ``python`` would, recorded: ``python -m monviz run``.

The program must not notice monviz. So, as ``python script.py args`` does: the
script is compiled from its bytes with no flag inherited (:func:`monviz.source.
compile_file`), runs as the module ``__main__`` (``sys.modules["__main__"]`` is
it while it runs), with ``sys.argv`` its own and ``sys.path[0]`` its folder; its
standard streams are left alone. ``-m module`` finds the module as ``python -m``
does (runpy's own lookup, before recording starts, so importing its parent
packages is not part of the recording) and runs it with ``__spec__`` and
``__package__`` set. Nothing of runpy or monviz runs between the recording's
start and the program's first line, so even ``--scope all`` shows only the
program. Threads the program started and did not mark daemon are joined before
the recording stops, as the interpreter joins them before it exits.

How the program ended decides the exit status, as in Python: ``SystemExit`` is
raised again as it was, an exception is shown by ``sys.excepthook`` (its
traceback starting at the program's first frame) and gives 1, and Ctrl-C ends
the process by SIGINT after the report is written.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import types
from dataclasses import dataclass, field

from .recorder import new_session
from .scope import is_monviz_file
from .source import compile_file
from .trace import Trace


@dataclass
class Program:
    """What ``python`` would run: the code, its ``__main__`` globals, argv and path[0]."""

    code: types.CodeType
    argv: list[str]
    path0: str
    module_globals: dict = field(default_factory=dict)
    #: how to name it in a report: "script.py" or "-m package.module"
    name: str = ""


def script(path: str, args: list[str]) -> Program:
    """``python path args...``; OSError and SyntaxError come out as they are."""
    full = os.path.abspath(path)  # python names a script's code by its absolute path
    code = compile_file(full)
    return Program(code, [path, *args], os.path.dirname(full),
                   {"__file__": full, "__cached__": None, "__spec__": None,
                    "__package__": None},
                   name=path)


def module(name: str, args: list[str]) -> Program:
    """``python -m name args...``; an ImportError says what Python would."""
    import runpy

    try:
        _, spec, code = runpy._get_module_details(name)  # python -m's own lookup
    except runpy._Error as exc:  # "No module named x", "... is a package and cannot ..."
        raise ImportError(str(exc)) from None
    origin = spec.origin or name
    return Program(code, [origin, *args], os.getcwd(),
                   {"__file__": spec.origin, "__cached__": spec.cached, "__spec__": spec,
                    "__package__": spec.parent, "__loader__": spec.loader},
                   name=f"-m {name}")


@dataclass
class Outcome:
    """A recorded run: its trace, how it ended, and its ``__main__`` module (kept alive,
    so the program's objects are finalised at exit, as they would be)."""

    trace: Trace
    failure: BaseException | None
    main: types.ModuleType


def _exits_cleanly(exc: BaseException | None) -> bool:
    return exc is None or (isinstance(exc, SystemExit) and exc.code in (None, 0))


def _join_threads() -> None:
    """Wait for the program's non-daemon threads, as the interpreter does at exit."""
    me = threading.current_thread()
    for t in threading.enumerate():
        if t is not me and not t.daemon and t.is_alive():
            t.join()


def record_program(program: Program, *, events: int, scope: str = "user",
                   only: frozenset[str] | None = None, max_events: int,
                   tool_id: int | None = None, values: bool = False) -> Outcome:
    """Run ``program`` under a recording; ``events`` are the parsed event bits."""
    main = types.ModuleType("__main__")
    main.__dict__.update(program.module_globals)
    main.__dict__.setdefault("__builtins__", __builtins__)
    saved = sys.argv, sys.path[0] if sys.path else None, sys.modules.get("__main__")
    session = new_session(events, tool_id, max_events, scope, only, values=values)
    sys.argv = list(program.argv)
    if sys.path:
        sys.path[0] = program.path0
    else:
        sys.path.append(program.path0)
    sys.modules["__main__"] = main
    failure: BaseException | None = None
    session.start(watch=[])
    try:
        try:
            exec(program.code, main.__dict__)
        finally:
            _join_threads()
    except BaseException as exc:  # how the program ended; shown in the report
        failure = exc
    finally:
        session.stop()
        sys.argv = saved[0]
        if saved[1] is not None:
            sys.path[0] = saved[1]
        if saved[2] is not None:
            sys.modules["__main__"] = saved[2]
    trace = session.decode(None if _exits_cleanly(failure) else failure, {})
    return Outcome(trace, failure, main)


def user_traceback(exc: BaseException):
    """The traceback from the program's first frame on (monviz's frames dropped)."""
    tb = exc.__traceback__
    while tb is not None and is_monviz_file(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


def exit_status(failure: BaseException | None) -> int:
    """End as Python would have: the status to return, or SystemExit / SIGINT raised."""
    if failure is None:
        return 0
    if isinstance(failure, SystemExit):
        raise failure
    tb = user_traceback(failure)
    # the default hook prints the exception's own __traceback__, not the one passed
    sys.excepthook(type(failure), failure.with_traceback(tb), tb)
    if isinstance(failure, KeyboardInterrupt):
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)  # the exit status Python gives: killed by SIGINT
    return 1
