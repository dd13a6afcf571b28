"""
The questionnaire's logic checks, once every question is built: C{ask_if} and C{goto}
references (L{check_logic}), then per block unreachable questions and loops nobody can
leave (L{check_graph}, over the strongly connected parts found by L{sccs}).

test-case-name: tests.surveys.test_loader
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from yaml.nodes import Node

from dialer.surveys.model import Block, Question
from dialer.surveys.nodes import Reader

__all__ = ["QuestionDraft", "check_graph", "check_logic", "sccs"]


@dataclass
class QuestionDraft:
    """A built question with the nodes its references came from (for their line numbers)."""

    question: Question
    node: Node
    path: str
    ask_if_nodes: dict[str, Node]
    goto_nodes: dict[str, Node]  # "" = the question's goto, else an option key


def check_logic(r: Reader, drafts: list[tuple[Block, list[QuestionDraft], Node]]) -> None:
    """C{ask_if} and C{goto} references of every block, then L{check_graph} per block."""
    order: dict[str, tuple[int, int]] = {}
    owner: dict[str, Block] = {}
    for b, (block, block_drafts, _) in enumerate(drafts):
        for q, d in enumerate(block_drafts):
            order[d.question.id] = (b, q)
            owner[d.question.id] = block
    for b, (block, block_drafts, _) in enumerate(drafts):
        ids = [d.question.id for d in block_drafts]
        always_skipped: set[int] = set()
        for q, d in enumerate(block_drafts):
            question = d.question
            for cond in question.ask_if:
                ref_node = d.ask_if_nodes.get(cond.question, d.node)
                where = f"{d.path}.ask_if.{cond.question}"
                if cond.question not in order:
                    r.error(ref_node, where, f"no question {cond.question!r}")
                    always_skipped.add(q)
                    continue
                ref = next(
                    x.question for _, ds, _ in drafts for x in ds if x.question.id == cond.question
                )
                ref_block = owner[cond.question]
                if order[cond.question] >= (b, q):
                    r.error(
                        ref_node,
                        where,
                        f"{cond.question!r} is not asked before "
                        f"{question.id!r}, so this question is never asked (unreachable)",
                    )
                    always_skipped.add(q)
                elif ref_block.units and ref_block is not block:
                    r.error(
                        ref_node,
                        where,
                        f"{cond.question!r} is asked per unit in block "
                        f"{ref_block.id!r}: refer to it only from that block",
                    )
                if ref.kind == "record":
                    r.error(
                        ref_node,
                        where,
                        f"{cond.question!r} records a comment and has no codes to test",
                    )
                    always_skipped.add(q)
                elif ref.kind == "choice":
                    valid = {o.code for o in ref.options}
                    bad = [c for c in cond.codes if c not in valid]
                    if bad:
                        r.error(
                            ref_node,
                            where,
                            f"code(s) {bad} are not options of {cond.question!r} ({sorted(valid)})",
                        )
                    if not set(cond.codes) & valid:
                        always_skipped.add(q)
            for key, g_node in d.goto_nodes.items():
                option = question.option_by_key(key) if key else None
                if key and option is None:
                    continue  # that option was dropped with an error already reported
                target = option.goto if option is not None else question.goto
                where = f"{d.path}.goto" if key == "" else f"{d.path}.options[key {key}].goto"
                if target not in ids:
                    other = (
                        f" (it is in block {owner[target].id!r}; goto stays in its block)"
                        if target in owner
                        else ""
                    )
                    r.error(g_node, where, f"no question {target!r} in this block{other}")
        if any(p.severity == "error" for p in r.problems):
            continue
        check_graph(r, block_drafts, always_skipped)


def check_graph(r: Reader, drafts: list[QuestionDraft], always_skipped: set[int]) -> None:
    """Unreachable questions and loops nobody can leave, in one block.

    Nodes are the block's questions; "ends the call" (-1) and "past the last question"
    (n) are exits. Reachability follows every way on (answers, retries used up, a
    failed C{ask_if}); loops are judged on answers alone: a loop that only retries
    running out can leave is a loop without exit for a caller who answers.
    """
    n = len(drafts)
    ids = {d.question.id: i for i, d in enumerate(drafts)}

    def default_next(i: int) -> int:
        goto = drafts[i].question.goto
        return ids[goto] if goto is not None else i + 1

    answer_edges: dict[int, set[int]] = {}
    all_edges: dict[int, set[int]] = {}
    for i, d in enumerate(drafts):
        q = d.question
        ans: set[int] = set()
        if q.kind == "choice":
            for o in q.options:
                if o.end is not None:
                    ans.add(-1)  # ends the call
                elif o.goto is not None:
                    ans.add(ids[o.goto])
                else:
                    ans.add(default_next(i))
        else:
            ans.add(default_next(i))
        edges = set(ans)
        if q.on_fail == "end":
            edges.add(-1)
        else:
            edges.add(default_next(i))
        if q.ask_if:
            edges.add(i + 1)  # skipped when the condition fails
        if i in always_skipped:
            ans, edges = {i + 1}, {i + 1}
        answer_edges[i] = ans
        all_edges[i] = edges
    # reachability from the first question, arriving means "asked" unless always skipped
    seen = {0}
    todo = [0]
    while todo:
        i = todo.pop()
        if i < 0 or i >= n:
            continue
        for j in all_edges[i]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    for i, d in enumerate(drafts):
        if i in always_skipped:
            continue
        if i not in seen:
            r.error(
                d.node,
                f"{d.path}",
                f"question {d.question.id!r} is unreachable: no answer or skip leads to it",
            )
    # loops: strongly connected parts of the answer graph with no way out
    for component in sccs(range(n), answer_edges):
        cyclic = len(component) > 1 or any(i in answer_edges[i] for i in component)
        if not cyclic or not component & seen:
            continue
        leaves = any(j not in component for i in component for j in answer_edges[i])
        first = drafts[min(component)]
        names = ", ".join(drafts[i].question.id for i in sorted(component))
        if not leaves:
            r.error(
                first.node,
                first.path,
                f"loop without exit: every answer to {names} leads back into the loop",
            )
        else:
            r.warn(
                first.node,
                first.path,
                f"goto loop through {names}: a caller may go round it (cut off after max_visits)",
            )


def sccs(nodes: range, edges: Mapping[int, set[int]]) -> list[set[int]]:
    """Tarjan's strongly connected components (iterative) over nodes; edges may leave nodes."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    out: list[set[int]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[int, Iterator[int]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, iter(sorted(edges.get(root, ())))))
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in nodes:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                component = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.add(w)
                    if w == v:
                        break
                out.append(component)
    return out
