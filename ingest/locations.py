"""What a "page" of a document is, by file type, and how to name a place in it for people.

PDFs and text files have pages; a presentation has slides; Word, OpenDocument, EPUB and web
pages have no fixed pages, so extraction cuts them into parts at their headings, and a place in
them is named by its section heading (the part number when there is no heading).
"""

from __future__ import annotations

from pathlib import Path

SLIDE_SUFFIXES = {".pptx"}
SECTION_SUFFIXES = {".docx", ".odt", ".epub", ".html", ".htm"}


def unit(source: str) -> str:
    """What the page numbers of ``source`` count: "page", "slide" or "part"."""
    suffix = Path(source).suffix.lower()
    if suffix in SLIDE_SUFFIXES:
        return "slide"
    if suffix in SECTION_SUFFIXES:
        return "part"
    return "page"


def has_page_images(source: str) -> bool:
    """Whether places in ``source`` can be shown as a rendered page (PDFs only)."""
    return Path(source).suffix.lower() == ".pdf"


def location_label(source: str, page: int, page_end: int = 0, section: str = "") -> str:
    """The place as a reader names it: "page 3", "pages 3-4", "slide 2", or for documents without pages the
    section ("§ Setup > Grinding")."""
    kind = unit(source)
    if kind == "part" and section:
        return f"§ {section}"
    last = max(page, page_end or page)
    return f"{kind}s {page}-{last}" if last > page else f"{kind} {page}"
