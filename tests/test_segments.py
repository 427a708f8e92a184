"""The local index on disk: a commit writes a segment of what changed, tombstones, merging, the previous format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ingest import store
from ingest.keyword_index import KeywordIndex
from ingest.records import Chunk
from ingest.store import Collection, FileRecord
from ingest.vector_index import VectorIndex

DIM = 16
WORDS = ["pump", "valve", "boiler", "turbine", "gasket", "sensor", "relay", "filter", "nozzle", "bearing"]


def _add(collection: Collection, name: str, chunks: int, word: str, seed: int = 0) -> None:
    rows = [
        Chunk(name, i + 1, 0, 10, f"The {word} of {name} part {i} is {WORDS[i % len(WORDS)]}.") for i in range(chunks)
    ]
    vectors = np.random.default_rng(seed).standard_normal((chunks, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    collection.add_file(FileRecord(name, f"{seed:064d}", 100, chunks, []), rows, vectors)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _same(a: Collection, b: Collection) -> None:
    assert set(a.files) == set(b.files)
    assert {i: c.text for i, c in a.chunks.items()} == {i: c.text for i, c in b.chunks.items()}
    assert len(a.vectors) == len(b.vectors) == len(a.chunks) == len(b.keyword_index())
    ids = np.asarray(sorted(a.chunks), dtype=np.int64)
    assert np.array_equal(a.vectors.index.reconstruct_batch(ids), b.vectors.index.reconstruct_batch(ids))


def test_adding_a_file_writes_only_its_segment_and_a_manifest(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    collection = Collection("synthetic", DIM)
    for f in range(40):
        _add(collection, f"/docs/f{f:02d}.pdf", 25, "flange", seed=f)
    first = store.commit(collection, index_dir)
    before = {p.name: p.stat().st_mtime_ns for p in first.iterdir()}

    _add(collection, "/docs/new.pdf", 10, "zeppelin", seed=99)
    second = store.commit(collection, index_dir)

    manifest = json.loads((second / store.MANIFEST).read_text())
    assert manifest["format"] == store.FORMAT_VERSION
    assert manifest["segments"] == [{"name": first.name, "rows": 1000}, {"name": second.name, "rows": 10}]
    assert {p.name: p.stat().st_mtime_ns for p in first.iterdir()} == before, "the big segment is not rewritten"
    assert sum(1 for _ in (second / store.SEGMENT_CHUNKS).open()) == 10
    assert _folder_bytes(second) * 20 < _folder_bytes(first)
    loaded = store.load(index_dir)
    _same(collection, loaded)
    hits = loaded.keyword_index().search("zeppelin", 3)
    assert hits and all(loaded.chunks[i].source == "/docs/new.pdf" for i, _ in hits)
    new_id = collection.files["/docs/new.pdf"].chunk_ids[3]
    _, ids = loaded.vectors.search(collection.vectors.index.reconstruct(new_id), 1)
    assert ids[0][0] == new_id


def test_replaced_and_removed_files_are_tombstones_until_merged(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    collection = Collection("synthetic", DIM)
    for f in range(20):
        _add(collection, f"/docs/f{f:02d}.pdf", 10, "flange", seed=f)
    first = store.commit(collection, index_dir)

    _add(collection, "/docs/f03.pdf", 4, "zeppelin", seed=103)  # replaced: its 10 old rows stay in the first segment
    assert collection.remove_file("/docs/f07.pdf")
    store.commit(collection, index_dir)
    loaded = store.load(index_dir)
    _same(collection, loaded)
    assert [s.rows for s in loaded.segments] == [200, 4]
    assert (first / store.SEGMENT_VECTORS).exists()
    assert not any("flange" in c.text for c in loaded.chunks.values() if c.source == "/docs/f03.pdf")
    hits = loaded.keyword_index().search("zeppelin", 10)
    assert len(hits) == 4 and {loaded.chunks[i].source for i, _ in hits} == {"/docs/f03.pdf"}
    assert "/docs/f07.pdf" not in loaded.files and len(loaded.chunks) == 200 - 10 - 10 + 4

    for round_ in range(60):  # many small replacements: segments merge, tombstones are dropped
        _add(loaded, f"/docs/f{round_ % 20:02d}.pdf", 3, f"round{round_}", seed=round_)
        store.commit(loaded, index_dir)
        stored = sum(s.rows for s in loaded.segments)
        assert len(loaded.segments) < 2 * store.MERGE_FACTOR
        assert 1 - len(loaded.chunks) / stored <= store.COMPACT_DEAD_SHARE + 0.01
    again = store.load(index_dir)
    _same(loaded, again)
    assert not (index_dir / first.name).exists(), "a segment no manifest names is removed"
    folders = {p.name for p in index_dir.iterdir() if p.is_dir()}
    previous = index_dir / f"gen-{again.generation - 1:06d}"
    assert folders <= store._named_by(store.current_generation(index_dir)) | store._named_by(previous)


def test_the_previous_generation_stays_loadable_after_a_commit(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    collection = Collection("synthetic", DIM)
    for f in range(12):
        _add(collection, f"/docs/f{f:02d}.pdf", 3, "flange", seed=f)
        store.commit(collection, index_dir)
    previous = store.current_generation(index_dir)
    snapshot = store.load(index_dir)
    for f in range(12):  # replaces everything: the commit compacts
        _add(collection, f"/docs/f{f:02d}.pdf", 2, "zeppelin", seed=50 + f)
    store.commit(collection, index_dir)
    _same(snapshot, store._load_generation(previous))  # a reader that read CURRENT just before still loads


def test_an_index_in_the_previous_format_loads_and_is_rewritten_by_the_next_commit(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    built = Collection("synthetic", DIM, pipeline="chunker-3:120:24")
    for f in range(5):
        _add(built, f"/docs/f{f}.pdf", 6, "flange", seed=f)
    old = index_dir / "gen-000004"  # format 2: one complete copy of the index per generation
    old.mkdir(parents=True)
    meta = {
        "format": 2,
        "generation": 4,
        "embed_model": built.embed_model,
        "dim": DIM,
        "pipeline": built.pipeline,
        "next_id": built.next_id,
        "files": {s: {**vars(r)} for s, r in built.files.items()},
    }
    (old / "files.json").write_text(json.dumps(meta))
    with (old / "chunks.jsonl").open("w") as handle:
        for chunk_id in sorted(built.chunks):
            handle.write(json.dumps({"id": chunk_id, **built.chunks[chunk_id].to_dict()}) + "\n")
    built.vectors.save(old / "vectors.faiss")
    ids = sorted(built.chunks)
    KeywordIndex(ids, texts=[built.chunks[i].indexed_text() for i in ids]).save(old / "bm25")
    (index_dir / "CURRENT").write_text(old.name)

    loaded = store.load(index_dir)
    _same(built, loaded)
    assert loaded.generation == 4 and loaded.keyword_index().search("flange", 3)
    _add(loaded, "/docs/new.pdf", 2, "zeppelin", seed=9)
    new = store.commit(loaded, index_dir)
    assert json.loads((new / store.MANIFEST).read_text())["segments"] == [{"name": "gen-000005", "rows": 32}]
    again = store.load(index_dir)
    _same(loaded, again)
    store.commit(again, index_dir)
    assert not old.exists(), "the previous-format generation is removed once no manifest needs it"
    assert isinstance(store.load(index_dir).vectors, VectorIndex)


def test_a_writer_that_reads_only_the_files_table_commits_and_merges_like_a_full_load(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    reference = Collection("synthetic", DIM)  # the same changes, made in memory only
    for step in range(40):
        writer = store.load(index_dir, contents=False) if step else Collection("synthetic", DIM)
        assert not writer.chunks and len(writer.vectors) == 0, "nothing but the files table is read"
        for k in range(1 + step % 3):
            name, chunks = f"/docs/f{(step * 7 + k) % 15:02d}.pdf", 1 + (step + k) % 6
            _add(writer, name, chunks, f"word{step}", seed=step * 10 + k)
            _add(reference, name, chunks, f"word{step}", seed=step * 10 + k)
        if step % 9 == 4:
            name = f"/docs/f{step % 15:02d}.pdf"
            assert writer.remove_file(name) == reference.remove_file(name)
        store.commit(writer, index_dir)
        assert len(writer.segments) < 2 * store.MERGE_FACTOR
    loaded = store.load(index_dir)
    _same(reference, loaded)
    for question in ("word39", "pump valve", "word3"):
        found = dict(loaded.keyword_index().search(question, 500))
        expected = dict(reference.keyword_index().search(question, 500))
        assert found.keys() == expected.keys() and all(abs(found[i] - expected[i]) < 1e-4 for i in found)
