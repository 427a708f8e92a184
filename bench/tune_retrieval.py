"""Retrieval tuning: chunk size/overlap, passages k, dense vs hybrid, on the gold sets.

Prints recall@k and MRR per corpus for each chunking, so the defaults in rag/settings.py
are a measured choice. Each gold set is scored on its own corpus (as its authors intended).

    python bench/tune_retrieval.py                  # all corpora found, chunk sizes 100 150 200
    python bench/tune_retrieval.py --sizes 120 --quick
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ingest.embedder import get_embedder
from ingest.indexer import index_files, index_folder
from rag.evaluate import evaluate, read_gold
from rag.retrieve import Retriever
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval"

# (name, gold file, corpus: a folder or a list of files)
SETS = [
    ("atlas7", SHARED / "localgpt/atlas7.jsonl", [SHARED / "localgpt/atlas7_service_manual.pdf"]),
    ("hr", SHARED / "localgpt/hr.jsonl", [SHARED / "localgpt/northwind_leave_policy.pdf"]),
    ("acquisition", SHARED / "localgpt/acquisition.jsonl", SHARED / "localgpt/acquisition"),
    ("french", ROOT / "eval/french.jsonl", SHARED / "french"),
    ("default-docs", ROOT / "eval/default_docs.jsonl", ROOT / "data/docs"),
]


def run(sizes: list[int], overlap_ratio: float, ks: list[int], quick: bool, sets: list[str]) -> None:
    """Index each corpus per chunk size and print the metrics."""
    embedder = get_embedder()
    header = f"{'set':<13} {'words':>5} {'ovl':>4} {'mode':<6} {'chunks':>6} "
    print(header + " ".join(f"R@{k:<4}" for k in ks) + "  MRR")
    for name, gold, corpus in [s for s in SETS if s[0] in sets]:
        if not gold.exists() or not Path(corpus if isinstance(corpus, Path) else corpus[0]).exists():
            print(f"{name:<13} (absent, skipped)")
            continue
        rows = read_gold(gold)
        rows = [r for r in rows if not r.get("unanswerable")][: 12 if quick else None]
        for size in sizes:
            with tempfile.TemporaryDirectory() as home:
                settings = Settings(home=Path(home), chunk_words=size, chunk_overlap=int(size * overlap_ratio))
                if isinstance(corpus, Path):
                    index_folder(corpus, settings, embedder)
                else:
                    index_files(corpus, settings, embedder)
                retriever = Retriever(settings, embedder)
                chunks = len(retriever.collection.chunks)
                for mode in ("dense", "hybrid"):
                    recalls = []
                    mrr = 0.0
                    for k in ks:
                        report = evaluate(rows, retriever, k, hybrid=mode == "hybrid")
                        summary = report.summary()
                        recalls.append(summary[f"recall@{k}"])
                        mrr = summary["mrr"]
                    cells = " ".join(f"{r:<6.3f}" for r in recalls)
                    print(f"{name:<13} {size:>5} {settings.chunk_overlap:>4} {mode:<6} {chunks:>6} {cells} {mrr:.3f}")


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 150, 200], help="chunk sizes in words")
    parser.add_argument("--overlap", type=float, default=0.2, help="overlap as a share of the chunk size")
    parser.add_argument("--ks", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--quick", action="store_true", help="12 questions per set")
    parser.add_argument("--sets", nargs="+", default=[name for name, _, _ in SETS], help="which gold sets")
    args = parser.parse_args()
    run(args.sizes, args.overlap, args.ks, args.quick, args.sets)


if __name__ == "__main__":
    main()
