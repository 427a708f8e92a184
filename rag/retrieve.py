"""Question -> passages: dense (FAISS cosine) and BM25 results fused by their scores, each scaled to its best."""

from __future__ import annotations

import time
from collections.abc import Collection as Sources
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ingest.backends import IndexStore, open_store
from ingest.embedder import Embedder, get_embedder
from ingest.keyword_index import tokenize
from ingest.records import Chunk
from ingest.store import Collection
from rag.settings import Settings, get_settings


@dataclass
class Passage:
    """A retrieved chunk with its place in the source and its scores."""

    chunk_id: int
    source: str
    page: int
    start: int
    end: int
    text: str
    score: float
    """Cosine similarity between question and passage (-1..1)."""
    fused: float = 0.0
    """Fused score that ordered the results (:func:`fuse_scores`)."""
    page_end: int = 0
    """Last page the passage runs onto (0: the same as ``page``)."""
    section: str = ""
    """Heading path above the passage in its document."""
    title: str = ""
    """What names the document (file name, metadata title, running header)."""

    @property
    def name(self) -> str:
        """File name of the source."""
        return Path(self.source).name

    @property
    def page_label(self) -> str:
        """The page as a reader names it: "page 3", or "pages 3-4" for a passage that runs onto the next page."""
        return f"pages {self.page}-{self.page_end}" if self.page_end > self.page else f"page {self.page}"

    @property
    def pages(self) -> range:
        """Every page the passage lies on."""
        return range(self.page, max(self.page, self.page_end) + 1)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {**asdict(self), "page_end": max(self.page, self.page_end), "name": self.name}


@dataclass
class Retrieval:
    """Passages for one question, best first, and how long finding them took."""

    question: str
    passages: list[Passage]
    seconds: float
    top_cosine: float = 0.0
    """Highest cosine between the question and any chunk of the index, fused into the passages or not."""

    @property
    def best_score(self) -> float:
        """How close the index comes to the question: the top cosine over the index or the passages (0 if empty)."""
        return max([self.top_cosine, *(p.score for p in self.passages)]) if self.passages else 0.0


class Retriever:
    """Searches the committed index through the configured store; a newer commit is seen by the next search."""

    def __init__(
        self, settings: Settings | None = None, embedder: Embedder | None = None, store: IndexStore | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self.embedder = embedder or get_embedder(
            self.settings.embed_model, self.settings.embed_backend, self.settings.embed_batch_size
        )
        self.store = store or open_store(self.settings)

    @property
    def collection(self) -> Collection | None:
        """The loaded local generation (local store only; None for other stores)."""
        return getattr(self.store, "collection", None)

    def search(
        self,
        question: str,
        k: int | None = None,
        hybrid: bool = True,
        sources: Sources[str] | None = None,
        context: str = "",
    ) -> Retrieval:
        """Top ``k`` passages for ``question``, among the files in ``sources`` when given.

        ``context`` is what a follow-up question refers to (the conversation's previous question). When the
        question alone comes no closer to any passage than ``followup_score``, it is searched once more followed by
        the context and the rankings are fused: "How tight is the tolerance on that?" then finds the passage the
        conversation is about. A question that finds passages of its own keeps them (searched with the context as
        well, "Qu'est-ce que le RAG ?" after a question on optimisers lost the course page that defines RAG).
        """
        k = k or self.settings.top_k
        started = time.perf_counter()
        texts = [question, f"{question}\n{context}"] if context.strip() else [question]
        with self.store.read() as index:
            if not index.count():
                return Retrieval(question, [], time.perf_counter() - started)
            query = self.embedder.embed([question])[0]
            pool = max(k, self.settings.candidate_pool)  # the same fused order at any k up to the pool
            cosine: dict[int, float] = {}
            ranked: list[list[tuple[int, float]]] = []
            weights: list[float] = []
            for text in texts:
                if cosine and max(cosine.values()) >= self.settings.followup_score:
                    break  # the question found passages of its own: the context is not needed
                vector = query if text is question else self.embedder.embed([text])[0]
                dense = index.dense_search(vector, pool, sources)
                for chunk_id, score in dense:  # a follow-up is as close as it is with its context
                    cosine[chunk_id] = max(score, cosine.get(chunk_id, -1.0))
                ranked.append(dense)
                weights.append(1.0)
                if hybrid:
                    ranked.append(index.keyword_search(text, pool, sources))
                    weights.append(self.settings.keyword_weight)
            candidates = fuse_scores(ranked, weights)
            chunks = index.chunks({i + step for i, _ in candidates for step in (-1, 0, 1)})
            fused = distinct([item for item in candidates if item[0] in chunks], chunks, k)
            missing = [chunk_id for chunk_id, _ in fused if chunk_id not in cosine]
            if missing:
                cosine.update(index.cosine(query, missing))
        chosen = {chunk_id for chunk_id, _ in fused}
        passages = []
        for chunk_id, fused_score in fused:
            chunk = chunks[chunk_id]
            text, last_page = widen(chunks, chunk_id, self.settings.context_words, chosen)
            passages.append(
                Passage(
                    chunk_id,
                    chunk.source,
                    chunk.page,
                    chunk.start,
                    chunk.end,
                    text,
                    cosine[chunk_id],
                    fused_score,
                    last_page,
                    chunk.section,
                    chunk.title,
                )
            )
        return Retrieval(question, passages, time.perf_counter() - started, max(cosine.values(), default=0.0))

    def select(self, retrieval: Retrieval, order: list[int]) -> Retrieval:
        """The passages of ``retrieval`` at the positions ``order``, in that order, each widened again against the
        chosen ones only: a neighbour that was a passage of its own in the deeper search, and is no longer shown,
        widens the passage beside it as it would have in a search as deep as ``order``."""
        passages = [retrieval.passages[i] for i in order]
        chosen = {p.chunk_id for p in passages}
        with self.store.read() as index:
            chunks = index.chunks({i + step for i in chosen for step in (-1, 0, 1)})
        widened = []
        for passage in passages:
            text, last_page = widen(chunks, passage.chunk_id, self.settings.context_words, chosen)
            widened.append(replace(passage, text=text, page_end=last_page))
        return replace(retrieval, passages=widened)


def _shared_words(before: list[str], after: list[str]) -> int:
    """How many words end ``before`` and also start ``after`` (the overlap of two neighbouring chunks)."""
    for size in range(min(len(before), len(after)), 0, -1):
        if before[-size:] == after[:size]:
            return size
    return 0


def widen(chunks: Mapping[int, Chunk], chunk_id: int, words: int, chosen: set[int]) -> tuple[str, int]:
    """The chunk's text with up to ``words`` words of its neighbours on each side ("small to big": retrieve on
    small chunks, read the place around them), and the last page the result reaches.

    The words before come from the same page only, so the passage still starts on the chunk's page; the words
    after may come from the top of the next page (an answer that a page break cut off), and the passage then
    spans both pages. Neighbours retrieved themselves are left to their own passage.
    """
    chunk = chunks[chunk_id]
    if words <= 0:
        return chunk.text, chunk.last_page
    text = chunk.text.split()
    last_page = chunk.last_page
    before = chunks.get(chunk_id - 1)
    if before and chunk_id - 1 not in chosen and before.source == chunk.source and before.last_page == chunk.page:
        previous = before.text.split()
        previous = previous[: len(previous) - _shared_words(previous, text)]
        text = previous[-words:] + text
    after = chunks.get(chunk_id + 1)
    if (
        after
        and chunk_id + 1 not in chosen
        and after.source == chunk.source
        and after.page in (chunk.last_page, chunk.last_page + 1)
    ):
        following = after.text.split()
        taken = following[_shared_words(text, following) :][:words]
        if taken:
            text += taken
            last_page = max(last_page, after.page)
    return " ".join(text), last_page


DUPLICATE_SHARE = 0.8
"""A passage whose words are this much inside a better-ranked one (a slide repeated with one more bullet, the
same paragraph in two files) is left out, so it does not take one of the k places. Measured on every set (2026-12-04,
``bench/RESULTS.md``): 0.6 loses a French row, 0.9 or no de-duplication a FinanceBench row; 0.7 reads as 0.8."""


def distinct(ranked: list[tuple[int, float]], chunks: Mapping[int, Chunk], k: int) -> list[tuple[int, float]]:
    """The first ``k`` of ``ranked`` that do not repeat a passage already taken."""
    taken: list[tuple[tuple[int, float], set[str]]] = []
    for item in ranked:
        words = set(tokenize(chunks[item[0]].text))
        if not any(len(words & seen) >= DUPLICATE_SHARE * max(1, min(len(words), len(seen))) for _, seen in taken):
            taken.append((item, words))
            if len(taken) == k:
                break
    return [item for item, _ in taken]


TIE_BREAK = 1e-9
"""Far below any scaled score's resolution: orders ids the scores cannot tell apart by their ranks."""


def fuse_scores(rankings: list[list[tuple[int, float]]], weights: list[float] | None = None) -> list[tuple[int, float]]:
    """Fuse scored rankings ((id, score) lists, best first): each score is divided by the best of its ranking, so
    a cosine and a BM25 score weigh alike whatever their scales, then weighted and summed over the rankings (an
    id a ranking lacks gets nothing from it). Unlike reciprocal rank fusion, how far ahead a top hit is counts:
    a chunk the dense ranking puts first by a wide margin is not overtaken by one that both rankings put 10th.

    A score that is not positive (a question no chunk is close to has negative cosines) adds nothing, but its id
    still enters in its ranking's order (a tie-break of ``TIE_BREAK / rank``), so such a question still gets its
    closest passages to show beside the refusal.
    """
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        best = max((score for _, score in ranking), default=0.0)
        for rank, (item, score) in enumerate(ranking, 1):
            scaled = max(score, 0.0) / best if best > 0 else 0.0
            scores[item] = scores.get(item, 0.0) + weight * scaled + TIE_BREAK / rank
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
