"""The values reranker: a pure library (no Django); torch is optional and imported lazily.

    from moralgraph.reranker import RerankerConfig, load_bundle, rerank
    result = rerank(prompt, candidates, load_bundle("bundle/"), RerankerConfig())

See `api` for the steps, `scoring` for the maths, and ``python -m moralgraph.reranker`` for the
loopback HTTP scorer.
"""

from .api import Reranker, RerankResult, get_reranker, rerank
from .bundle import Bundle, BundleError, load_bundle
from .config import RerankerConfig
from .retrieval import RerankInputError

__all__ = [
    "Bundle",
    "BundleError",
    "RerankInputError",
    "RerankResult",
    "Reranker",
    "RerankerConfig",
    "get_reranker",
    "load_bundle",
    "rerank",
]
