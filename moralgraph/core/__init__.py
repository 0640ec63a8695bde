"""Pure aggregation of wisdom votes into a moral graph: no Django, no SDKs.

Votes in (:class:`Vote` records or columnar :class:`VoteArrays`), plain data out.
Randomness comes from ``Config.seed`` or an injected ``numpy.random.Generator``;
nothing here reads the clock.
"""

from .bridging import Bridging, edge_bridging, winner_bridging
from .edges import GLOBAL, EdgeTable, entropy_bits, pair_contexts, summarize_edges, wiser_likelihood
from .graph import build_graph, build_graphs, contested_sets, contested_sets_nx, rankings
from .position import ValuePosition, value_position
from .rank import (
    BTFit,
    BTIntervals,
    Scores,
    bradley_terry,
    bt_bootstrap,
    bt_predict,
    pagerank_mai,
    pagerank_networkx,
    rank_edges,
)
from .raters import (
    FLAG_REASONS,
    FLAGS,
    FlagThresholds,
    RaterArrival,
    TimedColumns,
    TimedVote,
    flag_raters,
    raters_with,
    without_raters,
)
from .reliability import GateThresholds, ReliabilityReport, reliability_report
from .report import aggregate, dumps
from .store import GLOBAL_SECTION, section_key, split_result
from .types import ANSWERS, Config, Vote, VoteArrays

__all__ = [
    "FLAGS",
    "FLAG_REASONS",
    "FlagThresholds",
    "RaterArrival",
    "TimedColumns",
    "TimedVote",
    "flag_raters",
    "raters_with",
    "without_raters",
    "ANSWERS",
    "GLOBAL",
    "GLOBAL_SECTION",
    "BTFit",
    "BTIntervals",
    "Bridging",
    "Config",
    "EdgeTable",
    "GateThresholds",
    "ReliabilityReport",
    "Scores",
    "ValuePosition",
    "Vote",
    "VoteArrays",
    "aggregate",
    "bradley_terry",
    "bt_bootstrap",
    "bt_predict",
    "build_graph",
    "build_graphs",
    "contested_sets",
    "contested_sets_nx",
    "dumps",
    "edge_bridging",
    "entropy_bits",
    "pagerank_mai",
    "pagerank_networkx",
    "pair_contexts",
    "rank_edges",
    "rankings",
    "reliability_report",
    "section_key",
    "split_result",
    "summarize_edges",
    "value_position",
    "winner_bridging",
    "wiser_likelihood",
]
