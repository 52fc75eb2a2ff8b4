"""Fold a big control-flow graph into sections of source, so it can be laid out and read.

``dot`` lays out a graph in time that grows much faster than its size (here: a 300-line
function, 461 blocks, 0.4 s; 1,000 lines, 1,611 blocks, 6 s), and nobody reads 1,600
boxes at once anyway. Large-CFG viewers (IDA's groups, Ghidra's collapsed regions)
show the big picture first and the detail where one looks. So above :data:`FOLD_ABOVE`
blocks a graph is drawn *folded*: consecutive source lines are grouped into
:class:`Section`\\ s of about :data:`SECTION_BLOCKS` blocks, cut where a statement of the
function's outermost level starts (one level inside a statement only once the section
has reached twice that size, two levels at three times, and so on), and each section is
one node: its line range, how many blocks it holds, and the first line of each statement
in it. Arrows between sections stand for every edge between their blocks (taken if any
is, with their counts added). Any section can be *opened*: its blocks are drawn as
usual, with their own edges, in place, while the others stay folded; every block is in
exactly one section, so every block can be reached.

A block belongs to the section of its first source line; a block with no line of its
own (compiler plumbing: cleanup handlers, the exits of loops placed at the end of the
code) to that of a block that leads into it, else to the block before it.
"""

from __future__ import annotations

import ast
import bisect
import linecache
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..cfg import ControlFlowGraph

#: Graphs with more blocks than this are drawn folded (a 300-line function has ~460).
FOLD_ABOVE = 500
#: About how many blocks a section holds.
SECTION_BLOCKS = 40
#: At most this many statement lines are listed in a folded section's label.
LISTED = 6


@dataclass(frozen=True)
class Section:
    """Consecutive source lines of one code object, and the blocks filed under them.
    Sections cover the code's lines with no gap, in order."""

    id: int
    first: int  # first source line
    last: int  # last source line (the next section's first, minus one)
    blocks: tuple[int, ...]  # block ids, in offset order
    heads: tuple[int, ...]  # first lines of the outermost statements in it

    @property
    def name(self) -> str:
        """The node's name in DOT (blocks are ``b<id>``)."""
        return f"s{self.id}"


@dataclass(frozen=True)
class Folding:
    """A graph's sections, and the section of each block."""

    sections: tuple[Section, ...]
    section_of: dict[int, int]

    def section_at(self, line: int) -> Section | None:
        """The section whose lines include ``line``."""
        return next((s for s in self.sections if s.first <= line <= s.last), None)


def should_fold(graph: ControlFlowGraph) -> bool:
    """Whether the graph is big enough to be drawn folded."""
    return len(graph.blocks) > FOLD_ABOVE


def fold(graph: ControlFlowGraph, sources: dict[str, str] | None = None,
         size: int = SECTION_BLOCKS) -> Folding:
    """Cut the graph into sections of about ``size`` blocks (see the module docstring)."""
    if size < 1:
        raise ValueError(f"a section holds at least 1 block, not {size}")
    anchor = _anchors(graph)
    per_line: dict[int, list[int]] = {}
    for block in graph.blocks:
        per_line.setdefault(anchor[block.id], []).append(block.id)
    lines = sorted(per_line)
    depth, defs = _statement_depths(graph, sources)
    known = bool(depth)
    if not known:  # no source: any line may end a section, none is listed
        depth = dict.fromkeys(lines, 0)
    outer = _body_depth(graph, depth, defs, lines)
    starts = sorted(depth)
    groups: list[list[int]] = [[]]
    firsts: list[int] = [lines[0]]  # each section's first line
    count, previous = 0, None
    for line in lines:
        # the outermost statement that starts after the previous block's line, up to this
        # one (a ``try:`` or ``with`` line may start no block of its own)
        since = starts[bisect.bisect_right(starts, previous):bisect.bisect_right(starts, line)] \
            if previous is not None else []
        d = min((depth[ln] for ln in since), default=None)
        # a section ends before the function's own statements once it holds ``size``
        # blocks, one level deeper from twice that, and so on: as shallow a cut as can be
        if groups[-1] and d is not None and count >= size and d <= outer + count // size - 1:
            groups.append([])
            firsts.append(next(ln for ln in since if depth[ln] == d))
            count = 0
        groups[-1].append(line)
        count += len(per_line[line])
        previous = line
    ends = [first - 1 for first in firsts[1:]]
    ends.append(max((ln for b in graph.blocks for ln in b.lines), default=lines[-1]))
    sections, section_of = [], {}
    for k, (group, first, last) in enumerate(zip(groups, firsts, ends)):
        blocks = sorted(b for line in group for b in per_line[line])  # ids: offset order
        heads = _heads(starts, depth, first, last, outer) if known else ()
        sections.append(Section(k, first, max(last, group[-1]), tuple(blocks), heads))
        for b in blocks:
            section_of[b] = k
    return Folding(tuple(sections), section_of)


def _body_depth(graph: ControlFlowGraph, depth: dict[int, int], defs: dict[int, int],
                lines: list[int]) -> int:
    """The nesting depth of the code object's own statements: one more than its ``def`` or
    ``class`` statement's (found by its first line, decorators included), 0 for a module."""
    code = graph.code
    if code.co_name == "<module>":
        return 0
    if code.co_firstlineno in defs:
        return defs[code.co_firstlineno] + 1
    inside = [depth[ln] for ln in lines if ln in depth and ln > code.co_firstlineno]
    return min(inside or [depth.get(ln, 0) for ln in lines])


def _heads(starts: list[int], depth: dict[int, int], first: int, last: int,
           outer: int) -> tuple[int, ...]:
    """The first lines of the outermost of the code's own statements between two lines
    (``starts``: every statement's first line, sorted)."""
    inside = [ln for ln in starts[bisect.bisect_left(starts, first):
                                  bisect.bisect_right(starts, last)] if depth[ln] >= outer]
    top = min((depth[ln] for ln in inside), default=None)
    return tuple(ln for ln in inside if depth[ln] == top)


def _anchors(graph: ControlFlowGraph) -> dict[int, int]:
    """The line each block is filed under: its first line, else a predecessor's, else the
    previous block's (the code object's first line for a first block with none)."""
    anchor = {b.id: b.lines[0] for b in graph.blocks if b.lines}
    changed = True
    while changed and len(anchor) < len(graph.blocks):
        changed = False
        for block in graph.blocks:
            if block.id in anchor:
                continue
            known = [anchor[e.src] for e in graph.edges_to(block.id) if e.src in anchor]
            if known:
                anchor[block.id] = min(known)
                changed = True
    previous = graph.code.co_firstlineno
    for block in graph.blocks:
        previous = anchor.setdefault(block.id, previous)
    return anchor


def _statement_depths(graph: ControlFlowGraph, sources: dict[str, str] | None
                      ) -> tuple[dict[int, int], dict[int, int]]:
    """Line -> nesting depth of the statement starting on it, from the code's source, and
    the same for ``def`` and ``class`` statements by their first line, decorators included
    (what ``co_firstlineno`` is); both empty when the source cannot be read or parsed:
    then any line may end a section."""
    filename = graph.code.co_filename
    text = (sources or {}).get(filename)
    if text is None:
        text = "".join(linecache.getlines(filename))
    if not text:
        return {}, {}
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}, {}
    depths: dict[int, int] = {}
    defs: dict[int, int] = {}

    def visit(node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                depths.setdefault(child.lineno, depth)
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    defs.setdefault(first, depth)
                visit(child, depth + 1)
            elif isinstance(child, (ast.excepthandler, ast.match_case)):
                line = getattr(child, "lineno", None) or child.pattern.lineno
                depths.setdefault(line, depth)
                visit(child, depth + 1)
            else:
                visit(child, depth)

    visit(tree, 0)
    return depths, defs
