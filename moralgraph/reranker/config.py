"""Every knob of the values reranker, in one frozen dataclass.

`RerankerConfig.version` names the scorer in outputs: the release string plus a short hash of the
settings that change scores, so rows scored under different settings never look alike.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

# Settings that change throughput but not the scores (up to float noise).
_RUNTIME_FIELDS = frozenset({"device", "batch_size"})


@dataclass(frozen=True)
class RerankerConfig:
    # Values: how many of each context's top-ranked values a candidate is scored against.
    top_k_values: int = 3
    # Retrieval: contexts kept per prompt, and the cosine below which the reranker abstains.
    context_top_n: int = 1
    abstain_below: float = 0.25
    # A conversation is embedded as w * last user turn + (1 - w) * the recent transcript.
    last_turn_weight: float = 0.7
    # A context is embedded as its name plus this weight times its top values' card texts.
    context_value_weight: float = 0.3
    # Chunking: sentences (long ones cut into windows) or plain token windows.
    chunking: Literal["sentences", "windows"] = "sentences"
    max_chunk_tokens: int = 64
    min_chunk_tokens: int = 6
    window_stride: int = 48
    max_candidate_tokens: int = 2048
    # Pooling over a candidate's chunks: log-mean-exp at this temperature (0 is the plain max).
    chunk_temperature: float = 0.1
    # Pooling over a value's policies: "mean", or "softmax" at policy_temperature.
    policy_pooling: Literal["mean", "softmax"] = "mean"
    policy_temperature: float = 0.1
    # A policy is embedded as policy + this weight times its ALL-CAPS anchor words.
    anchor_emphasis: float = 0.5
    # Subtract this weight times a candidate's mean score over every policy in the bundle.
    hubness: float = 1.0
    # Subtract lambda times the mean score of the values the context's winner supersedes.
    contrastive_lambda: float = 0.5
    # A chunk holding more than `echo_overlap` of a policy's word pairs is discounted,
    # fully (times 1 - echo_penalty) once it repeats all of them.
    echo_overlap: float = 0.5
    echo_penalty: float = 1.0
    device: str = "cpu"
    batch_size: int | None = None  # None: 64 on CPU, 4096 on CUDA (also capped by tokens)
    scorer_version: str = "mg-values-reranker/1"

    def __post_init__(self) -> None:
        if self.chunking not in ("sentences", "windows"):
            raise ValueError(f"chunking must be 'sentences' or 'windows', not {self.chunking!r}")
        if self.policy_pooling not in ("mean", "softmax"):
            raise ValueError(f"policy_pooling must be 'mean' or 'softmax': {self.policy_pooling!r}")
        if not 0 < self.min_chunk_tokens <= self.max_chunk_tokens <= 254:
            raise ValueError("need 0 < min_chunk_tokens <= max_chunk_tokens <= 254")
        if not 0 < self.window_stride <= self.max_chunk_tokens:
            raise ValueError("need 0 < window_stride <= max_chunk_tokens")
        if self.top_k_values < 1 or self.context_top_n < 1:
            raise ValueError("top_k_values and context_top_n must be at least 1")

    @property
    def version(self) -> str:
        """`scorer_version` plus a hash of every setting that moves a score."""
        settings = {k: v for k, v in self.as_dict().items() if k not in _RUNTIME_FIELDS}
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        return f"{self.scorer_version}+{digest[:8]}"

    @property
    def effective_batch_size(self) -> int:
        if self.batch_size:
            return self.batch_size
        return 4096 if self.device.startswith("cuda") else 64

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "RerankerConfig":
        return dataclasses.replace(self, **changes)
