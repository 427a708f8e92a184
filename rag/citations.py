"""Citation markers in an answer ([1], [2, 3], [1][4]) mapped back to passages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.retrieve import Passage

MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
"""A citation marker: [1], [2, 3] or [1; 4]."""


@dataclass
class Citation:
    """One cited passage: number as written in the answer, and where it comes from."""

    number: int
    source: str
    name: str
    page: int
    text: str

    @classmethod
    def of(cls, number: int, passage: Passage) -> Citation:
        """The citation of passage ``number`` (1-based)."""
        return cls(number, passage.source, passage.name, passage.page, passage.text)


def cited_numbers(text: str) -> list[int]:
    """Passage numbers cited in ``text``, in order of first appearance."""
    seen: list[int] = []
    for match in MARKER.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            number = int(part)
            if number not in seen:
                seen.append(number)
    return seen


def strip_markers(text: str) -> str:
    """``text`` without its citation markers."""
    return re.sub(r"\s*" + MARKER.pattern, "", text)


def map_citations(text: str, passages: list[Passage]) -> list[Citation]:
    """Citations for the markers of ``text`` that name an existing passage."""
    return [Citation.of(n, passages[n - 1]) for n in cited_numbers(text) if 1 <= n <= len(passages)]
