"""Question -> retrieval -> evidence quotes -> prompt -> streamed answer -> checked citations. Used by CLI and app.

When the model's answer is a refusal, is vacuous, or its first sentence is unsupported, the best
evidence quote answers instead, marked as a quotation (``quoted``), when :func:`quote_stands_in`; after an
unsupported first sentence, failing that, the passage sentence that holds what it claims
(:func:`rag.evidence.claim_quote`: the model restated a long question in words the passages do not use);
otherwise the answer is "the documents do not say".
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from rag.citations import Citation, map_citations
from rag.evidence import Evidence, Quote, claim_quote, gather_evidence, numbers_found, quote_answer
from rag.grounding import (
    SentenceCheck,
    check_answer,
    claim,
    fold_pointers,
    is_number,
    passage_stems,
    split_answer,
    stem,
)
from rag.language import detect_language
from rag.llm import ChatModel, Generation, get_llm
from rag.prompt import REFUSALS, build_messages, build_retry, is_refusal
from rag.rerank import reranked
from rag.retrieve import Passage, Retrieval, Retriever
from rag.settings import Settings, get_settings

QUOTE_MIN_SCORE = 0.6
"""Evidence score (``rag.evidence``) from which the best quote answers when the model refused or said nothing."""
VACUOUS_QUOTE_SCORE = 0.4
"""Lower bar when the model's answer was vacuous ("Yes, X is allowed [1]." repeating the question, "X are [1]."):
the model pointed at the passages without saying what they hold."""
AGREEMENT = 0.5
"""An unsupported answer gives way to the quote only when the quote holds at least this share of the words the
answer adds to the question: the quote then carries what the model tried to say. A quote that does not is no
answer to what was asked either (on the unanswerable dev questions, the model's invented figure and the best
quote had nothing in common)."""


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
    evidence: list[Quote] = field(default_factory=list)
    """Sentences of the passages that best answer the question, found before the model ran."""
    quoted: bool = False
    """The answer is the best evidence quote, not the model's (which was refused, vacuous or unsupported)."""
    draft: str = ""
    """The model's own answer as generated, before the check (kept when a quote or a refusal replaced it)."""
    quote: Quote | None = None
    """The quote that answers when ``quoted`` (an evidence quote, or the sentence holding the model's claim)."""

    def to_dict(self) -> dict:
        """JSON-ready form (``rag ask --json``)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "language": self.language,
            "refused": self.refused,
            "quoted": self.quoted,
            "grounded": self.grounded,
            "citations": [c.__dict__ for c in self.citations],
            "evidence": [q.to_dict() for q in self.evidence],
            "passages": [p.to_dict() for p in self.passages],
            "unsupported": [s.text for s in self.sentences if not s.supported],
            "model_answer": self.draft,
            "quote": self.quote.to_dict() if self.quote else None,
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
        self, settings: Settings | None = None, retriever: Retriever | None = None, llm: ChatModel | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self.retriever = retriever or Retriever(self.settings)
        self._llm = llm

    @property
    def llm(self) -> ChatModel:
        """The generator, loaded on first use."""
        if self._llm is None:
            self._llm = get_llm(self.settings)
        return self._llm

    @property
    def _best_last(self) -> bool:
        return self.settings.passage_order == "best_last"

    def _marks(self, quotes: list[Quote]) -> dict[int, list[tuple[int, int]]]:
        """The evidence quotes' spans per passage number, set in bold in the prompt when ``mark_evidence``."""
        marks: dict[int, list[tuple[int, int]]] = {}
        if self.settings.mark_evidence:
            for quote in quotes:
                marks.setdefault(quote.number, []).append((quote.start, quote.end))
        return marks

    def retrieve(
        self, question: str, k: int | None = None, sources: Collection[str] | None = None, context: str = ""
    ) -> Retrieval:
        """The passages a question will be answered from (from the files in ``sources`` only, when given): the
        ``k`` best of a search ``rerank_pool`` deep by their best sentence (:mod:`rag.rerank`); ``context``: what a
        follow-up refers to (:func:`rag.followup.search_context`)."""
        k = k or self.settings.top_k
        pool = self.settings.rerank_pool
        if pool <= k:
            return self.retriever.search(question, k, sources=sources, context=context)
        deeper = self.retriever.search(question, pool, sources=sources, context=context)
        return reranked(self.retriever, question, deeper, k, self.settings.rerank_weight)

    def evidence(self, question: str, retrieval: Retrieval) -> Evidence:
        """Quotes of the retrieved passages that best answer ``question`` (none when retrieval found nothing
        close enough to answer from)."""
        if not self._answerable(retrieval):
            return Evidence()
        return gather_evidence(question, retrieval.passages, self.retriever.embedder)

    def _answerable(self, retrieval: Retrieval) -> bool:
        return bool(retrieval.passages) and retrieval.best_score >= self.settings.min_score

    def stream(
        self,
        question: str,
        retrieval: Retrieval | None = None,
        evidence: Evidence | None = None,
        sources: Collection[str] | None = None,
    ) -> AnswerStream:
        """Answer ``question`` as a stream; retrieval (within ``sources`` when given) and evidence run first
        unless given."""
        holder = AnswerStream(iter(()))
        holder._pieces = self._generate(question, retrieval, evidence, holder, sources)
        return holder

    def ask(self, question: str, sources: Collection[str] | None = None) -> Answer:
        """Answer ``question`` (from the files in ``sources`` only, when given) and return the :class:`Answer`."""
        stream = self.stream(question, sources=sources)
        for _ in stream:
            pass
        assert stream.result is not None
        return stream.result

    def _generate(
        self,
        question: str,
        retrieval: Retrieval | None,
        evidence: Evidence | None,
        holder: AnswerStream,
        sources: Collection[str] | None = None,
    ) -> Iterator[str]:
        started = time.perf_counter()
        retrieval = retrieval or self.retrieve(question, sources=sources)
        language = detect_language(question)
        timings = {"retrieval_s": round(retrieval.seconds, 4), "best_score": round(retrieval.best_score, 4)}
        if not self._answerable(retrieval):
            text = REFUSALS[language]
            yield text
            timings["total_s"] = round(time.perf_counter() - started, 4)
            holder.result = Answer(question, text, language, True, True, [], retrieval.passages, timings=timings)
            return
        evidence = self.evidence(question, retrieval) if evidence is None else evidence
        timings["evidence_s"] = round(evidence.seconds, 4)
        stats = Generation()
        messages = build_messages(question, retrieval.passages, language, self._best_last, self._marks(evidence.quotes))
        yield from self.llm.stream_chat(messages, self.settings.max_tokens, self.settings.temperature, stats)
        answer = self._finish(question, language, retrieval, evidence.quotes, stats, timings, started)
        if self.settings.retry_unsupported and wants_retry(answer):
            yield RETRY_BREAK
            answer = yield from self._retry(answer, retrieval, evidence.quotes, messages, timings, started)
        holder.result = answer

    def check_draft(self, question: str, retrieval: Retrieval, draft: str) -> Answer:
        """The answer ``draft`` (a model's text for ``question`` over ``retrieval``) makes once checked: as
        generated, repaired, replaced by a quote, or refused. What ``ask`` does after generation."""
        language = detect_language(question)
        if not self._answerable(retrieval):
            return Answer(question, REFUSALS[language], language, True, True, [], retrieval.passages)
        evidence = self.evidence(question, retrieval)
        stats = Generation(text_parts=[draft])
        return self._finish(question, language, retrieval, evidence.quotes, stats, {}, time.perf_counter())

    def second_try(self, first: Answer, retrieval: Retrieval) -> Answer:
        """The answer after one more generation for ``first``, an answer whose draft the check could not support
        (:func:`wants_retry`), with the evidence quotes ``first`` carries; ``first`` itself when the second draft
        cannot stand either."""
        marks = self._marks(first.evidence)
        messages = build_messages(first.question, retrieval.passages, first.language, self._best_last, marks)
        pieces = self._retry(first, retrieval, first.evidence, messages, dict(first.timings), time.perf_counter())
        while True:
            try:
                next(pieces)
            except StopIteration as done:
                return done.value

    def _retry(
        self,
        first: Answer,
        retrieval: Retrieval,
        evidence: list[Quote],
        messages: list[dict],
        timings: dict,
        started: float,
    ) -> Iterator[str]:
        """Stream a second draft, asked for in the passages' words (:func:`rag.prompt.build_retry`); return the
        answer it makes if it stands on its own (supported, not a quotation or refusal), else ``first``."""
        stats = Generation()
        again = build_retry(messages, first.draft, first.language)
        yield from self.llm.stream_chat(again, self.settings.max_tokens, self.settings.temperature, stats)
        second = self._finish(first.question, first.language, retrieval, evidence, stats, dict(timings), started)
        if second.refused or second.quoted:
            first.timings.update(retried=1, total_s=second.timings["total_s"])
            return first
        second.timings.update(retried=1, first_token_s=timings.get("first_token_s", 0.0))
        second.draft = f"{first.draft}\n{RETRY_BREAK.strip()}\n{second.draft}"
        return second

    def _finish(
        self,
        question: str,
        language: str,
        retrieval: Retrieval,
        evidence: list[Quote],
        stats: Generation,
        timings: dict,
        started: float,
    ) -> Answer:
        raw = stats.text.strip()
        timings.update(
            first_token_s=round(retrieval.seconds + timings.get("evidence_s", 0.0) + stats.first_token_seconds, 4),
            generation_s=round(stats.total_seconds, 4),
            total_s=round(time.perf_counter() - started, 4),
            tokens_per_s=round(stats.tokens_per_second, 2),
            prompt_tokens=stats.prompt_tokens,
            cached_prompt_tokens=stats.cached_tokens,
            completion_tokens=stats.completion_tokens,
        )
        if not raw or is_refusal(raw):
            return self._instead(question, language, retrieval, evidence, raw, [], timings)
        text, checks = check_answer(raw, retrieval.passages, question, language)
        if len(checks) > 1 and checks[0].vacuous and checks[1].supported:
            # "Yes, there is a limit on X. The controller keeps it within 0.4 degrees [1].": the opener only
            # restates the question (and its yes or no is unchecked); the supported sentence after it answers.
            rest = "\n".join(fold_pointers(split_answer(raw))[1:])  # one sentence a line: split as before
            text, checks = check_answer(rest, retrieval.passages, question, language)
        grounded = all(c.supported for c in checks)
        if not checks or not checks[0].supported:  # the opening sentence is the answer; the rest elaborates
            return self._instead(question, language, retrieval, evidence, raw, checks, timings)
        citations = map_citations(text, retrieval.passages)
        answer = Answer(question, text, language, False, grounded, citations, retrieval.passages, checks, timings)
        answer.evidence, answer.draft = evidence, raw
        return answer

    @staticmethod
    def _instead(
        question: str,
        language: str,
        retrieval: Retrieval,
        evidence: list[Quote],
        draft: str,
        checks: list[SentenceCheck],
        timings: dict,
    ) -> Answer:
        """The answer when the model's cannot stand: the best quote if :func:`quote_stands_in`, else the sentence
        carrying an unsupported claim (:func:`claim_quote`), else a refusal."""
        passages = retrieval.passages
        quote = evidence[0] if evidence and quote_stands_in(evidence[0], question, passages, checks) else None
        if quote is None and checks and not checks[0].vacuous and numbers_found(question, passages):
            quote = claim_quote(checks[0].text, question, passages)
        if quote is not None:
            citations = [Citation.of(quote.number, passages[quote.number - 1])]
            text = quote_answer(quote, language)
            answer = Answer(question, text, language, False, True, citations, passages, [], timings, evidence)
            answer.quoted, answer.draft, answer.quote = True, draft, quote
            return answer
        refusal = REFUSALS[language]
        grounded = not checks  # a refusal the model made itself is honest; an unsupported answer is not
        return Answer(question, refusal, language, True, grounded, [], passages, checks, timings, evidence, draft=draft)


RETRY_BREAK = "\n\n…\n\n"
"""Streamed between a first draft that failed the check and the second try (the finished answer replaces both)."""


def wants_retry(answer: Answer) -> bool:
    """Whether the model's draft claimed something the check could not support (not a refusal of its own, nor an
    empty draft), so that asking once more, in the passages' words, may give an answer that stands."""
    draft = answer.draft.strip()
    return bool(draft) and not is_refusal(draft) and (answer.refused or answer.quoted)


def quote_stands_in(quote: Quote, question: str, passages: list[Passage], checks: list[SentenceCheck]) -> bool:
    """Whether the best quote answers in place of a model answer that cannot stand (``checks``: the check of
    each of its sentences; none when the model refused or said nothing).

    Never when a number or code of the question is in no passage (the passages are about something else). After
    a refusal, only a quote scoring :data:`QUOTE_MIN_SCORE`; after a vacuous opening sentence,
    :data:`VACUOUS_QUOTE_SCORE`; after an unsupported claim, a quote holding at least :data:`AGREEMENT` of the words
    one sentence of the draft adds to the question (the fact the model read, in the document's own words: the
    sentence that says it is often not the first, "To find the quotient we use the passage [1]. … The quotient is
    3."), and every number that the opening sentence (the answer) adds.
    """
    if not numbers_found(question, passages):
        return False
    if not checks:
        return quote.score >= QUOTE_MIN_SCORE
    if checks[0].vacuous:
        return quote.score >= VACUOUS_QUOTE_SCORE
    held = passage_stems(quote.scored_text)  # the sentence shown after it is not judged
    if any(is_number(w) and w not in held for w in claim(checks[0].text, question)[0]):
        return False  # the answer gives a figure neither its passage nor the quote holds: the quote is not its fact
    claims = [check.text for check in checks if not check.vacuous]
    return any(agreement(sentence, question, quote.scored_text) >= AGREEMENT for sentence in claims)


def agreement(sentence: str, question: str, quote: str) -> float:
    """Share of the words ``sentence`` adds to ``question`` (its claim) that ``quote`` holds, matched on stems."""
    added = claim(sentence, question)[0]
    if not added:
        return 0.0
    held = passage_stems(quote)
    return sum(stem(w) in held for w in added) / len(added)
