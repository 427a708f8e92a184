"""Plain records that flow through ingestion: pages and chunks."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Page:
    """The cleaned text of one page (1-based) of one source file."""

    source: str
    page: int
    text: str


@dataclass(frozen=True)
class Chunk:
    """A passage of a page, with character offsets into that page's cleaned text."""

    source: str
    page: int
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)
