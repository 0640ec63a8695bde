"""The export bundle: pure writers from plain records and the aggregation result to files.

No Django here: :mod:`moralgraph.exporting` reads the database and calls these.
"""

from .bundle import (
    GRAPH_FILES,
    SCHEMA_VERSION,
    BundleInputs,
    ContextInput,
    QuestionInput,
    StudyInfo,
    ValueInput,
    VoteInput,
    build_bundle,
    rater_hash,
    write_bundle,
)
from .comparison import BuildRef, ComparisonInput
from .manifest import graph_version

__all__ = [
    "GRAPH_FILES",
    "SCHEMA_VERSION",
    "BuildRef",
    "BundleInputs",
    "ComparisonInput",
    "ContextInput",
    "QuestionInput",
    "StudyInfo",
    "ValueInput",
    "VoteInput",
    "build_bundle",
    "graph_version",
    "rater_hash",
    "write_bundle",
]
