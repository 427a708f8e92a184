"""The committed index: files, chunks, vectors and BM25 term counts, in segments named by atomic manifests.

Layout of the index folder::

    CURRENT            name of the live generation, replaced atomically
    gen-000009/        manifest.json (files, collections, segments; + the segment this commit wrote, if it added chunks)
    gen-000008/        the previous generation, kept for readers still loading it
    gen-000003/        an older generation whose segment the live manifest still names

A *segment* holds the chunks a commit added: ``segment.jsonl`` (one chunk a line), ``terms.npz`` (each
chunk's BM25 term counts, :mod:`ingest.term_table`) and ``vectors.faiss``; it is written once and never
changed. A *manifest* (``manifest.json``) holds the files table (each file's chunk ids) and the list of live
segments. A chunk stored in a live segment but no longer named by the files table (its file was replaced or
removed) is a tombstone: it is skipped at load and dropped when its segment is merged. So a commit writes only
what changed (a small segment) plus the manifest, and costs what changed, not the whole index (Lucene's
segments; the files table plays the part of the deletions file).

Merging keeps the number of segments small: segments are grouped in size tiers (the number of digits of
their live rows) and ``MERGE_FACTOR`` segments of one tier are merged into one; when tombstones exceed
``COMPACT_DEAD_SHARE`` of the stored rows everything is rewritten into one segment. Both happen inside an
ordinary commit (the merged segment is that commit's segment), so they are as crash-safe as any commit.

A commit writes its generation into a temporary folder, fsyncs it, renames it into place and only then
switches ``CURRENT``. A crash at any moment leaves ``CURRENT`` naming a complete manifest whose segments
all exist: a folder is removed only when neither the new nor the previous manifest names it.

A reader loads every live segment and builds the in-memory FAISS index from their vectors; the BM25 index
(corpus-wide statistics) is built in memory from the stored term counts on the first keyword search. A
writer reads only the files table and the segments' ids (``load(contents=False)``). An index in the previous
format (``FORMAT_VERSION`` 2: one complete generation with files.json, chunks.jsonl, vectors.faiss, bm25/)
still loads, and the next commit rewrites it as one segment.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from ingest.keyword_index import KeywordIndex, index_terms
from ingest.records import Chunk
from ingest.term_table import TermTable, Vocabulary
from ingest.vector_index import VectorIndex
from rag.settings import Settings

FORMAT_VERSION = 3
LEGACY_FORMAT = 2
CHUNKER_VERSION = 11
"""Raised whenever chunking changes what a chunk holds, or its keyword terms change, so that existing indexes are
rebuilt."""

MERGE_FACTOR = 10
"""Segments of one size tier that are merged into one."""
COMPACT_DEAD_SHARE = 0.3
"""Share of tombstoned rows in the live segments above which a commit rewrites everything into one segment."""

MANIFEST = "manifest.json"
SEGMENT_CHUNKS = "segment.jsonl"
SEGMENT_VECTORS = "vectors.faiss"
SEGMENT_TERMS = "terms.npz"


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
class Segment:
    """One live segment: the generation folder that holds it and how many rows it stores (dead ones included)."""

    name: str
    rows: int


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
    """BM25 terms of the chunks stored in no segment yet (those of stored chunks are in ``segment_terms``)."""
    segments: list[Segment] = field(default_factory=list, repr=False)
    """The live segments on disk this state was loaded from or last committed to."""
    segment_ids: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    """The chunk ids stored in each live segment (tombstones included)."""
    segment_terms: dict[str, TermTable] = field(default_factory=dict, repr=False)
    """The BM25 term counts of every row of each loaded segment (all of them, unless loaded for writing only)."""
    vocab: Vocabulary = field(default_factory=Vocabulary, repr=False)
    """The numbering of the terms in ``segment_terms``."""
    pending: set[int] = field(default_factory=set, repr=False)
    """Chunk ids added since the last commit, stored in no segment yet."""
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
        self.pending.update(ids.tolist())
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
            self.pending.discard(chunk_id)
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

    def terms(self, chunk_id: int) -> list[str]:
        """The BM25 terms of one chunk (computed once)."""
        found = self.tokens.get(chunk_id)
        if found is None:
            found = self.tokens[chunk_id] = index_terms(self.chunks[chunk_id].indexed_text())
        return found

    def term_table(self, ids: set[int]) -> TermTable:
        """The term counts of the chunks ``ids``: stored ones from their segment, new ones counted now."""
        wanted = np.fromiter(ids, dtype=np.int64, count=len(ids))
        parts = [table.select(np.isin(table.ids, wanted)) for table in self.segment_terms.values()]
        loose = sorted(ids - {i for part in parts for i in part.ids.tolist()})
        parts.append(TermTable.from_tokens(loose, [self.terms(i) for i in loose], self.vocab))
        return TermTable.concat(parts)

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index over the current chunks (rebuilt in bulk only after a change)."""
        if self.keywords is None:
            self.keywords = KeywordIndex.from_table(self.term_table(set(self.chunks)), self.vocab)
        return self.keywords


def current_generation(index_dir: Path) -> Path | None:
    """Folder of the live generation, or None when nothing was committed."""
    try:
        name = (index_dir / "CURRENT").read_text().strip()
    except FileNotFoundError:
        return None
    path = index_dir / name
    return path if name and path.is_dir() else None


def load(index_dir: Path, contents: bool = True) -> Collection | None:
    """Load the live generation (None when the folder holds no index).

    Without ``contents`` only the files table and the ids of each segment are read: enough to add, replace and
    remove files and commit (a writer); a commit that merges segments reads those it merges.
    """
    for _attempt in range(3):
        folder = current_generation(index_dir)
        if folder is None:
            return None
        try:
            return _load_generation(folder, contents)
        except FileNotFoundError:
            time.sleep(0.05)  # a writer swapped generations while we read: read the new one
    folder = current_generation(index_dir)
    return _load_generation(folder, contents) if folder else None


def _load_generation(folder: Path, contents: bool = True) -> Collection:
    if not (folder / MANIFEST).exists():
        return _load_legacy(folder)
    meta = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    if meta.get("format", 0) > FORMAT_VERSION:
        raise ValueError(f"index format {meta['format']} is newer than this program ({FORMAT_VERSION})")
    collection = Collection(
        embed_model=meta["embed_model"],
        dim=meta["dim"],
        pipeline=meta.get("pipeline", ""),
        files={s: _decode_file(s, r) for s, r in meta["files"].items()},
        next_id=meta["next_id"],
        generation=meta["generation"],
        segments=[Segment(**s) for s in meta["segments"]],
        memberships={name: set(sources) for name, sources in meta.get("collections", {}).items()},
    )
    if not contents:
        for segment in collection.segments:
            with np.load(folder.parent / segment.name / SEGMENT_TERMS, allow_pickle=False) as data:
                collection.segment_ids[segment.name] = data["ids"]
        return collection
    live = _live_ids(collection)
    for segment in collection.segments:
        _load_segment(collection, folder.parent / segment.name, segment, live)
    _check_consistent(collection)
    return collection


def _live_ids(collection: Collection) -> np.ndarray:
    """Every chunk id the files table names."""
    return np.fromiter((i for r in collection.files.values() for i in r.chunk_ids), dtype=np.int64)


def _load_segment(collection: Collection, folder: Path, segment: Segment, live: np.ndarray) -> None:
    """Add the live rows of one segment to ``collection``."""
    stored = VectorIndex.load(folder / SEGMENT_VECTORS).index
    ids = faiss.vector_to_array(stored.id_map).astype(np.int64)
    terms = TermTable.load(folder / SEGMENT_TERMS, collection.vocab)
    if not len(ids) == len(terms) == segment.rows:
        raise ValueError(f"segment {segment.name}: {len(ids)} vectors, {len(terms)} term rows, not {segment.rows}")
    collection.segment_terms[segment.name] = terms
    collection.segment_ids[segment.name] = terms.ids
    keep = np.isin(ids, live)
    if keep.any():
        collection.vectors.append(ids[keep], stored.index.reconstruct_n(0, stored.ntotal)[keep])
    wanted = set(ids[keep].tolist())
    with (folder / SEGMENT_CHUNKS).open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            chunk_id = row.pop("id")
            if chunk_id in wanted:
                collection.chunks[chunk_id] = Chunk(**row)


def _decode_file(source: str, row: dict) -> FileRecord:
    if "chunk_range" in row:
        first, stop = row.pop("chunk_range")
        row["chunk_ids"] = list(range(first, stop))
    return FileRecord(source=source, **row)


def _encode_file(record: FileRecord) -> dict:
    """A files-table row; consecutive chunk ids (the usual case) are stored as a range."""
    ids = record.chunk_ids
    row = {"sha256": record.sha256, "size": record.size, "pages": record.pages, "indexed_at": record.indexed_at}
    if ids and ids == list(range(ids[0], ids[0] + len(ids))):
        row["chunk_range"] = [ids[0], ids[0] + len(ids)]
    else:
        row["chunk_ids"] = ids
    return row


def _load_legacy(folder: Path) -> Collection:
    """A generation of format 2 (one complete copy of the index); the next commit rewrites it as a segment."""
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
    collection.pending = set(collection.chunks)
    _check_consistent(collection)
    return collection


def _check_consistent(collection: Collection) -> None:
    expected = sum(len(r.chunk_ids) for r in collection.files.values())
    keyword_rows = len(collection.keywords) if collection.keywords is not None else len(collection.pending)
    if collection.keywords is None:
        live = np.fromiter(collection.chunks, dtype=np.int64, count=len(collection.chunks))
        keyword_rows += sum(int(np.isin(t.ids, live).sum()) for t in collection.segment_terms.values())
    if not (expected == len(collection.chunks) == len(collection.vectors) == keyword_rows):
        raise ValueError(
            f"inconsistent index: {expected} chunk ids, {len(collection.chunks)} chunks, "
            f"{len(collection.vectors)} vectors, {keyword_rows} keyword rows"
        )


def _tier(rows: int) -> int:
    return len(str(max(rows, 1)))


def plan_merge(collection: Collection) -> tuple[list[Segment], set[str]]:
    """The live segments kept as they are, and the names of those whose live rows go into this commit's segment."""
    live = _live_ids(collection)
    live_rows = {s.name: int(np.isin(collection.segment_ids[s.name], live).sum()) for s in collection.segments}
    segments = [s for s in collection.segments if live_rows[s.name]]  # fully dead segments are simply dropped
    stored = sum(s.rows for s in segments)
    if stored and 1 - sum(live_rows[s.name] for s in segments) / stored > COMPACT_DEAD_SHARE:
        return [], {s.name for s in segments}
    merged: set[str] = set()
    new_rows = len(collection.pending)  # rows of this commit's segment ("" below)
    while True:
        tiers: dict[int, list[str]] = {}
        for segment in segments:
            if segment.name not in merged:
                tiers.setdefault(_tier(live_rows[segment.name]), []).append(segment.name)
        if new_rows:
            tiers.setdefault(_tier(new_rows), []).append("")
        full = [tier for tier, names in tiers.items() if len(names) >= MERGE_FACTOR]
        if not full:
            break
        for name in tiers[min(full)]:
            if name:
                merged.add(name)
                new_rows += live_rows[name]
    return [s for s in segments if s.name not in merged], merged


def commit(collection: Collection, index_dir: Path) -> Path:
    """Write what changed as the next generation (a segment and a manifest) and make it live, atomically."""
    index_dir.mkdir(parents=True, exist_ok=True)
    live = current_generation(index_dir)
    number = max(collection.generation, _generation_number(live)) + 1
    final = index_dir / f"gen-{number:06d}"
    staging = index_dir / f".staging-{number:06d}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)  # leftover of a crashed commit; no manifest names it
    staging.mkdir()

    kept, merged = plan_merge(collection)
    live_ids = _live_ids(collection)
    for segment in collection.segments:
        if segment.name in merged and segment.name not in collection.segment_terms:  # loaded for writing only
            _load_segment(collection, index_dir / segment.name, segment, live_ids)
    rows = collection.pending | {i for n in merged for i in collection.segment_ids[n].tolist()}
    rows = sorted(i for i in rows if i in collection.chunks)
    segments = list(kept)
    terms = None
    if rows:
        terms = _write_segment(collection, rows, staging)
        segments.append(Segment(final.name, len(rows)))
    missing = [s.name for s in segments[: len(kept)] if not (index_dir / s.name / SEGMENT_VECTORS).exists()]
    if missing:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"segments {missing} are gone: another writer changed {index_dir} without the lock")
    meta = {
        "format": FORMAT_VERSION,
        "generation": number,
        "embed_model": collection.embed_model,
        "dim": collection.dim,
        "pipeline": collection.pipeline,
        "next_id": collection.next_id,
        "segments": [asdict(s) for s in segments],
        "files": {s: _encode_file(r) for s, r in collection.files.items()},
        "collections": {name: sorted(members) for name, members in sorted(collection.memberships.items())},
    }
    (staging / MANIFEST).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    _fsync_tree(staging)
    os.replace(staging, final)
    _atomic_write(index_dir / "CURRENT", final.name)

    collection.generation = number
    collection.segments = segments
    for name in set(collection.segment_ids) - {s.name for s in segments}:
        collection.segment_ids.pop(name)  # merged or fully dead
        collection.segment_terms.pop(name, None)
    if terms is not None:
        collection.segment_terms[final.name] = terms
        collection.segment_ids[final.name] = terms.ids
    collection.pending.clear()
    collection.tokens.clear()
    _prune(index_dir, keep={final.name, *(s.name for s in segments), *_named_by(live)})
    return final


def _write_segment(collection: Collection, rows: list[int], folder: Path) -> TermTable:
    """The chunks ``rows``, their BM25 term counts and their vectors, into ``folder``; returns the term counts."""
    with (folder / SEGMENT_CHUNKS).open("w", encoding="utf-8") as handle:
        for chunk_id in rows:
            handle.write(
                json.dumps({"id": chunk_id, **collection.chunks[chunk_id].to_dict()}, ensure_ascii=False) + "\n"
            )
    terms = collection.term_table(set(rows))
    terms.save(folder / SEGMENT_TERMS, collection.vocab)
    ids = np.asarray(rows, dtype=np.int64)
    segment = VectorIndex(collection.dim)
    segment.append(ids, collection.vectors.index.reconstruct_batch(ids))
    segment.save(folder / SEGMENT_VECTORS)
    return terms


def _named_by(generation: Path | None) -> set[str]:
    """The folders a generation needs: itself and its segments (a previous-format generation is self-contained)."""
    if generation is None:
        return set()
    try:
        meta = json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {generation.name}
    return {generation.name, *(s["name"] for s in meta["segments"])}


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
    """Remove generations no kept manifest names, and staging leftovers of dead writers."""
    for path in index_dir.iterdir():
        if path.is_dir() and path.name.startswith(("gen-", ".staging-")) and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
