"""Files -> pages of text. PDFs through pypdf, with pypdfium2 as a second extractor and
Tesseract OCR (:mod:`ingest.ocr`) for pages without a usable text layer.

Every failure is an :class:`ExtractionError` whose message a user understands. This module does
no resource limiting itself: :mod:`ingest.parse_guard` runs it in a worker process with time and
memory limits.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pypdf
import pypdfium2
import pypdfium2.raw as pdfium_c
from charset_normalizer import from_bytes
from pypdf.errors import FileNotDecryptedError, PyPdfError

from ingest import ocr
from ingest.clean import clean_text, join_accents, restore_ligatures
from ingest.records import Document, Page

logging.getLogger("pypdf").setLevel(logging.ERROR)

PDF_SUFFIXES = {".pdf"}
TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
RICH_SUFFIXES = {".docx", ".pptx", ".odt", ".epub", ".html", ".htm"}
"""Read by :mod:`ingest.formats` (python-docx, python-pptx, odfpy, ebooklib, trafilatura)."""
SUPPORTED_SUFFIXES = PDF_SUFFIXES | TEXT_SUFFIXES | RICH_SUFFIXES
SUPPORTED_NAMES = "PDF, .txt, .md, .docx, .pptx, .odt, .epub and .html"

BROKEN_ENCODING = "unreadable text (broken font encoding)"
SHORT_PAGE_CHARS = 200
"""A page with less text than this whose images cover much of it is OCR'd as well (a scan with a caption)."""


class ExtractionError(Exception):
    """A file whose text cannot be read; the message says why, in words a user understands."""


@dataclass(frozen=True)
class ExtractOptions:
    """How PDFs without a text layer are treated."""

    ocr: bool = True
    tesseract: str = "tesseract"
    ocr_languages: str = "eng+fra"
    ocr_dpi: int = 300
    ocr_max_pages: int = 200
    ocr_page_timeout_s: float = 60.0
    max_unpacked_mb: float = 1024.0
    """A ZIP-based document (.docx, .pptx, .odt, .epub) that would unpack to more is refused as a zip bomb."""


OcrNotice = Callable[[int], None]
"""Called with the number of pages about to be OCR'd (the parse guard extends its deadline)."""


def extract_pages(
    path: Path,
    source: str | None = None,
    options: ExtractOptions | None = None,
    on_ocr: OcrNotice | None = None,
) -> list[Page]:
    """Read ``path`` into cleaned pages (1-based). Pages without text are left out.

    Raises :class:`ExtractionError` with a clear reason for unreadable files.
    """
    return extract_document(path, source, options, on_ocr).pages


def extract_document(
    path: Path,
    source: str | None = None,
    options: ExtractOptions | None = None,
    on_ocr: OcrNotice | None = None,
) -> Document:
    """Read ``path`` into a :class:`Document`: its cleaned pages and its metadata title."""
    source = source or str(path)
    options = options or ExtractOptions()
    suffix = path.suffix.lower()
    meta: dict[str, str] = {}
    if suffix in PDF_SUFFIXES:
        texts = [join_accents(restore_ligatures(text)) for text in _pdf_texts(path, options, on_ocr, meta)]
    elif suffix in TEXT_SUFFIXES:
        texts = [_decode_text(path.read_bytes())]
    elif suffix in RICH_SUFFIXES:
        from ingest.formats import read_rich  # imports this module

        rich = read_rich(path, options.max_unpacked_mb)
        texts, meta["title"] = rich.pages, rich.title
    else:
        raise ExtractionError(f"unsupported file type '{suffix or path.name}' ({SUPPORTED_NAMES} are read)")
    pages = [Page(source, number, clean) for number, raw in enumerate(texts, 1) if (clean := clean_text(raw))]
    if not pages:
        raise ExtractionError("no extractable text (the file is empty or holds only blank pages)")
    return Document(source, pages, meta_title(meta.get("title", "")))


_PLACEHOLDER_TITLE = re.compile(
    r"^\(?(?:anonymous|untitled|unspecified|none|null|title|document\d*|microsoft word\b.*|.*\.(?:docx?|pdf|tex|dvi|"
    r"indd|rtf|odt|pptx?|xlsx?))\)?$",
    re.IGNORECASE,
)


def meta_title(title: str) -> str:
    """A PDF metadata title worth keeping: placeholders ("untitled", "Microsoft Word - x.docx") give ""."""
    title = " ".join(clean_text(title or "").split())
    if len(title) < 3 or _PLACEHOLDER_TITLE.match(title) or not any(c.isalpha() for c in title):
        return ""
    return title[:200]


# --- text quality ---------------------------------------------------------------------------

_BAD_CATEGORIES = {"Co", "Cs", "Cn", "Cc"}
_REPEATS = re.compile(r"(\W)\1+")


def is_garbage(text: str) -> bool:
    """True when extracted text is mostly not letters: a font without a usable Unicode map.

    Counts non-space characters; private-use, unassigned, control and replacement characters are
    bad, and a page must be at least 40% letters or digits once runs of one symbol (dot leaders of
    a table of contents, rules drawn with dashes) are collapsed.
    """
    chars = [c for c in _REPEATS.sub(r"\1", text) if not c.isspace()]
    if len(chars) < 20:
        return False
    bad = sum(1 for c in chars if c in "\ufffd\ufffe\uffff" or unicodedata.category(c) in _BAD_CATEGORIES)
    alnum = sum(1 for c in chars if c.isalnum() and unicodedata.category(c) not in _BAD_CATEGORIES)
    return bad / len(chars) > 0.2 or alnum / len(chars) < 0.4


def _usable(text: str) -> bool:
    return bool(text.strip()) and not is_garbage(text)


# --- PDFs -----------------------------------------------------------------------------------


def _pdf_texts(path: Path, options: ExtractOptions, on_ocr: OcrNotice | None, meta: dict[str, str]) -> list[str]:
    """Raw text per page: pypdf, pypdfium2 for pages pypdf cannot read, OCR for what is left.

    ``meta`` receives the document's metadata title when pypdf can read it."""
    with path.open("rb") as handle:
        head = handle.read(1024)
    if not head:
        raise ExtractionError("empty file (0 bytes)")
    if b"%PDF-" not in head:
        raise ExtractionError(_not_a_pdf(head))
    try:
        texts = _pypdf_texts(path, meta)
    except ExtractionError:
        raise
    except MemoryError:
        raise
    except Exception:
        texts = None
    try:
        document = pypdfium2.PdfDocument(path)
    except pypdfium2.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractionError("encrypted PDF: a password is required") from exc
        if texts is None:
            raise ExtractionError("damaged or truncated PDF (it could not be repaired)") from exc
        document = None
    if document is None:
        return [t if _usable(t) else "" for t in texts]
    try:
        return _complete(document, texts, options, on_ocr)
    finally:
        document.close()


def _not_a_pdf(head: bytes) -> str:
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:512]:
        return "not a PDF: the file is a web page (HTML) saved with a .pdf name"
    return "not a PDF: the file does not start with a PDF header"


def _complete(
    document: pypdfium2.PdfDocument, texts: list[str] | None, options: ExtractOptions, on_ocr: OcrNotice | None
) -> list[str]:
    """Fill pages pypdf could not read from pdfium's text layer, then from OCR."""
    count = len(document)
    if count == 0:
        raise ExtractionError("the PDF has no pages")
    if texts is None or len(texts) != count:
        texts = [""] * count
    garbage = 0
    todo: list[int] = []
    for index in range(count):
        if _usable(texts[index]):
            if len(texts[index].strip()) < SHORT_PAGE_CHARS and _safely(_mostly_image, document, index):
                todo.append(index)
            continue
        other = _pdfium_page_text(document, index)
        if _usable(other):
            texts[index] = other
            continue
        if is_garbage(texts[index]) or is_garbage(other):
            garbage += 1
        texts[index] = ""
        if _safely(_has_marks, document, index):
            todo.append(index)
    if todo:
        _ocr_pages(document, texts, todo, options, on_ocr, garbage)
    if not any(t.strip() for t in texts):
        if garbage:
            raise ExtractionError(BROKEN_ENCODING)
        raise ExtractionError("no extractable text (the PDF has only blank pages)")
    return texts


def _ocr_pages(
    document: pypdfium2.PdfDocument,
    texts: list[str],
    todo: list[int],
    options: ExtractOptions,
    on_ocr: OcrNotice | None,
    garbage: int,
) -> None:
    have_text = any(t.strip() for t in texts)
    binary = ocr.tesseract_path(options.tesseract) if options.ocr else None
    if binary is None:
        if have_text:
            return  # index the pages that have text; the image-only ones are left out
        if garbage:
            raise ExtractionError(f"{BROKEN_ENCODING}; OCR unavailable (install tesseract-ocr)")
        if not options.ocr:
            raise ExtractionError("no text layer (image-only PDF) and OCR is turned off")
        raise ExtractionError(ocr.OCR_UNAVAILABLE)
    try:
        langs = ocr.usable_languages(binary, options.ocr_languages)
    except ocr.OcrError as exc:
        if have_text:
            return
        raise ExtractionError(f"no text layer; {exc}") from exc
    todo = todo[: max(0, options.ocr_max_pages)]
    if on_ocr:
        on_ocr(len(todo))
    errors: list[str] = []
    for index in todo:
        try:
            image, dpi = ocr.render_page(document[index], options.ocr_dpi)
            text = ocr.ocr_image(image, binary, langs, options.ocr_page_timeout_s, dpi)
        except ocr.OcrError as exc:
            errors.append(str(exc))
            continue
        except pypdfium2.PdfiumError:
            errors.append("a page could not be rendered for OCR")
            continue
        if _usable(text) and len(text.strip()) > len(texts[index].strip()):
            texts[index] = text
    if not any(t.strip() for t in texts):
        if errors:
            raise ExtractionError(f"no text layer, and {errors[0]}")
        if garbage:
            raise ExtractionError(f"{BROKEN_ENCODING}; OCR found no text either")
        raise ExtractionError("no text layer, and OCR found no text on the page images")


def _safely(test: Callable[[pypdfium2.PdfPage], bool], document: pypdfium2.PdfDocument, index: int) -> bool:
    """``test`` on page ``index``; False when pdfium cannot load the page."""
    try:
        return test(document[index])
    except pypdfium2.PdfiumError:
        return False


def _mostly_image(page: pypdfium2.PdfPage) -> bool:
    """True when image objects cover at least 40% of the page."""
    width, height = page.get_size()
    covered = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        covered += max(0.0, min(right, width) - max(left, 0.0)) * max(0.0, min(top, height) - max(bottom, 0.0))
    return width > 0 and height > 0 and covered >= 0.4 * width * height


def _has_marks(page: pypdfium2.PdfPage) -> bool:
    """True when the page draws anything at all (a blank page is not worth OCR)."""
    for _ in page.get_objects(max_depth=1):
        return True
    return False


def _pypdf_texts(path: Path, meta: dict[str, str]) -> list[str]:
    reader = pypdf.PdfReader(path)
    if reader.is_encrypted:
        try:
            if not reader.decrypt(""):
                raise ExtractionError("encrypted PDF: a password is required")
        except (FileNotDecryptedError, PyPdfError, NotImplementedError) as exc:
            raise ExtractionError(f"encrypted PDF: cannot decrypt ({_short(exc)})") from exc
    try:
        meta["title"] = str((reader.metadata or {}).get("/Title") or "")
    except Exception:  # a damaged info dictionary costs the title, never the text
        meta["title"] = ""
    texts = []
    for page in reader.pages:
        try:
            texts.append(page.extract_text() or "")
        except MemoryError:
            raise
        except Exception:
            texts.append("")
    return texts


def _pdfium_page_text(document: pypdfium2.PdfDocument, index: int) -> str:
    try:
        page = document[index]
        textpage = page.get_textpage()
        try:
            return textpage.get_text_range()
        finally:
            textpage.close()
    except pypdfium2.PdfiumError:
        return ""


# --- text files -----------------------------------------------------------------------------


_LATIN_CODEPAGES = {
    "ascii", "cp1250", "cp1252", "cp1254", "cp1257", "cp850", "cp858", "latin_1", "mac_latin2", "mac_roman",
    "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15",
    "iso8859_16",
}  # fmt: skip
"""Single-byte code pages a detector confuses with each other on short French/English text."""


def _decode_text(data: bytes) -> str:
    """Text of a .txt/.md file: UTF-8 (or a UTF-16/32 BOM), else Windows-1252 for Western text, else detected."""
    if not data.strip():
        raise ExtractionError("empty file")
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):  # fmt: skip
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                raise ExtractionError(f"damaged {codec.upper()} text file") from None
    if b"\x00" in data[:4096]:
        raise ExtractionError("binary content in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None or best.encoding in _LATIN_CODEPAGES:
        # Detectors pick cp1250 for short French text ("trčs" for "très"); the app reads French and English.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return str(best)


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 160 else text[:157] + "..."
