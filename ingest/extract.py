"""Files -> pages of text. PDFs through pypdf, with pypdfium2 as a second extractor."""

from __future__ import annotations

import logging
from pathlib import Path

import pypdf
import pypdfium2
from charset_normalizer import from_bytes
from pypdf.errors import FileNotDecryptedError, PyPdfError

from ingest.clean import clean_text
from ingest.records import Page

logging.getLogger("pypdf").setLevel(logging.ERROR)

PDF_SUFFIXES = {".pdf"}
TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
SUPPORTED_SUFFIXES = PDF_SUFFIXES | TEXT_SUFFIXES


class ExtractionError(Exception):
    """A file whose text cannot be read; the message says why, in words a user understands."""


def extract_pages(path: Path, source: str | None = None) -> list[Page]:
    """Read ``path`` into cleaned pages (1-based). Pages without text are left out.

    Raises :class:`ExtractionError` with a clear reason for unreadable files.
    """
    source = source or str(path)
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        texts = _pdf_texts(path)
    elif suffix in TEXT_SUFFIXES:
        texts = [_decode_text(path.read_bytes())]
    else:
        raise ExtractionError(f"unsupported file type '{suffix or path.name}' (PDF, .txt and .md are read)")
    pages = [Page(source, number, clean) for number, raw in enumerate(texts, 1) if (clean := clean_text(raw))]
    if not pages:
        raise ExtractionError("no extractable text (empty, or image-only pages that need OCR)")
    return pages


def _pdf_texts(path: Path) -> list[str]:
    """Raw text per page: pypdf first; pypdfium2 when pypdf refuses the file or finds no text."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    if not head:
        raise ExtractionError("empty file (0 bytes)")
    if b"%PDF-" not in head:
        raise ExtractionError("not a PDF: the file does not start with a PDF header")
    try:
        texts = _pypdf_texts(path)
    except ExtractionError:
        raise
    except Exception as first:
        try:
            return _pdfium_texts(path)
        except ExtractionError:
            raise
        except Exception as second:
            raise ExtractionError(f"unreadable PDF ({_short(first)}; pdfium: {_short(second)})") from second
    if any(t.strip() for t in texts):
        return texts
    try:
        return _pdfium_texts(path)
    except Exception:
        return texts


def _pypdf_texts(path: Path) -> list[str]:
    reader = pypdf.PdfReader(path)
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                raise ExtractionError("encrypted PDF: a password is required")
        except (FileNotDecryptedError, PyPdfError, NotImplementedError) as exc:
            raise ExtractionError(f"encrypted PDF: cannot decrypt ({_short(exc)})") from exc
    return [page.extract_text() or "" for page in reader.pages]


def _pdfium_texts(path: Path) -> list[str]:
    try:
        document = pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractionError("encrypted PDF: a password is required") from exc
        raise
    try:
        texts = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        document.close()


def _decode_text(data: bytes) -> str:
    if not data.strip():
        raise ExtractionError("empty file")
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractionError("binary content in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        best = from_bytes(data).best()
        if best is None:
            raise ExtractionError("text file in an unknown encoding") from None
        return str(best)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 160 else text[:157] + "..."
