"""The one interface the indexer, the retriever, the CLI and the app use to reach the index.

A store holds files, their chunks and one vector per chunk. Readers take a consistent view of the
last committed state (:meth:`IndexStore.read`); one writer run (:meth:`IndexStore.write`) adds,
replaces and removes whole files. Two backends implement it: ``local`` (FAISS + bm25s generations on
disk, :mod:`ingest.backends.local`) and ``postgres`` (pgvector + full-text search,
:mod:`ingest.backends.postgres`).

Files can belong to named *collections* (a course, a project; a file can be in several). Membership is kept by
source path: replacing a file keeps its collections, removing it drops them, and a rebuild for another model or
chunking keeps them for the files indexed again.

Chunk ids are integers, consecutive within one file in reading order, so ``id - 1`` and ``id + 1``
are a chunk's neighbours when they belong to the same file (small-to-big widening reads them).
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from ingest.records import Chunk


@dataclass
class StoredFile:
    """What the index knows about one source file."""

    source: str
    sha256: str
    size: int
    pages: int
    chunks: int = 0
    indexed_at: float = field(default_factory=time.time)
    title: str = ""
    collections: list[str] = field(default_factory=list)
    """Names of the collections the file belongs to, sorted."""

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


COLLECTION_NAME_MAX = 100


def collection_name(name: str) -> str:
    """``name`` stripped, or ValueError when it cannot name a collection (empty, too long, a comma or control
    character: commas separate names on the command line)."""
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise ValueError("a collection needs a name")
    if len(cleaned) > COLLECTION_NAME_MAX:
        raise ValueError(f"collection names are at most {COLLECTION_NAME_MAX} characters")
    if "," in cleaned or any(unicodedata.category(c).startswith("C") for c in cleaned):
        raise ValueError(f"a collection name cannot hold commas or control characters: {cleaned!r}")
    return cleaned


class IndexReader(Protocol):
    """One consistent state of the index (a snapshot: a concurrent commit is not seen halfway)."""

    def count(self) -> int:
        """Number of chunks."""
        ...

    def files(self) -> dict[str, StoredFile]:
        """Indexed files by source path."""
        ...

    def collections(self) -> dict[str, list[str]]:
        """Collection names (sorted) with the sources of their indexed files (sorted); no empty collection."""
        ...

    def dense_search(
        self, vector: np.ndarray, k: int, sources: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, cosine) for a unit query vector, best first, among ``sources`` when given."""
        ...

    def keyword_search(self, text: str, k: int, sources: Collection[str] | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, keyword score > 0) for a question, best first, among ``sources`` when given."""
        ...

    def chunks(self, ids: Iterable[int]) -> Mapping[int, Chunk]:
        """The chunks with these ids (ids that do not exist are absent; the mapping may hold more)."""
        ...

    def cosine(self, vector: np.ndarray, ids: Iterable[int]) -> dict[int, float]:
        """Exact cosine between a unit query vector and the given chunks."""
        ...

    def file_chunks(self, source: str) -> list[tuple[int, Chunk]]:
        """The (id, chunk) pairs of one file in reading order (empty when it is not indexed)."""
        ...


class IndexWriter(Protocol):
    """One writing run; changes become visible to readers at :meth:`commit` (or earlier, per file)."""

    def files(self) -> dict[str, StoredFile]:
        """Indexed files by source path, as this writer sees them (its own changes included)."""
        ...

    def add_file(self, file: StoredFile, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Insert a file with its chunks and their unit vectors, replacing any earlier version, as one change."""
        ...

    def remove_file(self, source: str) -> bool:
        """Drop a file, its chunks and its collection memberships; False when it was not indexed."""
        ...

    def add_to_collection(self, name: str, sources: Iterable[str]) -> int:
        """Put indexed files into collection ``name`` (created by its first file); how many were not in it yet.

        ValueError, and nothing changed, when a source is not indexed or the name is not valid.
        """
        ...

    def remove_from_collection(self, name: str, sources: Iterable[str] | None = None) -> int:
        """Take files (all of them when ``sources`` is None) out of collection ``name``; how many were in it."""
        ...

    def commit(self) -> None:
        """Make every change so far visible to readers, atomically."""
        ...


class IndexStore(Protocol):
    """An index backend."""

    name: str

    def read(self) -> AbstractContextManager[IndexReader]:
        """A snapshot of the last committed state, for the duration of the ``with`` block."""
        ...

    def write(
        self, embed_model: str | None = None, dim: int = 0, pipeline: str = ""
    ) -> AbstractContextManager[IndexWriter]:
        """A writing run for vectors of ``embed_model`` (``dim`` wide) and chunks made by ``pipeline``.

        An index built by another model or pipeline is emptied first (everything is re-indexed). Without
        ``embed_model`` the index is taken as it is (removing files needs no model).
        """
        ...

    def files(self) -> list[StoredFile]:
        """The indexed files, sorted by source."""
        ...

    def close(self) -> None:
        """Release connections and memory."""
        ...
