"""The real index: FAISS + BM25 generations, incremental re-index, atomic commits, retrieval."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest import store
from ingest.indexer import index_folder
from ingest.vector_index import VectorIndex
from rag.retrieve import Retriever, fuse_scores
from rag.settings import Settings
from tests.conftest import make_pdf

FILLER = (
    "This page of the handbook describes general procedures for the laboratory staff. "
    "Visitors must sign in at the front desk and wear a badge at all times. "
)


def _corpus(folder: Path) -> dict[str, Path]:
    return {
        "pumps": make_pdf(
            folder / "pumps.pdf",
            [FILLER * 3, FILLER + "The centrifugal pump P-17 is rated for 340 litres per minute.", FILLER * 2],
        ),
        "people": make_pdf(
            folder / "team" / "people.pdf",
            [FILLER * 2, FILLER, "Doctor Ingrid Valcourt leads the cryogenics group since 2019."],
        ),
        "note": _write(folder / "note.txt", "The backup generator is tested every first Monday of the month."),
    }


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_search_finds_the_page_holding_the_fact(tmp_path: Path, settings: Settings, embedder) -> None:
    docs = _corpus(tmp_path / "docs")
    report = index_folder(tmp_path / "docs", settings, embedder)
    assert report.counts["added"] == 3 and report.counts["failed"] == 0
    retriever = Retriever(settings, embedder)
    top = retriever.search("How many litres per minute can pump P-17 move?", k=3).passages[0]
    assert (Path(top.source), top.page) == (docs["pumps"].resolve(), 2)
    assert "340 litres" in top.text
    top = retriever.search("Who leads the cryogenics group?", k=3).passages[0]
    assert (Path(top.source), top.page) == (docs["people"].resolve(), 3)
    dense_only = retriever.search("Who leads the cryogenics group?", k=3, hybrid=False).passages[0]
    assert dense_only.page == 3 and 0.3 < dense_only.score <= 1.0


def test_a_follow_up_is_searched_with_the_question_it_follows(tmp_path: Path, settings: Settings, embedder) -> None:
    docs = _corpus(tmp_path / "docs")
    index_folder(tmp_path / "docs", settings, embedder)
    retriever = Retriever(settings, embedder)
    top = retriever.search("Since when?", k=3, context="Who leads the cryogenics group?").passages[0]
    assert (Path(top.source), top.page) == (docs["people"].resolve(), 3)
    assert retriever.search("Since when?", k=3, context="Who leads the cryogenics group?").question == "Since when?"
    # a question on a new topic keeps its own passage first
    top = retriever.search("How many litres per minute can pump P-17 move?", k=3, context="Who leads the group?")
    assert (Path(top.passages[0].source), top.passages[0].page) == (docs["pumps"].resolve(), 2)


def test_reindex_skips_unchanged_replaces_changed_drops_deleted(tmp_path: Path, settings: Settings, embedder) -> None:
    docs = _corpus(tmp_path / "docs")
    index_folder(tmp_path / "docs", settings, embedder)
    again = index_folder(tmp_path / "docs", settings, embedder)
    assert again.counts["unchanged"] == 3 and again.chunks == 0
    generation = store.current_generation(settings.index_dir)

    _write(docs["note"], "The backup generator is now tested every second Friday.")
    docs["people"].unlink()
    report = index_folder(tmp_path / "docs", settings, embedder)
    assert report.counts == {"added": 0, "updated": 1, "removed": 1, "unchanged": 1, "skipped": 0, "failed": 0}
    assert store.current_generation(settings.index_dir) != generation

    collection = store.load(settings.index_dir)
    assert set(collection.files) == {str(docs["pumps"].resolve()), str(docs["note"].resolve())}
    texts = [c.text for c in collection.chunks.values()]
    assert any("second Friday" in t for t in texts)
    assert not any("first Monday" in t or "Valcourt" in t for t in texts)
    assert len(collection.vectors) == len(collection.chunks) == len(collection.keyword_index())
    retriever = Retriever(settings, embedder)
    hits = retriever.search("When is the backup generator tested?", k=1).passages
    assert "second Friday" in hits[0].text


def test_a_failed_commit_leaves_the_previous_index_loadable(
    tmp_path: Path, settings: Settings, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _corpus(tmp_path / "docs")
    index_folder(tmp_path / "docs", settings, embedder)
    before = store.load(settings.index_dir)

    def crash(self, path):
        Path(path).write_bytes(b"half a faiss file")
        raise OSError("disk full")

    monkeypatch.setattr(VectorIndex, "save", crash)
    _write(docs["note"], "Completely different text about tea ceremonies.")
    with pytest.raises(OSError, match="disk full"):
        index_folder(tmp_path / "docs", settings, embedder)
    monkeypatch.undo()

    after = store.load(settings.index_dir)
    assert after is not None and after.generation == before.generation
    assert {c.text for c in after.chunks.values()} == {c.text for c in before.chunks.values()}
    report = index_folder(tmp_path / "docs", settings, embedder)
    assert report.counts["updated"] == 1


def _write_versions(docs: Path, word: str, count: int = 12) -> None:
    for i in range(count):
        make_pdf(docs / f"doc{i:02d}.pdf", [f"Document {i} says the code word is {word}{i}. " + FILLER * 20] * 3)


def _index_in_child(settings: Settings, docs: Path, **env: str) -> subprocess.Popen:
    env = {**os.environ, "RAG_HOME": str(settings.home), **env}
    return subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "index", str(docs)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _code_words(settings: Settings) -> list[str]:
    collection = store.load(settings.index_dir)
    assert collection is not None
    assert len(collection.vectors) == len(collection.chunks) == len(collection.keyword_index())
    assert len(collection.chunks) == sum(len(f.chunk_ids) for f in collection.files.values())
    return sorted(
        w.rstrip(".") for c in collection.chunks.values() for w in c.text.split() if w.startswith(("zebra", "lion"))
    )


def test_kill_9_at_ten_moments_leaves_a_consistent_index(tmp_path: Path, settings: Settings, embedder) -> None:
    docs = tmp_path / "docs"
    _write_versions(docs, "zebra")
    started = time.perf_counter()
    child = _index_in_child(settings, docs)
    assert child.wait() == 0
    duration = time.perf_counter() - started
    outcomes = []
    for moment in range(1, 11):
        word = "lion" if moment % 2 else "zebra"
        _write_versions(docs, word)
        child = _index_in_child(settings, docs, RAG_COMMIT_SECONDS="0", RAG_EMBED_BATCH_SIZE="4")
        time.sleep(duration * moment / 11)
        child.send_signal(signal.SIGKILL)
        child.wait()
        words = _code_words(settings)  # loads, and vectors, BM25 and metadata agree
        per_doc = {i: [w for w in words if w.endswith(f"a{i}") or w.endswith(f"n{i}")] for i in range(12)}
        for i, found in per_doc.items():
            assert len(found) == 3 and len(set(found)) == 1, f"doc {i}: {found} (each file whole, old or new)"
        hit = Retriever(settings, embedder).search("the code word of document 3", k=1).passages
        assert hit, "search answers from the surviving index"
        outcomes.append(sum(w.startswith(word) for w in words))
    print("new pages committed before each kill:", outcomes)
    report = index_folder(docs, settings, embedder)
    assert report.counts["failed"] == 0
    assert _code_words(settings) == sorted(f"{word}{i}" for i in range(12) for _ in range(3))


def test_an_interrupted_reindex_resumes_without_redoing_finished_files(
    tmp_path: Path, settings: Settings, embedder
) -> None:
    docs = tmp_path / "docs"
    _write_versions(docs, "zebra", count=30)
    child = _index_in_child(settings, docs, RAG_COMMIT_SECONDS="0", RAG_EMBED_BATCH_SIZE="4")
    deadline = time.monotonic() + 120
    while store.current_generation(settings.index_dir) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = len(store.load(settings.index_dir).files)
    assert 0 < done < 30, "killed after the first commit, before the end"
    report = index_folder(docs, settings, embedder)
    assert report.counts["unchanged"] == done and report.counts["added"] == 30 - done


def test_score_fusion_weighs_each_ranking_by_its_best_score() -> None:
    dense = [(1, 0.80), (2, 0.60), (3, 0.30)]
    keyword = [(3, 12.0), (2, 9.0), (4, 3.0)]
    fused = fuse_scores([dense, keyword])
    assert [item for item, _ in fused] == [2, 3, 1, 4], "agreement of both rankings first"
    assert fused[0][1] == pytest.approx(0.60 / 0.80 + 9.0 / 12.0)
    scaled = fuse_scores([dense, [(i, s * 100) for i, s in keyword]])
    assert [i for i, _ in scaled] == [i for i, _ in fused], "the BM25 scale does not matter, only its shape"
    # A top hit far ahead of the rest of its ranking stays ahead of a weak agreement (reciprocal rank fusion
    # put the chunk both rankings had 10th before the dense ranking's clear first).
    clear_first = [(7, 0.9)] + [(i, 0.3 - i / 1000) for i in range(10, 19)]  # 18 is 10th
    other = [(i, 30.0 - i) for i in range(20, 29)] + [(18, 1.5)]  # 18 is 10th
    order = [i for i, _ in fuse_scores([clear_first, other])]
    assert order.index(7) < order.index(18)
    assert fuse_scores([dense, []]) == [(1, pytest.approx(1.0)), (2, pytest.approx(0.75)), (3, pytest.approx(0.375))]
    unrelated = [(5, -0.02), (6, -0.05), (4, -0.08)]  # a question nothing is close to: negative cosines
    assert [i for i, _ in fuse_scores([unrelated, []])] == [5, 6, 4], "still its closest passages, in order"


def test_readers_keep_answering_and_two_writers_serialise(tmp_path: Path, settings: Settings, embedder) -> None:
    docs = tmp_path / "docs"
    _write_versions(docs, "zebra")
    index_folder(docs, settings, embedder)
    _write_versions(docs, "lion")
    writers = [_index_in_child(settings, docs, RAG_COMMIT_SECONDS="0", RAG_EMBED_BATCH_SIZE="4") for _ in range(2)]
    retriever = Retriever(settings, embedder)
    queries, errors, generations = 0, [], set()
    while any(w.poll() is None for w in writers):
        try:
            passages = retriever.search("the code word of document 7", k=3).passages
            assert passages, "an empty answer during a re-index"
            generations.add(retriever.collection.generation)
        except Exception as exc:
            errors.append(repr(exc))
        queries += 1
    print(f"{queries} queries during two concurrent re-indexes, {len(generations)} generations seen")
    assert [w.returncode for w in writers] == [0, 0]
    assert errors == [], errors[:3]
    assert queries > 10 and len(generations) > 1
    assert _code_words(settings) == sorted(f"lion{i}" for i in range(12) for _ in range(3))
