"""Time from question to the first evidence quote: retrieval then ``rag.evidence.find_evidence``.

Indexes a corpus into a temporary data folder (default: the localgpt PDFs of ``../shared/eval``),
then, over the questions of the gold files, measures in this process:

(a) retrieval alone (``Retriever.search``, top k, query embedding included): the baseline;
(b) the answer's retrieval (``QA.retrieve``: a pool of ``rerank_pool`` re-ranked by its best sentences, the
    top k kept) followed by evidence (sentence split, one embedding batch, scoring): what the user waits
    for before the first quote appears in the CLI and the app;
(c) evidence alone;
(d) the answer's retrieval alone (re-ranking included).

Prints p50 / p95 of each, and the ratio (b) / (a). Each question runs ``--repeat`` times, after one
warm-up pass.

    python bench/evidence_latency.py --k 3 --repeat 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import _common as C

from ingest.indexer import index_folder
from rag.answer import QA
from rag.evaluate import read_gold
from rag.evidence import find_evidence
from rag.retrieve import Retriever
from rag.settings import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval" / "localgpt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHARED, help="folder to index (default ../shared/eval/localgpt)")
    parser.add_argument(
        "--gold", type=Path, nargs="*", default=[SHARED / f"{name}.jsonl" for name in ("atlas7", "hr", "acquisition")]
    )
    parser.add_argument("--k", type=int, default=3, help="passages the quotes are taken from (RAG_TOP_K)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="at most this many questions (0: all)")
    args = parser.parse_args()
    C.header("evidence_latency")

    questions = [row["query"] for path in args.gold for row in read_gold(path)]
    questions = questions[: args.limit] if args.limit else questions
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        report = index_folder(args.corpus, settings)
        print(f"indexed {args.corpus}: {report.chunks} chunks; {len(questions)} questions x {args.repeat}, k={args.k}")
        retriever = Retriever(settings)
        qa = QA(settings, retriever)
        print(f"re-ranked pool: {settings.rerank_pool} passages")
        for question in questions:  # warm-up: model weights, index, tokenizer caches
            find_evidence(question, qa.retrieve(question, args.k).passages, retriever.embedder)
        retrieval, both, evidence, reranked, quotes = [], [], [], [], []
        for _ in range(args.repeat):
            for question in questions:
                started = time.perf_counter()
                result = retriever.search(question, args.k)
                retrieval.append(time.perf_counter() - started)
                started = time.perf_counter()
                result = qa.retrieve(question, args.k)
                middle = time.perf_counter()
                found = find_evidence(question, result.passages, retriever.embedder)
                ended = time.perf_counter()
                both.append(ended - started)
                evidence.append(ended - middle)
                reranked.append(middle - started)
                quotes.append(len(found))
    print(f"{'what':<34}{'p50 ms':>10}{'p95 ms':>10}")
    for label, values in (
        ("(a) retrieval alone", retrieval),
        ("(b) retrieval + evidence", both),
        ("(c) evidence alone", evidence),
        ("(d) re-ranked retrieval alone", reranked),
    ):
        print(f"{label:<34}{1000 * C.pct(values, 50):>10.1f}{1000 * C.pct(values, 95):>10.1f}")
    p50, p95 = C.pct(both, 50) / C.pct(retrieval, 50), C.pct(both, 95) / C.pct(retrieval, 95)
    print(f"ratio (b)/(a): p50 {p50:.2f}x, p95 {p95:.2f}x")
    slow = sum(b > 0.5 for b in both)
    print(f"quotes per question: {sum(quotes) / len(quotes):.2f}; questions over 0.5 s: {slow}/{len(both)}")
    print(C.load_line(), "at the end")


if __name__ == "__main__":
    main()
