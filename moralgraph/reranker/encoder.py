"""Token-level access to the bundled all-MiniLM-L6-v2: the reranker's CPU and CUDA encoder.

`ChunkEncoder.encode_ids` runs the same computation as the SentenceTransformer pipeline of
`embedding.py` (BERT, mean pooling over the attention mask, L2 normalisation) on token ids that
were cut from responses tokenized once. Sequences are deduplicated, sorted by length and batched,
so padding is small, then put back in their original order. A batch holds at most `batch_size`
rows and `max_batch_tokens` padded tokens, so a GPU batch of short chunks can be large while one of
long chunks stays within memory.

* CPU: float32, ``torch.inference_mode``; the vectors match `embedding.embed_texts` to ~1e-6.
* CUDA: the transformer runs under ``torch.autocast(bfloat16)``, batches are copied from pinned
  memory without blocking, pooling is in float32 and results come back to the host once.
  ``bf16=True`` runs the same autocast on CPU, so the GPU's numerics can be checked anywhere.

torch is imported lazily: the rest of the reranker imports without it.
"""

from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from . import embedding

MAX_SEQUENCE = 256  # the model's max_seq_length, special tokens included


class ChunkEncoder:
    def __init__(
        self,
        device: str = "cpu",
        batch_size: int = 64,
        cache_size: int = 0,
        max_batch_tokens: int = 262_144,
        bf16: bool | None = None,
    ) -> None:
        model = embedding.load_encoder(device)
        transformer = model[0]
        self.device = device
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        # bfloat16 autocast: the default on CUDA; on CPU only when asked (tests run the GPU's
        # numerics there, since no GPU is at hand on every machine).
        self.bf16 = self.cuda if bf16 is None else bf16
        self.tokenizer = model.tokenizer
        self.model = getattr(transformer, "auto_model", None) or transformer.model
        self.max_tokens = min(model.max_seq_length or MAX_SEQUENCE, MAX_SEQUENCE) - 2
        self.cls_id = int(self.tokenizer.cls_token_id)
        self.sep_id = int(self.tokenizer.sep_token_id)
        self.pad_id = int(self.tokenizer.pad_token_id or 0)
        self.cache_size = cache_size  # vectors kept for repeated sequences; 0 keeps none
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    def device_name(self) -> str:
        if not self.cuda:
            return "cpu"
        import torch

        return torch.cuda.get_device_name(self.device)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens, cut to what the model reads."""
        if not texts:
            return []
        encoded = self.tokenizer(
            list(texts),
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            truncation=True,
            max_length=self.max_tokens,
        )
        return [list(ids) for ids in encoded["input_ids"]]

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """One normalised float32 row per text, like `embedding.embed_texts`."""
        return self.encode_ids(self.tokenize(texts))

    def encode_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """One normalised float32 row per token sequence (special tokens are added here)."""
        if not sequences:
            return np.zeros((0, embedding.DIMENSION), dtype=np.float32)
        unique: dict[tuple[int, ...], int] = {}
        rows = [unique.setdefault(tuple(seq[: self.max_tokens]), len(unique)) for seq in sequences]
        distinct = list(unique)
        vectors = np.empty((len(distinct), embedding.DIMENSION), dtype=np.float32)
        missing = []
        for i, seq in enumerate(distinct):
            if seq in self._cache:
                vectors[i] = self._cache[seq]
            else:
                missing.append(i)
        if missing:
            vectors[missing] = self._encode_sorted([distinct[i] for i in missing])
            self._remember(distinct, missing, vectors)
        return vectors[rows]

    def _encode_sorted(self, sequences: list[tuple[int, ...]]) -> np.ndarray:
        """Length-sorted batches (longest first, so memory peaks early), original order back."""
        order = sorted(range(len(sequences)), key=lambda i: (-len(sequences[i]), i))
        pooled = [
            self._forward([sequences[i] for i in batch])
            for batch in self._batches(order, sequences)
        ]
        vectors = np.empty((len(sequences), embedding.DIMENSION), dtype=np.float32)
        vectors[order] = self._to_numpy(pooled)
        return vectors

    def _batches(self, order: list[int], sequences: list[tuple[int, ...]]) -> list[list[int]]:
        """At most `batch_size` rows and `max_batch_tokens` padded tokens (rows x longest)."""
        batches: list[list[int]] = []
        for i in order:
            if batches:
                batch = batches[-1]
                width = len(sequences[batch[0]]) + 2  # the longest: lengths are sorted
                if (
                    len(batch) < self.batch_size
                    and (len(batch) + 1) * width <= self.max_batch_tokens
                ):
                    batch.append(i)
                    continue
            batches.append([i])
        return batches

    def _remember(self, distinct: list, missing: list[int], vectors: np.ndarray) -> None:
        for i in missing[: self.cache_size]:
            if len(self._cache) >= self.cache_size:
                self._cache.pop(next(iter(self._cache)))  # oldest first
            self._cache[distinct[i]] = vectors[i].copy()

    def _forward(self, batch: list[tuple[int, ...]]) -> Any:
        """Mean-pooled, normalised vectors of one length-sorted batch (a torch tensor)."""
        import torch

        ids, mask = self._pad(batch)
        if self.cuda:
            ids = ids.pin_memory().to(self.device, non_blocking=True)
            mask = mask.pin_memory().to(self.device, non_blocking=True)
        with torch.inference_mode(), self._precision():
            hidden = self.model(
                input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
            ).last_hidden_state.float()
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            means = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(means, p=2, dim=1)

    def _pad(self, batch: list[tuple[int, ...]]) -> tuple[Any, Any]:
        """[CLS] ids [SEP] rows, right-padded, and their attention mask (vectorised)."""
        import torch

        lengths = np.fromiter((len(seq) + 2 for seq in batch), dtype=np.int64, count=len(batch))
        flat = np.fromiter(
            chain.from_iterable((self.cls_id, *seq, self.sep_id) for seq in batch),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        mask = np.arange(lengths.max())[None, :] < lengths[:, None]
        ids = np.full(mask.shape, self.pad_id, dtype=np.int64)
        ids[mask] = flat  # row-major order matches the concatenation
        return torch.from_numpy(ids), torch.from_numpy(mask.astype(np.int64))

    def _precision(self) -> Any:
        import contextlib

        import torch

        if self.bf16:
            return torch.autocast(device_type="cuda" if self.cuda else "cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _to_numpy(self, pooled: list[Any]) -> np.ndarray:
        import torch

        return torch.cat(pooled).float().cpu().numpy()  # one device-to-host copy on CUDA
