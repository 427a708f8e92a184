"""A small ANN interface over FAISS: exact inner product on unit vectors (= cosine), keyed by chunk id."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

# One question is one query row: FAISS's OpenMP threads only add start-up and spin-wait to it, which on a busy
# 2-core machine made a flat search over 2,000 vectors take 17 ms instead of 0.3 ms (bench/store_backends.py).
faiss.omp_set_num_threads(1)


class VectorIndex:
    """Vectors keyed by int64 ids: append, delete, search, save, load."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given ids."""
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected {len(ids)} vectors of dimension {self.dim}, got {vectors.shape}")
        self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def delete(self, ids: list[int] | np.ndarray) -> int:
        """Remove the given ids; returns how many were removed."""
        if len(ids) == 0:
            return 0
        return int(self.index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) for each query row; missing slots have id -1.

        ``allowed`` restricts the search to those ids inside FAISS (an ``IDSelectorBatch``), so the k
        results are the best of the allowed vectors, not what is left of a global top-k.
        """
        query = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        k = max(1, min(k, len(self))) if len(self) else 1
        if not len(self):
            return np.zeros((len(query), 0), np.float32), np.zeros((len(query), 0), np.int64)
        if allowed is None:
            return self.index.search(query, k)
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        return self.index.search(query, k, params=faiss.SearchParameters(sel=selector))

    def save(self, path: Path) -> None:
        """Write the index to ``path`` (the caller makes the write atomic)."""
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read an index written by :meth:`save`."""
        index = faiss.read_index(str(path))
        loaded = cls(index.d)
        loaded.index = index
        return loaded
