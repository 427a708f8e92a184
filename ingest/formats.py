"""Word, PowerPoint, OpenDocument, EPUB and web pages -> page texts, through their own libraries.

* ``.docx``: python-docx (paragraphs and tables in body order; headings from the paragraph style or outline level)
* ``.pptx``: python-pptx (one page per slide: its title as heading, its shapes top to bottom, tables, notes)
* ``.odt``: odfpy (``text:h`` headings with their outline level, paragraphs, lists, tables)
* ``.epub``: ebooklib (the spine's chapters in reading order, each read with lxml)
* ``.html``/``.htm``: trafilatura (the main text, navigation, headers, footers and ads removed)

Documents without pages are cut into *parts*: a new part starts at every heading of level 1 or 2
and after about :data:`PART_WORDS` words. Headings are written as Markdown ``#`` lines, so
:mod:`ingest.structure` gives every chunk its section path, and citations name the section.

The ZIP-based formats are checked before any library opens them (:func:`zip_problem`): a damaged
or truncated package, a password-protected file, a DRM-protected book and a decompression bomb
each get a clear message. Everything here runs inside the parsing worker (:mod:`ingest.parse_guard`).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingest.extract import ExtractionError

DOCX, PPTX, ODT, EPUB = ".docx", ".pptx", ".odt", ".epub"
ZIP_SUFFIXES = {DOCX, PPTX, ODT, EPUB}
HTML_SUFFIXES = {".html", ".htm"}
RICH_SUFFIXES = ZIP_SUFFIXES | HTML_SUFFIXES

KINDS = {
    DOCX: "Word document (.docx)",
    PPTX: "PowerPoint presentation (.pptx)",
    ODT: "OpenDocument text (.odt)",
    EPUB: "EPUB book",
    ".html": "web page",
    ".htm": "web page",
}
_REQUIRED = {
    DOCX: "word/document.xml",
    PPTX: "ppt/presentation.xml",
    ODT: "content.xml",
    EPUB: "META-INF/container.xml",
}
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""Compound-file header: an old binary Office file, or an encrypted (password-protected) OOXML package."""
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
PART_WORDS = 400
"""A part of a document without pages ends after about this many words (at a paragraph end)."""
MAX_RATIO = 200
"""An entry that unpacks to more than this many times its packed size (and to more than 32 MB) is a bomb."""


@dataclass(frozen=True)
class Block:
    """A heading (``level`` 1-6) or a paragraph (``level`` 0) of a document, in reading order."""

    level: int
    text: str


@dataclass
class RichText:
    """Page texts (1-based by position; "" for an empty slide) and the document's own title."""

    pages: list[str]
    title: str = ""


def read_rich(path: Path, max_unpacked_mb: float) -> RichText:
    """The page texts of a Word, PowerPoint, OpenDocument, EPUB or HTML file; :class:`ExtractionError` if unreadable."""
    suffix = path.suffix.lower()
    kind = KINDS[suffix]
    if path.stat().st_size == 0:
        raise ExtractionError("empty file (0 bytes)")
    if suffix in ZIP_SUFFIXES:
        with path.open("rb") as handle:
            problem = zip_problem(handle, suffix, max_unpacked_mb)
        if problem:
            raise ExtractionError(problem)
    reader = {DOCX: _docx, PPTX: _pptx, ODT: _odt, EPUB: _epub}.get(suffix, _html)
    try:
        return reader(path)
    except ExtractionError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise ExtractionError(f"damaged {kind}: {_short(exc)}") from exc


# ---------------------------------------------------------------- package checks


def zip_problem(handle: BinaryIO, suffix: str, max_unpacked_mb: float) -> str | None:
    """Why a ZIP-based file (``.docx``, ``.pptx``, ``.odt``, ``.epub``) cannot be read, or None.

    Reads only the package's directory (and, for an OLE file, looks for an encryption stream)."""
    kind = KINDS[suffix]
    head = handle.read(8)
    handle.seek(0)
    if not head:
        return "empty file (0 bytes)"
    if head.startswith(OLE_MAGIC):
        if _ENCRYPTION_INFO in handle.read():
            return f"password-protected {kind}: save a copy without the password and add that"
        return f"not {_a(kind)}: an older binary Office file (.doc, .ppt) or another format; save it as {suffix}"
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError):
        if head.startswith(b"PK"):
            return f"damaged or truncated {kind} (its ZIP package cannot be read)"
        return f"not {_a(kind)}: the file is not a ZIP package (damaged, or another format with this name)"
    with archive:
        entries = archive.infolist()
        names = {info.filename for info in entries}
        if _REQUIRED[suffix] not in names:
            return f"not {_a(kind)}: {_REQUIRED[suffix]} is missing from the package"
        total = sum(info.file_size for info in entries)
        limit = max_unpacked_mb * 1024 * 1024
        if total > limit:
            return f"zip bomb: the package would unpack to {total / 2**20:,.0f} MB (limit {max_unpacked_mb:g} MB)"
        for info in entries:
            if info.file_size > 32 * 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                return f"zip bomb: {info.filename} unpacks {info.file_size // max(info.compress_size, 1):,} times"
        if suffix == ODT and "META-INF/manifest.xml" in names:
            if b"encryption-data" in archive.read("META-INF/manifest.xml"):
                return f"password-protected {kind}: save a copy without the password and add that"
        if suffix == EPUB and "META-INF/encryption.xml" in names:
            encrypted = re.findall(rb'URI="([^"]+)"', archive.read("META-INF/encryption.xml"))
            if any(not uri.lower().endswith((b".otf", b".ttf", b".woff", b".woff2")) for uri in encrypted):
                return f"DRM-protected {kind}: its text is encrypted"
    return None


def _a(kind: str) -> str:
    return ("an " if kind[0] in "AEIOU" else "a ") + kind


# ---------------------------------------------------------------- blocks -> parts


def _one_line(text: str) -> str:
    return " ".join(text.split())


def blocks_to_pages(blocks: Iterable[Block], part_words: int = PART_WORDS) -> list[str]:
    """Headings and paragraphs -> part texts: a part starts at each heading of level 1-2 that follows body text,
    and at a paragraph end once it holds ``part_words`` words. Headings become Markdown ``#`` lines."""
    pages: list[str] = []
    lines: list[str] = []
    words = 0

    def flush() -> None:
        nonlocal lines, words
        if lines:
            pages.append("\n\n".join(lines))
        lines, words = [], 0

    for block in blocks:
        text = _one_line(block.text)
        if not text:
            continue
        if block.level:
            if block.level <= 2 and words:
                flush()
            lines.append("#" * min(block.level, 6) + " " + text)
            continue
        count = len(text.split())
        if words and words + count > part_words:
            flush()
        lines.append(re.sub(r"^(#+)(\s)", r"\1\\\2", text))  # body text that starts like a Markdown heading
        words += count
    flush()
    return pages


# ---------------------------------------------------------------- Word


_HEADING_STYLE = re.compile(r"(?i)^(?:heading|titre|überschrift|título|titolo|kop)\s*([1-9])$")
_LIST_STYLE = re.compile(r"(?i)\b(?:list|liste|lista)\b")


def _docx_level(paragraph) -> int:
    """Heading depth of a python-docx paragraph from its style name or its outline level (0: body text)."""
    style = paragraph.style
    name = style.name if style is not None else ""
    if name and name.lower() in ("title", "titre"):
        return 1
    match = _HEADING_STYLE.match(name or "")
    if match:
        return int(match.group(1))
    levels = paragraph._p.xpath("./w:pPr/w:outlineLvl/@w:val")
    while not levels and style is not None:
        levels = style.element.xpath("./w:pPr/w:outlineLvl/@w:val")
        style = style.base_style
    if levels and levels[0].isdigit() and int(levels[0]) < 9:
        return int(levels[0]) + 1
    return 0


def _table_rows(rows: Iterable[Iterable[str]]) -> Iterator[Block]:
    for row in rows:
        cells: list[str] = []
        for cell in row:
            cell = _one_line(cell)
            if cell and (not cells or cells[-1] != cell):  # merged cells repeat their text
                cells.append(cell)
        if cells:
            yield Block(0, " | ".join(cells))


def _docx(path: Path) -> RichText:
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_table_rows([cell.text for cell in row.cells] for row in item.rows))
            continue
        level = _docx_level(item)
        text = item.text
        style = item.style.name if item.style is not None else ""
        if not level and _LIST_STYLE.search(style or "") and text.strip():
            text = "- " + text
        blocks.append(Block(level, text))
    return RichText(blocks_to_pages(blocks), document.core_properties.title or "")


# ---------------------------------------------------------------- PowerPoint


def _shapes(shapes) -> Iterator:
    """Shapes top to bottom, left to right, group shapes opened."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in sorted(shapes, key=lambda s: (s.top or 0, s.left or 0)):
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _pptx(path: Path) -> RichText:
    from pptx import Presentation

    presentation = Presentation(str(path))
    pages = []
    for slide in presentation.slides:
        title_shape = slide.shapes.title
        title = _one_line(title_shape.text_frame.text) if title_shape is not None else ""
        lines = [f"# {title}"] if title else []
        for shape in _shapes(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            if shape.has_text_frame:
                for paragraph in shape.text_frame.paragraphs:
                    text = _one_line(paragraph.text)
                    if text:
                        lines.append(("- " if paragraph.level else "") + text)
            elif getattr(shape, "has_table", False) and shape.has_table:
                rows = ([cell.text for cell in row.cells] for row in shape.table.rows)
                lines.extend(block.text for block in _table_rows(rows))
        if slide.has_notes_slide:
            notes = _one_line(slide.notes_slide.notes_text_frame.text) if slide.notes_slide.notes_text_frame else ""
            if notes:
                lines.append(f"Notes: {notes}")
        pages.append("\n\n".join(lines))
    return RichText(pages, presentation.core_properties.title or "")


# ---------------------------------------------------------------- OpenDocument


def _odt(path: Path) -> RichText:
    from odf import dc, teletype
    from odf.namespaces import TABLENS, TEXTNS
    from odf.opendocument import load
    from odf.table import TableCell, TableRow

    document = load(str(path))
    blocks: list[Block] = []

    def walk(element, in_list: bool = False) -> None:
        for child in element.childNodes:
            qname = getattr(child, "qname", None)
            if qname == (TEXTNS, "h"):
                level = child.getAttribute("outlinelevel")
                blocks.append(Block(int(level) if level and level.isdigit() else 1, teletype.extractText(child)))
            elif qname == (TEXTNS, "p"):
                text = teletype.extractText(child)
                blocks.append(Block(0, f"- {text}" if in_list and text.strip() else text))
            elif qname in ((TEXTNS, "list"), (TEXTNS, "list-item")):
                walk(child, True)
            elif qname == (TABLENS, "table"):
                rows = [[teletype.extractText(c) for c in row.getElementsByType(TableCell)]
                        for row in child.getElementsByType(TableRow)]  # fmt: skip
                blocks.extend(_table_rows(rows))
            elif qname in ((TEXTNS, "section"), (TEXTNS, "list-header")):
                walk(child, in_list)

    walk(document.text)
    titles = document.meta.getElementsByType(dc.Title) if document.meta else []
    return RichText(blocks_to_pages(blocks), teletype.extractText(titles[0]) if titles else "")


# ---------------------------------------------------------------- HTML (EPUB chapters, web pages)

_BLOCK_TAGS = {
    "p", "li", "dt", "dd", "blockquote", "pre", "figcaption", "caption", "td", "th", "div", "section",
    "article", "aside", "header", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip
_SKIP_TAGS = {"script", "style", "nav", "noscript", "template", "svg", "head"}


def html_blocks(markup: bytes | str) -> list[Block]:
    """Headings and paragraphs of an XHTML/HTML document (an EPUB chapter): every block element that holds no
    other block element, in document order; list items marked with "- "."""
    from lxml import html

    root = html.fromstring(markup)
    blocks: list[Block] = []
    for element in root.iter():
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if tag.rpartition("}")[2] not in _BLOCK_TAGS:
            continue
        tag = tag.rpartition("}")[2]
        if any(a.tag in _SKIP_TAGS for a in element.iterancestors() if isinstance(a.tag, str)):
            continue
        if any(isinstance(d.tag, str) and d.tag.rpartition("}")[2].lower() in _BLOCK_TAGS
               for d in element.iterdescendants()):  # fmt: skip
            continue
        text = _one_line(element.text_content())
        if not text:
            continue
        if tag[0] == "h" and tag[1:].isdigit():
            blocks.append(Block(int(tag[1]), text))
        else:
            blocks.append(Block(0, f"- {text}" if tag == "li" else text))
    return blocks


def _epub(path: Path) -> RichText:
    import ebooklib
    from ebooklib import epub

    book = epub.read_epub(str(path), options={"ignore_ncx": True})
    pages: list[str] = []
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        content = item.get_content()
        if content.strip():
            pages.extend(blocks_to_pages(html_blocks(content)))  # every chapter starts a new part
    titles = book.get_metadata("DC", "title")
    return RichText(pages, titles[0][0] if titles else "")


def _trafilatura_blocks(xml: str) -> list[Block]:
    """Blocks of trafilatura's XML output: ``head`` (with its ``rend="hN"``), ``p``, list ``item``s, table rows."""
    from lxml import etree

    root = etree.fromstring(xml.encode("utf-8"))
    main = root.find("main")
    blocks: list[Block] = []
    for element in (main if main is not None else root).iter("head", "p", "item", "row", "quote", "code"):
        if any(a.tag in ("p", "item", "row", "quote", "code", "head") for a in element.iterancestors()):
            continue
        if element.tag == "row":
            blocks.extend(_table_rows([["".join(cell.itertext()) for cell in element.iter("cell")]]))
            continue
        text = "".join(element.itertext())
        if element.tag == "head":
            rend = element.get("rend", "h2")
            blocks.append(Block(int(rend[1]) if re.fullmatch(r"h[1-6]", rend) else 2, text))
        else:
            blocks.append(Block(0, f"- {text}" if element.tag == "item" and text.strip() else text))
    return blocks


def _html(path: Path) -> RichText:
    import trafilatura

    data = path.read_bytes()
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractionError("not a web page: binary content")
    blocks: list[Block] = []
    for recall in (False, True):
        xml = trafilatura.extract(data, output_format="xml", include_tables=True, include_comments=False,
                                  favor_recall=recall, deduplicate=False)  # fmt: skip
        if xml:
            blocks = _trafilatura_blocks(xml)
            if blocks:
                break
    if not blocks:  # a short page trafilatura finds no main text in: its blocks as they are
        blocks = html_blocks(data)
    if not any(_one_line(b.text) for b in blocks):
        raise ExtractionError("no extractable text (the web page has no main text)")
    metadata = trafilatura.extract_metadata(data)
    return RichText(blocks_to_pages(blocks), (metadata.title if metadata else "") or "")


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 160 else text[:157] + "..."


_TAG = re.compile(rb"(?i)<\s*(?:!doctype\s+html|html|head|body|title|meta|p|div|article|main|h[1-6])[\s>/]")


def upload_problem(data: bytes, suffix: str, max_unpacked_mb: float) -> str | None:
    """Why uploaded bytes are not the rich document their extension claims, or None (checked by content)."""
    if suffix in ZIP_SUFFIXES:
        return zip_problem(io.BytesIO(data), suffix, max_unpacked_mb)
    if suffix in HTML_SUFFIXES:
        if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "not a web page: binary content"
        if not _TAG.search(data[:65536]) and not _TAG.search(data[:65536].replace(b"\x00", b"")):
            return "not a web page: no HTML tags in the file"
    return None
