"""Question -> retrieval -> prompt -> streamed answer -> checked citations. Used by CLI and app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from rag.citations import Citation, map_citations
from rag.grounding import SentenceCheck, check_answer
from rag.language import detect_language
from rag.llm import Generation, LocalLLM, get_llm
from rag.prompt import REFUSALS, build_messages, is_refusal
from rag.retrieve import Passage, Retrieval, Retriever
from rag.settings import Settings, get_settings


@dataclass
class Answer:
    """A finished answer with its citations, the passages it saw, and where the time went."""

    question: str
    answer: str
    language: str
    refused: bool
    grounded: bool
    citations: list[Citation]
    passages: list[Passage]
    sentences: list[SentenceCheck] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready form (``rag ask --json``)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "language": self.language,
            "refused": self.refused,
            "grounded": self.grounded,
            "citations": [c.__dict__ for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "unsupported": [s.text for s in self.sentences if not s.supported],
            "timings": self.timings,
        }


class AnswerStream:
    """Iterate to receive the answer text piece by piece; then ``result`` holds the :class:`Answer`."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces
        self.result: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces


class QA:
    """The question-answering pipeline over the committed index."""

    def __init__(
        self, settings: Settings | None = None, retriever: Retriever | None = None, llm: LocalLLM | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self.retriever = retriever or Retriever(self.settings)
        self._llm = llm

    @property
    def llm(self) -> LocalLLM:
        """The generator, loaded on first use."""
        if self._llm is None:
            self._llm = get_llm(self.settings)
        return self._llm

    def retrieve(self, question: str, k: int | None = None) -> Retrieval:
        """The passages a question will be answered from."""
        return self.retriever.search(question, k or self.settings.top_k)

    def stream(self, question: str, retrieval: Retrieval | None = None) -> AnswerStream:
        """Answer ``question`` as a stream; retrieval runs first unless given."""
        holder = AnswerStream(iter(()))
        holder._pieces = self._generate(question, retrieval, holder)
        return holder

    def ask(self, question: str) -> Answer:
        """Answer ``question`` and return the finished :class:`Answer`."""
        stream = self.stream(question)
        for _ in stream:
            pass
        assert stream.result is not None
        return stream.result

    def _generate(self, question: str, retrieval: Retrieval | None, holder: AnswerStream) -> Iterator[str]:
        started = time.perf_counter()
        retrieval = retrieval or self.retrieve(question)
        language = detect_language(question)
        timings = {"retrieval_s": round(retrieval.seconds, 4), "best_score": round(retrieval.best_score, 4)}
        if not retrieval.passages or retrieval.best_score < self.settings.min_score:
            text = REFUSALS[language]
            yield text
            timings["total_s"] = round(time.perf_counter() - started, 4)
            holder.result = Answer(question, text, language, True, True, [], retrieval.passages, timings=timings)
            return
        stats = Generation()
        messages = build_messages(question, retrieval.passages, language)
        yield from self.llm.stream_chat(messages, self.settings.max_tokens, self.settings.temperature, stats)
        holder.result = self._finish(question, language, retrieval, stats, timings, started)

    def _finish(
        self, question: str, language: str, retrieval: Retrieval, stats: Generation, timings: dict, started: float
    ) -> Answer:
        raw = stats.text.strip()
        timings.update(
            first_token_s=round(retrieval.seconds + stats.first_token_seconds, 4),
            generation_s=round(stats.total_seconds, 4),
            total_s=round(time.perf_counter() - started, 4),
            tokens_per_s=round(stats.tokens_per_second, 2),
            prompt_tokens=stats.prompt_tokens,
            cached_prompt_tokens=stats.cached_tokens,
            completion_tokens=stats.completion_tokens,
        )
        if not raw or is_refusal(raw):
            return Answer(question, REFUSALS[language], language, True, True, [], retrieval.passages, timings=timings)
        text, checks = check_answer(raw, retrieval.passages)
        grounded = all(c.supported for c in checks)
        if not checks or not checks[0].supported:  # the opening sentence is the answer; the rest elaborates
            refusal = REFUSALS[language]
            return Answer(question, refusal, language, True, False, [], retrieval.passages, checks, timings)
        citations = map_citations(text, retrieval.passages)
        return Answer(question, text, language, False, grounded, citations, retrieval.passages, checks, timings)
