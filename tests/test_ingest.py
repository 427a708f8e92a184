"""Ingestion pieces on real text and real PDFs: cleaning, extraction, chunking."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ingest.chunking import chunk_page, split_sentences
from ingest.clean import clean_text
from ingest.extract import ExtractionError, extract_pages
from ingest.records import Page
from tests.conftest import make_pdf, requires_shared


def test_clean_text_joins_hyphenated_words_and_ligatures() -> None:
    raw = "The trans-\nformer uses ﬁne   attention.\n\n\n\nNext  paragraph"
    assert clean_text(raw) == "The transformer uses fine attention.\n\nNext paragraph"


def test_sentences_split_on_terminators_not_inside_numbers() -> None:
    text = "Pressure is 9.2 bar. Is it safe? Yes!\n\nNew paragraph without stop"
    spans = [text[s:e] for s, e in split_sentences(text)]
    assert spans == ["Pressure is 9.2 bar.", "Is it safe?", "Yes!", "New paragraph without stop"]


def test_chunks_keep_page_offsets_overlap_and_size() -> None:
    sentences = [f"Sentence number {i} talks about topic {i % 7} in some detail here." for i in range(60)]
    page = Page("doc.pdf", 4, " ".join(sentences))
    chunks = chunk_page(page, chunk_words=50, overlap=12)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.page == 4 and chunk.source == "doc.pdf"
        assert page.text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text.split()) <= 50
        assert chunk.text.startswith("Sentence") and chunk.text.endswith(".")
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end, "consecutive chunks overlap"
        assert after.start > before.start, "chunking makes progress"
    assert chunks[-1].end == len(page.text)


def test_a_sentence_longer_than_a_chunk_is_cut_by_words() -> None:
    page = Page("long.txt", 1, " ".join(f"w{i}" for i in range(130)))
    chunks = chunk_page(page, chunk_words=50, overlap=0)
    assert [len(c.text.split()) for c in chunks] == [50, 50, 30]


def test_pdf_pages_are_numbered_from_one_and_empty_pages_left_out(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "facts.pdf", ["Alpha page text.", "", "The gamma fact lives on page three."])
    pages = extract_pages(pdf)
    assert [p.page for p in pages] == [1, 3]
    assert "gamma fact" in pages[1].text


def test_text_and_markdown_files_are_one_page(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Title\n\nLatin-1 café text.", encoding="utf-8")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Un café très fort à Genève, évidemment préféré.".encode("cp1252"))
    assert extract_pages(note)[0].text.endswith("café text.")
    assert "très fort à Genève" in extract_pages(latin)[0].text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.pdf", b"", "empty"),
        ("fake.pdf", b"<html><body>not a pdf</body></html>", "not a PDF"),
        ("data.bin", b"\x00\x01", "unsupported file type"),
    ],
)
def test_unreadable_files_raise_a_clear_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ExtractionError, match=reason):
        extract_pages(path)


def test_real_service_manual_keeps_its_pages() -> None:
    manual = requires_shared("localgpt", "atlas7_service_manual.pdf")
    pages = extract_pages(manual)
    assert pages[0].page == 1
    assert "9.2 bar" in pages[0].text
