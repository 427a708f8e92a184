"""Checking an answer against its passages, sentence by sentence.

A sentence is *supported* by a passage when most of the content words it adds to the question
(the BM25 tokens: accent-folded, stopwords dropped) occur in that passage, and every number or
code it contains does. Words taken from the question are not evidence either way, so
"The component to swap out to clear E11 is TS-71" is judged on "TS-71" (and on "E11", which as a
code must still be in the passage). Missing citations are attached where one passage clearly
supports a sentence; wrong ones are replaced by the supporting passage; sentences no passage
supports are flagged. Bare pointers such as "This can be found in [1]." carry no claim: their
markers move to the sentence before and the pointer is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.keyword_index import tokenize
from rag.citations import MARKER, cited_numbers, strip_markers
from rag.retrieve import Passage

SUPPORT_THRESHOLD = 0.5
"""Share of a sentence's new content words that a passage must contain to support it."""

_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n+")
_LEADING_MARKERS = re.compile(r"^((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+)")
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
    return {_decimal(w) for w in tokenize(strip_markers(text))}


def support(sentence: str, passage_tokens: set[str], question: str = "") -> float:
    """Share of the sentence's new content words found in a passage (1.0 for a sentence without any).

    Words of the question are left out unless the sentence has nothing else. A number or code
    (a token with a digit) the passage does not contain makes the support 0, even if the question
    has it: "error E35 means ..." is not supported by a passage about E57.
    """
    words = _words(sentence)
    if not words:
        return 1.0
    passage = {_decimal(w) for w in passage_tokens}
    if any(any(ch.isdigit() for ch in w) and w not in passage for w in words):
        return 0.0
    new = words - _words(question) if question else words
    words = new or words
    return len(words & passage) / len(words)


def _decimal(token: str) -> str:
    """'4,2' and '4.2' are the same number."""
    return token.replace(",", ".") if any(ch.isdigit() for ch in token) else token


def check_answer(text: str, passages: list[Passage], question: str = "") -> tuple[str, list[SentenceCheck]]:
    """The answer with citations repaired, and a check per sentence."""
    tokens = [set(tokenize(p.text)) for p in passages]
    checks, out = [], []
    for sentence in fold_pointers(split_answer(text)):
        cited = [n for n in cited_numbers(sentence) if 1 <= n <= len(passages)]
        scores = [support(sentence, t, question) for t in tokens]
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
