"""A deeper pool of passages re-ordered by their best sentence before the first k are shown.

Retrieval ranks chunks by the question against whole chunks (MiniLM, BM25); the fact asked for is often in one
sentence of a chunk ranked 4th to 6th, whose other sentences are about something else. Each passage of the pool
gets the score of its best evidence sentence (``rag.evidence``: cosine and rare question words, on the sentences
holding most of the question's words), and the pool is ordered by

    fused / best fused of the pool + weight * best sentence score

with no extra model (the pool's sentences are embedded once more than the quotes need: the quotes are then taken
from the chosen passages, widened again). Off by default (``RAG_RERANK_POOL=0``): measured with
``bench/passage_rerank.py`` and the answers of ``rag eval --answers``, it showed more expected passages and lost
right answers of the default model (``eval/README.md``).
"""

from __future__ import annotations

import time

from ingest.embedder import Embedder
from rag.evidence import best_sentences
from rag.retrieve import Passage, Retrieval, Retriever


def rerank_order(question: str, passages: list[Passage], embedder: Embedder, weight: float) -> list[int]:
    """Positions of ``passages`` best first by their fused score (scaled to the pool's best) plus ``weight``
    times their best sentence's score; ties keep the fused order."""
    if not passages:
        return []
    top = max(p.fused for p in passages) or 1.0
    best = best_sentences(question, passages, embedder)
    return sorted(range(len(passages)), key=lambda i: (-(passages[i].fused / top + weight * best[i]), i))


def reranked(retriever: Retriever, question: str, pool: Retrieval, k: int, weight: float) -> Retrieval:
    """The ``k`` passages of ``pool`` that :func:`rerank_order` puts first, in their fused order, widened against
    each other; the time taken is added to the retrieval's. Only which passages are shown changes, not their order:
    with the re-ranked order, the model's answers changed on rows whose passages were the same (a passage's place in
    the prompt matters to a 1.5B model, see ``passage_order``), and papers lost two right answers."""
    started = time.perf_counter()
    order = sorted(rerank_order(question, pool.passages, retriever.embedder, weight)[:k])
    chosen = retriever.select(pool, order)
    chosen.seconds = pool.seconds + time.perf_counter() - started
    return chosen
