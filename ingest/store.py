"""The committed index: files, chunks, vectors and BM25, saved as atomic generations.

Layout of the index folder::

    CURRENT            name of the live generation, replaced atomically
    gen-000007/        files.json (files, collections), chunks.jsonl, vectors.faiss, bm25/
    gen-000006/        the previous generation, kept for readers still loading it

A commit writes a complete new generation into a temporary folder, fsyncs it, renames it
into place and only then switches ``CURRENT``. A crash at any moment leaves ``CURRENT``
naming a complete generation.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ingest.keyword_index import KeywordIndex, index_terms
from ingest.records import Chunk
from ingest.vector_index import VectorIndex
from rag.settings import Settings

FORMAT_VERSION = 2
CHUNKER_VERSION = 3
"""Raised whenever chunking changes what a chunk holds, so that existing indexes are rebuilt."""


def pipeline_signature(settings: Settings) -> str:
    """What decides the chunks of a file besides its bytes: an index built otherwise is rebuilt."""
    return f"chunker-{CHUNKER_VERSION}:{settings.chunk_words}:{settings.chunk_overlap}"


@dataclass
class FileRecord:
    """What the index knows about one source file."""

    source: str
    sha256: str
    size: int
    pages: int
    chunk_ids: list[int]
    indexed_at: float = field(default_factory=time.time)


@dataclass
class Collection:
    """In-memory state of the index; mutate, then :func:`commit`."""

    embed_model: str
    dim: int
    pipeline: str = ""
    files: dict[str, FileRecord] = field(default_factory=dict)
    chunks: dict[int, Chunk] = field(default_factory=dict)
    vectors: VectorIndex | None = None
    keywords: KeywordIndex | None = None
    next_id: int = 0
    generation: int = 0
    tokens: dict[int, list[str]] = field(default_factory=dict, repr=False)
    """BM25 tokens per chunk id, kept in memory so a rebuild after a change re-tokenizes only new chunks."""
    memberships: dict[str, set[str]] = field(default_factory=dict)
    """The user's collections: name -> sources. Kept when a file is replaced, dropped when it is removed; a source
    not indexed (yet: a rebuild re-adds files one by one) is ignored by :meth:`collections`."""

    def __post_init__(self) -> None:
        if self.vectors is None:
            self.vectors = VectorIndex(self.dim)

    def add_file(self, record: FileRecord, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Insert (or replace, keeping its collections) a file with its chunks and their vectors."""
        self._drop(record.source)
        ids = np.arange(self.next_id, self.next_id + len(chunks), dtype=np.int64)
        self.next_id += len(chunks)
        self.vectors.append(ids, vectors)
        self.chunks.update(zip(ids.tolist(), chunks, strict=True))
        record.chunk_ids = ids.tolist()
        self.files[record.source] = record
        self.keywords = None

    def remove_file(self, source: str) -> bool:
        """Drop a file, its chunks and its collection memberships; False if it was not indexed."""
        if not self._drop(source):
            return False
        for name in [n for n, members in self.memberships.items() if source in members]:
            self.memberships[name].discard(source)
            if not self.memberships[name]:
                del self.memberships[name]
        return True

    def _drop(self, source: str) -> bool:
        """Drop a file and its chunks (not its collections); False if it was not indexed."""
        record = self.files.pop(source, None)
        if record is None:
            return False
        self.vectors.delete(record.chunk_ids)
        for chunk_id in record.chunk_ids:
            self.chunks.pop(chunk_id, None)
            self.tokens.pop(chunk_id, None)
        self.keywords = None
        return True

    def collections(self) -> dict[str, list[str]]:
        """Collection names with their indexed sources, both sorted; no empty collection."""
        found = {name: sorted(s for s in members if s in self.files) for name, members in self.memberships.items()}
        return {name: found[name] for name in sorted(found) if found[name]}

    def add_to_collection(self, name: str, sources: list[str]) -> int:
        """Put indexed files into a collection; how many were not in it yet (ValueError for a file not indexed)."""
        missing = [s for s in sources if s not in self.files]
        if missing:
            raise ValueError(f"not indexed: {', '.join(missing)}")
        members = self.memberships.setdefault(name, set())
        added = len(set(sources) - members)
        members.update(sources)
        return added

    def remove_from_collection(self, name: str, sources: list[str] | None) -> int:
        """Take files (all when None) out of a collection; how many were in it."""
        members = self.memberships.get(name, set())
        taken = set(members) if sources is None else members & set(sources)
        members -= taken
        if not members:
            self.memberships.pop(name, None)
        return len(taken & set(self.files))

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index over the current chunks (rebuilt only after a change)."""
        if self.keywords is None:
            ids = sorted(self.chunks)
            for chunk_id in ids:
                if chunk_id not in self.tokens:
                    self.tokens[chunk_id] = index_terms(self.chunks[chunk_id].indexed_text())
            self.keywords = KeywordIndex(ids, tokens=[self.tokens[i] for i in ids])
        return self.keywords


def current_generation(index_dir: Path) -> Path | None:
    """Folder of the live generation, or None when nothing was committed."""
    try:
        name = (index_dir / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    path = index_dir / name
    return path if name and path.is_dir() else None


def load(index_dir: Path) -> Collection | None:
    """Load the live generation (None when the folder holds no index)."""
    for _attempt in range(3):
        folder = current_generation(index_dir)
        if folder is None:
            return None
        try:
            return _load_generation(folder)
        except FileNotFoundError:
            time.sleep(0.05)  # a writer swapped generations while we read: read the new one
    folder = current_generation(index_dir)
    return _load_generation(folder) if folder else None


def _load_generation(folder: Path) -> Collection:
    meta = json.loads((folder / "files.json").read_text(encoding="utf-8"))
    collection = Collection(
        embed_model=meta["embed_model"],
        dim=meta["dim"],
        pipeline=meta.get("pipeline", ""),
        files={s: FileRecord(**r) for s, r in meta["files"].items()},
        next_id=meta["next_id"],
        generation=meta["generation"],
        memberships={name: set(sources) for name, sources in meta.get("collections", {}).items()},
        vectors=VectorIndex.load(folder / "vectors.faiss"),
    )
    with (folder / "chunks.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            chunk_id = row.pop("id")
            collection.chunks[chunk_id] = Chunk(**row)
    collection.keywords = KeywordIndex.load(folder / "bm25")
    _check_consistent(collection)
    return collection


def _check_consistent(collection: Collection) -> None:
    expected = sum(len(r.chunk_ids) for r in collection.files.values())
    if not (expected == len(collection.chunks) == len(collection.vectors) == len(collection.keywords)):
        raise ValueError(
            f"inconsistent index: {expected} chunk ids, {len(collection.chunks)} chunks, "
            f"{len(collection.vectors)} vectors, {len(collection.keywords)} keyword rows"
        )


def commit(collection: Collection, index_dir: Path) -> Path:
    """Write ``collection`` as the next generation and make it live, atomically."""
    index_dir.mkdir(parents=True, exist_ok=True)
    live = current_generation(index_dir)
    number = max(collection.generation, _generation_number(live)) + 1
    final = index_dir / f"gen-{number:06d}"
    staging = index_dir / f".staging-{number:06d}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)  # leftover of a crashed commit; CURRENT never named it
    staging.mkdir()

    collection.generation = number
    meta = {
        "format": FORMAT_VERSION,
        "generation": number,
        "embed_model": collection.embed_model,
        "dim": collection.dim,
        "pipeline": collection.pipeline,
        "next_id": collection.next_id,
        "files": {s: asdict(r) for s, r in collection.files.items()},
        "collections": {name: sorted(members) for name, members in sorted(collection.memberships.items())},
    }
    (staging / "files.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    with (staging / "chunks.jsonl").open("w", encoding="utf-8") as handle:
        for chunk_id in sorted(collection.chunks):
            row = {"id": chunk_id, **collection.chunks[chunk_id].to_dict()}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    collection.vectors.save(staging / "vectors.faiss")
    collection.keyword_index().save(staging / "bm25")
    _fsync_tree(staging)
    os.replace(staging, final)
    _atomic_write(index_dir / "CURRENT", final.name)
    _prune(index_dir, keep={final.name, live.name if live else ""})
    return final


def _generation_number(folder: Path | None) -> int:
    return int(folder.name.split("-")[1]) if folder else 0


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        else:
            _fsync_dir(path)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(index_dir: Path, keep: set[str]) -> None:
    """Remove old generations and staging leftovers of dead writers."""
    for path in index_dir.iterdir():
        if path.is_dir() and path.name.startswith(("gen-", ".staging-")) and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
