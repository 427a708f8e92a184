"""Index and retrieval behaviour on both stores: local (FAISS + BM25 files) and a real PostgreSQL + pgvector."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

from ingest.backends import StoredFile, open_store
from ingest.backends.postgres import SCHEMA_VERSION, PostgresStore, StoreUnavailable
from ingest.indexer import index_folder
from ingest.records import Chunk
from rag import cli
from rag.retrieve import Retriever
from rag.settings import Settings, get_settings
from tests.conftest import make_pdf
from tests.test_index import FILLER, _corpus, _index_in_child, _write


def _all_chunks(settings: Settings) -> dict[int, Chunk]:
    """Every chunk of the index, read through the store interface (chunk ids are consecutive per file)."""
    index = open_store(settings)
    try:
        with index.read() as reader:
            files = reader.files()
            found = {i: chunk for f in files.values() for i, chunk in reader.file_chunks(f.source)}
            assert reader.count() == sum(f.chunks for f in files.values()) == len(found)
            assert dict(reader.chunks(found)) | found == dict(reader.chunks(found)), "chunks by id agree"
            return found
    finally:
        index.close()


def test_search_finds_the_page_holding_the_fact(tmp_path: Path, store_settings: Settings, embedder) -> None:
    docs = _corpus(tmp_path / "docs")
    report = index_folder(tmp_path / "docs", store_settings, embedder)
    assert report.counts["added"] == 3 and report.counts["failed"] == 0
    retriever = Retriever(store_settings, embedder)
    assert retriever.store.name == store_settings.store
    top = retriever.search("How many litres per minute can pump P-17 move?", k=3).passages[0]
    assert (Path(top.source), top.page) == (docs["pumps"].resolve(), 2)
    assert "340 litres" in top.text
    top = retriever.search("Who leads the cryogenics group?", k=3).passages[0]
    assert (Path(top.source), top.page) == (docs["people"].resolve(), 3)
    dense_only = retriever.search("Who leads the cryogenics group?", k=3, hybrid=False).passages[0]
    assert dense_only.page == 3 and 0.3 < dense_only.score <= 1.0


def test_reindex_skips_unchanged_replaces_changed_drops_deleted(
    tmp_path: Path, store_settings: Settings, embedder
) -> None:
    docs = _corpus(tmp_path / "docs")
    index_folder(tmp_path / "docs", store_settings, embedder)
    again = index_folder(tmp_path / "docs", store_settings, embedder)
    assert again.counts["unchanged"] == 3 and again.chunks == 0

    _write(docs["note"], "The backup generator is now tested every second Friday.")
    docs["people"].unlink()
    report = index_folder(tmp_path / "docs", store_settings, embedder)
    assert report.counts == {"added": 0, "updated": 1, "removed": 1, "unchanged": 1, "skipped": 0, "failed": 0}

    files = {f.source: f for f in open_store(store_settings).files()}
    assert set(files) == {str(docs["pumps"].resolve()), str(docs["note"].resolve())}
    assert files[str(docs["pumps"].resolve())].pages == 3
    texts = [c.text for c in _all_chunks(store_settings).values()]
    assert any("second Friday" in t for t in texts)
    assert not any("first Monday" in t or "Valcourt" in t for t in texts)
    hits = Retriever(store_settings, embedder).search("When is the backup generator tested?", k=1).passages
    assert "second Friday" in hits[0].text


TOPICS = [
    "Visitors must sign in at the front desk and wear a badge at all times.",
    "The canteen serves lunch from noon to two, with a vegetarian dish every day.",
    "Parking spaces near the west entrance are reserved for delivery vans.",
    "Fire drills happen twice a year; the assembly point is the north lawn.",
    "Laptops leaving the building must be encrypted and registered with IT.",
    "The library lends technical standards for two weeks, renewable once.",
]


def test_a_filter_on_sources_is_applied_inside_both_searches(
    tmp_path: Path, store_settings: Settings, embedder
) -> None:
    docs = tmp_path / "docs"
    pumps = make_pdf(docs / "pumps.pdf", [f"Pump P-{i} is a centrifugal pump rated for {i}0 litres." for i in range(8)])
    other = make_pdf(docs / "other.pdf", [f"Chapter {i}. {topic}" for i, topic in enumerate(TOPICS)])
    index_folder(docs, store_settings, embedder)
    question = "Which centrifugal pump is rated for 30 litres?"
    allowed = {str(other.resolve())}
    index = open_store(store_settings)
    with index.read() as reader:
        query = embedder.embed([question])[0]
        everywhere = reader.dense_search(query, 5)
        assert {reader.chunks([i])[i].source for i, _ in everywhere} == {str(pumps.resolve())}
        dense = reader.dense_search(query, 5, allowed)
        assert len(dense) == 5, "k results from the allowed file, not what is left of a global top-k"
        chunks = reader.chunks(i for i, _ in dense)
        assert {chunks[i].source for i, _ in dense} == allowed
        assert reader.keyword_search(question, 5)
        keyword = reader.keyword_search("chapter visitors badge", 5, allowed)
        assert keyword and {reader.chunks([i])[i].source for i, _ in keyword} == allowed
        assert reader.keyword_search("centrifugal pump litres", 5, allowed) == [], "words absent from that file"
        assert reader.dense_search(query, 5, set()) == [] and reader.keyword_search(question, 5, set()) == []
    index.close()
    passages = Retriever(store_settings, embedder).search(question, k=3, sources=allowed).passages
    assert len(passages) == 3 and {p.source for p in passages} == allowed


def test_keyword_search_ignores_accents_and_inflections(tmp_path: Path, store_settings: Settings, embedder) -> None:
    docs = tmp_path / "docs"
    _write(
        docs / "cours.md",
        "# Électricité\n\nLes modèles électriques des générateurs sont vérifiés chaque année. "
        "Le théorème de Gauß donne le flux au nœud.",
    )
    _write(docs / "autre.md", "# Cuisine\n\nLa recette demande trois oeufs et du sucre.")
    index_folder(docs, store_settings, embedder)
    index = open_store(store_settings)
    questions = ["modele electrique", "MODÈLES électriques", "generateur verifie", "electricity models"]
    spellings = [("théorème de Gauss", "cours.md"), ("flux au noeud", "cours.md"), ("trois œufs", "autre.md")]
    with index.read() as reader:
        for question, name in [(q, "cours.md") for q in questions] + spellings:
            hits = reader.keyword_search(question, 5)
            assert hits, question
            assert reader.chunks([hits[0][0]])[hits[0][0]].source.endswith(name), question
    index.close()


def test_cli_lists_and_removes_documents(tmp_path: Path, store_settings: Settings, embedder, capsys) -> None:
    docs = _corpus(tmp_path / "docs")
    index_folder(tmp_path / "docs", store_settings, embedder)
    assert cli.main(["docs", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(d["source"] for d in listed) == sorted(str(p.resolve()) for p in docs.values())
    assert all(len(d["sha256"]) == 64 and d["chunks"] > 0 for d in listed)
    assert cli.main(["remove", str(docs["people"])]) == 0
    assert str(docs["people"].resolve()) not in {f.source for f in open_store(store_settings).files()}
    assert cli.main(["remove", "/no/such/file.pdf"]) == 1


def test_another_chunk_size_rebuilds_the_index(tmp_path: Path, store_settings: Settings, embedder) -> None:
    _corpus(tmp_path / "docs")
    index_folder(tmp_path / "docs", store_settings, embedder)
    before = len(_all_chunks(store_settings))
    smaller = store_settings.model_copy(update={"chunk_words": 20, "chunk_overlap": 4})
    report = index_folder(tmp_path / "docs", smaller, embedder)
    assert report.counts["added"] == 3 and report.counts["unchanged"] == 0
    assert len(_all_chunks(smaller)) > before


def _version(word: str, chunks: int, source: str = "/docs/a.pdf") -> tuple[StoredFile, list[Chunk], np.ndarray]:
    rows = [Chunk(source, i + 1, 0, 10, f"version {word} part {i}") for i in range(chunks)]
    vectors = np.random.default_rng(chunks).normal(size=(chunks, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return StoredFile(source, word * 8, 100, chunks, chunks), rows, vectors


def test_readers_see_a_replaced_file_whole_old_or_new(store_settings: Settings) -> None:
    index = open_store(store_settings)
    versions = [_version("zebra", 3), _version("lion", 7)]
    with index.write("synthetic", 384, "test") as writer:
        writer.add_file(*versions[0])
        writer.commit()
    stop = threading.Event()
    errors: list[str] = []

    def replace() -> None:
        try:
            with index.write("synthetic", 384, "test") as writer:
                for n in range(40):
                    writer.add_file(*versions[(n + 1) % 2])
                    writer.commit()
        except Exception as exc:  # reported by the main thread
            errors.append(repr(exc))
        finally:
            stop.set()

    thread = threading.Thread(target=replace)
    thread.start()
    seen = set()
    reads = 0
    while not stop.is_set() or reads < 5:
        with index.read() as reader:
            expected = reader.files()["/docs/a.pdf"].chunks
            chunks = reader.file_chunks("/docs/a.pdf")
            hits = reader.dense_search(versions[0][2][0], 10)
            words = {chunk.text.split()[1] for _, chunk in chunks}
            assert {i for i, _ in hits} == {i for i, _ in chunks}, "search and listing see the same version"
        assert len(chunks) == expected and len(words) == 1, (expected, len(chunks), words)
        seen |= words
        reads += 1
    thread.join()
    index.close()
    assert errors == []
    assert seen <= {"zebra", "lion"} and reads >= 5


def test_schema_is_created_once_and_a_newer_schema_is_refused(pg_url: str) -> None:
    stores: list[PostgresStore] = []
    threads = [threading.Thread(target=lambda: stores.append(PostgresStore(pg_url))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stores) == 6 and all(s.schema_version() == SCHEMA_VERSION for s in stores)
    with psycopg.connect(pg_url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM rag_schema ORDER BY version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        names = {row[0] for row in conn.execute("SELECT cfgname FROM pg_ts_config WHERE cfgname LIKE 'rag_%'")}
        assert names == {"rag_en", "rag_fr"}
        conn.execute("INSERT INTO rag_schema VALUES (%s, now())", (SCHEMA_VERSION + 1,))
    for store in stores:
        store.close()
    with pytest.raises(StoreUnavailable, match="newer than this program"):
        PostgresStore(pg_url)


def test_a_store_that_cannot_be_reached_gives_a_clear_message(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("RAG_STORE", "postgres")
    get_settings.cache_clear()
    assert cli.main(["docs"]) == 2
    assert "RAG_PG_URL" in capsys.readouterr().err
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("RAG_PG_URL", f"postgresql://rag:secret@127.0.0.1:{port}/rag")
    get_settings.cache_clear()
    assert cli.main(["search", "anything"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect to PostgreSQL" in err and "secret" not in err and "Traceback" not in err


def _code_words(settings: Settings) -> list[str]:
    return sorted(
        w.rstrip(".") for c in _all_chunks(settings).values() for w in c.text.split() if w.startswith(("zebra", "lion"))
    )


def _pg_settings(settings: Settings, url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("RAG_STORE", "postgres")
    monkeypatch.setenv("RAG_PG_URL", url)
    get_settings.cache_clear()
    return get_settings()


DOCS = 10


def _small_versions(docs: Path, word: str) -> None:
    """DOCS files of three one-chunk pages, each page naming the file's code word."""
    for i in range(DOCS):
        make_pdf(docs / f"doc{i:02d}.pdf", [f"Document {i} says the code word is {word}{i}. " + FILLER * 2] * 3)


def _new_files(settings: Settings, before: dict[str, StoredFile]) -> int:
    index = open_store(settings)
    try:
        return sum(f.sha256 != before[f.source].sha256 for f in index.files())
    finally:
        index.close()


def test_postgres_kill_9_during_indexing_leaves_every_file_whole(
    tmp_path: Path, settings: Settings, pg_url: str, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _pg_settings(settings, pg_url, monkeypatch)
    docs = tmp_path / "docs"
    _small_versions(docs, "zebra")
    index_folder(docs, settings, embedder)
    replaced = []
    for word in ("lion", "zebra"):
        before = {f.source: f for f in open_store(settings).files()}
        _small_versions(docs, word)
        child = _index_in_child(settings, docs, RAG_EMBED_BATCH_SIZE="1")  # a commit every 16 chunks
        deadline = time.monotonic() + 300
        while child.poll() is None and not _new_files(settings, before) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)  # right after its first committed file
        child.wait()
        words = _code_words(settings)
        for i in range(DOCS):
            found = [w for w in words if w.endswith((f"a{i}", f"n{i}"))]
            assert len(found) == 3 and len(set(found)) == 1, f"doc {i}: {found} (each file whole, old or new)"
        replaced.append(_new_files(settings, before))
        assert Retriever(settings, embedder).search("the code word of document 3", k=1).passages
    print("files replaced before each kill:", replaced)
    assert all(n > 0 for n in replaced), "each killed run had committed files"
    report = index_folder(docs, settings, embedder)
    assert report.counts["failed"] == 0 and report.counts["unchanged"] == replaced[-1]
    assert _code_words(settings) == sorted(f"zebra{i}" for i in range(DOCS) for _ in range(3))


def test_postgres_readers_keep_answering_while_two_writers_index(
    tmp_path: Path, settings: Settings, pg_url: str, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _pg_settings(settings, pg_url, monkeypatch)
    docs = tmp_path / "docs"
    _small_versions(docs, "zebra")
    index_folder(docs, settings, embedder)
    _small_versions(docs, "lion")
    writers = [_index_in_child(settings, docs, RAG_EMBED_BATCH_SIZE="1") for _ in range(2)]
    retriever = Retriever(settings, embedder)
    queries, errors = 0, []
    while any(w.poll() is None for w in writers):
        try:
            assert retriever.search("the code word of document 7", k=3).passages, "an empty answer during a re-index"
        except Exception as exc:
            errors.append(repr(exc))
        queries += 1
        time.sleep(0.05)  # leave the two cores to the writers
    print(f"{queries} queries during two concurrent re-indexes")
    assert [w.returncode for w in writers] == [0, 0]
    assert errors == [], errors[:3]
    assert queries > 10
    assert _code_words(settings) == sorted(f"lion{i}" for i in range(DOCS) for _ in range(3))


def test_both_stores_rank_the_same_passages_first(
    tmp_path: Path, settings: Settings, pg_url: str, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _corpus(tmp_path / "docs")
    make_pdf(tmp_path / "docs" / "boiler.pdf", [FILLER, "The steam boiler B-2 runs at 12 bar and 190 degrees."])
    index_folder(tmp_path / "docs", settings, embedder)
    local = Retriever(settings, embedder)
    postgres_settings = _pg_settings(settings, pg_url, monkeypatch)
    index_folder(tmp_path / "docs", postgres_settings, embedder)
    postgres = Retriever(postgres_settings, embedder)
    questions = [
        "How many litres per minute can pump P-17 move?",
        "Who leads the cryogenics group?",
        "When is the backup generator tested?",
        "At what pressure does the steam boiler run?",
    ]
    for question in questions:
        a, b = local.search(question, k=3), postgres.search(question, k=3)
        assert (a.passages[0].source, a.passages[0].page, a.passages[0].text) == (
            b.passages[0].source,
            b.passages[0].page,
            b.passages[0].text,
        ), question
        assert b.top_cosine == pytest.approx(a.top_cosine, abs=1e-4)
    assert docs["pumps"].exists()
