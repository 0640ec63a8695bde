"""NetworkX views of the edge summary, contested sets and per-context rankings.

A *contested set* is a strongly connected component with more than one value in
a graph of kept edges: every value in it is judged wiser than some other value in
it, so the votes name no single winner inside the set.  :func:`contested_sets`
finds them for every context at once with SciPy; :func:`contested_sets_nx` does
the same on one NetworkX graph (the two agree; a test checks it).
"""

from __future__ import annotations

from collections.abc import Hashable

import networkx as nx
import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from .edges import COUNT_FIELDS, GLOBAL, EdgeTable
from .rank import Scores
from .types import VoteArrays


def build_graph(
    table: EdgeTable,
    votes: VoteArrays,
    *,
    context: int = GLOBAL,
    scores: Scores | None = None,
    kept_only: bool = True,
) -> nx.DiGraph:
    """DiGraph of one context's pairs (``GLOBAL`` for the pooled table), labelled by value id.

    Edge attributes: the five counts, ``raters``, ``likelihood``, ``entropy``,
    ``kept``.  Node attributes, when ``scores`` are given: ``score`` and
    ``algorithm``.  With ``kept_only`` (default) only kept edges are added.
    """
    graph = nx.DiGraph(context=None if context == GLOBAL else votes.contexts[context])
    rows = np.flatnonzero((table.context == context) & (table.kept | (not kept_only)))
    for i in rows.tolist():
        attrs = {name: int(getattr(table, name)[i]) for name in (*COUNT_FIELDS, "raters")}
        attrs.update(
            likelihood=float(table.likelihood[i]),
            entropy=float(table.entropy[i]),
            kept=bool(table.kept[i]),
        )
        graph.add_edge(votes.values[table.src[i]], votes.values[table.dst[i]], **attrs)
    if scores is not None:
        mine = np.flatnonzero(scores.context == context)
        for i in mine.tolist():
            label = votes.values[scores.value[i]]
            graph.add_node(label, score=float(scores.score[i]), algorithm=scores.algorithm)
    return graph


def build_graphs(
    context_table: EdgeTable,
    global_table: EdgeTable,
    votes: VoteArrays,
    *,
    context_scores: Scores | None = None,
    global_scores: Scores | None = None,
) -> dict[str | None, nx.DiGraph]:
    """One kept-edge graph per context (keyed by context label) and the global one (``None``)."""
    graphs: dict[str | None, nx.DiGraph] = {
        None: build_graph(global_table, votes, scores=global_scores)
    }
    for code, label in enumerate(votes.contexts):
        graphs[label] = build_graph(context_table, votes, context=code, scores=context_scores)
    return graphs


def contested_sets(table: EdgeTable) -> dict[int, list[list[int]]]:
    """Strongly connected components (> 1 value) of the kept edges, per context code.

    Each set is a sorted list of value codes; sets are sorted by their first member.
    """
    kept = table.select(table.kept)
    nv = np.int64(max(int(kept.src.max(initial=0)), int(kept.dst.max(initial=0))) + 1)
    keys = np.concatenate([(kept.context + 1) * nv + kept.src, (kept.context + 1) * nv + kept.dst])
    nodes, inv = np.unique(keys, return_inverse=True)
    inv, m = inv.reshape(-1), len(kept)
    adjacency = coo_array((np.ones(m), (inv[:m], inv[m:])), shape=(len(nodes), len(nodes)))
    _, label = connected_components(adjacency, directed=True, connection="strong")
    size = np.bincount(label, minlength=len(nodes))
    big = np.flatnonzero(size[label] > 1)
    node_context, node_value = np.divmod(nodes[big], nv)
    order = np.lexsort((node_value, label[big]))
    bounds = np.flatnonzero(np.diff(label[big][order])) + 1
    result: dict[int, list[list[int]]] = {}
    for members in np.split(order, bounds) if len(order) else []:
        ctx = int(node_context[members[0]]) - 1
        result.setdefault(ctx, []).append(node_value[members].tolist())
    return {ctx: sorted(sets) for ctx, sets in sorted(result.items())}


def contested_sets_nx(graph: nx.DiGraph) -> list[list[Hashable]]:
    """Strongly connected components of more than one node, each sorted, sorted by first node."""
    sets = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    return sorted(sets)


def rankings(scores: Scores, votes: VoteArrays) -> dict[str | None, list[tuple[object, float]]]:
    """``(value id, score)`` best first, per context label (``None`` for the global graph)."""
    result: dict[str | None, list[tuple[object, float]]] = {}
    for i in range(len(scores)):
        ctx = int(scores.context[i])
        key = None if ctx == GLOBAL else votes.contexts[ctx]
        result.setdefault(key, []).append((votes.values[scores.value[i]], float(scores.score[i])))
    return result
