"""Word, PowerPoint, OpenDocument, EPUB and web pages: real files written by their libraries, read through the
parsing worker, chunked with their section headings, and named by section or slide."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.uploads import UploadError, check_content
from ingest.chunking import chunk_document
from ingest.formats import Block, blocks_to_pages
from ingest.locations import location_label
from ingest.parse_guard import guarded_extract_document
from rag.settings import Settings
from tests.documents import html_page, make_docx, make_epub, make_html, make_odt, make_pptx

SECTIONS = [
    ("Installation", ["Unpack the Zorblax kit on a flat table. Connect the blue cable to port four first."]),
    ("Maintenance", ["Clean the filter every 200 hours of operation with warm water. Replace the gasket yearly."]),
]


@pytest.mark.parametrize("maker", [make_docx, make_odt, make_epub, make_html], ids=["docx", "odt", "epub", "html"])
def test_sections_become_parts_and_chunks_carry_their_heading(maker, tmp_path: Path, settings: Settings) -> None:
    path = maker(tmp_path / f"manual.{maker.__name__[5:]}", SECTIONS)
    document = guarded_extract_document(path, str(path), settings)
    chunks = chunk_document(document)
    by_fact = {c.section.split(" > ")[-1]: c for c in chunks if "Zorblax kit" in c.text or "filter" in c.text}
    assert set(by_fact) >= {"Maintenance"}, [(c.section, c.text) for c in chunks]
    maintenance = by_fact["Maintenance"]
    assert "200 hours" in maintenance.text and "blue cable" not in maintenance.text
    assert location_label(str(path), maintenance.page, 0, maintenance.section).endswith("Maintenance")
    if maker is make_html:  # the page's navigation, cookie banner and footer are left out
        text = " ".join(p.text for p in document.pages)
        assert "cookies" not in text and "Copyright" not in text and "Shop" not in text


def test_slides_are_pages_with_their_titles(tmp_path: Path, settings: Settings) -> None:
    path = make_pptx(tmp_path / "deck.pptx", [("Budget", ["Spend 40 k€ on pumps."]), ("Empty", []), *SECTIONS])
    document = guarded_extract_document(path, str(path), settings)
    assert [p.page for p in document.pages] == [1, 2, 3, 4]
    assert document.pages[3].text.startswith("# Maintenance")
    chunk = next(c for c in chunk_document(document) if "filter" in c.text)
    assert (chunk.page, chunk.section) == (4, "Maintenance")
    assert location_label(str(path), chunk.page, chunk.page_end, chunk.section) == "slide 4"


def test_long_sections_are_cut_into_parts_at_paragraph_ends() -> None:
    paragraph = "word " * 150
    blocks = [Block(1, "Intro"), Block(0, paragraph), Block(0, paragraph), Block(0, paragraph), Block(3, "Detail")]
    pages = blocks_to_pages([*blocks, Block(0, "Short."), Block(2, "Next"), Block(0, "# not a heading")])
    assert len(pages) == 3
    assert pages[0].startswith("# Intro") and pages[1].startswith("word") and "### Detail" in pages[1]
    assert pages[2] == "## Next\n\n#\\ not a heading"


def test_location_labels_by_file_type() -> None:
    assert location_label("/d/a.pdf", 3) == "page 3" and location_label("/d/a.pdf", 3, 4) == "pages 3-4"
    assert location_label("/d/a.pptx", 2, 0, "Budget") == "slide 2"
    assert location_label("/d/a.docx", 5, 0, "Setup > Grinding") == "§ Setup > Grinding"
    assert location_label("/d/a.epub", 5) == "part 5"


def test_uploads_are_checked_by_content(tmp_path: Path) -> None:
    docx = make_docx(tmp_path / "a.docx", SECTIONS).read_bytes()
    check_content("a.docx", docx, 10)
    with pytest.raises(UploadError, match="not a PowerPoint presentation"):
        check_content("a.pptx", docx, 10)  # a Word file renamed .pptx
    check_content("page.html", html_page(SECTIONS).encode(), 10)
    with pytest.raises(UploadError, match="no HTML tags"):
        check_content("page.html", b"just some words", 10)
    with pytest.raises(UploadError, match="not an EPUB book"):
        check_content("book.epub", b"MZ\x90\x00", 10)
