"""``%%monitor`` and ``%monitor``: record what a notebook cell raises, then show it.

``%load_ext monviz`` registers them. The cell runs **once**, through IPython's
own ``run_cell`` — so it behaves like any other cell: assignments persist, the
last expression is displayed, earlier cells' functions are in scope, a
traceback is shown when it raises — while monviz records it. Then the view is
displayed: the linked timeline and control-flow graph by default.

Differences from a plain cell, all because the cell runs inside the magic:
the cell is not added to the input history a second time, and top-level
``await`` is not supported (IPython cannot run a cell asynchronously from
inside a running one); the magic says so instead of running it. As in any
cell, IPython compiles each top-level statement separately, so the cell's own
module-level code shows up as several ``<module>`` code objects.
"""

from __future__ import annotations

import difflib
import sys

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import HTML, display

from . import events as catalogue
from .errors import MonvizError
from .recorder import DEFAULT_MAX_EVENTS, Recorder, new_session
from .trace import Trace

VIEWS = ("all", "timeline", "cfg", "table", "explorer", "none")


def _events_help() -> str:
    rows = [f"  {name:<18} {info.meaning}" for name, info in catalogue.CATALOGUE.items()
            if not info.deprecated]
    groups = [f"  {name:<18} {', '.join(sorted(members))}"
              for name, members in catalogue.GROUPS.items()]
    return ("\nEvents on this Python:\n" + "\n".join(rows)
            + "\n\nGroups:\n" + "\n".join(groups) + "\n")


def _closest(word: str, choices) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1)
    return f" Did you mean {match[0]!r}?" if match else ""


def _uses_await(cell: str) -> bool:
    from IPython.core.async_helpers import _should_be_async

    try:
        return _should_be_async(cell)
    except Exception:  # not valid Python yet; run_cell will show the SyntaxError
        return False


MONITOR_DOC = """Run the cell once and show the sys.monitoring events it raised.

%%monitor [options] on the first line of a cell, or %monitor [options] STATEMENT
for one statement. The cell runs like any other (assignments persist, the last
expression is shown); afterwards the linked timeline and control-flow graph
are displayed (see --view).
""" + _events_help()


def _with_doc(text: str):
    def set_doc(func):
        func.__doc__ = text
        return func
    return set_doc


@magics_class
class MonitorMagics(Magics):
    """The ``%%monitor`` cell magic and ``%monitor`` line magic."""

    @magic_arguments()
    @argument("-e", "--events", default=None,
              help="events or groups to record, comma-separated (default: every event "
                   "but INSTRUCTION)")
    @argument("-t", "--tool-id", type=int, default=None,
              help="sys.monitoring tool id, 0-5 (default: the first free of 3 and 4)")
    @argument("-o", "--out", default=None, metavar="VAR",
              help="store the Trace in this variable of the user namespace")
    @argument("--view", default="all",
              help="what to show afterwards: " + ", ".join(VIEWS) + " (default: all, the "
                   "linked timeline and control-flow graph)")
    @argument("--max-events", type=int, default=DEFAULT_MAX_EVENTS,
              help=f"stop recording after this many events (default {DEFAULT_MAX_EVENTS:,})")
    @argument("--all-code", action="store_true",
              help="record every Python code object (library and IPython code too), "
                   "not just your own")
    @argument("--code", default=None, metavar="NAMES",
              help="record only these functions' code objects (comma-separated names), "
                   "through set_local_events")
    @argument("--values", action="store_true",
              help="also read the variables of every frame at each line (and return), "
                   "shown beside the timeline; see trace.frames_at(i)")
    @argument("statement", nargs="*", help="(line form) the statement to record")
    @line_cell_magic
    @_with_doc(MONITOR_DOC)
    def monitor(self, line: str, cell: str | None = None):
        try:
            args = parse_argstring(self.monitor, line)
        except UsageError:
            raise
        except SystemExit as exc:  # argparse exits on bad options
            raise UsageError(f"%monitor: bad options {line!r}") from exc
        source = cell if cell is not None else " ".join(args.statement)
        if cell is not None and args.statement:
            raise UsageError(f"%%monitor takes options only on its line, not {args.statement!r}")
        if not source.strip():
            raise UsageError("%monitor needs a statement to record, e.g. %monitor f(3)")
        if args.view not in VIEWS:
            raise UsageError(f"--view must be one of {', '.join(VIEWS)}, not {args.view!r}."
                             + _closest(args.view, VIEWS))
        try:
            recorder = Recorder(args.events, tool_id=args.tool_id, max_events=args.max_events,
                                scope="all" if args.all_code else "user", values=args.values)
        except MonvizError as exc:
            raise UsageError(str(exc)) from None
        only = None
        if args.code:
            only = frozenset(n.strip() for n in args.code.split(",") if n.strip())
        if _uses_await(source):
            raise UsageError("%%monitor cannot run a cell with top-level await (IPython cannot "
                             "run it from inside the magic): put the code in an async "
                             "function and call asyncio.run(...) in the cell")
        trace = self._record(source, recorder, only)
        if args.out:
            self.shell.user_ns[args.out] = trace
        self._show(trace, args.view)

    def _record(self, source: str, recorder: Recorder, only) -> Trace:
        session = new_session(recorder.events, recorder.tool_id, recorder.max_events,
                              recorder.scope, only, values=recorder.values)
        try:
            session.start(watch=[])
        except MonvizError as exc:  # a busy tool id, or a recording already running
            raise UsageError(str(exc)) from None
        result = None
        try:
            result = self.shell.run_cell(source, store_history=False)
        finally:
            session.stop()
        failure = None
        if result is not None:
            failure = result.error_in_exec or result.error_before_exec
        return session.decode(failure, {})

    def _rerun(self, trace: Trace):
        """Run the cell's own code objects again (not a recompilation: local events set on
        them, and on functions they define, must apply)."""
        modules = [c.code for c in trace.codes()
                   if c.code is not None and c.qualname == "<module>"]
        namespace = self.shell.user_ns

        def rerun():
            for code in modules:
                exec(code, namespace)

        return rerun

    def _show(self, trace: Trace, view: str) -> None:
        if view == "none":
            return
        if trace.truncated:
            display(HTML(f"<p class='monviz-status'>monviz: stopped recording after "
                         f"{len(trace):,} events; {trace.dropped:,} more were raised before "
                         f"monitoring stopped and were not kept (--max-events)</p>"))
        if view == "table" or not len(trace):
            display(trace)
            return
        try:
            from . import widgets
        except ImportError as exc:  # widgets need anywidget/ipywidgets
            print(f"monviz: widgets unavailable ({exc}); showing the table", file=sys.stderr)
            display(trace)
            return
        if view == "timeline":
            display(widgets.Timeline(trace))
        elif view == "cfg":
            display(widgets.CFGView(trace))
        elif view == "explorer":
            display(widgets.Explorer(trace, rerun=self._rerun(trace)))
        else:
            display(widgets.show(trace))


def load_ipython_extension(ipython) -> None:
    """``%load_ext monviz``."""
    ipython.register_magics(MonitorMagics)


def unload_ipython_extension(ipython) -> None:
    """Nothing to undo: magics stay registered until the kernel restarts."""
