"""Checking an answer against its passages, sentence by sentence.

A sentence is *supported* by a passage when at least half of its content words (the BM25 tokens:
accent-folded, stopwords dropped, matched on their first five letters) and every number or code
it contains occur in one place of that passage: two consecutive sentences. The model is asked to
answer, never to refuse (asked to, Qwen 1.5B refused half of the answerable dev questions), so
this check is what turns an answer the passages do not carry into "the documents do not say"
(``rag.answer`` refuses when the first sentence is unsupported). Missing citations are attached
where one passage clearly supports a sentence; wrong ones are replaced by the supporting passage;
sentences no passage supports are flagged. Bare pointers such as "This can be found in [1]." carry
no claim: their markers move to the sentence before and the pointer is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from ingest.keyword_index import tokenize
from rag.citations import MARKER, cited_numbers, strip_markers
from rag.retrieve import Passage

SUPPORT_THRESHOLD = 0.5
"""Share of a sentence's content words that one place of a passage must contain to support it."""

_BOUNDARY = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"”»’)])\s+|\n+")
_LEADING_MARKERS = re.compile(r"^((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+)")
_PAGE_REFERENCE = re.compile(r"\b(?:on |à la |en )?(?:pages?|p\.)\s*\d+\b", re.IGNORECASE)
_MARKERS = rf"((?:\s*{MARKER.pattern})+)"
_POINTER_SENTENCE = re.compile(
    r"^(?:this|that|it|these|the answer|this information|cette information|cela|ceci|c'est)\b[^.\[]{0,40}?"
    r"\b(?:found|stated|mentioned|given|listed|described|specified|shown|indicated|noted|"
    r"indiqu\w*|mentionn\w*|précis\w*|décrit\w*|donn\w*)\b[^.\[]{0,20}?" + _MARKERS + r"[^.]{0,80}[.!]?$",
    re.IGNORECASE,
)
_POINTER_PHRASE = re.compile(
    r",?\s*(?:as |comme )?(?:stated|mentioned|specified|described|shown|indicated|noted|given|listed|"
    r"indiqu\w*|mentionn\w*|précis\w*|décrit\w*)\s+(?:in|dans|par|en)\s+(?:passage\s+|le passage\s+)?" + _MARKERS,
    re.IGNORECASE,
)


@dataclass
class SentenceCheck:
    """One answer sentence and the passages that support it."""

    text: str
    cited: list[int]
    support: float
    supported: bool
    added: list[int] = field(default_factory=list)


def split_answer(text: str) -> list[str]:
    """Sentences of an answer, each keeping the citation markers that follow it."""
    sentences: list[str] = []
    for part in _BOUNDARY.split(text.strip()):
        leading = _LEADING_MARKERS.match(part)
        if leading and sentences:  # "… bar. [1] Next" : the marker belongs to the sentence before
            sentences[-1] += " " + leading.group(1).strip()
            part = part[leading.end() :]
        if part.strip():
            sentences.append(part.strip())
    return sentences


def fold_pointers(sentences: list[str]) -> list[str]:
    """Sentences with "as stated in [1]" reduced to "[1]" and pointer-only sentences merged into the one before."""
    out: list[str] = []
    for sentence in sentences:
        pointer = _POINTER_SENTENCE.match(sentence)
        if pointer and out:
            tail = "".join(f"[{n}]" for n in cited_numbers(pointer.group(1)) if n not in cited_numbers(out[-1]))
            out[-1] = _append_markers(out[-1], tail)
            continue
        out.append(_POINTER_PHRASE.sub(lambda m: " " + m.group(1).strip(), sentence))
    return out


def _append_markers(sentence: str, markers: str) -> str:
    if not markers:
        return sentence
    body = sentence.rstrip()
    end = body[-1] if body and body[-1] in ".!?" else ""
    return (body[: len(body) - len(end)].rstrip() + " " + markers + end) if end else body + " " + markers


def _words(text: str) -> set[str]:
    """Content words, with page references ("on page 2", the model pointing at a source) left out."""
    return {_decimal(w) for w in tokenize(_PAGE_REFERENCE.sub(" ", strip_markers(text)))}


def _stem(word: str) -> str:
    """First five letters of a word ("working" and "work", "backflushing" and "backflush" meet); numbers whole."""
    return word if any(ch.isdigit() for ch in word) else word[:5]


def passage_windows(text: str) -> list[set[str]]:
    """Token sets of each pair of consecutive sentences of a passage: a claim is checked against one place in
    the passage, so words gathered from all over it ("3" here, "week" there) do not add up to support."""
    sentences = [_words(s) for s in _BOUNDARY.split(text) if s.strip()] or [set()]
    return [a | b for a, b in pairwise(sentences)] or sentences


def support(sentence: str, passage_tokens: set[str] | list[set[str]]) -> float:
    """Share of the sentence's content words found in one window of a passage (1.0 for a sentence without any).

    ``passage_tokens`` is one token set or the (already normalised) windows of
    :func:`passage_windows`; words match on their first five letters. A number or code (a token
    with a digit) the window does not contain makes the support 0: "error E35 means ..." is not
    supported by a passage about E57.
    """
    words = _words(sentence)
    if not words:
        return 1.0
    windows = [{_decimal(w) for w in passage_tokens}] if isinstance(passage_tokens, set) else passage_tokens
    best = 0.0
    for window in windows:
        if any(any(ch.isdigit() for ch in w) and w not in window for w in words):
            continue
        stems = {_stem(w) for w in window}
        best = max(best, sum(_stem(w) in stems for w in words) / len(words))
    return best


def _decimal(token: str) -> str:
    """'4,2' and '4.2' are the same number."""
    return token.replace(",", ".") if any(ch.isdigit() for ch in token) else token


def check_answer(text: str, passages: list[Passage]) -> tuple[str, list[SentenceCheck]]:
    """The answer with citations repaired, and a check per sentence."""
    tokens = [passage_windows(p.text) for p in passages]
    checks, out = [], []
    for sentence in fold_pointers(split_answer(text)):
        cited = [n for n in cited_numbers(sentence) if 1 <= n <= len(passages)]
        scores = [support(sentence, t) for t in tokens]
        best = max(range(len(scores)), key=scores.__getitem__) if scores else -1
        cited_support = max((scores[n - 1] for n in cited), default=0.0)
        check = SentenceCheck(sentence, cited, cited_support, cited_support >= SUPPORT_THRESHOLD)
        if not check.supported and best >= 0 and scores[best] >= SUPPORT_THRESHOLD:
            check.added = [best + 1]
            check.support, check.supported = scores[best], True
            sentence = strip_markers(sentence).rstrip() + f" [{best + 1}]"
        checks.append(check)
        out.append(sentence)
    return " ".join(out), checks
