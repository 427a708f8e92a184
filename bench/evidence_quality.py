"""How often the first evidence quote holds the expected fact, and how quotes score on unanswerable questions.

For each gold set (indexed into its own temporary data folder, the folder kept between runs under
``--cache``), retrieval gives the top-k passages the answer would see; ``rag.evidence.find_evidence``
picks quotes from them for each cosine weight of ``--weights``. Printed per set and weight:

- ``in passages``: share of answerable rows whose top-k passages (``QA.retrieve``, re-ranked) hold an expected
  string (the ceiling);
- ``quote@1`` / ``any quote``: share whose first quote / any quote holds it (verbatim, case and spaces
  ignored, or the lenient ``answer_matches`` of ``rag eval``);
- the first quote's score on answerable rows where it holds the fact, and on unanswerable rows
  (quantiles), which is what the quote threshold of ``rag.answer`` is chosen from; with ``--curve``,
  for each threshold, the share of answerable rows whose right quote clears it and the share of
  unanswerable rows whose quote would be shown.

    python bench/evidence_quality.py --set atlas7 --set hr --weights 0.3,0.5,0.7 --curve

Weights and rules of ``rag.evidence`` may be chosen on the :data:`TUNE` sets only; ``acquisition``,
``paraphrases``, ``docs``, ``french-holdout`` and ``papers`` are reported.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import _common as C  # noqa: F401  (sys.path and offline environment)

from ingest.indexer import index_folder
from rag.answer import QA
from rag.evaluate import answer_contains, answer_matches, read_gold
from rag.evidence import find_evidence
from rag.retrieve import Retriever
from rag.settings import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
REPO = Path(__file__).resolve().parents[1]
LOCALGPT = SHARED / "localgpt"
ATLAS7 = [LOCALGPT / "atlas7_service_manual.pdf"]
HR = [LOCALGPT / "northwind_leave_policy.pdf"]
ACQUISITION = sorted((LOCALGPT / "acquisition").glob("*.pdf"))
FRENCH = sorted((SHARED / "french").glob("*.pdf"))
SETS = {
    "atlas7": (LOCALGPT / "atlas7.jsonl", ATLAS7),
    "hr": (LOCALGPT / "hr.jsonl", HR),
    "acquisition": (LOCALGPT / "acquisition.jsonl", ACQUISITION),
    "paraphrases": (LOCALGPT / "paraphrases.jsonl", [*ATLAS7, *HR, *ACQUISITION]),
    "french": (REPO / "eval" / "french.jsonl", FRENCH),
    "default": (REPO / "eval" / "default_docs.jsonl", sorted((REPO / "data" / "docs").glob("*.pdf"))),
    "unanswerable": (REPO / "eval" / "unanswerable.jsonl", [*ATLAS7, *HR, *ACQUISITION, *FRENCH]),
    "docs": (LOCALGPT / "docs.jsonl", sorted((LOCALGPT / "docs").glob("*.md"))),
    "french-holdout": (REPO / "eval" / "french_holdout.jsonl", FRENCH),
    "papers": (REPO / "eval" / "papers_holdout.jsonl", sorted((SHARED / "papers").glob("*.pdf"))),
}
TUNE = ("atlas7", "hr", "french", "default", "unanswerable")
"""Sets a weight or rule of ``rag.evidence`` may be chosen on; the others are reported only."""


def settings_for(name: str, cache: Path) -> Settings:
    """Settings on a data folder holding links to the set's documents only, indexed (incrementally)."""
    home = cache / name
    docs = home / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for path in SETS[name][1]:
        link = docs / path.name
        if not link.exists():
            link.symlink_to(path)
    settings = Settings(home=home)
    index_folder(docs, settings)
    return settings


def holds(text: str, row: dict) -> bool:
    """Whether a quote holds an expected string."""
    return answer_contains(text, row) or answer_matches(text, row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", choices=sorted(SETS), help="gold sets (default: all)")
    parser.add_argument("--weights", default="0.5", help="cosine weights to try, comma-separated")
    parser.add_argument("--k", type=int, default=3, help="passages the answer sees (default 3)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "rag-evidence-bench")
    parser.add_argument("--curve", action="store_true", help="print the threshold trade-off")
    parser.add_argument("--show", action="store_true", help="print each row's first quote")
    parser.add_argument("--new-words", type=int, default=3, help="rag.evidence.NEW_WORDS")
    parser.add_argument("--max-sentences", type=int, default=12, help="rag.evidence.MAX_SENTENCES")
    args = parser.parse_args()
    weights = [float(w) for w in args.weights.split(",")]
    right: dict[float, list[float]] = {w: [] for w in weights}
    per_set: dict[float, dict[str, float]] = {w: {} for w in weights}
    unanswerable: dict[float, list[float]] = {w: [] for w in weights}
    answerable_total = 0
    for name in args.set or sorted(SETS):
        settings = settings_for(name, args.cache)
        retriever = Retriever(settings)
        rows = read_gold(SETS[name][0])
        qa = QA(settings, retriever)  # the passages the answer reads (re-ranked, as in the app)
        retrievals = [qa.retrieve(row["query"], args.k) for row in rows]
        answerable = [i for i, row in enumerate(rows) if not row.get("unanswerable")]
        answerable_total += len(answerable)
        ceiling = sum(any(holds(p.text, rows[i]) for p in retrievals[i].passages) for i in answerable)
        print(f"\n{name}: {len(answerable)} answerable, {len(rows) - len(answerable)} unanswerable")
        if answerable:
            print(f"  in passages (ceiling): {ceiling / len(answerable):.3f}")
        for weight in weights:
            first = anywhere = 0
            for row, retrieval in zip(rows, retrievals, strict=True):
                quotes = find_evidence(
                    row["query"],
                    retrieval.passages,
                    retriever.embedder,
                    cosine_weight=weight,
                    new_words=args.new_words,
                    max_sentences=args.max_sentences,
                )
                if args.show and weight == weights[0]:
                    top = quotes[0] if quotes else None
                    shown = f"{top.score:.3f} {top.text[:150]!r}" if top else "-"
                    mark = "U" if row.get("unanswerable") else ("+" if top and holds(top.text, row) else "-")
                    print(f"    {mark} {row.get('id', '')}: {row['query'][:70]}\n        {shown}")
                if row.get("unanswerable"):
                    unanswerable[weight].append(quotes[0].score if quotes else 0.0)
                    continue
                if quotes and holds(quotes[0].text, row):
                    first += 1
                    right[weight].append(quotes[0].score)
                anywhere += any(holds(q.text, row) for q in quotes)
            if answerable:
                per_set[weight][name] = first / len(answerable)
                print(
                    f"  weight {weight}: quote@1 {first / len(answerable):.3f}, "
                    f"any quote {anywhere / len(answerable):.3f}"
                )
    for weight in weights:
        print(f"\nweight {weight}: first-quote scores")
        for label, names in (("tune", TUNE), ("held-out", [n for n in SETS if n not in TUNE])):
            values = [per_set[weight][n] for n in names if n in per_set[weight]]
            if values:
                print(f"  quote@1, macro over the {label} sets run ({len(values)}): {statistics.mean(values):.3f}")
        for label, values in (("right quote", right[weight]), ("unanswerable", unanswerable[weight])):
            if len(values) >= 2:
                q = statistics.quantiles(values, n=10)
                median = statistics.median(values)
                print(f"  {label:>12} (n={len(values)}): p10 {q[0]:.3f}  p50 {median:.3f}  p90 {q[-1]:.3f}")
        if args.curve and answerable_total:
            print("  threshold  right quotes kept (of answerable)  unanswerable quoted")
            for step in range(30, 75, 5):
                t = step / 100
                kept = sum(s >= t for s in right[weight]) / answerable_total
                shown = sum(s >= t for s in unanswerable[weight]) / max(1, len(unanswerable[weight]))
                print(f"  {t:9.2f}  {kept:32.3f}  {shown:19.3f}")


if __name__ == "__main__":
    main()
