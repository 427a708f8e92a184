"""Pages -> chunks: sentence-aligned windows of about ``chunk_words`` words, with overlap.

Every chunk lies inside one page, so its page number is exact, and ``start``/``end`` are
character offsets into that page's cleaned text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ingest.records import Chunk, Page

# A sentence ends at . ! ? … (plus closing quotes/brackets) before white space, or at a blank line.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'»”)\]]*(?=\s)|\n\s*\n")
_WORD = re.compile(r"\S+")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``, without surrounding white space."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        _append_trimmed(text, start, match.end(), spans)
        start = match.end()
    _append_trimmed(text, start, len(text), spans)
    return spans


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _word_pieces(text: str, span: tuple[int, int], size: int) -> list[tuple[int, int, int]]:
    """Cut one span into pieces of at most ``size`` words: (start, end, words)."""
    words = [(m.start() + span[0], m.end() + span[0]) for m in _WORD.finditer(text[span[0] : span[1]])]
    return [
        (words[i][0], words[min(i + size, len(words)) - 1][1], min(size, len(words) - i))
        for i in range(0, len(words), size)
    ]


def chunk_page(page: Page, chunk_words: int = 120, overlap: int = 24) -> list[Chunk]:
    """Split one page into overlapping, sentence-aligned chunks."""
    text = page.text
    units: list[tuple[int, int, int]] = []
    for span in split_sentences(text):
        units.extend(_word_pieces(text, span, chunk_words))
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, words = i, 0
        while j < len(units) and (j == i or words + units[j][2] <= chunk_words):
            words += units[j][2]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        chunks.append(Chunk(page.source, page.page, start, end, text[start:end].replace("\n", " ")))
        if j >= len(units):
            break
        k, carried = j, 0
        while k - 1 > i and carried + units[k - 1][2] <= overlap:
            k -= 1
            carried += units[k][2]
        i = k
    return chunks


def chunk_pages(pages: Iterable[Page], chunk_words: int = 120, overlap: int = 24) -> list[Chunk]:
    """Chunk every page, in order."""
    return [chunk for page in pages for chunk in chunk_page(page, chunk_words, overlap)]
