"""Query latency on synthetic collections of 1k / 10k / 100k chunks.

For each size a child process builds a synthetic collection (random unit vectors of dim 384 and
generated word texts, Zipf-distributed vocabulary) with ``ingest.store.Collection`` +
``store.commit`` into a temporary folder, and also times adding one more 10-chunk file and
committing (the cost of a small incremental update at that size), then loading the committed index
(``store.load``: every segment read) and building its BM25 index (done at the first keyword search).
This process then measures, over the same queries:

(a) raw FAISS ``IndexFlatIP`` search alone (same vectors, same pool size) - the baseline;
(b) the project's ``Retriever.search`` end to end (query embedding included), and its parts
    timed separately: query embedding, ``VectorIndex.search``, ``KeywordIndex.search`` and fusion;
(c) memory: RSS delta of loading the committed collection into the Retriever.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C
import numpy as np

DIM = 384
WORDS_PER_CHUNK = 150
CHUNKS_PER_FILE = 100
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "da", "fe", "gu", "hi", "jo", "ba", "ce", "xi"]


def vocabulary(size: int = 20000) -> list[str]:
    rng = np.random.default_rng(7)
    words, seen = [], set()
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES, size=int(rng.integers(2, 5))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_p(n: int) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1) ** 1.05
    return p / p.sum()


def synthetic(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """``n`` texts and unit vectors, deterministic for (n, seed)."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary()
    idx = rng.choice(len(vocab), size=(n, WORDS_PER_CHUNK), p=zipf_p(len(vocab)))
    texts = [" ".join(vocab[i] for i in row) for row in idx.tolist()]
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return texts, vectors


def queries(count: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(123)
    vocab = vocabulary()
    p = zipf_p(len(vocab))
    lengths = rng.integers(3, 9, size=count)
    texts = [" ".join(vocab[i] for i in rng.choice(len(vocab), size=int(m), p=p)) for m in lengths]
    vectors = rng.standard_normal((count, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return texts, vectors


def add_files(collection, texts: list[str], vectors: np.ndarray, prefix: str) -> None:
    from ingest.records import Chunk
    from ingest.store import FileRecord

    for f, start in enumerate(range(0, len(texts), CHUNKS_PER_FILE)):
        source = f"/synthetic/{prefix}{f:06d}.pdf"
        part = texts[start : start + CHUNKS_PER_FILE]
        chunks = [Chunk(source, i // 4 + 1, 0, len(t), t) for i, t in enumerate(part)]
        record = FileRecord(source, f"{f:064x}", 1000, pages=len(part) // 4 + 1, chunk_ids=[])
        collection.add_file(record, chunks, vectors[start : start + len(part)])


def build(n: int, index_dir: Path) -> None:
    """Child process: build + commit the collection, then time a one-file incremental update."""
    from ingest import store
    from ingest.store import Collection

    t0 = time.perf_counter()
    texts, vectors = synthetic(n, seed=n)
    t1 = time.perf_counter()
    collection = Collection(embed_model="synthetic:torch:384", dim=DIM)
    add_files(collection, texts, vectors, "doc")
    t2 = time.perf_counter()
    store.commit(collection, index_dir)
    extra_texts, extra_vectors = synthetic(10, seed=n + 1)  # generated outside the timing
    t3 = time.perf_counter()
    add_files(collection, extra_texts, extra_vectors, "extra")
    store.commit(collection, index_dir)
    t4 = time.perf_counter()
    size_mb = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file()) / 2**20
    del collection
    t5 = time.perf_counter()
    loaded = store.load(index_dir)  # what a reader (or the next writer) pays: every segment read
    t6 = time.perf_counter()
    loaded.keyword_index()  # BM25 built in memory from the stored terms, at the first keyword search
    t7 = time.perf_counter()
    print(
        f"BUILD {t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f} {t4 - t3:.3f} {size_mb:.1f} {t6 - t5:.3f} {t7 - t6:.3f}",
        flush=True,
    )


def run_build(n: int, index_dir: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_build", str(n), str(index_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("BUILD"))
    gen, add, commit, incr, size, load_s, bm25_s = (float(x) for x in line.split()[1:])
    return {"generate": gen, "add": add, "commit": commit, "incremental": incr, "disk_mb": size, "load": load_s,
            "bm25": bm25_s}  # fmt: skip


def measure(n: int, n_queries: int, embedder, rows: dict) -> None:
    import faiss

    from rag.retrieve import Retriever, fuse_scores
    from rag.settings import Settings

    with tempfile.TemporaryDirectory(prefix=f"rag-bench-query-{n}-") as tmp:
        home = Path(tmp)
        built = run_build(n, home / "index")
        rows["build"].append([n, built["generate"], built["add"], built["commit"], built["incremental"],
                              built["disk_mb"], built["load"], built["bm25"]])  # fmt: skip
        q_texts, q_vecs = queries(n_queries)
        settings = Settings(home=home)
        k = settings.top_k
        pool = max(k, settings.candidate_pool)

        rss0 = C.rss_mb()
        retriever = Retriever(settings, embedder)
        t0 = time.perf_counter()
        collection = retriever.collection  # loads the committed generation
        load_s = time.perf_counter() - t0
        rss_loaded = C.rss_mb()

        # (a) baseline: raw FAISS flat IP over the same vectors
        _, vectors = synthetic(n, seed=n)
        flat = faiss.IndexFlatIP(DIM)
        flat.add(vectors)
        del vectors
        for q in q_vecs[:5]:
            flat.search(q[None, :], pool)
        raw = []
        for q in q_vecs:
            t = time.perf_counter()
            flat.search(q[None, :], pool)
            raw.append(time.perf_counter() - t)
        del flat

        # (b) Retriever.search end to end (includes the real query embedding)
        for q in q_texts[:5]:
            retriever.search(q, k)
        e2e = []
        for q in q_texts:
            e2e.append(retriever.search(q, k).seconds)

        # (b) parts, same queries
        parts = {"embed": [], "vector": [], "keyword": [], "fusion": [], "no_embed": []}
        keywords = collection.keyword_index()
        for q in q_texts:
            t = time.perf_counter()
            qv = embedder.embed([q])[0]
            t_embed = time.perf_counter()
            scores, ids = collection.vectors.search(qv, pool)
            t_vec = time.perf_counter()
            kw = keywords.search(q, pool)
            t_kw = time.perf_counter()
            dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
            fuse_scores([dense, kw])[:k]
            t_fuse = time.perf_counter()
            parts["embed"].append(t_embed - t)
            parts["vector"].append(t_vec - t_embed)
            parts["keyword"].append(t_kw - t_vec)
            parts["fusion"].append(t_fuse - t_kw)
            parts["no_embed"].append(t_fuse - t_embed)
        base50, base95 = C.pct(raw, 50), C.pct(raw, 95)

        def row(label: str, values: list[float]) -> list:
            p50, p95 = C.pct(values, 50), C.pct(values, 95)
            return [n, label, p50 * 1e3, p95 * 1e3, C.ratio(p50, base50), C.ratio(p95, base95)]

        rows["latency"] += [
            row("raw faiss.IndexFlatIP.search (baseline)", raw),
            row("VectorIndex.search (IDMap2)", parts["vector"]),
            row("KeywordIndex.search (bm25s)", parts["keyword"]),
            row("fuse_scores", parts["fusion"]),
            row("search without query embedding", parts["no_embed"]),
            row("query embedding (MiniLM)", parts["embed"]),
            row("Retriever.search end to end", e2e),
        ]
        rows["memory"].append([n, load_s, rss_loaded - rss0, C.rss_mb() - rss0, n * DIM * 4 / 2**20])
        del retriever, collection, keywords


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1k and 10k chunks, 100 queries")
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="collection sizes")
    p.add_argument("--queries", type=int, default=200, help="queries per size (default 200)")
    p.add_argument("--_build", nargs=2, metavar=("N", "DIR"), help=argparse.SUPPRESS)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    if args._build:
        build(int(args._build[0]), Path(args._build[1]))
        return
    if args.quick:
        args.sizes = [s for s in args.sizes if s <= 10000] or args.sizes[:1]
        args.queries = min(args.queries, 100)
    C.header("query_latency")

    from ingest.embedder import Embedder

    embedder = Embedder()
    embedder.embed(["warm up"])
    print(f"sizes {args.sizes}, {args.queries} queries each, top_k from settings, pool max(4k, 20)", flush=True)
    rows: dict[str, list] = {"build": [], "latency": [], "memory": []}
    for n in args.sizes:
        measure(n, args.queries, embedder, rows)
        print(f"  {n:,} chunks done; {C.load_line()}", flush=True)

    C.print_table("latency per query, ms (ratios against raw FAISS flat search at the same size)",
                  ["chunks", "what", "p50 ms", "p95 ms", "p50 × raw", "p95 × raw"], rows["latency"])  # fmt: skip
    C.print_table("memory: loading the committed collection into a Retriever",
                  ["chunks", "load s", "RSS delta after load MiB", "RSS delta after queries MiB",
                   "raw float32 vectors MiB"], rows["memory"])  # fmt: skip
    C.print_table("building (child process): store.commit of the whole collection, then +1 file of 10 chunks, "
                  "then store.load and the BM25 build of the first keyword search",
                  ["chunks", "generate s", "add_file s", "commit s", "+1 file & commit s", "on disk MiB", "load s",
                   "BM25 build s"],
                  rows["build"])  # fmt: skip


if __name__ == "__main__":
    main()
