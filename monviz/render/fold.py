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
    """Consecutive source lines of one code object, and the blocks that start in them."""

    id: int
    first: int  # first source line
    last: int  # last source line with a block
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
    depth = _statement_depths(graph, sources)
    known = bool(depth)
    if not known:  # no source: any line may end a section, none is listed
        depth = dict.fromkeys(lines, 0)
    body = [depth[ln] for ln in lines if ln in depth and ln > graph.code.co_firstlineno]
    outer = min(body or [depth.get(ln, 0) for ln in lines])
    groups: list[list[int]] = [[]]
    count = 0
    for line in lines:
        d = depth.get(line)
        # a section ends at the function's own statements once it holds ``size`` blocks,
        # one level deeper from twice that, and so on: as shallow a cut as it can be
        if groups[-1] and d is not None and count >= size and d <= outer + count // size - 1:
            groups.append([])
            count = 0
        groups[-1].append(line)
        count += len(per_line[line])
    sections, section_of = [], {}
    for k, group in enumerate(groups):
        blocks = sorted(b for line in group for b in per_line[line])  # ids: offset order
        inner = [ln for ln in group if ln in depth and ln > graph.code.co_firstlineno]
        inner = inner or [ln for ln in group if ln in depth]
        top = min((depth[ln] for ln in inner), default=None)
        heads = tuple(ln for ln in inner if depth[ln] == top)
        sections.append(Section(k, group[0], group[-1], tuple(blocks), heads if known else ()))
        for b in blocks:
            section_of[b] = k
    return Folding(tuple(sections), section_of)


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
                      ) -> dict[int, int]:
    """Line -> nesting depth of the statement starting on it, from the code's source
    (empty when the source cannot be read or parsed: then any line may end a section)."""
    filename = graph.code.co_filename
    text = (sources or {}).get(filename)
    if text is None:
        text = "".join(linecache.getlines(filename))
    if not text:
        return {}
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    depths: dict[int, int] = {}

    def visit(node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                depths.setdefault(child.lineno, depth)
                visit(child, depth + 1)
            elif isinstance(child, (ast.excepthandler, ast.match_case)):
                line = getattr(child, "lineno", None) or child.pattern.lineno
                depths.setdefault(line, depth)
                visit(child, depth + 1)
            else:
                visit(child, depth)

    visit(tree, 0)
    return depths
