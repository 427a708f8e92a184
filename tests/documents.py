"""Real Word, PowerPoint, OpenDocument, EPUB and HTML files written by their own libraries, for the tests.

Each maker takes ``sections``: ``(heading, [paragraph, ...])`` pairs (for a presentation: a slide's
title and its bullet points) and writes a file a user's office suite would open.
"""

from __future__ import annotations

import html
import io
import zipfile
from pathlib import Path

Sections = list[tuple[str, list[str]]]


def make_docx(path: Path, sections: Sections, title: str = "") -> Path:
    """A .docx with a Heading 1 per section, its paragraphs, and a table after the last one."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def make_pptx(path: Path, slides: Sections) -> Path:
    """A .pptx with one title-and-content slide per entry, the points as paragraphs of the body."""
    from pptx import Presentation

    presentation = Presentation()
    layout = presentation.slide_layouts[1]
    for heading, points in slides:
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = heading
        body = slide.placeholders[1].text_frame
        for n, point in enumerate(points):
            paragraph = body.paragraphs[0] if n == 0 else body.add_paragraph()
            paragraph.text = point
    path.parent.mkdir(parents=True, exist_ok=True)
    presentation.save(str(path))
    return path


def make_odt(path: Path, sections: Sections, title: str = "") -> Path:
    """An .odt with a level-1 ``text:h`` per section and its paragraphs."""
    from odf import dc
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    if title:
        document.meta.addElement(dc.Title(text=title))
    for heading, paragraphs in sections:
        document.text.addElement(H(outlinelevel=1, text=heading))
        for paragraph in paragraphs:
            document.text.addElement(P(text=paragraph))
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def make_epub(path: Path, sections: Sections, title: str = "A small book") -> Path:
    """An EPUB 3 with one chapter (XHTML file) per section."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("test-book")
    book.set_title(title)
    book.set_language("en")
    chapters = []
    for n, (heading, paragraphs) in enumerate(sections, 1):
        chapter = epub.EpubHtml(title=heading, file_name=f"chapter{n}.xhtml", lang="en")
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        chapter.content = f"<html><body><h1>{html.escape(heading)}</h1>{body}</body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    path.parent.mkdir(parents=True, exist_ok=True)
    epub.write_epub(str(path), book)
    return path


def html_page(sections: Sections, title: str = "A web page") -> str:
    """A saved web page: navigation, a cookie banner and a footer around an article with the sections."""
    article = "".join(
        f"<h2>{html.escape(h)}</h2>" + "".join(f"<p>{html.escape(p)}</p>" for p in ps) for h, ps in sections
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
        "<nav><a href='/'>Home</a> | <a href='/shop'>Shop</a> | <a href='/blog'>Blog</a></nav>"
        "<div class='cookies'>We use cookies to improve your experience. Accept all cookies?</div>"
        f"<main><article><h1>{html.escape(title)}</h1>{article}</article></main>"
        "<footer>Copyright 2024 Example Corp. All rights reserved. Privacy policy. Terms of use.</footer>"
        "</body></html>"
    )


def make_html(path: Path, sections: Sections, title: str = "A web page") -> Path:
    """:func:`html_page` written as UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_page(sections, title), encoding="utf-8")
    return path


def zip_bomb(path: Path, inner: str, megabytes: int, mimetype: str = "") -> Path:
    """A ZIP package whose ``inner`` entry unpacks to ``megabytes`` MB of zeros (a few hundred kB on disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if mimetype:
            archive.writestr("mimetype", mimetype, zipfile.ZIP_STORED)
        with archive.open(inner, "w", force_zip64=True) as handle:
            block = b"\0" * 2**20
            for _ in range(megabytes):
                handle.write(block)
    return path


def encrypt_office(source: Path, target: Path, password: str) -> Path:
    """``source`` (.docx/.pptx) encrypted with ``password`` as Office does (msoffcrypto-tool, ECMA-376 agile)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    with source.open("rb") as handle:
        OOXMLFile(handle).encrypt(password, out)
    target.write_bytes(out.getvalue())
    return target


def encrypted_odt(path: Path) -> Path:
    """An .odt saved with a password: its manifest declares encryption data, its content.xml is ciphertext."""
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="2048">'
        '<manifest:encryption-data manifest:checksum-type="SHA256/1K"'
        ' manifest:checksum="AAAA"><manifest:algorithm manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc"'
        ' manifest:initialisation-vector="AAAA"/><manifest:key-derivation manifest:key-derivation-name="PBKDF2"'
        ' manifest:key-size="32" manifest:iteration-count="100000" manifest:salt="AAAA"/></manifest:encryption-data>'
        "</manifest:file-entry></manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED)
        archive.writestr("content.xml", bytes(range(256)) * 8)
        archive.writestr("META-INF/manifest.xml", manifest)
    return path
