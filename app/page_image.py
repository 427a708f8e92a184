"""A PDF page rendered with pypdfium2, with the passage's text highlighted where it can be found."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import pypdfium2
from PIL import Image, ImageDraw

_WORD = re.compile(r"\w+")
HIGHLIGHT_FILL = (255, 214, 0, 90)
HIGHLIGHT_LINE = (230, 150, 0, 255)


@dataclass
class PageImage:
    """A rendered page and how much of the passage was located on it."""

    image: Image.Image
    found: bool
    """Whether (part of) the passage was highlighted."""
    page_count: int
    focus: tuple[int, int] | None = None
    """Top and bottom (pixels) of the highlighted area."""

    def excerpt(self, margin: int = 80) -> Image.Image:
        """The band of the page around the highlight (the whole page when nothing was highlighted)."""
        if self.focus is None:
            return self.image
        top, bottom = self.focus
        return self.image.crop((0, max(0, top - margin), self.image.width, min(self.image.height, bottom + margin)))

    def png(self, excerpt: bool = False) -> bytes:
        """The image (or its :meth:`excerpt`) as PNG bytes."""
        out = io.BytesIO()
        (self.excerpt() if excerpt else self.image).save(out, format="PNG", optimize=True)
        return out.getvalue()


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().casefold(), m.start(), m.end()) for m in _WORD.finditer(text)]


def locate(page_text: str, passage: str, min_run: int = 4) -> list[tuple[int, int]]:
    """Character ranges of ``page_text`` that spell runs of the passage's words (case and spacing ignored).

    Words are aligned with a longest-matching-blocks diff, so hyphenation, ligatures or line
    breaks that differ between the PDF text and the cleaned passage only break the runs.
    """
    page_words, passage_words = _words(page_text), _words(passage)
    if not page_words or not passage_words:
        return []
    min_run = min(min_run, len(passage_words))
    matcher = SequenceMatcher(None, [w for w, _, _ in page_words], [w for w, _, _ in passage_words], autojunk=False)
    ranges = []
    for block in matcher.get_matching_blocks():
        if block.size >= min_run:
            ranges.append((page_words[block.a][1], page_words[block.a + block.size - 1][2]))
    return ranges


def _rects(textpage: pypdfium2.PdfTextPage, ranges: list[tuple[int, int]]) -> list[tuple[float, float, float, float]]:
    rects = []
    for start, end in ranges:
        count = textpage.count_rects(start, end - start)
        rects.extend(textpage.get_rect(i) for i in range(count))
    return rects


def render_page(path: Path, page: int, passage: str = "", scale: float = 1.5) -> PageImage:
    """Page ``page`` (1-based) of the PDF at ``path`` as an image, ``passage`` highlighted when located."""
    document = pypdfium2.PdfDocument(str(path))
    try:
        count = len(document)
        if not 1 <= page <= count:
            raise ValueError(f"page {page} out of range (1..{count})")
        pdf_page = document[page - 1]
        try:
            image = pdf_page.render(scale=scale).to_pil().convert("RGBA")
            rects: list[tuple[float, float, float, float]] = []
            if passage.strip():
                textpage = pdf_page.get_textpage()
                try:
                    rects = _rects(textpage, locate(textpage.get_text_range(), passage))
                finally:
                    textpage.close()
            left, _bottom, _right, top = pdf_page.get_bbox()
            focus = None
            if rects and pdf_page.get_rotation() == 0:
                overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
                draw = ImageDraw.Draw(overlay)
                tops, bottoms = [], []
                for x0, y0, x1, y1 in rects:
                    box = (
                        (x0 - left) * scale - 2,
                        (top - y1) * scale - 2,
                        (x1 - left) * scale + 2,
                        (top - y0) * scale + 2,
                    )
                    draw.rectangle(box, fill=HIGHLIGHT_FILL, outline=HIGHLIGHT_LINE, width=1)
                    tops.append(int(box[1]))
                    bottoms.append(int(box[3]))
                image = Image.alpha_composite(image, overlay)
                focus = (max(0, min(tops)), min(image.height, max(bottoms)))
            return PageImage(image.convert("RGB"), bool(rects), count, focus)
        finally:
            pdf_page.close()
    finally:
        document.close()
