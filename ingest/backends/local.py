"""The local store: FAISS + BM25 segments on disk (:mod:`ingest.store`), one writer at a time (file lock)."""

from __future__ import annotations

import threading
from collections.abc import Collection as Sources
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from filelock import FileLock

from ingest import store
from ingest.backends.base import StoredFile, collection_name
from ingest.records import Chunk
from ingest.store import Collection, FileRecord


def _stored_files(collection: Collection) -> dict[str, StoredFile]:
    """Every file of a generation with its collections."""
    groups: dict[str, list[str]] = {}
    for name, sources in collection.collections().items():
        for source in sources:
            groups.setdefault(source, []).append(name)
    return {s: _stored(r, collection, groups.get(s, [])) for s, r in collection.files.items()}


def _stored(record: FileRecord, collection: Collection, groups: list[str]) -> StoredFile:
    first = collection.chunks.get(record.chunk_ids[0]) if record.chunk_ids else None
    return StoredFile(
        record.source,
        record.sha256,
        record.size,
        record.pages,
        len(record.chunk_ids),
        record.indexed_at,
        first.title if first else "",
        groups,
    )


class LocalReader:
    """Searches one loaded generation."""

    def __init__(self, collection: Collection | None) -> None:
        self.collection = collection

    def count(self) -> int:
        """Number of chunks."""
        return len(self.collection.chunks) if self.collection else 0

    def files(self) -> dict[str, StoredFile]:
        """Indexed files by source path."""
        return _stored_files(self.collection) if self.collection else {}

    def collections(self) -> dict[str, list[str]]:
        """Collection names with the sources of their files."""
        return self.collection.collections() if self.collection else {}

    def _allowed(self, sources: Sources[str] | None) -> np.ndarray | None:
        if sources is None:
            return None
        files = self.collection.files
        return np.asarray([i for s in sources if s in files for i in files[s].chunk_ids], dtype=np.int64)

    def dense_search(self, vector: np.ndarray, k: int, sources: Sources[str] | None = None) -> list[tuple[int, float]]:
        """Exact inner product (cosine on unit vectors) in FAISS, restricted inside FAISS to ``sources``."""
        allowed = self._allowed(sources)
        if not self.count() or (allowed is not None and not len(allowed)):
            return []
        scores, ids = self.collection.vectors.search(vector, k, allowed)
        return [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def keyword_search(self, text: str, k: int, sources: Sources[str] | None = None) -> list[tuple[int, float]]:
        """BM25 over Snowball stems, scores of chunks outside ``sources`` masked to zero."""
        allowed = self._allowed(sources)
        if not self.count() or (allowed is not None and not len(allowed)):
            return []
        return self.collection.keyword_index().search(text, k, allowed)

    def chunks(self, ids: Iterable[int]) -> Mapping[int, Chunk]:
        """Every chunk of the generation (already in memory; the mapping holds more than ``ids``)."""
        return self.collection.chunks if self.collection else {}

    def cosine(self, vector: np.ndarray, ids: Iterable[int]) -> dict[int, float]:
        """Inner product with the stored vectors."""
        index = self.collection.vectors.index
        return {int(i): float(np.dot(index.reconstruct(int(i)), vector)) for i in ids}

    def file_chunks(self, source: str) -> list[tuple[int, Chunk]]:
        """The file's chunks in reading order."""
        record = self.collection.files.get(source) if self.collection else None
        return [(i, self.collection.chunks[i]) for i in record.chunk_ids] if record else []


class LocalWriter:
    """Changes a private copy of the live files table; :meth:`commit` writes the changes as the next generation."""

    def __init__(self, collection: Collection, index_dir: Path) -> None:
        self.collection = collection
        self.index_dir = index_dir

    def files(self) -> dict[str, StoredFile]:
        """Indexed files, this run's changes included."""
        return _stored_files(self.collection)

    def add_file(self, file: StoredFile, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Insert or replace a file (visible at the next commit)."""
        record = FileRecord(file.source, file.sha256, file.size, file.pages, chunk_ids=[], indexed_at=file.indexed_at)
        self.collection.add_file(record, chunks, vectors)

    def remove_file(self, source: str) -> bool:
        """Drop a file (visible at the next commit)."""
        return self.collection.remove_file(source)

    def add_to_collection(self, name: str, sources: Iterable[str]) -> int:
        """Put indexed files into a collection (visible at the next commit)."""
        return self.collection.add_to_collection(collection_name(name), list(sources))

    def remove_from_collection(self, name: str, sources: Iterable[str] | None = None) -> int:
        """Take files out of a collection (visible at the next commit)."""
        return self.collection.remove_from_collection(collection_name(name), None if sources is None else list(sources))

    def commit(self) -> None:
        """Write the next generation and switch ``CURRENT`` to it."""
        store.commit(self.collection, self.index_dir)


class LocalStore:
    """FAISS + BM25 in a folder; readers reload when a writer has switched ``CURRENT``."""

    name = "local"

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self._collection: Collection | None = None
        self._generation: Path | None = None
        self._lock = threading.Lock()

    @property
    def collection(self) -> Collection | None:
        """The live generation, loaded again when the index changed on disk."""
        with self._lock:
            live = store.current_generation(self.index_dir)
            if live != self._generation:
                self._collection = store.load(self.index_dir)
                self._generation = live
            return self._collection

    @contextmanager
    def read(self) -> Iterator[LocalReader]:
        """The live generation (a loaded generation never changes, so it is its own snapshot)."""
        yield LocalReader(self.collection)

    def writer_lock(self) -> FileLock:
        """The lock every writer of this folder holds."""
        self.index_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.index_dir / "write.lock"))

    @contextmanager
    def write(self, embed_model: str | None = None, dim: int = 0, pipeline: str = "") -> Iterator[LocalWriter]:
        """Hold the writer lock and change a fresh copy of the live generation (never the readers' one).

        A rebuild (another model or pipeline) starts empty but keeps the collections for the files indexed again.
        """
        with self.writer_lock():
            collection = store.load(self.index_dir, contents=False)  # files table only: a commit writes what changed
            if embed_model is None:
                collection = collection or Collection(embed_model="", dim=dim)
            elif collection is None or collection.embed_model != embed_model or collection.pipeline != pipeline:
                kept = collection.memberships if collection else {}
                collection = Collection(embed_model=embed_model, dim=dim, pipeline=pipeline, memberships=kept)
            yield LocalWriter(collection, self.index_dir)

    def files(self) -> list[StoredFile]:
        """The indexed files, sorted by source."""
        with self.read() as reader:
            return sorted(reader.files().values(), key=lambda f: f.source)

    def close(self) -> None:
        """Forget the loaded generation."""
        self._collection, self._generation = None, None
