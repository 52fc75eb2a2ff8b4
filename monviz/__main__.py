"""``python -m monviz``: record a file, or compare its events across Python versions.

    python -m monviz record FILE.py [--events NAMES] [--json] [--scope user|all] [-o OUT]
    python -m monviz compare FILE.py [--versions 3.12,3.13,3.14,3.15] [--events NAMES]
    python -m monviz events
    python -m monviz --version      (also says which recording backend is active)

``FILE`` may be ``-`` for standard input.
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monviz", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
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
