"""monviz.cfg: basic blocks and typed edges from bytecode, and a trace laid over them.

Ground truth never comes from cfg.py itself: ``dis`` (instructions, jump targets,
the exception table, inline caches), ``code.co_branches()`` on 3.14+, what the
source says must have run, and above all the events CPython raises when the
corpus below runs: every BRANCH and JUMP must name exactly one edge, and every
step from one INSTRUCTION event to the next must stay in a block or follow an edge.
"""

from __future__ import annotations

import dis
import importlib.util
import json
import pathlib
import warnings
from collections import Counter
from types import CodeType

import pytest

import monviz
from monviz import versions
from monviz.cfg import BRANCH, EXCEPTION, FALLTHROUGH, JUMP, ControlFlowGraph, Overlay, cfg
from monviz.errors import InvalidTargetError, MonvizError


def _load_benchmark_corpus():
    path = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "cfg_corpus.py"
    spec = importlib.util.spec_from_file_location("cfg_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: One function per construct the issue names (shared with benchmarks/cfg.py).
CORPUS = _load_benchmark_corpus().CONSTRUCTS

FILENAME = "<monviz-cfg-corpus>"
with warnings.catch_warnings():  # 3.14+ warns about the return in a finally block
    warnings.simplefilter("ignore", SyntaxWarning)
    CORPUS_CODE = compile(CORPUS, FILENAME, "exec", dont_inherit=True)
NS: dict = {"__name__": "cfg_corpus"}
exec(CORPUS_CODE, NS)

#: What the issue asks every recording of the corpus to carry.
EVENTS = [*versions.BRANCH_EVENTS, "JUMP", "INSTRUCTION", "LINE", "PY_START", "PY_RESUME"]
#: The same without INSTRUCTION, and with what the flow equations can use.
FLOW_EVENTS = [*versions.BRANCH_EVENTS, "JUMP", "LINE", "PY_START", "PY_RESUME", "PY_YIELD",
               "PY_RETURN", "PY_THROW", "PY_UNWIND", "RAISE", "RERAISE", "EXCEPTION_HANDLED"]
JUMPISH = {"BRANCH", "BRANCH_LEFT", "BRANCH_RIGHT", "JUMP"}




def code_tree(code: CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from code_tree(const)


@pytest.fixture(scope="module")
def root() -> ControlFlowGraph:
    return cfg(CORPUS_CODE)


@pytest.fixture(scope="module")
def graphs(root) -> dict[int, ControlFlowGraph]:
    """Every graph of the corpus, by id of its code object."""
    return {id(g.code): g for g in root.walk()}


@pytest.fixture(scope="module")
def trace():
    return monviz.record(NS["drive"], events=EVENTS)


@pytest.fixture(scope="module")
def flow_trace():
    return monviz.record(NS["drive"], events=FLOW_EVENTS)


def graph_named(root, name: str) -> ControlFlowGraph:
    g = root.find(name)
    assert g is not None, f"no code object {name!r} in the corpus"
    return g


def first_offset_of_line(g: ControlFlowGraph, text: str) -> int:
    """Offset of the first instruction on the corpus line that contains ``text``
    (a text found once in the code object's lines)."""
    first = g.code.co_firstlineno
    lines = CORPUS.splitlines()
    found = [n for n in range(first, first + 200) if n <= len(lines) and text in lines[n - 1]]
    assert found, text
    line = found[0]
    offsets = [i.offset for b in g.blocks for i in b.instructions if i.line == line]
    assert offsets, f"no instruction on line {line} ({text!r})"
    return min(offsets)


def edges_into_line(g, text):
    block = g.block_at(first_offset_of_line(g, text))
    return [e for e in g.edges if e.dst == block.id and e.kind == BRANCH]


# -- the graph, from dis alone ----------------------------------------------------------


def test_every_instruction_is_in_exactly_one_block_and_blocks_are_in_offset_order(graphs):
    for g in graphs.values():
        dis_offsets = [i.offset for i in dis.get_instructions(g.code)]
        ours = [i.offset for b in g.blocks for i in b.instructions]
        assert ours == dis_offsets, g.qualname
        assert [b.id for b in g.blocks] == list(range(len(g.blocks)))
        for b, after in zip(g.blocks, g.blocks[1:]):
            assert b.stop == after.start
        assert g.blocks[-1].stop == len(g.code.co_code)
        assert [b.entry for b in g.blocks] == [True] + [False] * (len(g.blocks) - 1)


def test_every_jump_target_starts_a_block(graphs):
    checked = 0
    for g in graphs.values():
        starts = {b.start for b in g.blocks}
        for ins in dis.get_instructions(g.code):
            if (ins.opname in versions.JUMP_ARG_OPNAMES
                    and ins.opname not in versions.JUMP_ARG_IS_A_BACK_REFERENCE):
                assert ins.argval in starts, (g.qualname, ins.offset, ins.opname, ins.argval)
                checked += 1
    assert checked > 100


def test_blocks_end_after_every_jump_branch_return_and_raise(graphs):
    enders = (set(versions.JUMP_ARG_OPNAMES) - set(versions.JUMP_ARG_IS_A_BACK_REFERENCE)
              | {"RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE"})
    for g in graphs.values():
        sources = {e.src_offset for e in g.edges if e.kind == BRANCH}
        for b in g.blocks:
            for ins in b.instructions[:-1]:
                assert ins.opname not in enders, (g.qualname, ins.offset, ins.opname)
                assert ins.offset not in sources, (g.qualname, ins.offset, ins.opname)


def test_exception_edges_are_the_exception_table(graphs):
    checked = 0
    for g in graphs.values():
        expected = set()
        for entry in dis.Bytecode(g.code).exception_entries:
            handler = g.block_at(entry.target)
            assert handler.start == entry.target and handler.handler
            for b in g.blocks:  # a block is wholly inside a range or wholly outside it
                inside = entry.start <= b.start < entry.end
                assert inside == (entry.start < b.stop <= entry.end), (g.qualname, b.start)
                if inside:
                    expected.add((b.id, handler.id))
        got = {(e.src, e.dst) for e in g.edges if e.kind == EXCEPTION}
        assert got == expected, g.qualname
        checked += len(got)
    assert checked > 50


def test_each_branch_has_two_edges_labelled_as_its_events_report_them(graphs):
    labels = {"BRANCH_LEFT": "left", "BRANCH_RIGHT": "right"} if versions.HAS_BRANCH_LEFT_RIGHT \
        else None
    for g in graphs.values():
        by_branch: dict[int, list] = {}
        for e in g.edges:
            if e.kind == BRANCH:
                by_branch.setdefault(e.src_offset, []).append(e)
        for src, pair in by_branch.items():
            assert len(pair) == 2, (g.qualname, src)
            if labels:
                assert {e.event for e in pair} == {"BRANCH_LEFT", "BRANCH_RIGHT"}
                assert all(e.label == labels[e.event] for e in pair)
            else:
                assert {e.label for e in pair} == {"taken", "not taken"}
                assert {e.event for e in pair} == {"BRANCH"}
            assert pair[0].pair != pair[1].pair


@pytest.mark.skipif(not versions.HAS_CO_BRANCHES, reason="code.co_branches() is 3.14+")
def test_branch_edges_are_exactly_what_co_branches_lists(graphs):
    for g in graphs.values():
        got = set()
        for e in g.edges:
            if e.kind == BRANCH and e.event == "BRANCH_LEFT":
                right = next(r for r in g.edges if r.event == "BRANCH_RIGHT"
                             and r.src_offset == e.src_offset)
                got.add((e.src_offset, e.dst_offset, right.dst_offset))
        assert got == set(g.code.co_branches()), g.qualname


@pytest.mark.skipif(versions.HAS_CO_BRANCHES, reason="3.14+ takes co_branches() instead")
def test_a_branch_falls_through_past_its_inline_cache_and_a_loop_exits_past_its_cleanup(graphs):
    exit_past = {(3, 12): 2, (3, 13): 4}[versions.PY]  # END_FOR (3.12); END_FOR, POP_TOP (3.13)
    for g in graphs.values():
        for ins in dis.get_instructions(g.code):
            if ins.opname not in versions.BRANCH_OPNAMES:
                continue
            fall = ins.offset + 2 + 2 * versions.inline_cache_units(ins.opname)
            taken = ins.argval + exit_past if ins.opname == "FOR_ITER" else ins.argval
            assert g.edge_for(ins.offset, fall).label == "not taken"
            assert g.edge_for(ins.offset, taken).label == "taken"


def test_taken_is_not_true_each_branch_edge_says_what_it_means(root):
    g = graph_named(root, "if_elif_else")
    assert {e.meaning for e in edges_into_line(g, "sign = -1")} == {"true"}
    assert {e.meaning for e in edges_into_line(g, "sign = 1")} == {"false"}
    g = graph_named(root, "for_else")
    assert {e.meaning for e in edges_into_line(g, "found = 0")} == {"exhausted"}
    for e in graph_named(root, "while_else").edges:
        if e.kind == BRANCH:
            jumped = e.dst_offset != e.src_offset + 2 + 2 * versions.inline_cache_units(e.opname) \
                and e.label in ("taken", "right")
            want = {"POP_JUMP_IF_FALSE": ("false", "true"), "POP_JUMP_IF_TRUE": ("true", "false")}
            assert e.meaning == want[e.opname][0 if jumped else 1]


def test_a_jump_that_raises_no_event_is_a_jump_edge_without_one(graphs):
    silent = [e for g in graphs.values() for e in g.edges if e.opname in (
        "JUMP_BACKWARD_NO_INTERRUPT", "SEND")]
    assert silent, "the corpus has yield from and await"
    for e in silent:
        assert e.kind == JUMP and e.event is None
    events = {e.event for g in graphs.values() for e in g.edges if e.kind == JUMP}
    assert events == {"JUMP", None}


def test_nested_code_objects_are_reachable_from_their_parent(root):
    codes = list(code_tree(CORPUS_CODE))
    assert [g.code for g in root.walk()] == codes
    for name in ("lambdas_and_classes.<locals>.<lambda>", "lambdas_and_classes.<locals>.Local",
                 "lambdas_and_classes.<locals>.Local.method",
                 "comprehensions.<locals>.<genexpr>", "generator", "async_for_with",
                 "AIter.__anext__", "ACM.__aexit__"):
        g = graph_named(root, name)
        parent = next(p for p in root.walk() if g in p.children)
        assert any(c is g.code for c in parent.code.co_consts)


def test_block_at_maps_cache_entries_to_their_instruction(root):
    g = graph_named(root, "while_else")
    cached = [i for b in g.blocks for i in b.instructions if i.stop > i.offset + 2]
    assert cached
    for ins in cached:
        for off in range(ins.offset, ins.stop, 2):
            assert ins.offset in g.block_at(off)
            assert g.block_at(off) is g.block_at(ins.offset)
    assert g.block_at(-2) is None
    assert g.block_at(len(g.code.co_code)) is None


def test_edge_for_knows_only_pairs_that_events_report(root):
    g = graph_named(root, "try_except")
    kinds = Counter(e.kind for e in g.edges)
    assert kinds[FALLTHROUGH] and kinds[EXCEPTION] and kinds[BRANCH]
    for e in g.edges:
        found = g.edge_for(*e.pair)
        if e.event is not None:
            assert found is e
        else:  # fall-through and exception edges raise no event: nothing reports their pair
            assert found is None or found.event is not None
    assert g.edge_for(0, 0) is None


def test_cfg_takes_functions_code_objects_methods_and_generators():
    f = NS["if_elif_else"]
    assert cfg(f).code is f.__code__
    assert cfg(f.__code__).code is f.__code__
    assert cfg(NS["CM"](True).__exit__).code is NS["CM"].__exit__.__code__
    gen = NS["generator"](1)
    assert cfg(gen).code is gen.gi_code
    gen.close()
    assert monviz.cfg is cfg and monviz.ControlFlowGraph is ControlFlowGraph
    with pytest.raises(InvalidTargetError, match="cfg\\(\\) needs a code object"):
        cfg(42)


# -- the events CPython raises ----------------------------------------------------------


def test_every_branch_and_jump_event_maps_to_exactly_one_edge(trace, graphs):
    seen = Counter()
    for ev in trace:
        if ev.event not in JUMPISH:
            continue
        g = graphs[id(ev.code.code)]
        matches = [e for e in g.edges if e.event == ev.event and e.dst_offset == ev.target
                   and ev.offset in (e.src_offset, *e.also_from)]
        assert len(matches) == 1, (g.qualname, ev.event, ev.offset, ev.target, matches)
        assert g.edge_for(ev.offset, ev.target, ev.event) is matches[0]
        assert g.edge_for(ev.offset, ev.target) is matches[0]
        seen[ev.event] += 1
    assert set(seen) == {*versions.BRANCH_EVENTS, "JUMP"} and sum(seen.values()) > 400


def test_overlay_edge_counts_are_the_event_counts(trace, graphs):
    per_code: dict[int, Counter] = {}
    for ev in trace:
        if ev.event in JUMPISH:
            per_code.setdefault(id(ev.code.code), Counter())[ev.event, ev.offset, ev.target] += 1
    assert len(per_code) > 15
    for cid, events in per_code.items():
        g = graphs[cid]
        o = g.overlay(trace)
        assert o.unmatched == []
        for e in g.edges:
            if e.event is not None:
                want = sum(n for (name, src, dst), n in events.items()
                           if name == e.event and dst == e.dst_offset
                           and src in (e.src_offset, *e.also_from))
                assert o.edge_counts[e] == want, (g.qualname, e)
                assert e in o.exact_edges
        assert sum(o.edge_counts[e] for e in g.edges if e.event) == sum(events.values())
        outcomes = o.branch_outcomes()
        assert sum(map(sum, (d.values() for d in outcomes.values()))) == sum(
            n for (name, _, _), n in events.items() if name != "JUMP")


def test_a_branch_never_taken_has_count_zero(root, trace):
    g = graph_named(root, "rarely")
    o = g.overlay(trace)
    (never,) = edges_into_line(g, 'return "never"')
    assert o.edge_counts[never] == 0 and never in o.never_taken()
    (always,) = [e for e in g.edges if e.kind == BRANCH and e is not never]
    assert o.edge_counts[always] == 1 and always not in o.never_taken()
    assert o.block_visits[g.block_at(first_offset_of_line(g, 'return "never"')).id] == 0
    assert o.block_visits[g.block_at(first_offset_of_line(g, 'return "always"')).id] == 1


@pytest.mark.skipif(not versions.BRANCH_REPORTERS, reason="NOT_TAKEN and POP_ITER are 3.14+")
def test_on_3_14_and_later_instruction_events_move_a_branch_events_source(trace, graphs):
    moved = Counter()
    for ev in trace:
        if ev.event in JUMPISH:
            g = graphs[id(ev.code.code)]
            e = g.edge_for(ev.offset, ev.target, ev.event)
            if ev.offset != e.src_offset:
                ins = next(i for b in g.blocks for i in b.instructions if i.offset == ev.offset)
                moved[ev.event, ins.opname] += 1
    assert set(moved) == {("BRANCH_LEFT", "NOT_TAKEN"), ("BRANCH_RIGHT", "POP_ITER")}


def _steps(trace, graphs):
    """(graph, from offset, to offset) for consecutive INSTRUCTION events of one frame."""
    last: dict = {}
    for ev in trace:
        key = (id(ev.code.code), ev.depth)
        if key[0] not in graphs:
            continue
        if ev.event in ("PY_START", "PY_RESUME", "PY_THROW"):
            last[key] = None  # a frame (re)starts: no step from what ran before
        elif ev.event == "INSTRUCTION":
            if last.get(key) is not None:
                yield graphs[key[0]], last[key], ev.offset
            last[key] = ev.offset


def _bad_steps(trace, graphs):
    crossings, bad = 0, []
    for g, p, q in _steps(trace, graphs):
        a, b = g.block_at(p), g.block_at(q)
        if a is b and q > p:
            continue  # straight on through a block
        crossings += 1
        kinds = {e.kind for e in g.edges_from(a.id) if e.dst == b.id}
        if not (q == b.start and (EXCEPTION in kinds or (kinds and p == a.end))):
            bad.append((g.qualname, p, q, kinds))
    return crossings, bad


def test_every_step_from_one_instruction_to_the_next_follows_a_block_or_an_edge(graphs):
    trace = monviz.record(NS["drive"], events=[*EVENTS, "PY_THROW"])
    crossings, bad = _bad_steps(trace, graphs)
    assert bad == []
    assert crossings > 500


# -- visits ------------------------------------------------------------------------------

# How often each line must start running in drive(): from the source alone.
LINE_RUNS = {
    "if_elif_else": {"sign = -1": 1, "sign = 0": 1, "sign = 1": 1},
    "while_else": {"total += n": 5, "break": 1, "total = -total": 1},
    "for_else": {"continue": 2, "found = x": 1, "found = 0": 1},
    "rarely": {'return "never"': 0, 'return "always"': 1},
}


@pytest.mark.parametrize("events, method", [(EVENTS, "INSTRUCTION"), (FLOW_EVENTS, "flow")])
def test_block_visits_count_how_often_each_block_began(root, events, method):
    trace = monviz.record(NS["drive"], events=events)
    for name, runs in LINE_RUNS.items():
        g = graph_named(root, name)
        o = g.overlay(trace)
        assert o.visits_from == method
        for text, n in runs.items():
            block = g.block_at(first_offset_of_line(g, text))
            assert (o.block_visits[block.id], block.id in o.exact_visits) == (n, True), \
                (name, text, o.visit_method[block.id])


def test_instruction_events_make_every_visit_exact(trace, graphs):
    for g in graphs.values():
        o = g.overlay(trace)
        assert o.visits_from == "INSTRUCTION"
        if g.qualname != "<module>":
            assert o.exact_visits == {b.id for b in g.blocks}, g.qualname


def test_visits_the_flow_calls_exact_are_the_instruction_counts(flow_trace, graphs):
    trace = monviz.record(NS["drive"], events=[*FLOW_EVENTS, "INSTRUCTION"])
    exact = estimated = 0
    for g in graphs.values():
        truth, flow = g.overlay(trace), g.overlay(flow_trace)
        assert flow.visits_from == "flow" and set(flow.visit_method.values()) <= {
            "flow", "LINE", "unknown"}
        for b in g.blocks:
            if b.id in flow.exact_visits:
                assert flow.block_visits[b.id] == truth.block_visits[b.id], (g.qualname, b.start)
                exact += 1
            else:
                estimated += 1
        for e in flow.exact_edges & truth.exact_edges:
            assert flow.edge_counts[e] == truth.edge_counts[e], (g.qualname, e)
    assert exact > 4 * estimated


def test_instruction_visits_agree_with_the_branch_and_jump_counts_flowing_in(trace, graphs):
    """Two independent event streams: a block entered only through edges that raise
    events ran as often as those events say."""
    checked = 0
    for g in graphs.values():
        o = g.overlay(trace)
        for b in g.blocks:
            into = g.edges_to(b.id)
            if b.entry or not into or any(e.event is None for e in into):
                continue
            if o.visit_method[b.id] == "INSTRUCTION":
                assert o.block_visits[b.id] == sum(o.edge_counts[e] for e in into), \
                    (g.qualname, b.start)
                checked += 1
    assert checked > 100


def test_line_events_alone_give_estimates_for_blocks_that_own_their_first_line(root):
    trace = monviz.record(NS["drive"], events=["LINE"])
    g = graph_named(root, "if_elif_else")
    o = g.overlay(trace)
    assert o.visits_from == "LINE"
    block = g.block_at(first_offset_of_line(g, "sign = 0"))
    assert o.visit_method[block.id] == "LINE" and block.id not in o.exact_visits
    assert o.block_visits[block.id] == 1
    assert not any(e.event for e in o.exact_edges)  # no BRANCH or JUMP was recorded


def test_a_trace_loaded_from_json_is_matched_by_name_and_gives_the_same_counts(root, trace):
    loaded = monviz.Trace.from_json(trace.to_json())
    g = graph_named(root, "while_else")
    live, again = g.overlay(trace), g.overlay(loaded)
    assert again.edge_counts == live.edge_counts
    assert again.block_visits == live.block_visits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        other = cfg(compile(CORPUS, "<another-file>", "exec", dont_inherit=True)).find("while_else")
    assert other.overlay(loaded).entries == 0 and not any(other.overlay(trace).edge_counts.values())


def test_a_trace_from_another_python_version_is_refused(root, trace):
    doc = json.loads(trace.to_json())
    doc["python"] = "3.11.9"
    with pytest.raises(MonvizError, match=r"recorded on Python 3\.11\.9"):
        graph_named(root, "while_else").overlay(monviz.Trace.from_json(json.dumps(doc)))


def test_overlay_of_a_code_object_the_trace_never_saw_is_all_zero(trace):
    g = cfg(lambda: 1)
    o = g.overlay(trace)
    assert isinstance(o, Overlay) and o.entries == 0
    assert set(o.block_visits.values()) == {0} and set(o.edge_counts.values()) <= {0}


# -- a big function ----------------------------------------------------------------------


def test_a_300_line_function_has_a_graph_whose_counts_match_every_step():
    """(How long it takes is benchmarks/cfg.py's business: target 0.5 s.)"""
    corpus = _load_benchmark_corpus()
    source = corpus.generated_function(300)
    assert source.count("\n") == 300
    f = corpus.compile_generated(300)
    assert any(i.opname == "EXTENDED_ARG" for i in dis.get_instructions(f))
    trace = monviz.record(lambda: f(20), events=[*EVENTS, "PY_THROW"])
    g = cfg(f)
    o = g.overlay(trace)
    assert o.unmatched == [] and sum(o.edge_counts.values()) > 1000
    crossings, bad = _bad_steps(trace, {id(f.__code__): g})
    assert bad == [] and crossings > 1000
