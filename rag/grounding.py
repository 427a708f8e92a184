"""Checking an answer against its passages, sentence by sentence.

A sentence is *supported* by a passage when at least half of its content words (the BM25 tokens:
accent-folded, stopwords dropped, matched on their Snowball stems in English and French) and every number or code
it contains occur in one place of that passage: two consecutive sentences (a figure the PDF set with a spaced or
unusual dash, "1e − 6", reads as the answer writes it, "1e-6"). The model is asked to
answer, never to refuse (asked to, Qwen 1.5B refused half of the answerable dev questions), so
this check is what turns an answer the passages do not carry into "the documents do not say"
(``rag.answer`` refuses, or quotes the evidence, when the first sentence is unsupported).

Given the question, the check also asks what the sentence *claims*: the content words and numbers
it adds to the question. A sentence that adds none ("The optimisers cited are [1].", a bare list of
markers) is *vacuous* and never supported; at least half of the added words must be in the
supporting place; and a number the claim adds must sit in a passage sentence that is about the
claim: one holding at least half of the sentence's *subject* (its words taken from the question, else
the question's own words; each weighted by its rarity among the passages' sentences, so "Atlas-7", in every
sentence, does not make up for "grinder burrs"), or one whose words next to the number the claim mostly
restates. So a real figure under
another label (a warranty for another part, the phone number printed next to another person's name)
does not pass. A sentence clearly written in the other language than the question is unsupported.
A sentence that joins claims ("…, and …", "…, which …", "…; …") and that no one place supports is
supported when each of its clauses that claims something is, as a sentence of its own (a condition in
the agreement, its date in the approval letter); it then cites every passage used. Missing citations are
attached where one passage clearly supports a sentence; wrong ones are replaced by the supporting passage;
sentences no passage supports are flagged. Bare pointers such as "This can be found in [1]." carry no
claim: their markers move to the sentence before and the pointer is dropped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import pysbd

from ingest.keyword_index import STEM_LANGUAGES, stem_word, tokenize
from rag.citations import MARKER, cited_numbers, strip_markers
from rag.language import is_other_language
from rag.retrieve import Passage

SUPPORT_THRESHOLD = 0.5
"""Share of a sentence's content words (and of the words it adds to the question, and of its subject) that
one place of a passage must contain to support it."""

Place = tuple[tuple[str, ...], ...]
"""The content words, in order, of consecutive sentences of a passage: where one claim is checked."""
NEAR_TOKENS = 6
"""How many tokens on each side of a number in a passage sentence say what the number is about."""

_BOUNDARY = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"”»’)])\s+|\n+")
_CLAUSE = re.compile(r";\s+|,\s+(?:and|but|which|whereas|et|mais|qui|tandis que)\s+", re.IGNORECASE)
"""Where a sentence joins two claims ("X accounts for 28% of revenue, and consent was obtained on 10 February";
"approval as documented in the letter, which was granted on January 28"): each may stand in another passage."""
_ITEM_NUMBER = r"\(?\d{1,2}[.)]"
"""A list item's number: "1.", "2)", "(3)"."""
_LIST_MARK = re.compile(rf"^\s*(?:[-*•]|{_ITEM_NUMBER})(?=\s|$)")
"""A list item's bullet or number ("1.", "2)", "-") at the start of a sentence: layout, not a claim."""
_ENUMERATOR = re.compile(rf"^{_ITEM_NUMBER}$")
_LEADING_NUMBER = re.compile(rf"\s*({_ITEM_NUMBER})\s+")
_LEADING_MARKERS = re.compile(r"^((?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*)+)")
_PAGE_REFERENCE = re.compile(r"\b(?:on |à la |en )?(?:pages?|p\.)\s*\d+\b", re.IGNORECASE)
_SPACED_CODE = re.compile(r"(\b\w*\d\w*) ?[-\u2010-\u2015\u2212] ?(?=\d)")
"""A number, a dash a PDF set apart or as another character, and a digit: "1e − 6", "JP 2023‐118508". A passage
reads them as "1e-6" and "2023-118508", as an answer writes them."""
_COMMA_NUMBERS = re.compile(r"\d+(?:,\d+)+")
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
_TRAILING_SOURCE = re.compile(
    r",?\s+(?:according to|as per|selon|d'après)\s+(?:the\s+|le\s+)?(?:passages?\s+)?" + _MARKERS + r"(?=\s*[.!]?\s*$)",
    re.IGNORECASE,
)
"""A sentence ending on the passage it comes from ("… should be performed weekly according to [2]."): a pointer, the
sentence's claim stands before it."""


@dataclass
class SentenceCheck:
    """One answer sentence and the passages that support it."""

    text: str
    cited: list[int]
    support: float
    supported: bool
    added: list[int] = field(default_factory=list)
    vacuous: bool = False
    """The sentence claims nothing beyond the question's own words (or is only a pointer to a passage)."""
    wrong_language: bool = False
    """The sentence is clearly written in the other language than the question."""


def split_answer(text: str) -> list[str]:
    """Sentences of an answer, each keeping the citation markers that follow it; a line ending with a colon
    ("The optimisers are:") stays with what follows it."""
    sentences: list[str] = []
    for part in _answer_sentences(text):
        leading = _LEADING_MARKERS.match(part)
        if leading and sentences:  # "… bar. [1] Next" : the marker belongs to the sentence before
            sentences[-1] += " " + leading.group(1).strip()
            part = part[leading.end() :]
        if not part.strip():
            continue
        if sentences and (sentences[-1].endswith(":") or _ENUMERATOR.match(sentences[-1])):
            sentences[-1] += " " + part.strip()
        else:
            sentences.append(part.strip())
    return sentences


def _answer_sentences(text: str) -> list[str]:
    """The sentences of each line of an answer, split by pysbd, which knows abbreviations ("12 U.S. patents",
    "e.g. the flow meter") that a split after every full stop cuts in two."""
    parts: list[str] = []
    segmenter = pysbd.Segmenter(language="en", clean=False)  # one per call: segment() keeps the text on the object
    for line in re.split(r"\n+", text.strip()):
        number = _LEADING_NUMBER.match(line)  # "1. MegaCorp: obtained": the item's number is layout
        if number:
            parts.append(number.group(1))
            line = line[number.end() :]
        parts.extend(p.strip() for p in segmenter.segment(line) if p.strip())
    return parts


def fold_pointers(sentences: list[str]) -> list[str]:
    """Sentences with "as stated in [1]" reduced to "[1]" and pointer-only sentences merged into the one before."""
    out: list[str] = []
    for sentence in sentences:
        pointer = _POINTER_SENTENCE.match(sentence)
        if pointer and out:
            tail = "".join(f"[{n}]" for n in cited_numbers(pointer.group(1)) if n not in cited_numbers(out[-1]))
            out[-1] = _append_markers(out[-1], tail)
            continue
        sentence = _POINTER_PHRASE.sub(lambda m: " " + m.group(1).strip(), sentence)
        out.append(_TRAILING_SOURCE.sub(lambda m: " " + m.group(1).strip(), sentence))
    return out


def is_pointer(sentence: str) -> bool:
    """Whether a sentence only points at passages ("This can be found in [1].")."""
    return bool(_POINTER_SENTENCE.match(sentence))


def _append_markers(sentence: str, markers: str) -> str:
    if not markers:
        return sentence
    body = sentence.rstrip()
    end = body[-1] if body and body[-1] in ".!?" else ""
    return (body[: len(body) - len(end)].rstrip() + " " + markers + end) if end else body + " " + markers


def content_words(text: str) -> set[str]:
    """Content words (BM25 tokens, decimal commas as points), with page references ("on page 2", the model
    pointing at a source) and citation markers left out."""
    return set(_tokens(text))


def _tokens(text: str, source: bool = False) -> tuple[str, ...]:
    """Tokens, a path-like one also as its parts: "Qwen/Qwen3-Embedding-4B" in a passage holds the
    "Qwen3-Embedding-4B" (and "qwen3", "4b") an answer names. With ``source`` (a passage's text, where a bracket
    is not one of our citation markers: "sur [0,6]" was stripped as if it were one), brackets are kept and numbers
    joined by a comma with no space are also read as a list: "[0,6]" holds 0 and 6 as well as the decimal 0,6."""
    text = _LIST_MARK.sub(" ", _PAGE_REFERENCE.sub(" ", text if source else strip_markers(text)))
    tokens: list[str] = []
    for word in tokenize(text):
        tokens.append(_decimal(word))
        if "/" in word:  # the parts as the tokenizer reads separate words (with their own -/_ parts)
            tokens.extend(_decimal(part) for part in tokenize(word.replace("/", " ")))
        if source and _COMMA_NUMBERS.fullmatch(word):
            tokens.extend(word.split(","))
    return tuple(tokens)


def passage_words(text: str) -> set[str]:
    """A passage's content words, numbers joined by a comma read both as one decimal and as a list."""
    return set(_tokens(text, source=True))


def passage_stems(text: str) -> set[str]:
    """The stems of :func:`passage_words`: what a claim's words are matched against in passage text."""
    return {stem(w) for w in passage_words(text)}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The word's Snowball stem in English, then in French ("working" and "work", "optimiseurs" and
    "optimiseur" meet, in whichever language the answer is); numbers and codes whole."""
    if is_number(word):
        return word
    for language in STEM_LANGUAGES:
        word = stem_word(word, language)
    return word


def is_number(word: str) -> bool:
    """Whether a token is a number or a code (it has a digit)."""
    return any(ch.isdigit() for ch in word)


def passage_windows(text: str) -> list[Place]:
    """Each pair of consecutive sentences of a passage as a :data:`Place`: a claim is checked against one place
    in the passage, so words gathered from all over it ("3" here, "week" there) do not add up to support."""
    text = _SPACED_CODE.sub(r"\1-", text)
    sentences = [_tokens(s, source=True) for s in _BOUNDARY.split(text) if s.strip()] or [()]
    return list(pairwise(sentences)) or [(sentences[0],)]


def claim(sentence: str, question: str) -> tuple[set[str], set[str]]:
    """The words a sentence adds to the question (its claim), and its subject: the sentence's words taken from
    the question (the question's own content words when the sentence repeats none). Numbers match whole."""
    words = content_words(sentence)
    asked = content_words(question)
    asked_stems = {stem(w) for w in asked}
    added = {w for w in words if stem(w) not in asked_stems}
    return added, (words - added) or asked


def _share(words: set[str], stems: set[str], rarity: dict[str, float] | None = None) -> float:
    """Share of ``words`` whose stem is in ``stems``, each word weighted by ``rarity`` when given."""
    if not words:
        return 1.0
    if rarity is None:
        return sum(stem(w) in stems for w in words) / len(words)
    top = max(rarity.values(), default=1.0)
    # "atlas-7" also gives the tokens "atlas" and "7" (for keyword search): weigh the whole word once
    parts = {part for w in words if "-" in w or "_" in w for part in re.split(r"[-_]", w)}
    weights = {w: rarity.get(stem(w), top) for w in words if w not in parts}
    total = sum(weights.values())
    return sum(weight for w, weight in weights.items() if stem(w) in stems) / total if total else 1.0


def rarity_weights(passages: list[Passage]) -> dict[str, float]:
    """How rare each stem is among the sentences of the passages (inverse sentence frequency): a word in every
    sentence ("Atlas-7" in its own manual) says little about what a sentence is about. A stem in no sentence
    gets the largest weight."""
    sentences = [passage_stems(s) for p in passages for s in _BOUNDARY.split(p.text) if s.strip()]
    counts: dict[str, int] = {}
    for stems in sentences:
        for key in stems:
            counts[key] = counts.get(key, 0) + 1
    total = len(sentences)
    weights = {key: math.log(1 + (total + 1) / (count + 0.5)) for key, count in counts.items()}
    weights[""] = math.log(1 + (total + 1) / 0.5)  # the weight of a stem no sentence holds
    return weights


def support(
    sentence: str, passage_tokens: set[str] | list[Place], question: str = "", rarity: dict[str, float] | None = None
) -> float:
    """How well one place of a passage supports a sentence (0..1; 0 for a sentence without content words).

    ``passage_tokens`` is one token set or the places of :func:`passage_windows`; words match on their
    stems. A number or code (a token with a digit) the place does not contain makes the
    support 0: "error E35 means ..." is not supported by a passage about E57. Without ``question``,
    support is the share of the sentence's content words in the place. With it, it is the smallest of
    that share, the share of the words the sentence adds to the question, and, when it adds a number,
    how well a passage sentence holding that number is about the claim (:func:`_number_place`, its subject
    words weighted by ``rarity``, see :func:`rarity_weights`); a sentence that adds nothing is vacuous (0).
    """
    words = content_words(sentence)
    if not words:
        return 0.0
    places = [(tuple(_decimal(w) for w in passage_tokens),)] if isinstance(passage_tokens, set) else passage_tokens
    added, subject = claim(sentence, question) if question else (words, set())
    if not added:
        return 0.0
    numbers = {w for w in words if is_number(w)}
    new_numbers = {w for w in added if is_number(w)}
    asked = content_words(question) if new_numbers else set()
    best = 0.0
    for place in places:
        window = set().union(*place)
        if not numbers <= window:
            continue
        stems = {stem(w) for w in window}
        score = min(_share(words, stems), _share(added, stems))
        if question and new_numbers:
            score = min(score, _number_place(words, subject, new_numbers, place, rarity))
            if score < SUPPORT_THRESHOLD and _added_next_to_number(added, new_numbers, place, stems, asked):
                score = 1.0
        best = max(best, score)
    return best


MIN_ADDED_WORDS = 2
"""Words (besides numbers) a claim must add for :func:`_added_next_to_number` to vouch for it alone."""


def _added_next_to_number(
    added: set[str], numbers: set[str], place: Place, stems: set[str], asked: set[str] = frozenset()
) -> bool:
    """Whether every word the claim adds stands next to its number in one passage sentence, the claim adding at
    least :data:`MIN_ADDED_WORDS` of them: "the target's turnover comes from its biggest client, which accounts
    for 28% of revenue" against "Largest customer (MegaCorp) accounts for 28% of revenue". A paraphrased
    question's words (turnover, client) are not in the passage, but what the answer says of the number is. A word
    one letter away from a word of ``asked`` ("became" for the question's "become", an inflection no stemmer
    joins) is the question's, not the claim's, and need not be there."""
    claimed = {w for w in added if is_number(w) or not any(_one_edit(w, a) for a in asked)}
    words = {w for w in claimed if not is_number(w)}
    if len(words) < MIN_ADDED_WORDS or not {stem(w) for w in claimed} <= stems:
        return False
    for sentence in place:
        if numbers.intersection(sentence):
            near = {stem(w) for w in _near(sentence, numbers)}
            if all(stem(w) in near for w in words):
                return True
    return False


def _one_edit(word: str, other: str) -> bool:
    """Whether two words of at least five letters differ by one substituted, added or removed letter."""
    if min(len(word), len(other)) < 5 or abs(len(word) - len(other)) > 1 or word == other:
        return False
    if len(word) > len(other):
        word, other = other, word
    i = next((i for i, (a, b) in enumerate(zip(word, other, strict=False)) if a != b), len(word))
    return word[i + (len(word) == len(other)) :] == other[i + 1 :]


def _number_place(
    words: set[str], subject: set[str], numbers: set[str], place: Place, rarity: dict[str, float] | None = None
) -> float:
    """How well a passage sentence holding one of the claimed numbers is about the claim: the best, over such
    sentences, of the share of the claim's subject it holds, and the share of the words next to the number
    that the claim restates ("Replace sensor part TS-71." for "To clear E11, replace sensor part TS-71"). A
    number printed next to another name or label ("TechCorp: James Mitchell (CEO), (415) 555-0100" for the
    escrow agent's phone) scores low."""
    claimed = {stem(w) for w in words}
    best = 0.0
    for sentence in place:
        if not numbers.intersection(sentence):
            continue
        near = _near(sentence, numbers)
        restated = _share(near, claimed) if near else 0.0
        best = max(best, _share(subject, {stem(w) for w in sentence}, rarity), restated)
    return best


def _near(tokens: tuple[str, ...], numbers: set[str]) -> set[str]:
    """The words (not numbers) within :data:`NEAR_TOKENS` tokens of one of ``numbers`` in a sentence."""
    near: set[str] = set()
    for i, token in enumerate(tokens):
        if token in numbers:
            near.update(t for t in tokens[max(0, i - NEAR_TOKENS) : i + NEAR_TOKENS + 1] if not is_number(t))
    return near


def _without_names(sentence: str, names: set[str]) -> str:
    """The sentence with the passages' file names taken out."""
    for name in names:
        sentence = re.sub(re.escape(name), " ", sentence, flags=re.IGNORECASE)
    return sentence


def _decimal(token: str) -> str:
    """'4,2' and '4.2' are the same number."""
    return token.replace(",", ".") if is_number(token) else token


def _clause_sources(sentence: str, places: list[list[Place]], question: str, rarity: dict[str, float]) -> list[int]:
    """For a sentence joining two or more claims (:data:`_CLAUSE`), the passages (numbered from 1) that support
    them, each clause judged as a sentence is; empty unless every clause that claims something is supported."""
    clauses = [c for c in _CLAUSE.split(strip_markers(sentence)) if c.strip()]
    if len(clauses) < 2:
        return []
    sources: list[int] = []
    for clause in clauses:
        if _adds_nothing(clause, question):
            continue  # the clause restates the question
        scores = [support(clause, p, question, rarity) for p in places]
        best = max(range(len(scores)), key=scores.__getitem__)
        if scores[best] < SUPPORT_THRESHOLD:
            return []
        if best + 1 not in sources:
            sources.append(best + 1)
    return sources


def _adds_nothing(text: str, question: str) -> bool:
    """Whether ``text`` claims nothing: no word beyond the question's (no content word at all without one)."""
    return not (claim(text, question)[0] if question else content_words(text))


def _recite(sentence: str, numbers: list[int]) -> str:
    """The sentence citing ``numbers`` instead of what it cited. Its first marker is rewritten where it stands
    ("According to [2], …", "This is supported by [2].", "… 9.2 bar [2]."), so the words around it still read,
    and any other is dropped; a sentence without one gets the markers at its end."""
    markers = "".join(f"[{n}]" for n in numbers)
    body = sentence.rstrip()
    first = MARKER.search(body)
    if first is None:
        return body + " " + markers
    rest = strip_markers(body[first.end() :])
    return body[: first.start()] + markers + rest


def check_answer(
    text: str, passages: list[Passage], question: str = "", language: str = ""
) -> tuple[str, list[SentenceCheck]]:
    """The answer with citations repaired, and a check per sentence: judged on its claim when ``question`` is
    given (see the module docstring), and never supported when clearly not in ``language`` ("en"/"fr")."""
    places = [passage_windows(p.text) for p in passages]
    rarity = rarity_weights(passages)
    checks, out = [], []
    names = {p.name for p in passages if p.name}
    for sentence in fold_pointers(split_answer(text)):
        cited = [n for n in cited_numbers(sentence) if 1 <= n <= len(passages)]
        said = _without_names(sentence, names)  # "(manual.pdf, page 2)" points at a source, it claims nothing
        vacuous = is_pointer(sentence) or _adds_nothing(said, question)
        foreign = bool(language) and is_other_language(strip_markers(said), language)
        scores = [0.0 if vacuous or foreign else support(said, p, question, rarity) for p in places]
        best = max(range(len(scores)), key=scores.__getitem__) if scores else -1
        cited_support = max((scores[n - 1] for n in cited), default=0.0)
        supported = cited_support >= SUPPORT_THRESHOLD
        check = SentenceCheck(sentence, cited, cited_support, supported, vacuous=vacuous, wrong_language=foreign)
        if not check.supported and best >= 0 and scores[best] >= SUPPORT_THRESHOLD:
            check.added = [best + 1]
            check.support, check.supported = scores[best], True
            sentence = _recite(sentence, [best + 1])
        elif not check.supported and not vacuous and not foreign:
            sources = _clause_sources(said, places, question, rarity)
            if sources:
                check.added, check.support, check.supported = sources, SUPPORT_THRESHOLD, True
                sentence = _recite(sentence, sources)
        checks.append(check)
        out.append(sentence)
    return " ".join(out), checks
