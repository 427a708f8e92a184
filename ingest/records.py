"""Plain records that flow through ingestion: documents, pages and chunks."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Page:
    """The cleaned text of one page (1-based) of one source file."""

    source: str
    page: int
    text: str


@dataclass
class Document:
    """The pages of one file and what names it (PDF metadata title, when the file has a meaningful one)."""

    source: str
    pages: list[Page]
    meta_title: str = ""


@dataclass(frozen=True)
class Chunk:
    """A passage of a document.

    ``page`` is where it starts and ``page_end`` where it ends (a passage may run across a page
    break); ``start`` is a character offset into the cleaned text of ``page`` and ``end`` one into
    the cleaned text of ``page_end``. ``title`` names the document and ``section`` is the heading
    path above the passage: both are indexed with the text but are not part of it.
    """

    source: str
    page: int
    start: int
    end: int
    text: str
    page_end: int = 0
    section: str = ""
    title: str = ""

    @property
    def last_page(self) -> int:
        """The page the passage ends on."""
        return self.page_end or self.page

    def context(self) -> str:
        """Document title and section path, one line (empty when neither is known)."""
        head, _, rest = self.section.partition(" > ")
        section = rest if head and head in self.title else self.section  # a document's first heading is its title
        return " | ".join(part for part in (self.title, section) if part)

    def indexed_text(self) -> str:
        """What is embedded and keyword-indexed: the context line, then the text."""
        context = self.context()
        return f"{context}\n{self.text}" if context else self.text

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)
