"""Does re-ranking a deeper pool by its best sentence (``rag/rerank.py``) put the answering passage among those shown?

For every answerable row of the gold sets of ``bench/evidence_quality.py`` (each set on its own index, cached
under ``--cache``), prints hit@k (``rag.evaluate.is_hit``) of the passages the answer sees:

- ``fused``: the first k of the fused search (no re-ranking, ``rerank_pool`` at most k);
- ``pool``: whether any of a pool's passages is a hit (the ceiling of re-ranking that pool);
- ``p{pool} w{weight}``: the k that ``rag.rerank.reranked`` chooses from a pool of that depth;

per set, as the macro average over the tune sets (``evidence_quality.TUNE``, which the default was chosen on)
and over the held-out ones, with the p50 time re-ranking added.

    python bench/passage_rerank.py --pools 6,10 --weights 0.5,0.75,1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import evidence_quality as EQ

from rag.evaluate import is_hit, read_gold
from rag.rerank import reranked
from rag.retrieve import Retriever


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", choices=sorted(EQ.SETS), help="gold sets (default: all)")
    parser.add_argument("--k", type=int, default=3, help="passages shown (default 3)")
    parser.add_argument("--pools", default="6", help="pool depths, comma-separated")
    parser.add_argument("--weights", default="0.75", help="sentence weights, comma-separated")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "rag-evidence-bench")
    args = parser.parse_args()
    pools = [int(p) for p in args.pools.split(",")]
    weights = [float(w) for w in args.weights.split(",")]
    variants = [(p, w) for p in pools for w in weights]
    table: dict[str, dict[str, float]] = {}
    for name in args.set or [n for n in EQ.SETS if n != "unanswerable"]:
        retriever = Retriever(EQ.settings_for(name, args.cache))
        rows = [r for r in read_gold(EQ.SETS[name][0]) if not r.get("unanswerable")]
        hits: dict[str, int] = {"fused": 0, **{f"pool{p}": 0 for p in pools}}
        hits.update({f"p{p} w{w}": 0 for p, w in variants})
        seconds: list[float] = []
        for row in rows:
            hits["fused"] += any(is_hit(p, row) for p in retriever.search(row["query"], args.k).passages)
            for pool in pools:
                deeper = retriever.search(row["query"], pool)
                hits[f"pool{pool}"] += any(is_hit(p, row) for p in deeper.passages)
                for weight in weights:
                    started = time.perf_counter()
                    chosen = reranked(retriever, row["query"], deeper, args.k, weight)
                    seconds.append(time.perf_counter() - started)
                    hits[f"p{pool} w{weight}"] += any(is_hit(p, row) for p in chosen.passages)
        table[name] = {key: value / len(rows) for key, value in hits.items()}
        cells = " ".join(f"{key} {value:.3f}" for key, value in table[name].items())
        p50 = statistics.median(seconds) * 1000
        print(f"{name:15} n={len(rows):3} {cells}  re-ranking p50 {p50:.0f} ms", flush=True)
    keys = list(next(iter(table.values())))
    for label, names in (("tune", EQ.TUNE), ("held-out", [n for n in table if n not in EQ.TUNE]), ("all", table)):
        present = [n for n in names if n in table]
        if present:
            cells = " ".join(f"{k} {statistics.mean(table[n][k] for n in present):.3f}" for k in keys)
            print(f"macro {label:9} ({len(present)}) {cells}")


if __name__ == "__main__":
    main()
