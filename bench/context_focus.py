"""What the model reads: how often the prompt's passages hold the expected fact, and how long they are.

For each gold set (indexed as in ``bench/evidence_quality.py``, same ``--cache``), the top passages are taken
whole (the default: k = 3) or cut by :func:`focus_passages` to the run of sentences around their best
evidence sentence (the window grows forward first, as the evidence quotes do, until ``words`` words: more
places in the prompt for the same length); printed per set and variant: the share of answerable rows whose
passages hold an expected string, the passages' mean words (prompt length, at ~1.3 tokens a word, is the wait
before the first token) and the time the cutting took.

    python bench/context_focus.py --variants 3:0,5:0,5:100,6:80
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import _common as C  # noqa: F401  (sys.path and offline environment)
import numpy as np
from evidence_quality import SETS, TUNE, holds, settings_for

from ingest.embedder import Embedder
from rag.evaluate import read_gold
from rag.evidence import COSINE_WEIGHT, _idf, sentence_spans
from rag.grounding import content_words, stem
from rag.language import detect_language
from rag.retrieve import Passage, Retriever

FOCUS_WORDS = 100
"""Words of each passage the model reads (a passage this short or shorter is read whole)."""


def _window(spans: list[tuple[int, int]], best: int, words: list[int], budget: int) -> tuple[int, int]:
    """First and last sentence of the window grown from ``best``, forward first, within ``budget`` words."""
    first = last = best
    total = words[best]
    grew = True
    while grew:
        grew = False
        if last + 1 < len(spans) and total + words[last + 1] <= budget:
            last += 1
            total += words[last]
            grew = True
        if first > 0 and total + words[first - 1] <= budget:
            first -= 1
            total += words[first]
            grew = True
    return first, last


def focus_passages(
    question: str, passages: list[Passage], embedder: Embedder, words: int = FOCUS_WORDS
) -> list[Passage]:
    """Each passage cut to the ``words``-word run of sentences around its sentence that best answers
    ``question`` (passages no longer than ``words`` are kept whole); order and scores unchanged."""
    if words <= 0 or not passages:
        return passages
    asked = {stem(w) for w in content_words(question)}
    split: list[list[tuple[int, int]]] = []
    texts: list[str] = []
    for passage in passages:
        spans = sentence_spans(passage.text, detect_language(passage.text))
        if len(passage.text.split()) <= words or len(spans) < 2:
            spans = []
        split.append(spans)
        texts.extend(passage.text[a:b] for a, b in spans)
    if not texts:
        return passages
    stems = [{stem(w) for w in content_words(t)} for t in texts]
    idf = _idf(asked, stems)
    weight = sum(idf.values()) or 1.0
    vectors = embedder.embed([question, *texts])
    cosines = vectors[1:] @ vectors[0]
    scores = [
        COSINE_WEIGHT * float(c) + (1 - COSINE_WEIGHT) * sum(w for q, w in idf.items() if q in s) / weight
        for c, s in zip(cosines, stems, strict=True)
    ]
    focused, row = [], 0
    for passage, spans in zip(passages, split, strict=True):
        if not spans:
            focused.append(passage)
            continue
        own = scores[row : row + len(spans)]
        row += len(spans)
        best = int(np.argmax(own))
        lengths = [len(passage.text[a:b].split()) for a, b in spans]
        first, last = _window(spans, best, lengths, words)
        focused.append(replace(passage, text=passage.text[spans[first][0] : spans[last][1]]))
    return focused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", choices=sorted(SETS), help="gold sets (default: all answerable)")
    parser.add_argument("--variants", default="3:0,5:0,5:100,5:80,6:80,4:120", help="k:words (0: whole passages)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rag-evidence-bench"))
    args = parser.parse_args()
    variants = [tuple(int(x) for x in v.split(":")) for v in args.variants.split(",")]
    deepest = max(k for k, _ in variants)
    names = args.set or [n for n in sorted(SETS) if n != "unanswerable"]
    held: dict[tuple[int, int], dict[str, float]] = {v: {} for v in variants}
    print(f"{'set':<15} " + " ".join(f"{f'{k}:{w}':>15}" for k, w in variants))
    for name in names:
        settings = settings_for(name, args.cache)
        retriever = Retriever(settings)
        rows = [r for r in read_gold(SETS[name][0]) if not r.get("unanswerable")]
        cells = []
        for k, words in variants:
            hits, lengths, seconds = 0, [], 0.0
            for row in rows:
                passages = retriever.search(row["query"], deepest).passages[:k]
                started = time.perf_counter()
                passages = focus_passages(row["query"], passages, retriever.embedder, words)
                seconds += time.perf_counter() - started
                hits += any(holds(p.text, row) for p in passages)
                lengths.append(sum(len(p.text.split()) for p in passages))
            held[(k, words)][name] = hits / len(rows)
            cells.append(f"{hits / len(rows):.3f}/{statistics.mean(lengths):4.0f}w/{seconds / len(rows):.2f}s")
        print(f"{name:<15} " + " ".join(f"{c:>15}" for c in cells), flush=True)
    for label, group in (("tune", TUNE), ("held-out", [n for n in names if n not in TUNE])):
        line = []
        for v in variants:
            values = [held[v][n] for n in group if n in held[v]]
            line.append(f"{statistics.mean(values):.3f}" if values else "-")
        print(f"{label:<15} " + " ".join(f"{c:>15}" for c in line))


if __name__ == "__main__":
    main()
