"""Quoted evidence: the sentences of the retrieved passages that best answer the question.

Runs right after retrieval, before the model, with the embedder retrieval already loaded (no
extra model): every passage is split into sentences (pysbd, in the passage's language), the
sentences are embedded with the question in one batch, and each sentence, and each sentence
joined with the next (its vector the sum of theirs: embedding the pairs too doubled the time), is
scored against the question by

    score = COSINE_WEIGHT * cosine(question, sentence) + (1 - COSINE_WEIGHT) * keyword overlap

where the overlap is the share of the question's content words (the citation check's words and
stems, ``rag.grounding``) found in the sentence, each weighted by how rare it is among the
sentences of the passages, so "Atlas-7", in every sentence, counts for less than "grinder". A
sentence that adds no word to the question's is no evidence. The best one to three quotes are
returned with their file and page, each shown with the sentence that follows it in its passage
(a sentence window, looking forward): the sentence most like the question often names what is
asked ("E11: Brew boiler thermistor open circuit.", "On dit que f est injective si :") and the
next one answers it.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pysbd

from ingest.embedder import Embedder
from ingest.locations import location_label, unit
from rag.grounding import content_words, is_number, passage_stems, passage_words, stem
from rag.language import detect_language
from rag.retrieve import Passage

COSINE_WEIGHT = 0.5
"""Weight of the embedding cosine in a sentence's score; the keyword overlap has the rest."""
NEW_WORDS = 3
"""A candidate that adds fewer content words than this to the question's ("E42: Pump cavitation detected.")
mostly restates it: its score is scaled down in proportion."""
MAX_SENTENCES = 12
"""At most this many sentences are embedded, those holding most of the question's words: embedding every
sentence of three small-to-big passages (median 20) took ~0.3 s on 2 cores, most of the wait; the first quote
was the same with 10, 16 or all sentences on atlas7, hr, acquisition and the unanswerable set."""
MAX_QUOTES = 3
QUOTE_MARGIN = 0.1
"""Quotes after the first are kept only if they score within this of the best one."""
MIN_WORDS = 4
"""A shorter sentence (a heading, "V.") is joined to the sentence after it."""
MAX_WORDS = 45
"""A longer sentence (a table row or list the PDF gave no full stops) is cut into pieces of about this size."""
FOLLOW_WORDS = 2 * MAX_WORDS
"""A quote is shown with the sentence after it unless that makes it longer than this many words. Measured on the
tune sets (atlas7, hr, French, default documents): quote@1 0.861 -> 0.899 with the next sentence, 0.870 with the
sentence before it instead (as many words more), so it is the follow-up, not the length, that holds the answer."""

CLAIM_SHARE = 0.5
"""Share of the words an unsupported answer adds to the question that a passage sentence must hold to be quoted
in its place (:func:`claim_quote`)."""
CLAIM_WORDS = 2
"""Fewest added words (numbers included) a claim and the sentence quoted for it must share."""

_WORD = re.compile(r"\S+")


@dataclass
class Quote:
    """A sentence (or two) of a passage that answers the question, with where it comes from."""

    text: str
    number: int
    """1-based number of its passage among the answer's passages (its citation marker)."""
    name: str
    source: str
    page: int
    score: float
    start: int
    """Character offsets of the quote in its passage's text."""
    end: int
    section: str = ""
    """Section path of its passage (names the place in documents without pages)."""
    coverage: float = 0.0
    """Share of the question's content words the quote holds, each weighted by its rarity among the passages'
    sentences: how much of what is asked the quote is about."""
    matched: str = ""
    """The sentence(s) that scored, without the sentence shown after them (``text`` when empty): what the answer's
    checks compare a claim with, and what a quoted answer says."""

    @property
    def scored_text(self) -> str:
        """The sentence(s) the score is for."""
        return self.matched or self.text

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class Evidence:
    """The quotes for one question and how long finding them took."""

    quotes: list[Quote] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class _Candidate:
    passage: int
    start: int
    end: int
    text: str
    stems: set[str]
    parts: tuple[int, ...]
    """Positions of its sentences among the single-sentence candidates (whose vectors are computed)."""
    follow: int = 0
    """End of the sentence after it in its passage (0: none)."""


def sentence_spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (pysbd in ``language``, "en" or "fr"), short fragments
    joined to the next sentence and overlong ones cut into pieces of about :data:`MAX_WORDS` words."""
    segmenter = pysbd.Segmenter(language=language if language in ("en", "fr") else "en", clean=False)
    raw, cursor = [], 0
    for sentence in segmenter.segment(text):
        sentence = sentence.strip()
        found = text.find(sentence, cursor) if sentence else -1
        if found < 0:
            continue
        raw.append((found, found + len(sentence)))
        cursor = found + len(sentence)
    merged: list[tuple[int, int]] = []
    pending = None
    for start, end in raw:
        if pending is not None:
            start = pending
        if len(text[start:end].split()) < MIN_WORDS:
            pending = start
            continue
        pending = None
        merged.extend(_cut(text, start, end))
    if pending is not None:
        if merged:
            merged[-1] = (merged[-1][0], raw[-1][1])
        else:
            merged.append((pending, raw[-1][1]))
    return merged


def _cut(text: str, start: int, end: int) -> list[tuple[int, int]]:
    words = [(start + m.start(), start + m.end()) for m in _WORD.finditer(text[start:end])]
    if len(words) <= MAX_WORDS:
        return [(start, end)]
    pieces = math.ceil(len(words) / MAX_WORDS)
    size = math.ceil(len(words) / pieces)
    return [(words[i][0], words[min(i + size, len(words)) - 1][1]) for i in range(0, len(words), size)]


def _candidates(passages: list[Passage], asked: set[str]) -> tuple[list[_Candidate], list[set[str]]]:
    """Sentences that add a word to the question (stems ``asked``), then pairs of such consecutive sentences;
    and the stems of every sentence. A sentence repeating the question is no evidence, nor a pair holding it."""
    sentences: list[_Candidate] = []
    pairs: list[_Candidate] = []
    every: list[set[str]] = []
    seen: set[str] = set()
    for number, passage in enumerate(passages, 1):
        previous: _Candidate | None = None
        spans = sentence_spans(passage.text, detect_language(passage.text))
        for position, (start, end) in enumerate(spans):
            follow = spans[position + 1][1] if position + 1 < len(spans) else 0
            text = passage.text[start:end]
            stems = passage_stems(text)
            key = " ".join(text.lower().split())
            if key in seen:  # chunks overlap: the same sentence in two passages is one candidate
                previous = None
                continue
            seen.add(key)
            every.append(stems)
            if not stems - asked:
                previous = None
                continue
            sentence = _Candidate(number, start, end, text, stems, (len(sentences),), follow)
            if previous is not None:
                joined = passage.text[previous.start : end]
                parts = (*previous.parts, *sentence.parts)
                pairs.append(_Candidate(number, previous.start, end, joined, previous.stems | stems, parts, follow))
            sentences.append(sentence)
            previous = sentence
    return sentences + pairs, every


def _coverage(candidate: _Candidate, idf: dict[str, float]) -> float:
    """Share of the question's stems (the keys of ``idf``) the candidate holds, each weighted by its rarity."""
    weight = sum(idf.values())
    return sum(w for q, w in idf.items() if q in candidate.stems) / weight if weight else 0.0


def _quote(candidate: _Candidate, passages: list[Passage], score: float, coverage: float) -> Quote:
    """The candidate as a :class:`Quote` with its passage's file, page and section."""
    passage = passages[candidate.passage - 1]
    return Quote(
        candidate.text,
        candidate.passage,
        passage.name,
        passage.source,
        passage.page,
        round(score, 4),
        candidate.start,
        candidate.end,
        passage.section,
        round(coverage, 4),
    )


def _idf(question: set[str], sentences: list[set[str]]) -> dict[str, float]:
    """Rarity of each question stem among the sentences (a stem no sentence holds is rarest)."""
    total = len(sentences)
    return {q: math.log(1 + (total + 1) / (sum(q in s for s in sentences) + 0.5)) for q in question}


def _scored(
    question: str,
    passages: list[Passage],
    embedder: Embedder,
    cosine_weight: float = COSINE_WEIGHT,
    new_words: int = NEW_WORDS,
    max_sentences: int = MAX_SENTENCES,
) -> list[tuple[float, _Candidate, float]]:
    """Every scored candidate of ``passages`` as (score, candidate, coverage), best first."""
    asked = {stem(w) for w in content_words(question)}
    candidates, every = _candidates(passages, asked)
    if not candidates or not question.strip():
        return []
    idf = _idf(asked, every)
    singles = [c for c in candidates if len(c.parts) == 1]
    kept = sorted(range(len(singles)), key=lambda i: -_coverage(singles[i], idf))[:max_sentences]
    row = {i: n for n, i in enumerate(kept, 1)}  # sentence position -> row of its vector
    vectors = embedder.embed([question, *(singles[i].text for i in kept)])  # pairs: the sum of their sentences'
    scored = []
    for candidate in candidates:
        if not all(i in row for i in candidate.parts):
            continue
        vector = vectors[[row[i] for i in candidate.parts]].sum(axis=0)
        cosine = float(vector @ vectors[0]) / max(float(np.linalg.norm(vector)), 1e-9)
        added = len(candidate.stems - asked)
        coverage = _coverage(candidate, idf)
        score = cosine_weight * cosine + (1 - cosine_weight) * coverage
        score *= (1 + min(added, new_words) / new_words) / 2
        scored.append((score, candidate, coverage))
    scored.sort(key=lambda row: -row[0])
    return scored


def find_evidence(
    question: str,
    passages: list[Passage],
    embedder: Embedder,
    limit: int = MAX_QUOTES,
    cosine_weight: float = COSINE_WEIGHT,
    new_words: int = NEW_WORDS,
    max_sentences: int = MAX_SENTENCES,
) -> list[Quote]:
    """Up to ``limit`` quotes from ``passages`` that best answer ``question``, best first."""
    quotes: list[Quote] = []
    for score, candidate, coverage in _scored(question, passages, embedder, cosine_weight, new_words, max_sentences):
        if len(quotes) == limit or (quotes and score < quotes[0].score - QUOTE_MARGIN):
            break
        if any(_overlaps(candidate, q) for q in quotes):
            continue
        quotes.append(_followed(_quote(candidate, passages, score, coverage), candidate, passages, quotes))
    return quotes


def best_sentences(question: str, passages: list[Passage], embedder: Embedder) -> list[float]:
    """The score of each passage's best evidence sentence (0 when none of its sentences was scored: none holds
    enough of the question's words to be among the :data:`MAX_SENTENCES` embedded)."""
    best = [0.0] * len(passages)
    for score, candidate, _ in _scored(question, passages, embedder):
        best[candidate.passage - 1] = max(best[candidate.passage - 1], score)
    return best


def _followed(quote: Quote, candidate: _Candidate, passages: list[Passage], quotes: list[Quote]) -> Quote:
    """``quote`` shown with the sentence after it in its passage, unless there is none, the two would be longer
    than :data:`FOLLOW_WORDS` words, or that sentence is part of a better quote already."""
    if not candidate.follow:
        return quote
    text = passages[candidate.passage - 1].text[quote.start : candidate.follow]
    longer = replace(quote, text=text, end=candidate.follow, matched=quote.text)
    if len(text.split()) > FOLLOW_WORDS or any(_spans_meet(longer, q) for q in quotes):
        return quote
    return longer


def _spans_meet(a: Quote, b: Quote) -> bool:
    return a.number == b.number and a.start < b.end and b.start < a.end


def claim_quote(sentence: str, question: str, passages: list[Passage]) -> Quote | None:
    """The passage sentence (or pair of sentences) that holds what ``sentence`` claims beyond ``question``: every
    number it adds and most of the words it adds (:data:`CLAIM_SHARE`, at least :data:`CLAIM_WORDS` of them), the
    most of them first; None when no sentence does. The sentence must also share a word of the question (its
    ``coverage``: question words weighted by their rarity among the passages' sentences), and most of the question
    when the claim adds a number (a figure from another equation or table row is no answer). An answer that
    restates a long question in its own words before its claim is not supported as a whole, but the document's
    own sentence carrying the claim can be quoted. The quote's ``score`` is the share of the claim it holds."""
    asked = {stem(w) for w in content_words(question)}
    added = {stem(w) for w in content_words(sentence)} - asked
    numbers = {w for w in added if is_number(w)}
    if len(added) < CLAIM_WORDS:
        return None
    best: tuple[tuple[float, int, float], _Candidate] | None = None
    candidates, every = _candidates(passages, asked)
    idf = _idf(asked, every)
    for candidate in candidates:
        if not numbers <= candidate.stems:
            continue
        held = len(added & candidate.stems)
        share = held / len(added)
        coverage = _coverage(candidate, idf)
        if held < CLAIM_WORDS or share < CLAIM_SHARE:
            continue  # not the claim
        if not coverage or (numbers and coverage < CLAIM_SHARE):
            continue  # not about the question (a claimed figure needs most of the question)
        key = (share, -len(candidate.parts), coverage)
        if best is None or key > best[0]:
            best = (key, candidate)
    if best is None:
        return None
    (share, _, coverage), candidate = best
    return _quote(candidate, passages, share, coverage)


def gather_evidence(question: str, passages: list[Passage], embedder: Embedder) -> Evidence:
    """:func:`find_evidence` with its duration."""
    started = time.perf_counter()
    quotes = find_evidence(question, passages, embedder)
    return Evidence(quotes, time.perf_counter() - started)


def _overlaps(candidate: _Candidate, quote: Quote) -> bool:
    if candidate.passage == quote.number and candidate.start < quote.end and quote.start < candidate.end:
        return True
    a, b = " ".join(candidate.text.lower().split()), " ".join(quote.text.lower().split())
    return a in b or b in a


def numbers_found(question: str, passages: list[Passage]) -> bool:
    """Whether every number and code of the question (E35, 2024, PPL-204) is in one of the passages: when one is
    in none, the passages are about something else and no quote of them answers the question."""
    wanted = {w for w in content_words(question) if is_number(w)}
    if not wanted:
        return True
    found: set[str] = set()
    for passage in passages:
        found |= passage_words(passage.text)
    return wanted <= found


def quote_answer(quote: Quote, language: str) -> str:
    """A quote given as the answer, marked as a quotation with its file, page and citation marker:
    ``According to manual.pdf, p. 3: "…" [1]`` or ``D'après cours.pdf, p. 3 : « … » [1]``. Only the sentence(s)
    that scored: an answer says what was judged to answer, not the sentence shown after it (which can be the next
    entry of a list, another person's phone number)."""
    text = " ".join(quote.scored_text.split())
    paged = unit(quote.source) == "page"
    place = f"p. {quote.page}" if paged else location_label(quote.source, quote.page, 0, quote.section)
    if language == "fr":
        return f"D'après {quote.name}, {place} : « {text} » [{quote.number}]"
    return f'According to {quote.name}, {place}: "{text}" [{quote.number}]'
