"""Document structure from text alone: which lines are headings, at what depth, and the document's title.

Headings are recognised by their shape, the same way in any language: Markdown ``#`` lines;
numbered titles ("3.2 Brew boiler", "1. OPERATING SPECIFICATIONS") that have something under them (a numbered
line followed at once by the next number of its own sequence, "2.1 All patents are valid" then "2.2 ...", is a
list item: its section would be empty); short lines in capitals;
and short lines without closing punctuation that stand between the end of a sentence and a
paragraph of body text (a slide title, an unnumbered section title). Table rows and lines that a
paragraph wraps onto fail those tests: they are mostly digits, end mid-sentence, or are followed
by more short lines. Nor is a line of a formula a title: one holding an equals sign or ending on a
mathematical symbol ("2 On a alors ab =", "U H AV ="), or, unnumbered, holding any ("Soit x ∈ R. On a",
"RE → RA × RB"); a numbered statement keeps its heading ("4.4.10 Proposition (Formule de Pascal). Soient k,n ∈ N.
Alors"). A numbered line at the foot of a page whose number the page calls earlier ("… vitesse 1" above "1 Les
vitesses ne sont pas abordées ici") is a footnote, not a title.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

_MARKDOWN = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,4})\.?\)?\s+(\S.*)$")
_CLOSING = ".,;:!?…)]»”\"'"
_SENTENCE_END = ".!?:…"
_BULLET = re.compile(r"^[•·▪◦‣\-–*]\s")
_DOT_LEADER = re.compile(r"(?:\.\s?){3,}\s*\S+$")
_TRAILING_NUMBER = re.compile(r"\s(\d{1,3})$")
FOOT_LINES = 4
"""How many lines at the bottom of a page may hold footnotes (a note may wrap onto a second line)."""
LEAF_LEVEL = 9
"""Depth given to unnumbered headings that are not in capitals: below every numbered level."""


@dataclass(frozen=True)
class Line:
    """One line of a page: its character span and, for a heading, its depth (0 for body text)."""

    start: int
    end: int
    text: str
    level: int = 0


def _shape_ok(text: str) -> bool:
    """Short, mostly letters, not closed like a sentence."""
    words = text.split()
    if not words or len(words) > 12 or len(text) > 100 or text[-1] in _CLOSING:
        return False
    letters = sum(c.isalpha() for c in text)
    digits = sum(c.isdigit() for c in text)
    return letters >= 3 and digits <= 0.3 * (letters + digits) and any(len(w) > 1 and w.isalpha() for w in words)


def _math(text: str) -> bool:
    """Whether a character of ``text`` is a mathematical symbol (Unicode Sm: = < ∈ → ≤ −, not the + of "C++")."""
    return any(c != "+" and unicodedata.category(c) == "Sm" for c in text)


def _formula(text: str, numbered: bool) -> bool:
    """Whether a line is part of a formula rather than a title: an equals sign, a last character that is a
    mathematical symbol, or (unnumbered) any mathematical symbol."""
    return "=" in text or _math(text[-1]) or (not numbered and _math(text))


def heading_level(text: str, previous: str | None, following: str | None) -> int:
    """Depth of a heading line (1 = top), or 0 for body text.

    ``previous`` and ``following`` are the neighbouring non-blank lines (None at a page edge).
    """
    text = text.strip()
    markdown = _MARKDOWN.match(text)
    if markdown:
        return len(markdown.group(1))
    if not _shape_ok(text):
        return 0
    if _DOT_LEADER.search(text):
        return 0  # a table of contents entry: "5.2 Pgcd . . . . 59"
    numbered = _NUMBERED.match(text)
    if _formula(text, bool(numbered)):
        return 0
    if numbered and _toc_entry(numbered.group(1), text):
        return 0
    if numbered and numbered.group(2)[0].isupper():
        if _empty_section(text, following):
            return 0
        return numbered.group(1).count(".") + 1
    if numbered or text[0].isdigit():  # "2017 2018 2019 CASH, BEGINNING OF PERIOD" is a table row
        return 0
    letters = [c for c in text if c.isalpha()]
    if all(c.isupper() for c in letters) and len(letters) >= 4:
        return 1
    starts_block = previous is None or previous.rstrip()[-1:] in _SENTENCE_END
    opens_body = following is not None and (len(following.split()) >= 8 or bool(_BULLET.match(following)))
    if text[0].isupper() and len(text.split()) <= 8 and starts_block and opens_body:
        return LEAF_LEVEL
    return 0


def _number(text: str | None) -> list[int]:
    """The numbers of a numbered line ("2.3 Title" -> [2, 3]); empty for any other line."""
    match = _NUMBERED.match(text.strip()) if text else None
    return [int(part) for part in match.group(1).split(".")] if match else []


def _empty_section(text: str, following: str | None) -> bool:
    """Whether the next line carries on the numbering of this one right away ("2.1" then "2.2" or "3."): nothing
    stands under this number, so it numbers an item of a list, not a section."""
    current, after = _number(text), _number(following)
    return any(after == [*current[: depth - 1], current[depth - 1] + 1] for depth in range(1, len(current) + 1))


def _toc_entry(number: str, text: str) -> bool:
    """Whether a numbered line ends with the page it points to: "6 Relations d'ordre 67" in a table of contents,
    or a running header "4.5. EXERCICES 55" (the page is not before the section's own number; "3.1 Phase 2" is a
    heading)."""
    page = _TRAILING_NUMBER.search(text)
    return bool(page) and int(page.group(1)) >= int(number.split(".")[0])


def page_lines(text: str) -> list[Line]:
    """The non-blank lines of a page's text with their spans and heading levels."""
    spans = []
    offset = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            start = offset + raw.index(stripped[0])
            spans.append((start, start + len(stripped), stripped))
        offset += len(raw) + 1
    lines = []
    for i, (start, end, line) in enumerate(spans):
        previous = spans[i - 1][2] if i else None
        following = spans[i + 1][2] if i + 1 < len(spans) else None
        level = heading_level(line, previous, following)
        lines.append(Line(start, end, _MARKDOWN.sub(r"\2", line) if level else line, level))
    return _without_footnotes(lines)


def _without_footnotes(lines: list[Line]) -> list[Line]:
    """``lines`` with the numbered lines at the foot of the page that are footnotes taken as body text: "1 Les
    vitesses ne sont pas abordées ici" under a slide whose text calls note 1 ("… convergence, vitesse 1") reads
    like a numbered title, and would otherwise name every section after it."""
    out = list(lines)
    for i in range(len(out) - 1, max(-1, len(out) - 1 - FOOT_LINES), -1):
        number = _NUMBERED.match(out[i].text) if out[i].level else None
        if not number or "." in number.group(1):
            continue  # body text: the end of the page, or a note wrapped onto a second line
        call = re.compile(rf"[^\W\d_][)\]]?\s?{number.group(1)}(?!\S)")
        if any(call.search(line.text) for line in out[:i]):
            out[i] = replace(out[i], level=0)
    return out


class SectionPath:
    """The headings above the current line, by depth."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> None:
        """A heading of ``level`` replaces every heading at that depth or deeper."""
        self._stack = [(lvl, t) for lvl, t in self._stack if lvl < level] + [(level, title)]

    def __str__(self) -> str:
        return " > ".join(title for _, title in self._stack[-3:])


def humanise_file_name(source: str) -> str:
    """A file name as words: ``AMAZON_2017_10K.pdf`` -> ``AMAZON 2017 10K``."""
    stem = Path(source).stem
    return " ".join(re.sub(r"[_\-.]+", " ", stem).split())


def document_title(source: str, meta_title: str = "", first_line: str = "", running: str = "") -> str:
    """Who or what a document is about, for every one of its chunks: file name, metadata title, running header
    and first line of the first page, without repeats."""
    parts: list[str] = []
    seen: set[str] = set()
    for part in (humanise_file_name(source), meta_title, running, first_line):
        part = " ".join(part.split())[:120]
        key = re.sub(r"\W+", "", part.lower())
        if part and key and not any(key in s for s in seen):
            parts.append(part)
            seen.add(key)
    return " | ".join(parts)
