"""Checking an answer against its passages, sentence by sentence.

A sentence is *supported* by a passage when most of its content words (the BM25 tokens:
accent-folded, stopwords dropped) occur in that passage. Missing citations are attached
where one passage clearly supports a sentence; wrong ones are replaced by the supporting
passage; sentences no passage supports are flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.keyword_index import tokenize
from rag.citations import cited_numbers, strip_markers
from rag.retrieve import Passage

SUPPORT_THRESHOLD = 0.5
"""Share of a sentence's content words that a passage must contain to support it."""

_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n+")
_LEADING_MARKERS = re.compile(r"^((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+)")


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


def support(sentence: str, passage_tokens: set[str]) -> float:
    """Share of the sentence's content words found in a passage (1.0 for a sentence without any).

    A number or code (a token with a digit) the passage does not contain makes the support 0:
    "error E35 means ..." is not supported by a passage about E57.
    """
    words = {_decimal(w) for w in tokenize(strip_markers(sentence))}
    if not words:
        return 1.0
    passage = {_decimal(w) for w in passage_tokens}
    if any(any(ch.isdigit() for ch in w) and w not in passage for w in words):
        return 0.0
    return len(words & passage) / len(words)


def _decimal(token: str) -> str:
    """'4,2' and '4.2' are the same number."""
    return token.replace(",", ".") if any(ch.isdigit() for ch in token) else token


def check_answer(text: str, passages: list[Passage]) -> tuple[str, list[SentenceCheck]]:
    """The answer with citations repaired, and a check per sentence."""
    tokens = [set(tokenize(p.text)) for p in passages]
    checks, out = [], []
    for sentence in split_answer(text):
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
