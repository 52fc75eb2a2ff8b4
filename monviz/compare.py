"""Record the same code under several Python versions and line the event streams up.

``sys.monitoring`` changed in every release since 3.12: offsets move (inline
caches), 3.14 splits BRANCH into BRANCH_LEFT/BRANCH_RIGHT, some events appear
or disappear (the JUMP out of an ``except`` handler on 3.12, the CALL of
``f(*args)`` missing on 3.12.1). :func:`compare` runs the code once per
version, in a subprocess (``python -m monviz record``), and aligns the streams
on what stays comparable — event family, code object, source line — so that
what differs stands out.

Where no subprocess can start (CPython on WebAssembly: Pyodide, JupyterLite;
``monviz.versions.HAS_SUBPROCESSES``), :func:`compare` raises
:class:`~monviz.errors.MonvizError` saying so; :func:`align` still lines up
traces recorded elsewhere (saved with ``Trace.to_json``).
"""

from __future__ import annotations

import difflib
import html
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import interpreters
from .errors import InvalidArgumentError, MonvizError
from .trace import Event, Trace
from .versions import HAS_SUBPROCESSES, PLATFORM

#: 3.14's branch events, compared with BRANCH on older versions.
_BRANCH_FAMILY = {"BRANCH_LEFT": "BRANCH", "BRANCH_RIGHT": "BRANCH"}
FILENAME = "<compare>"

#: Kinds of difference in a row, most telling first.
MISSING, EVENT, OFFSET = "missing", "event", "offset"


@dataclass
class Row:
    """One aligned step: the event of each version (``None`` where it has none)."""

    events: dict[str, Event | None]
    difference: str | None = None

    def key(self) -> tuple:
        ev = next(e for e in self.events.values() if e is not None)
        return _key(ev)


def _key(ev: Event) -> tuple:
    return (_BRANCH_FAMILY.get(ev.event, ev.event), ev.code.qualname, ev.line)


def _classify(row: Row, versions: list[str]) -> str | None:
    present = [row.events.get(v) for v in versions]
    if any(e is None for e in present):
        return MISSING
    if len({e.event for e in present}) > 1:
        return EVENT
    if len({(e.offset, e.target) for e in present}) > 1:
        return OFFSET
    return None


@dataclass
class Comparison:
    """The result of :func:`compare`: a trace per version, aligned rows, what is unavailable."""

    source: str
    traces: dict[str, Trace]
    unavailable: dict[str, str]
    rows: list[Row] = field(default_factory=list)

    @property
    def versions(self) -> list[str]:
        """The versions that were recorded, oldest first."""
        return list(self.traces)

    def differences(self, kinds: Iterable[str] = (MISSING, EVENT, OFFSET)) -> list[Row]:
        """Rows that differ between versions, in the given ways."""
        wanted = set(kinds)
        return [r for r in self.rows if r.difference in wanted]

    def summary(self) -> dict[str, int]:
        """How many rows differ, by kind of difference."""
        out = {MISSING: 0, EVENT: 0, OFFSET: 0}
        for row in self.rows:
            if row.difference:
                out[row.difference] += 1
        return out

    # -- display -------------------------------------------------------------
    @staticmethod
    def _cell(ev: Event | None) -> str:
        if ev is None:
            return "—"
        where = "" if ev.offset is None else f" @{ev.offset}"
        target = "" if ev.target is None else f"→{ev.target}"
        return f"{ev.event} {ev.code.qualname}:{ev.line}{where}{target}"

    def to_text(self, only_differences: bool = False) -> str:
        """A plain table, one row per aligned step; ``*`` marks a difference."""
        versions = self.versions
        rows = self.differences() if only_differences else self.rows
        cells = [[self._cell(r.events.get(v)) for v in versions] for r in rows]
        widths = [max([len(v), *(len(c[i]) for c in cells)]) for i, v in enumerate(versions)]
        lines = ["  " + "  ".join(v.ljust(w) for v, w in zip(versions, widths))]
        for row, cell in zip(rows, cells):
            mark = {MISSING: "* ", EVENT: "* ", OFFSET: "~ "}.get(row.difference, "  ")
            lines.append(mark + "  ".join(c.ljust(w) for c, w in zip(cell, widths)).rstrip())
        for version, reason in self.unavailable.items():
            lines.append(f"Python {version}: not recorded: {reason}")
        counts = self.summary()
        lines.append(f"{len(self.rows)} aligned events; differ: {counts[MISSING]} present in "
                     f"only some versions, {counts[EVENT]} by event, {counts[OFFSET]} by offset")
        return "\n".join(lines)

    def __repr__(self) -> str:
        counts = self.summary()
        return (f"<monviz.Comparison of Python {', '.join(self.versions)}: {len(self.rows)} "
                f"aligned events, {counts[MISSING] + counts[EVENT]} differ in events, "
                f"{counts[OFFSET]} in offsets"
                + (f"; unavailable: {', '.join(self.unavailable)}>" if self.unavailable else ">"))

    def _repr_html_(self) -> str:
        esc = html.escape
        versions = self.versions
        head = "".join(f"<th>Python {esc(v)}</th>" for v in versions)
        body = []
        for i, row in enumerate(self.rows):
            cls = f" class='monviz-diff-{row.difference}'" if row.difference else ""
            cells = "".join(f"<td>{esc(self._cell(row.events.get(v)))}</td>" for v in versions)
            body.append(f"<tr{cls}><td>{i}</td>{cells}</tr>")
        notes = "".join(f"<p class='monviz-unavailable'>Python {esc(v)}: not recorded: "
                        f"{esc(reason)}</p>" for v, reason in self.unavailable.items())
        counts = self.summary()
        return (
            "<div class='monviz-compare'><style>"
            ".monviz-compare .monviz-diff-missing,.monviz-compare .monviz-diff-event"
            "{background:#ffe0b2}.monviz-compare .monviz-diff-offset{background:#f3f3f3}"
            "</style>"
            f"<p><b>monviz compare</b>: {len(self.rows)} aligned events; "
            f"{counts[MISSING]} present in only some versions, {counts[EVENT]} differ by event, "
            f"{counts[OFFSET]} by offset only (grey)</p>{notes}"
            f"<table><thead><tr><th>#</th>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            "</table></div>"
        )


def align(traces: dict[str, Trace]) -> list[Row]:
    """Rows of events lined up across versions by (event family, code, line)."""
    rows: list[Row] = []
    versions = list(traces)
    for version in versions:
        events = list(traces[version])
        if not rows:
            rows = [Row({version: ev}) for ev in events]
            continue
        matcher = difflib.SequenceMatcher(None, [r.key() for r in rows],
                                          [_key(e) for e in events], autojunk=False)
        merged: list[Row] = []
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                for row, ev in zip(rows[i1:i2], events[j1:j2]):
                    row.events[version] = ev
                    merged.append(row)
            else:
                merged.extend(rows[i1:i2])
                merged.extend(Row({version: ev}) for ev in events[j1:j2])
        rows = merged
    for row in rows:
        row.difference = _classify(row, versions)
    return rows


def _run_child(found: interpreters.Interpreter, args: list[str], source: str, timeout: float):
    """Run ``python -m monviz record`` there; return (the finished process, the trace's JSON).

    The trace comes back through an anonymous temporary file handed over as a file
    descriptor (``--output /dev/fd/N``), not on stdout: the program's own prints go there.
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        fd = out.fileno()
        done = found.run([*args, "--output", f"/dev/fd/{fd}"], stdin=source, timeout=timeout,
                         pass_fds=(fd,))
        out.seek(0)
        return done, out.read()


def no_subprocesses() -> str:
    """Why :func:`compare` cannot run on this platform."""
    return (f"monviz.compare() records the code under each Python version in a subprocess "
            f"(python -m monviz record), and this platform, CPython {interpreters.THIS} on "
            f"{PLATFORM}, cannot start subprocesses; monviz.record() works here, and "
            f"compare() does on a desktop Python")


def compare(source: str, versions: Iterable[str] = interpreters.SUPPORTED, events=None, *,
            timeout: float = 300) -> Comparison:
    """Record ``source`` under each Python version and line the streams up.

    Each version runs ``python -m monviz record`` in a subprocess (3.14/3.15
    through the sid chroot where that is how they are available). A version
    that cannot be run is listed in ``unavailable`` with the reason, never
    silently dropped. Where subprocesses cannot start at all (WebAssembly), it
    raises :class:`~monviz.errors.MonvizError`.
    """
    if not isinstance(source, str):
        raise InvalidArgumentError(f"compare() needs source text, not {type(source).__name__}")
    versions = list(versions)
    bad = [v for v in versions if v not in interpreters.SUPPORTED]
    if bad:
        raise InvalidArgumentError(
            f"unsupported Python version(s) {', '.join(map(repr, bad))}: "
            f"choose from {', '.join(interpreters.SUPPORTED)}")
    if not HAS_SUBPROCESSES:
        raise MonvizError(no_subprocesses())
    args = ["-m", "monviz", "record", "-", "--json", "--filename", FILENAME]
    if events is not None:
        spec = events if isinstance(events, str | int) else ",".join(map(str, events))
        args += ["--events", str(spec)]
    traces: dict[str, Trace] = {}
    unavailable: dict[str, str] = {}
    for version in versions:
        found = interpreters.find(version)
        if isinstance(found, str):
            unavailable[version] = found
            continue
        try:
            done, output = _run_child(found, args, source, timeout)
        except Exception as exc:  # a hung or missing interpreter is reported, not raised
            unavailable[version] = f"running it failed: {exc}"
            continue
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            unavailable[version] = f"monviz failed there ({found.how}): {last}"
            continue
        try:
            traces[version] = Trace.from_json(output)
        except (json.JSONDecodeError, MonvizError, KeyError) as exc:
            unavailable[version] = f"its output was not a trace: {exc}"
    return Comparison(source, traces, unavailable, align(traces))
