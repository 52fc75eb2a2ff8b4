"""Control-flow graphs of code objects, built from the bytecode CPython runs.

``monviz.cfg(function_or_code)`` splits a code object's instructions into basic
blocks and connects them with typed edges:

* ``fallthrough`` — execution runs off the end of a block into the next one;
* ``jump`` — an unconditional jump (``JUMP_FORWARD``, ``JUMP_BACKWARD``), which
  ``sys.monitoring`` reports as a JUMP event;
* ``branch`` — each of the two outcomes of a conditional (``POP_JUMP_IF_*``,
  ``FOR_ITER``), reported as BRANCH (3.12/3.13) or BRANCH_LEFT/BRANCH_RIGHT (3.14+);
* ``exception`` — from a block covered by the exception table to its handler.

Every branch and jump edge carries the exact ``(src_offset, dst_offset)`` pair
that ``sys.monitoring`` reports for it, so :meth:`ControlFlowGraph.edge_for`
maps a recorded event to its edge, and :meth:`ControlFlowGraph.overlay` counts
how often each edge was taken in a :class:`~monviz.trace.Trace`.

Drawing is :mod:`monviz.render.graph`'s job; this module only knows the graph.

How the graph is cut
--------------------
A block starts at offset 0, at every jump target, at every exception handler,
at both ends of every exception-table range, after every jump, branch, return,
raise and re-raise, and wherever a branch really *lands*. A block never starts
between an ``EXTENDED_ARG`` and its instruction. Yields do not end blocks: the
frame resumes at the next instruction.

An edge goes from the block control leaves (``src``) to the block it lands in
(``dst``). The offsets an event reports are not always those two places, and the
edge keeps both:

* 3.14+ ``BRANCH_LEFT`` lands on ``NOT_TAKEN`` (which then raises the event) but
  reports the instruction after it as the destination;
* an exhausted ``for`` loop lands after ``END_FOR`` (3.12, 3.14+) or after
  ``END_FOR``/``POP_TOP`` (3.13); 3.12 and 3.13 report the landing, 3.14+ lands on
  ``POP_ITER`` and reports the instruction after it. ``END_FOR`` is then a block of
  its own that BRANCH-monitored code never runs;
* 3.14+ with LINE or INSTRUCTION firing on the ``NOT_TAKEN``/``POP_ITER``, the event
  reports that instruction as its source (``Edge.also_from``);
* 3.14+ ``async for``: the ``END_SEND`` is the branch ``co_branches()`` names, but the
  loop's exit is raised by ``END_ASYNC_FOR``, the handler of ``StopAsyncIteration``:
  that edge leaves from the ``END_ASYNC_FOR`` block.

``JUMP_BACKWARD_NO_INTERRUPT`` and ``SEND``'s exit raise no event: they are ``jump``
edges whose ``event`` is ``None`` (``SEND`` also has a fall-through edge).

What each edge carries: ``kind``; ``src``/``dst`` block ids; ``src_offset``/
``dst_offset`` — for branch and jump edges exactly what the event reports, for the
others the last offset of ``src`` and the first of ``dst``; ``event`` (the event
name, or None); ``label`` ("taken"/"not taken" on 3.12/3.13, "left"/"right" on
3.14+); ``opname`` (the branching or jumping instruction); ``meaning`` (what the
outcome says of the value tested: "true", "false", "None", "not None", "next
item", "exhausted" — taken is not true); ``also_from`` (other source offsets the
event can report).

Visits (see :meth:`ControlFlowGraph.overlay` and :class:`Overlay`)
------------------------------------------------------------------
Branch and jump edge counts are the events themselves: exact. Block visits come
from the best source the trace has, in this order:

1. ``INSTRUCTION`` events (``visits_from == "INSTRUCTION"``): the largest count of
   any instruction of the block — a block runs straight through, so that is the
   number of times it was entered. Exact (unless the trace was truncated). CPython
   raises no INSTRUCTION for ``RESUME`` nor for the prologue before the function's
   first ``RESUME``: a block made only of those gets its count from the flow.
2. Flow (``"flow"``): each block's visits equal what flowed in (PY_START at the
   entry, the counts of the edges into it; EXCEPTION_HANDLED for handlers;
   PY_RESUME for a block that starts right after a yield) and what flowed out (the
   counts of its branch, jump and fall-through edges). Solving both equations
   from the known event counts fills in fall-through edges and most blocks. The
   outflow equation assumes no exception left the block half-way and no yield in
   it was left unresumed; a count that leans on it is exact only when that is
   certain: every instruction of the block is one that cannot raise, or RAISE was
   recorded and none happened in this code object; and for a block with a yield,
   PY_YIELD and PY_RESUME counts agree. Inflow alone (every way in counted) is
   exact.
3. ``LINE`` events (``"LINE"``), for blocks still unknown: the LINE count of the
   first of the block's lines that no other block has (3.14+ starts a block with
   the ``NOT_TAKEN`` of the condition's line, so that is not always the first
   line), then the flow equations again. An estimate: a backward jump to the
   same line raises no LINE, a multi-line statement revisits lines, and a block
   with no line of its own has none.

Blocks nothing determines keep the flow known to reach them (a lower bound) and
are listed as ``"unknown"`` in :attr:`Overlay.visit_method`.
"""

from __future__ import annotations

import bisect
import dis
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from types import CodeType

from . import versions
from .errors import InvalidArgumentError, InvalidTargetError, MonvizError
from .source import compile_source

FALLTHROUGH, JUMP, BRANCH, EXCEPTION = "fallthrough", "jump", "branch", "exception"
EDGE_KINDS = (FALLTHROUGH, JUMP, BRANCH, EXCEPTION)

_UNCONDITIONAL = frozenset({"JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT",
                            "JUMP", "JUMP_NO_INTERRUPT"})
_RETURNS = frozenset({"RETURN_VALUE", "RETURN_CONST"})
_RAISES = frozenset({"RAISE_VARARGS", "RERAISE"})
_TERMINATORS = _UNCONDITIONAL | _RETURNS | _RAISES
_YIELDS = frozenset({"YIELD_VALUE"})
# Instructions that cannot raise (asynchronous exceptions such as KeyboardInterrupt,
# delivered at RESUME and backward jumps, aside): a block of these alone always runs
# to its end. Conditional jumps join them where they only take bools (3.13+).
_CANNOT_RAISE = frozenset({
    "NOP", "RESUME", "RETURN_GENERATOR", "MAKE_CELL", "COPY_FREE_VARS", "NOT_TAKEN",
    "EXTENDED_ARG", "CACHE", "PUSH_EXC_INFO", "POP_EXCEPT", "COPY", "SWAP", "PUSH_NULL",
    "POP_TOP", "END_FOR", "POP_ITER", "LOAD_CONST", "LOAD_SMALL_INT", "LOAD_FAST",
    "LOAD_FAST_BORROW", "LOAD_FAST_LOAD_FAST", "LOAD_FAST_BORROW_LOAD_FAST_BORROW",
    "STORE_FAST", "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST", "RETURN_VALUE",
    "RETURN_CONST", "JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT",
    "POP_JUMP_IF_NONE", "POP_JUMP_IF_NOT_NONE",
}) | versions.CONDITIONAL_JUMPS_TAKING_BOOLS

# What each outcome says about the value tested: (when it jumps, when it falls through)
_MEANINGS = {
    "POP_JUMP_IF_FALSE": ("false", "true"),
    "POP_JUMP_IF_TRUE": ("true", "false"),
    "POP_JUMP_IF_NONE": ("None", "not None"),
    "POP_JUMP_IF_NOT_NONE": ("not None", "None"),
    "FOR_ITER": ("exhausted", "next item"),
    "END_SEND": ("exhausted", "next item"),  # 3.14+ async for: right = StopAsyncIteration
}


@dataclass(frozen=True)
class Instruction:
    """One bytecode instruction, as ``dis`` shows it (cache entries not included)."""

    offset: int
    opname: str
    argrepr: str
    line: int | None
    #: (line, end_line, col, end_col) from ``co_positions``, when known
    positions: tuple[int | None, int | None, int | None, int | None] | None = None
    #: the jump target ``dis`` shows, for jumps and branches
    target: int | None = None
    #: offset just past the instruction and its inline cache entries
    stop: int = 0
    #: the instruction's argument (``None`` when it takes none)
    arg: int | None = None


@dataclass
class Block:
    """A basic block: instructions that always run together, in order."""

    id: int
    instructions: list[Instruction]
    #: True for the block execution starts in (offset 0)
    entry: bool = False
    #: True when the block leaves the code object (return, raise, reraise, yield-less end):
    #: it ends in a return, raise or re-raise and has no normal successor (an exception
    #: edge may still catch what it raises)
    exit: bool = False
    #: True when the block starts an exception handler
    handler: bool = False

    @property
    def start(self) -> int:
        """Offset of the first instruction."""
        return self.instructions[0].offset

    @property
    def end(self) -> int:
        """Offset of the last instruction."""
        return self.instructions[-1].offset

    @property
    def stop(self) -> int:
        """Offset just past the block (its last instruction's cache entries included)."""
        return self.instructions[-1].stop

    @property
    def lines(self) -> list[int]:
        """The source lines of the block's instructions, in order of first appearance."""
        return list(dict.fromkeys(i.line for i in self.instructions if i.line is not None))

    def __contains__(self, offset: int) -> bool:
        return self.start <= offset < self.stop


@dataclass(frozen=True)
class Edge:
    """A possible transfer of control between two blocks."""

    src: int  # block id
    dst: int  # block id
    kind: str  # one of EDGE_KINDS
    #: the pair sys.monitoring reports for this edge (branch and jump edges); for
    #: fall-through and exception edges, the last offset of ``src`` and the first of ``dst``
    src_offset: int
    dst_offset: int
    #: "taken"/"not taken" (BRANCH on 3.12/3.13: whether the instruction jumped),
    #: "left"/"right" (3.14+), "" for other kinds
    label: str = ""
    #: the event that reports this edge: "JUMP", "BRANCH", "BRANCH_LEFT",
    #: "BRANCH_RIGHT", or None (fall-through and exception edges raise no event)
    event: str | None = None
    #: the instruction that branches or jumps ("" for fall-through and exception edges)
    opname: str = ""
    #: what a branch outcome says about the value tested: "true", "false", "None",
    #: "not None", "next item", "exhausted" ("" for other kinds). Taken is not true:
    #: ``POP_JUMP_IF_FALSE`` is taken when the condition is false.
    meaning: str = ""
    #: other source offsets the same event is reported with (3.14+: the ``NOT_TAKEN``
    #: or ``POP_ITER`` that raised it, when LINE or INSTRUCTION fired there too)
    also_from: tuple[int, ...] = ()

    @property
    def pair(self) -> tuple[int, int]:
        return (self.src_offset, self.dst_offset)


@dataclass
class ControlFlowGraph:
    """Basic blocks and typed edges of one code object (see the module docstring)."""

    code: CodeType
    blocks: list[Block]
    edges: list[Edge]
    children: list[ControlFlowGraph] = field(default_factory=list)
    #: the exception table: (start, stop, handler, stack depth, lasti), stop exclusive
    exception_table: list[tuple[int, int, int, int, bool]] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list, repr=False, compare=False)
    _by_pair: dict[tuple[int, int], list[Edge]] = field(default_factory=dict, repr=False,
                                                        compare=False)
    _out: dict[int, list[Edge]] = field(default_factory=dict, repr=False, compare=False)
    _in: dict[int, list[Edge]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._starts = [b.start for b in self.blocks]
        self._by_pair = defaultdict(list)
        self._out = {b.id: [] for b in self.blocks}
        self._in = {b.id: [] for b in self.blocks}
        for e in self.edges:
            self._out[e.src].append(e)
            self._in[e.dst].append(e)
            if e.event is not None:
                self._by_pair[e.src_offset, e.dst_offset].append(e)
                for src in e.also_from:
                    self._by_pair[src, e.dst_offset].append(e)
        self._by_pair = dict(self._by_pair)

    @property
    def qualname(self) -> str:
        return self.code.co_qualname

    @property
    def instructions(self) -> list[Instruction]:
        """Every instruction, in offset order."""
        return [i for b in self.blocks for i in b.instructions]

    def __repr__(self) -> str:
        kinds = Counter(e.kind for e in self.edges)
        counts = ", ".join(f"{kinds[k]} {k}" for k in EDGE_KINDS if kinds[k])
        return (f"<monviz.ControlFlowGraph {self.qualname}: {len(self.blocks)} blocks, "
                f"{counts}; {len(self.children)} nested>")

    def edge_for(self, src_offset: int, dst_offset: int, event: str | None = None) -> Edge | None:
        """The branch or jump edge whose event reports ``(src_offset, dst_offset)``.

        ``event`` (the event's name) only matters when two outcomes of one branch
        report the same pair, which happens when both go to the same place.
        """
        found = self._by_pair.get((src_offset, dst_offset))
        if not found:
            return None
        if event is not None and len(found) > 1:
            for e in found:
                if e.event == event:
                    return e
        return found[0]

    def block_at(self, offset: int) -> Block | None:
        """The block containing the instruction (or cache entry) at ``offset``."""
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0:
            return None
        block = self.blocks[i]
        return block if offset < block.stop else None

    def edges_from(self, block_id: int) -> list[Edge]:
        """The edges leaving a block."""
        return self._out[block_id]

    def edges_to(self, block_id: int) -> list[Edge]:
        """The edges entering a block."""
        return self._in[block_id]

    def walk(self):
        """This graph and every nested one, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, qualname: str) -> ControlFlowGraph | None:
        """The graph (this one or a nested one) of the code object with this qualname."""
        return next((g for g in self.walk() if g.qualname == qualname), None)

    # -- drawing (monviz.render.graph) ----------------------------------------
    def to_dot(self, view: str = "source", overlay: Overlay | None = None,
               sources: dict[str, str] | None = None, merge: bool | None = None):
        """The graph as a ``graphviz.Digraph`` (source or bytecode view); needs no ``dot``.

        The source view merges chains of blocks that read as one, unless ``merge=False``.
        """
        from .render import graph as drawing

        merge = view == "source" if merge is None else merge
        return drawing.to_dot(self, overlay, view, sources, merge=merge)

    def svg(self, view: str = "source") -> str:
        """The graph laid out by Graphviz's ``dot``, as SVG text."""
        from .render import graph as drawing

        return drawing.svg(self.to_dot(view))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        from .render import graph as drawing

        return drawing.mimebundle(self.to_dot(), repr(self))

    def overlay(self, trace) -> Overlay:
        """What a recording did in this code object: edge counts and block visits.

        Events are matched to this code object by identity when the trace still has
        the code object, else by qualname, file name and first line (a trace loaded
        from JSON). The trace must come from the same Python version (offsets
        differ between versions).
        """
        return _overlay(self, trace)


@dataclass
class Overlay:
    """Counts from a trace, laid over a graph: how often each edge ran, each block ran."""

    graph: ControlFlowGraph
    #: times each edge was taken (every edge of the graph is a key; 0 = never). Exact
    #: for the edges in ``exact_edges``; for the others (fall-through and exception
    #: edges, event edges whose event was not recorded) what the flow equations
    #: estimate, or 0 when nothing is known
    edge_counts: dict[Edge, int]
    #: times each block was entered, by block id (0 = never); exact for the blocks in
    #: ``exact_visits``, see ``visit_method`` for the others
    block_visits: dict[int, int]
    #: how many times the code object was entered (PY_START + PY_RESUME + PY_THROW)
    entries: int = 0
    #: where the visits came from: "INSTRUCTION", "flow", "LINE", or "none" (the best
    #: source the trace had; see the module docstring)
    visits_from: str = "none"
    #: how each block's count was found: "INSTRUCTION", "flow", "LINE" or "unknown"
    #: (an unknown block's count is only what is known to flow into it)
    visit_method: dict[int, str] = field(default_factory=dict)
    #: blocks whose visit count is exact
    exact_visits: frozenset[int] = frozenset()
    #: edges whose count is exact (branch and jump edges whose event was recorded,
    #: and edges the flow equations pin down exactly)
    exact_edges: frozenset[Edge] = frozenset()
    #: BRANCH/JUMP events of this code object that matched no edge: (event, src, dst)
    unmatched: list[tuple[str, int, int | None]] = field(default_factory=list)
    #: the events the trace recorded
    recorded: frozenset[str] = frozenset()

    def count(self, edge: Edge) -> int:
        return self.edge_counts[edge]

    def to_dot(self, view: str = "source", sources: dict[str, str] | None = None):
        """The graph with these counts drawn on it, as a ``graphviz.Digraph``."""
        return self.graph.to_dot(view, self, sources)

    def svg(self, view: str = "source") -> str:
        """The graph with these counts, laid out by ``dot``, as SVG text."""
        from .render import graph as drawing

        return drawing.svg(self.to_dot(view))

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        from .render import graph as drawing

        return drawing.mimebundle(self.to_dot(), repr(self))

    def branch_outcomes(self) -> dict[int, dict[str, int]]:
        """For each branch instruction (by offset): label → times that outcome ran."""
        out: dict[int, dict[str, int]] = {}
        for e in self.graph.edges:
            if e.kind == BRANCH:
                out.setdefault(e.src_offset, {})[e.label] = self.edge_counts[e]
        return out

    def never_taken(self) -> list[Edge]:
        """Branch edges with a count of 0 (when their event was recorded)."""
        return [e for e in self.graph.edges
                if e.kind == BRANCH and e in self.exact_edges and self.edge_counts[e] == 0]

    def __repr__(self) -> str:
        ran = sum(1 for v in self.block_visits.values() if v)
        return (f"<monviz.Overlay {self.graph.qualname}: {ran}/{len(self.block_visits)} blocks "
                f"ran, visits from {self.visits_from}>")


# -- construction ---------------------------------------------------------------------


def cfg(code_or_function, *, filename: str | None = None) -> ControlFlowGraph:
    """The control-flow graph of a function's (or a code object's) bytecode.

    Accepts a code object, a function or method, a generator, coroutine or async
    generator, or anything with a ``__code__``; or source text, compiled as a module
    (under ``filename``, default ``<monviz-cfg-N>``) exactly as ``python file.py``
    would, with no flag of monviz's own. Nested code objects (functions, lambdas,
    generator expressions, class bodies) are in ``children``.
    """
    if isinstance(code_or_function, str):
        name = filename if filename is not None else f"<monviz-cfg-{next(_source_counter)}>"
        return _build(compile_source(code_or_function, name))
    if filename is not None:
        raise InvalidArgumentError("filename= applies to source text, not to "
                                   f"{type(code_or_function).__name__}")
    return _build(_code_of(code_or_function))


_source_counter = itertools.count(1)


def _code_of(obj) -> CodeType:
    if isinstance(obj, CodeType):
        return obj
    obj = getattr(obj, "__func__", obj)
    for attr in ("__code__", "gi_code", "cr_code", "ag_code"):
        code = getattr(obj, attr, None)
        if isinstance(code, CodeType):
            return code
    raise InvalidTargetError(
        f"cfg() needs a code object, a function (or generator, coroutine, method) or "
        f"source text, not {type(obj).__name__}")


def _line_table(code: CodeType, offsets: list[int]) -> list[int | None]:
    """The line of each offset (sorted), from ``co_lines()`` as events map them."""
    lines: list[int | None] = []
    ranges = iter(code.co_lines())
    current = next(ranges, None)
    for off in offsets:
        while current is not None and current[1] <= off:
            current = next(ranges, None)
        lines.append(current[2] if current is not None and current[0] <= off else None)
    return lines


def _instructions(code: CodeType) -> list[Instruction]:
    raw = list(dis.get_instructions(code))
    lines = _line_table(code, [i.offset for i in raw])
    size = len(code.co_code)
    out = []
    for k, (ins, line) in enumerate(zip(raw, lines)):
        stop = raw[k + 1].offset if k + 1 < len(raw) else size
        target = None
        if (ins.opname in versions.JUMP_ARG_OPNAMES
                and ins.opname not in versions.JUMP_ARG_IS_A_BACK_REFERENCE):
            target = ins.argval
        pos = ins.positions
        out.append(Instruction(ins.offset, ins.opname, ins.argrepr, line,
                               tuple(pos) if pos is not None else None, target, stop,
                               ins.arg))
    return out


@dataclass
class _Outcome:
    """One outcome of a branch, before blocks exist."""

    label: str
    event: str
    source: int  # offset of the instruction control leaves from
    landing: int  # offset control lands on
    reported: tuple[int, int]
    meaning: str
    opname: str
    also_from: tuple[int, ...] = ()


def _outcomes(instrs: list[Instruction], index: dict[int, int], code: CodeType
              ) -> list[_Outcome]:
    """Both outcomes of every branch, with what the events report and where they land."""
    out: list[_Outcome] = []

    def after(offset: int, names: tuple[str, ...]) -> int:
        """Offset after the run of ``names`` that starts at ``offset``."""
        k = index[offset]
        for name in names:
            if k < len(instrs) and instrs[k].opname == name:
                k += 1
        return instrs[k].offset if k < len(instrs) else instrs[-1].stop

    def reporters(start: int, stop: int) -> tuple[int, ...]:
        k = index.get(start)
        found = []
        while k is not None and k < len(instrs) and instrs[k].offset < stop:
            if instrs[k].opname in versions.BRANCH_REPORTERS:
                found.append(instrs[k].offset)
            k += 1
        return tuple(found)

    if versions.HAS_CO_BRANCHES:
        for src, left, right in code.co_branches():
            ins = instrs[index[src]]
            jumped, fell = _MEANINGS.get(ins.opname, ("", ""))
            nxt = ins.stop
            out.append(_Outcome("left", "BRANCH_LEFT", src, nxt, (src, left), fell, ins.opname,
                                reporters(nxt, left)))
            if ins.target is not None:  # a real jump: lands at its target, past END_FOR
                land = (after(ins.target, versions.FOR_ITER_EXIT_SKIPS)
                        if ins.opname == "FOR_ITER" else ins.target)
                source = src
            else:  # raised elsewhere (async for: by the END_ASYNC_FOR before ``right``)
                source, land = instrs[index[right] - 1].offset, right
            out.append(_Outcome("right", "BRANCH_RIGHT", source, land, (src, right), jumped,
                                ins.opname, reporters(land, right)))
        return out
    for ins in instrs:
        if ins.opname not in versions.BRANCH_OPNAMES or ins.target is None:
            continue
        jumped, fell = _MEANINGS[ins.opname]
        land = (after(ins.target, versions.FOR_ITER_EXIT_SKIPS)
                if ins.opname == "FOR_ITER" else ins.target)
        out.append(_Outcome("taken", "BRANCH", ins.offset, land, (ins.offset, land), jumped,
                            ins.opname))
        out.append(_Outcome("not taken", "BRANCH", ins.offset, ins.stop, (ins.offset, ins.stop),
                            fell, ins.opname))
    return out


def _build(code: CodeType) -> ControlFlowGraph:
    instrs = _instructions(code)
    index = {ins.offset: k for k, ins in enumerate(instrs)}
    table = [(e.start, e.end, e.target, e.depth, e.lasti)
             for e in dis.Bytecode(code).exception_entries]
    outcomes = _outcomes(instrs, index, code)
    by_source: dict[int, list[_Outcome]] = defaultdict(list)
    for o in outcomes:
        by_source[o.source].append(o)
    branch_srcs = {o.reported[0] for o in outcomes}

    leaders = {0}
    for ins in instrs:
        if ins.target is not None:
            leaders.add(ins.target)
            leaders.add(ins.stop)
        elif ins.opname in _TERMINATORS or ins.offset in branch_srcs or ins.offset in by_source:
            leaders.add(ins.stop)
    leaders.update(o.landing for o in outcomes)
    for start, stop, target, _, _ in table:
        leaders.update((start, stop, target))
    # never between an EXTENDED_ARG and the instruction it extends
    fixed = set()
    for off in leaders:
        k = index.get(off)
        if k is None:
            continue  # past the end (a range ending with the code)
        while k > 0 and instrs[k - 1].opname == "EXTENDED_ARG":
            k -= 1
        fixed.add(instrs[k].offset)
    handlers = {t for _, _, t, _, _ in table}

    blocks: list[Block] = []
    for ins in instrs:
        if ins.offset in fixed or not blocks:
            blocks.append(Block(len(blocks), [], entry=not blocks, handler=ins.offset in handlers))
        blocks[-1].instructions.append(ins)
    starts = [b.start for b in blocks]

    def block_of(offset: int) -> int:
        return bisect.bisect_right(starts, offset) - 1

    edges: list[Edge] = []
    for b in blocks:
        last = b.instructions[-1]
        nxt = b.id + 1 if b.id + 1 < len(blocks) else None
        if last.offset in by_source:
            for o in by_source[last.offset]:
                edges.append(Edge(b.id, block_of(o.landing), BRANCH, *o.reported, label=o.label,
                                  event=o.event, opname=o.opname, meaning=o.meaning,
                                  also_from=o.also_from))
        elif last.target is not None:  # a jump, or a conditional that raises no event
            event = "JUMP" if last.opname in versions.JUMP_EVENT_OPNAMES else None
            edges.append(Edge(b.id, block_of(last.target), JUMP, last.offset, last.target,
                              event=event, opname=last.opname))
            if last.opname not in _UNCONDITIONAL and nxt is not None:  # SEND
                edges.append(Edge(b.id, nxt, FALLTHROUGH, last.offset, blocks[nxt].start))
        elif last.opname not in _TERMINATORS and nxt is not None:
            edges.append(Edge(b.id, nxt, FALLTHROUGH, last.offset, blocks[nxt].start))
        b.exit = last.opname in _RETURNS or last.opname in _RAISES
    for start, stop, target, _, _ in table:
        h = block_of(target)
        for k in range(block_of(start), len(blocks)):
            if blocks[k].start >= stop:
                break
            edges.append(Edge(k, h, EXCEPTION, blocks[k].end, blocks[h].start))

    children = [_build(c) for c in code.co_consts if isinstance(c, CodeType)]
    return ControlFlowGraph(code, blocks, edges, children, table)


# -- overlay ----------------------------------------------------------------------------

_EXCEPTION_EVENTS = ("RAISE", "RERAISE", "PY_UNWIND", "PY_THROW")


def _matching_codes(graph: ControlFlowGraph, trace) -> set[int]:
    code = graph.code
    out = set()
    for cid, info in enumerate(trace.code_infos()):
        if info.code is not None:
            if info.code is code:
                out.add(cid)
        elif (info.qualname, info.filename, info.firstlineno) == (
                code.co_qualname, code.co_filename, code.co_firstlineno):
            out.add(cid)
    return out


def _overlay(graph: ControlFlowGraph, trace) -> Overlay:
    major_minor = tuple(int(p) for p in str(trace.python).split(".")[:2])
    if major_minor != versions.PY:
        raise MonvizError(
            f"this trace was recorded on Python {trace.python}, and bytecode offsets differ "
            f"between versions: overlay it on a graph built by Python {trace.python}, "
            f"not {versions.VERSION}")
    recorded = frozenset(trace.events)
    cids = _matching_codes(graph, trace)
    n_by_name: Counter = Counter()
    pairs: Counter = Counter()
    at: dict[str, Counter] = defaultdict(Counter)  # event -> offset (line for LINE) -> n
    if cids:
        _count_events(trace, cids, n_by_name, pairs, at)

    edge_counts = dict.fromkeys(graph.edges, 0)
    unmatched = []
    for (name, src, dst), n in pairs.items():
        e = graph.edge_for(src, dst, name)
        if e is None:
            unmatched.extend([(name, src, dst)] * n)
        else:
            edge_counts[e] += n
    entries = sum(n_by_name[k] for k in ("PY_START", "PY_RESUME", "PY_THROW"))
    solver = _Flow(graph, recorded, at, n_by_name, edge_counts, trace.truncated)
    return solver.solve(entries, unmatched)


def _count_events(trace, cids: set[int], n_by_name: Counter, pairs: Counter,
                  at: dict[str, Counter]) -> None:
    """Count the code objects' events from the trace's columns, with C-level passes only.

    ``n_by_name``: events per name; ``pairs``: (event, src, dst) of branch/jump events;
    ``at``: event -> offset (the line for LINE) -> count, for the other events.
    """
    from . import _stream

    d = trace._d
    names = trace.kind_names
    mine = bytes(map(cids.__contains__, trace.code_ids()))  # 1 on this graph's rows
    kinds = list(itertools.compress(d.kind, mine))
    offsets = list(itertools.compress(d.a, mine))
    for k, n in Counter(kinds).items():
        n_by_name[names[k]] = n
    jumps = _stream.Layout.of(tuple(names)).jumps
    for (k, a), n in Counter(zip(kinds, offsets)).items():
        if not jumps[k]:
            at[names[k]][a] = n
    jump_rows = trace._rows("jump_dest")
    flags = list(map(mine.__getitem__, jump_rows))
    dests = itertools.compress(d.jump_dest, flags)
    srcs = itertools.compress(map(d.a.__getitem__, jump_rows), flags)
    kinds_of_jumps = itertools.compress(map(d.kind.__getitem__, jump_rows), flags)
    for (k, src, dst), n in Counter(zip(kinds_of_jumps, srcs, dests)).items():
        pairs[names[k], src, dst] = n


def _first_traceable(graph: ControlFlowGraph) -> int:
    """Offset of the first instruction that can raise INSTRUCTION: the one after the
    RESUME that starts the function (oparg 0; 3.15's generator expressions have another
    RESUME before it). CPython raises no INSTRUCTION event for the prologue
    (``MAKE_CELL``, ``RETURN_GENERATOR``, ...) nor for any ``RESUME``."""
    resumes = [i for b in graph.blocks for i in b.instructions if i.opname == "RESUME"]
    start = next((i for i in resumes if i.arg == 0), resumes[0] if resumes else None)
    return start.stop if start is not None else 0


class _Flow:
    """Visits and event-less edge counts from the flow equations (module docstring)."""

    def __init__(self, graph, recorded, at, n_by_name, edge_counts, truncated):
        self.g = graph
        self.recorded = recorded
        self.at = at
        self.truncated = truncated
        self.edge_counts = edge_counts
        self.C: dict[Edge, int] = {}  # known edge counts
        self.Cx: set[Edge] = set()  # ... of which exact
        self.V: dict[int, int] = {}  # known visits
        self.Vx: set[int] = set()
        self.method: dict[int, str] = {}
        for e in graph.edges:
            if e.event is not None and e.event in recorded:
                self.C[e] = edge_counts[e]
                if not truncated:
                    self.Cx.add(e)
        # Inflow terms that are not edges: PY_START at the entry; exceptions entering
        # a handler (EXCEPTION_HANDLED at its first instruction) — as one group per handler.
        self.entry_in: dict[int, int | None] = {}
        starts_known = "PY_START" in recorded
        for b in graph.blocks:  # the frame starts at offset 0, whatever PY_START's offset
            n = sum(at["PY_START"].values()) if b.entry else 0
            self.entry_in[b.id] = n if (starts_known or not b.entry) else None
        self.handled_known = "EXCEPTION_HANDLED" in recorded
        self.handled = {b.id: sum(c for off, c in at["EXCEPTION_HANDLED"].items() if off in b)
                        for b in graph.blocks}
        # Outflow is exact when the code object raised nothing (RAISE recorded, none seen)
        self.clean = (not truncated and "RAISE" in recorded
                      and not any(n_by_name[k] for k in _EXCEPTION_EVENTS))
        self.resumes_known = "PY_RESUME" in recorded
        self.cannot_raise = {b.id: all(i.opname in _CANNOT_RAISE for i in b.instructions)
                             for b in graph.blocks}
        self.yields_ok = self._yields_resumed()

    def _yields_resumed(self) -> dict[int, bool]:
        """Per block: every yield in it was resumed as often as it yielded (provably)."""
        ok = {}
        known = "PY_YIELD" in self.recorded and self.resumes_known
        for b in self.g.blocks:
            good = True
            for ins in b.instructions:
                if ins.opname in _YIELDS:
                    resumed = self.at["PY_RESUME"][ins.stop] + self.at["PY_THROW"][ins.stop]
                    resumed += self.at["PY_THROW"][ins.offset]
                    good = good and known and self.at["PY_YIELD"][ins.offset] == resumed
            ok[b.id] = good
        return ok

    def _equation(self, block: int, fixed: int, terms: list[Edge], exact_base: bool,
                  method: str) -> bool:
        """Use ``visits(block) == fixed + sum(count(t) for t in terms)``: find the visits,
        or the one term not known, or make a known value exact. True if anything changed.

        ``exact_base``: the equation itself (and ``fixed``) holds exactly.
        """
        C, Cx, V, Vx = self.C, self.Cx, self.V, self.Vx
        unknown = [t for t in terms if t not in C]
        if block not in V:
            if unknown:
                return False
            V[block] = fixed + sum(C[t] for t in terms)
            self.method[block] = method
            if exact_base and all(t in Cx for t in terms):
                Vx.add(block)
            return True
        if len(unknown) > 1:
            return False
        exact = exact_base and block in Vx
        if unknown:
            t = unknown[0]
        else:  # all known: can one inexact value be made exact?
            inexact = [t for t in terms if t not in Cx]
            if exact and not inexact and block in Vx:
                return False
            if exact and len(inexact) == 1:
                t = inexact[0]
            elif exact_base and not inexact and block not in Vx:
                V[block] = fixed + sum(C[t] for t in terms)
                Vx.add(block)
                return True
            else:
                return False
        C[t] = max(V[block] - fixed - sum(C[u] for u in terms if u is not t), 0)
        if exact and all(u in Cx for u in terms if u is not t):
            Cx.add(t)
        return True

    def _seed_yield_edges(self) -> None:
        """A block that ends in a yield flows on when (and as often as) the frame resumes."""
        if not self.resumes_known:
            return
        for e in self.g.edges:
            if e.kind == FALLTHROUGH and self.g.blocks[e.src].instructions[-1].opname in _YIELDS:
                self.C[e] = self.at["PY_RESUME"][self.g.blocks[e.dst].start]
                if not self.truncated:
                    self.Cx.add(e)

    def _equations(self):
        """Every usable equation: (block, fixed part, edge terms, holds exactly)."""
        g, eqs = self.g, []
        for b in g.blocks:
            into = g.edges_to(b.id)
            exc_in = any(e.kind == EXCEPTION for e in into)
            entry = self.entry_in[b.id]
            if entry is not None and (not exc_in or self.handled_known):
                fixed = entry + (self.handled[b.id] if exc_in else 0)
                eqs.append((b.id, fixed, [e for e in into if e.kind != EXCEPTION],
                            not self.truncated))
            last = b.instructions[-1].opname
            if last in _RAISES or last in _YIELDS:
                continue  # a yield's fall-through counts resumptions (seeded from PY_RESUME)
            fixed = 0
            if last in _RETURNS:
                if "PY_RETURN" not in self.recorded:
                    continue
                fixed = self.at["PY_RETURN"][b.end]
            outs = [e for e in g.edges_from(b.id) if e.kind != EXCEPTION]
            exact = (not self.truncated and self.yields_ok[b.id]
                     and (self.clean or self.cannot_raise[b.id]))
            eqs.append((b.id, fixed, outs, exact))
        return eqs

    def _propagate(self, method: str) -> None:
        eqs = self._equations()
        changed = True
        while changed:
            changed = False
            for block, fixed, terms, exact in eqs:
                changed |= self._equation(block, fixed, terms, exact, method)
        if self.handled_known:  # an exception edge that is the only way into its handler
            for b in self.g.blocks:
                exc_in = [e for e in self.g.edges_to(b.id) if e.kind == EXCEPTION]
                if len(exc_in) == 1 and exc_in[0] not in self.Cx:
                    self.C[exc_in[0]] = self.handled[b.id]
                    if not self.truncated:
                        self.Cx.add(exc_in[0])

    def solve(self, entries: int, unmatched) -> Overlay:
        g = self.g
        if "INSTRUCTION" in self.recorded:
            visits_from = "INSTRUCTION"
            counts = self.at["INSTRUCTION"]
            first_traceable = _first_traceable(g)
            for b in g.blocks:
                traced = [counts[i.offset] for i in b.instructions
                          if i.offset >= first_traceable and i.opname != "RESUME"]
                if traced:  # a block of RESUMEs or prologue only is left to the flow
                    self.V[b.id] = max(traced)
                    self.method[b.id] = "INSTRUCTION"
                    if not self.truncated:
                        self.Vx.add(b.id)
        elif any(e in self.recorded for e in ("BRANCH", "BRANCH_LEFT", "BRANCH_RIGHT", "JUMP")):
            visits_from = "flow"
        elif "LINE" in self.recorded:
            visits_from = "LINE"
        elif "PY_START" in self.recorded:
            visits_from = "flow"
        else:
            visits_from = "none"
        self._seed_yield_edges()
        self._propagate("flow")
        if "LINE" in self.recorded and len(self.V) < len(g.blocks):
            owner: dict[int, set[int]] = defaultdict(set)
            for b in g.blocks:
                for ins in b.instructions:
                    if ins.line is not None:
                        owner[ins.line].add(b.id)
            seeded = False
            for b in g.blocks:
                if b.id in self.V:
                    continue
                own = next((line for line in b.lines if owner[line] == {b.id}), None)
                if own is not None:
                    self.V[b.id] = self.at["LINE"][own]
                    self.method[b.id] = "LINE"
                    seeded = True
            if seeded:
                self._propagate("LINE")
        visits = {}
        for b in g.blocks:
            if b.id in self.V:
                visits[b.id] = self.V[b.id]
            else:  # a lower bound: what is known to flow in
                visits[b.id] = (self.entry_in[b.id] or 0) + sum(
                    self.C.get(e, 0) for e in g.edges_to(b.id))
                self.method[b.id] = "unknown"
        counts = dict(self.edge_counts)
        for e, n in self.C.items():
            counts[e] = n
        return Overlay(g, counts, visits, entries, visits_from,
                       {b.id: self.method[b.id] for b in g.blocks}, frozenset(self.Vx),
                       frozenset(self.Cx), unmatched, self.recorded)
