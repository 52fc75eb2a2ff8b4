"""``python -m monviz``: record a file, or compare its events across Python versions.

    python -m monviz run [options] SCRIPT.py [ARGS...]    (or: run [options] -m MODULE [ARGS...])
    python -m monviz record FILE.py [--events NAMES] [--json] [--scope user|all] [-o OUT]
    python -m monviz compare FILE.py [--versions 3.12,3.13,3.14,3.15] [--events NAMES]
    python -m monviz events
    python -m monviz --version      (also says which recording backend is active)

``run`` runs the program as ``python SCRIPT.py ARGS`` would and writes one self-contained
HTML report (``--format chrome``: a Chrome Trace Event / Perfetto JSON file). ``FILE`` may
be ``-`` for standard input.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tokenize

from . import events as catalogue
from .errors import MonvizError


def _read(path: str) -> str:
    """The file's text, decoded as ``python FILE`` decodes it (PEP 263 coding line, BOM)."""
    if path == "-":
        return sys.stdin.read()
    with tokenize.open(path) as f:
        return f.read()


def _record(args: argparse.Namespace) -> int:
    from .recorder import record

    source = _read(args.file)
    filename = args.filename or ("<stdin>" if args.file == "-" else args.file)
    trace = record(source, args.events, filename=filename, scope=args.scope,
                   max_events=args.max_events)
    # Written after the program ran, so its own output (stdout) never mixes with ours when
    # --output names a file: monviz.compare reads the trace from there.
    if args.output is None:
        _write_events(trace, sys.stdout, args.json)
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            _write_events(trace, out, args.json)
    return 0


def _write_events(trace, out, as_json: bool) -> None:
    """The trace as JSON, or one line per event then the trace's summary."""
    if as_json:
        out.write(trace.to_json())
        return
    for ev in trace:
        detail = next((x for x in (ev.target, ev.callable, ev.value, ev.exception)
                       if x is not None), "")
        if ev.callable is not None:
            detail = f"{ev.callable}({ev.arg0})"
        print(f"{ev.index:>6} {'  ' * ev.depth}{ev.event:<17} {ev.code.qualname}:{ev.line} "
              f"{'' if ev.offset is None else '@' + str(ev.offset)} {detail}".rstrip(), file=out)
    print(repr(trace), file=out)


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare

    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    result = compare(_read(args.file), versions, args.events)
    print(result.to_text(only_differences=args.differences))
    return 0


def _events(args: argparse.Namespace) -> int:
    for row in catalogue.describe():
        print(f"{row['event']:<18} {row['bit']:>7}  {row['kind']:<9} "
              f"{'DISABLE ok' if row['DISABLE'] else '          '}  {row['callback']}")
    return 0


def _version() -> str:
    from . import __version__, backends

    return (f"monviz {__version__} on Python {sys.version.split()[0]}; "
            f"recording backend: {backends.describe()}")


# -- run -------------------------------------------------------------------------------

#: --format -> (default output file, what it is)
FORMATS = {"html": ("monviz-report.html", "a self-contained HTML report"),
           "chrome": ("monviz-trace.json", "Chrome Trace Event JSON, for Perfetto's UI "
                      "(ui.perfetto.dev) and chrome://tracing"),
           "json": ("monviz-trace.monviz.json", "monviz's own JSON (monviz.Trace.from_json)")}

RUN_USAGE = "python -m monviz run [options] SCRIPT.py [ARGS...] | -m MODULE [ARGS...]"


def _run_parser() -> argparse.ArgumentParser:
    from .recorder import DEFAULT_MAX_EVENTS

    p = argparse.ArgumentParser(
        prog="python -m monviz run", usage=RUN_USAGE,
        description="Run a Python script (or -m module) as python would, recording its "
                    "sys.monitoring events, and write a report. Everything after the script "
                    "(or -m MODULE) is the program's own arguments.",
        epilog="formats: " + "; ".join(f"{k}: {v[1]} (default file {v[0]})"
                                       for k, v in FORMATS.items()))
    p.add_argument("-e", "--events", default=None,
                   help="events or groups to record, comma-separated (default: every event "
                        "but INSTRUCTION); see python -m monviz events")
    p.add_argument("--scope", default="user", choices=("user", "all"),
                   help="user: your code only (default); all: the standard library and "
                        "installed packages too")
    p.add_argument("--only", default=None, metavar="NAMES",
                   help="record only these functions' code objects (comma-separated names)")
    p.add_argument("--max-events", type=int, default=DEFAULT_MAX_EVENTS,
                   help=f"stop recording after this many events (default {DEFAULT_MAX_EVENTS:,})")
    p.add_argument("-t", "--tool-id", type=int, default=None,
                   help="sys.monitoring tool id, 0-5 (default: the first free of 3 and 4)")
    p.add_argument("--values", action="store_true",
                   help="also read every frame's variables at each line (and return): the "
                        "report shows them beside the timeline")
    p.add_argument("-f", "--format", default="html", choices=tuple(FORMATS))
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="where to write the report (default: by format, see below)")
    p.add_argument("--title", default=None, help="the HTML report's title")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="say nothing on stderr (the program's output is never touched)")
    return p


#: run's options that take a value (to find where the program's own arguments start)
_VALUED = {"-e", "--events", "--scope", "--only", "--max-events", "-t", "--tool-id",
           "-f", "--format", "-o", "--output", "--title"}


def split_run_argv(argv: list[str]) -> tuple[list[str], str | None, str | None, list[str]]:
    """``(options, script, module, program args)``: the program's words are never ours."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            rest = argv[i + 1:]
            return argv[:i], (rest[0] if rest else None), None, rest[1:]
        if word == "-m":
            if i + 1 >= len(argv):
                return argv[:i], None, "", []
            return argv[:i], None, argv[i + 1], argv[i + 2:]
        if word.startswith("-m") and not word.startswith("--") and len(word) > 2:
            return argv[:i], None, word[2:], argv[i + 1:]
        if not word.startswith("-") or word == "-":
            return argv[:i], word, None, argv[i + 1:]
        i += 2 if word in _VALUED else 1
    return argv, None, None, []


def _run(argv: list[str]) -> int:
    from . import run
    from .recorder import Recorder
    from .report import stderr_progress

    parser = _run_parser()
    options, script, module, args = split_run_argv(argv)
    opts = parser.parse_args(options)
    if module == "":
        parser.error("-m needs a module name, e.g. -m package.module")
    if script is None and module is None:
        parser.error("name the program to run: a script (run SCRIPT.py ...) or a module "
                     "(run -m MODULE ...)")
    if script == "-":
        parser.error("run needs a script file or -m MODULE (use 'record -' for standard input)")
    say = (lambda text: None) if opts.quiet else (lambda text: print(f"monviz: {text}",
                                                                      file=sys.stderr))
    # every option is checked before the program runs: a typo must not cost a run
    settings = Recorder(opts.events, tool_id=opts.tool_id, max_events=opts.max_events,
                        scope=opts.scope, values=opts.values)
    only = frozenset(n.strip() for n in opts.only.split(",") if n.strip()) if opts.only else None
    output = opts.output or FORMATS[opts.format][0]
    try:
        program = run.module(module, args) if module is not None else run.script(script, args)
    except OSError as exc:  # as python says it: can't open file '...': [Errno 2] ...
        print(f"{sys.executable}: can't open file {os.path.abspath(script)!r}: "
              f"[Errno {exc.errno}] {exc.strerror}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"{sys.executable}: {exc}", file=sys.stderr)
        return 1
    except SyntaxError as exc:  # shown as python shows it: no traceback, just the place
        sys.excepthook(type(exc), exc.with_traceback(None), None)
        return 1
    outcome = run.record_program(program, events=settings.events, scope=settings.scope,
                                 only=only, max_events=settings.max_events,
                                 tool_id=settings.tool_id, values=settings.values)
    sys.stdout.flush()
    trace = outcome.trace
    progress = (lambda text: None) if opts.quiet else stderr_progress
    command = shlex.join(["python", "-m", "monviz", "run", *argv])
    try:
        written = _write_run(trace, opts.format, output, opts.title or
                             f"monviz: {shlex.join([program.name, *args])}", command, progress)
    finally:
        progress("")  # clears the progress line
    kept = f"{len(trace):,} event{'' if len(trace) == 1 else 's'}"
    if trace.truncated:
        kept += f", {trace.dropped:,} more not kept (--max-events)"
    say(f"wrote {written} ({kept}; {_size(written)}); "
        + ("open it in a browser" if opts.format == "html" else FORMATS[opts.format][1]))
    return run.exit_status(outcome.failure)


def _write_run(trace, fmt: str, output: str, title: str, command: str, progress) -> str:
    if fmt == "html":
        from .report import save_html

        return str(save_html(trace, output, title=title, command=command, progress=progress))
    if fmt == "chrome":
        from .chrome import save_chrome_trace

        progress("writing the Chrome Trace JSON (about 8 s per million events)")
        return str(save_chrome_trace(trace, output))
    with open(output, "w", encoding="utf-8") as out:
        out.write(trace.to_json())
    return output


def _size(path: str) -> str:
    n = os.path.getsize(path)
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["run"]:  # the program's arguments are its own: parsed by hand first
        try:
            return _run(argv[1:])
        except MonvizError as exc:
            print(f"monviz: {exc}", file=sys.stderr)
            return 2
    parser = argparse.ArgumentParser(prog="python -m monviz", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run a script (or -m module) as python would and write an "
                   "HTML report or a Perfetto trace (see: run --help)", add_help=False)
    rec = sub.add_parser("record", help="record a file and print its events")
    rec.add_argument("file", help="a Python file, or - for standard input")
    rec.add_argument("--events", "-e", default=None, help="event names or groups (default: all "
                     "but INSTRUCTION)")
    rec.add_argument("--json", action="store_true", help="print the trace as JSON")
    rec.add_argument("--scope", default="user", choices=("user", "all"))
    rec.add_argument("--max-events", type=int, default=1_000_000)
    rec.add_argument("--filename", default=None, help="the file name the code is compiled under")
    rec.add_argument("--output", "-o", default=None, metavar="FILE",
                     help="write the events (or the JSON) to FILE instead of standard output, "
                          "which stays the program's own")
    rec.set_defaults(run=_record)
    cmp_ = sub.add_parser("compare", help="record a file under several Python versions")
    cmp_.add_argument("file", help="a Python file, or - for standard input")
    cmp_.add_argument("--versions", default="3.12,3.13,3.14,3.15")
    cmp_.add_argument("--events", "-e", default=None)
    cmp_.add_argument("--differences", action="store_true", help="only the rows that differ")
    cmp_.set_defaults(run=_compare)
    ev = sub.add_parser("events", help="list the events of this Python")
    ev.set_defaults(run=_events)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except MonvizError as exc:
        print(f"monviz: {exc}", file=sys.stderr)
        return 2
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:  # FILE cannot be read or decoded
        print(f"monviz: cannot read {args.file!r}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
