"""Page furniture: running headers, footers and page numbers, found per document and kept out of chunks.

A line is furniture when it is short, sits among the first or last few lines of a page, and the
same line, with its numbers blanked ("Page 3 / 7" and "Page 4 / 7" are one line), stands there on
many pages of the document. A lone number (or roman numeral) at the top or bottom of a page is a page number.
A book's running header changes with its chapter or section ("48 CHAPITRE 4. ENTIERS" on the chapter's
even pages, "4.2. ENSEMBLES FINIS 49" on the section's odd ones), so it stands on too few pages for the share
above; it is told by the printed page number it begins or ends with (the page's index plus the offset most edge
numbers share) and by standing on at least two pages.
Nothing is dropped from a page that furniture alone would empty: a one-line register page whose
every page reads "Page N of the register" keeps its line.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from ingest.records import Page

EDGE_LINES = 3
"""How many lines at the top and at the bottom of a page may be furniture."""
MIN_SHARE = 0.3
"""A line is furniture when it stands at a page edge on at least this share of the document's pages."""
MIN_PAGES = 3
"""... and on at least this many pages."""
MAX_WORDS = 12
"""Furniture is short: a longer line is body text, even when a document repeats it on every page."""

_NUMBER = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^[\W_]*(?:\d{1,4}|[ivxlc]{1,7})[\W_]*$", re.IGNORECASE)


def line_key(line: str) -> str:
    """A line with case, spacing and numbers blanked, so the running lines of different pages compare equal."""
    return " ".join(_NUMBER.sub("#", line.lower()).split())


@dataclass
class Furniture:
    """The repeating edge lines of one document."""

    keys: frozenset[str]
    identity: str = ""
    """The running headers that read like a name ("ADOBE INC."), for the document's title."""
    numbered: frozenset[str] = frozenset()
    """Running lines that carry the printed page number: furniture on a page whose number they carry."""
    offset: int = 0
    """Printed page number minus the page's index in the file."""

    def is_furniture(self, line: str, page: int = 0) -> bool:
        """Whether an edge line (of page ``page``, numbered from 1 in the file) is furniture."""
        if _PAGE_NUMBER.match(line.strip()) or line_key(line) in self.keys:
            return True
        return bool(page) and line_key(line) in self.numbered and page + self.offset in _edge_numbers(line)


def _wordy(line: str) -> bool:
    """Whether letters make up most of a line: a title, not a table row that the page number was appended to
    ("assets$ 2,756,947 $ 3,440,870 59")."""
    chars = [c for c in line if not c.isspace()]
    return sum(c.isalpha() for c in chars) >= 0.5 * len(chars)


def _edge_numbers(line: str) -> set[int]:
    """The whole numbers a line begins or ends with ("48 CHAPITRE 4. ENTIERS" gives 48)."""
    words = line.split()
    return {int(w) for w in (words[:1] + words[-1:]) if w.isdigit() and len(w) <= 4}


def _edges(lines: list[str]) -> tuple[list[str], list[str]]:
    """The lines a header or a footer can be: the first and the last EDGE_LINES non-blank lines."""
    filled = [line for line in lines if line.strip()]
    return filled[:EDGE_LINES], filled[-EDGE_LINES:]


def find_furniture(pages: list[Page]) -> Furniture:
    """The running lines of a document (none for documents shorter than MIN_PAGES pages)."""
    if len(pages) < MIN_PAGES:
        return Furniture(frozenset())
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    offsets: Counter[int] = Counter()
    edge_lines: list[tuple[int, str]] = []
    for page in pages:
        top, bottom = _edges(page.text.split("\n"))
        keys = {line_key(line): line.strip() for line in top + bottom}
        keys = {k: line for k, line in keys.items() if any(c.isalpha() for c in k) and len(k.split()) <= MAX_WORDS}
        counts.update(keys.keys())
        for key, line in keys.items():
            shown.setdefault(key, line)
            edge_lines.append((page.page, line))
        offsets.update({n - page.page for line in top + bottom for n in _edge_numbers(line)})
    needed = max(MIN_PAGES, math.ceil(MIN_SHARE * len(pages)))
    keys = frozenset(key for key, n in counts.items() if n >= needed)
    names = [shown[key] for key, n in counts.most_common() if n >= needed and "#" not in key and len(key.split()) <= 8]
    offset, pages_numbered = offsets.most_common(1)[0] if offsets else (0, 0)
    numbered: Counter[str] = Counter()
    if pages_numbered >= needed:  # the document prints its page numbers at the page edges
        numbered.update(
            line_key(line) for number, line in edge_lines if number + offset in _edge_numbers(line) and _wordy(line)
        )
    running = frozenset(key for key, n in numbered.items() if n >= 2 and key not in keys)
    return Furniture(keys, " | ".join(names[:2]), running, offset)


def strip_page(page: Page, furniture: Furniture) -> Page:
    """``page`` without its furniture lines at the edges; unchanged when nothing else would remain."""
    lines = page.text.split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    drop = set()
    # Furniture is peeled from the outside in: a header line below a body line is body text.
    for order in (filled[:EDGE_LINES], list(reversed(filled[-EDGE_LINES:]))):
        for i in order:
            if furniture.is_furniture(lines[i], page.page):
                drop.add(i)
            else:
                break
    kept = [line for i, line in enumerate(lines) if i not in drop]
    text = "\n".join(kept).strip()
    if not drop or not any(c.isalnum() for c in text):
        return page
    return Page(page.source, page.page, text)


def strip_furniture(pages: list[Page]) -> tuple[list[Page], Furniture]:
    """The pages without their running headers, footers and page numbers, and what was found."""
    furniture = find_furniture(pages)
    return [strip_page(page, furniture) for page in pages], furniture
