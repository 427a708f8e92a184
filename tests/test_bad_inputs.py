"""Bad input gets a clear per-file message and the run goes on.

The corpus is generated here (fpdf2, pypdf, Pillow, plain bytes) plus the real files of
``../shared/eval/bad`` and ``../shared/eval/scans`` (read in place, never copied). Embedding is
slow on a loaded 2-core machine, so the very large cases (2,000 pages, 1 MB of text on a page,
10,000 files) check parsing and scanning, and index only what fails fast.
"""

from __future__ import annotations

import difflib
import io
import os
import random
import time
import zlib
from pathlib import Path

import pypdf
import pytest
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from ingest import indexer
from ingest.chunking import chunk_pages
from ingest.embedder import Embedder
from ingest.extract import BROKEN_ENCODING, ExtractionError, ExtractOptions, extract_pages, is_garbage
from ingest.indexer import FileStatus, IndexReport, index_files, index_folder, scan_folder
from ingest.ocr import OCR_UNAVAILABLE, tesseract_path
from ingest.parse_guard import guarded_extract
from rag.settings import Settings
from tests.conftest import make_pdf, requires_shared
from tests.documents import (
    encrypt_office,
    encrypted_odt,
    make_docx,
    make_epub,
    make_html,
    make_odt,
    make_pptx,
    zip_bomb,
)

needs_tesseract = pytest.mark.skipif(tesseract_path() is None, reason="tesseract-ocr is not installed")


# --- corpus makers ------------------------------------------------------------------------------


def text_image(lines: list[str], size: tuple[int, int] = (1700, 800), font_px: int = 48) -> Image.Image:
    """A white greyscale image with black text, as a scanner would give."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_px)
    for n, line in enumerate(lines):
        draw.text((60, 60 + n * int(font_px * 1.6)), line, fill=0, font=font)
    return image


def image_pdf(path: Path, images: list[Image.Image], caption: str = "") -> Path:
    """One page per image, the image filling the page; no text layer unless ``caption``."""
    pdf = FPDF()
    for image in images:
        pdf.add_page()
        if caption:
            pdf.set_font("Helvetica", size=9)
            pdf.cell(0, 5, caption)
        pdf.image(image, x=10, y=15, w=190)
    pdf.output(str(path))
    return path


def broken_font_pdf(path: Path, lines: list[str]) -> Path:
    """Helvetica text whose ToUnicode map sends every visible byte to a private-use code point.

    The page renders as normal words, but text extraction yields garbage: a broken font map.
    """
    content = "BT /F1 16 Tf 72 720 Td 24 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    cmap = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Broken def /CMapType 2 def\n"
        "1 begincodespacerange <00> <FF> endcodespacerange\n"
        "1 beginbfrange <21> <7E> <E021> endbfrange\n"
        "endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /ToUnicode 6 0 R >>"
    return _write_pdf(path, [*_page_objects(font), _stream(content.encode()), _stream(cmap.encode())])


def bomb_pdf(path: Path, megabytes: int) -> Path:
    """A one-page PDF whose content stream inflates from a few kB to ``megabytes`` MB."""
    packer = zlib.compressobj(1)
    spaces = b" " * (1 << 20)
    packed = packer.compress(b"BT /F1 12 Tf 72 720 Td (Bomb) Tj ET\n")
    packed += b"".join(packer.compress(spaces) for _ in range(megabytes)) + packer.flush()
    contents = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"
    return _write_pdf(path, [*_page_objects(), contents])


def _page_objects(font: bytes = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>") -> list[bytes]:
    """Objects 1-4 of a one-page PDF: catalog, page tree, page (contents = object 5), font."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        font,
    ]


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _write_pdf(path: Path, objects: list[bytes]) -> Path:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def encrypted_pdf(path: Path, text: str, password: str) -> Path:
    source = make_pdf(path.with_suffix(".plain.tmp"), [text])
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(source))
    writer.encrypt(user_password=password, owner_password="owner-secret", algorithm="RC4-128")
    with path.open("wb") as handle:
        writer.write(handle)
    source.unlink()
    return path


def many_pages_pdf(path: Path, count: int) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for n in range(1, count + 1):
        pdf.add_page()
        pdf.cell(0, 6, f"Page {n} of the long register: item code R{n:05d}.")
    pdf.output(str(path))
    return path


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate, approximated with difflib: 1 - matched characters / reference length."""
    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    matcher = difflib.SequenceMatcher(None, ref, hyp, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return 1 - matched / max(1, len(ref))


def by_name(report: IndexReport) -> dict[str, FileStatus]:
    return {Path(f.source).name: f for f in report.files}


# --- the generated corpus, indexed in one run -------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of bad (and a few good) inputs."""
    root = tmp_path_factory.mktemp("bad_corpus")
    good = make_pdf(root / "good.pdf", ["The brass valve is inspected every spring.", "Second page fact: 42 bolts."])
    (root / "empty.pdf").write_bytes(b"")
    data = good.read_bytes()
    (root / "truncated.pdf").write_bytes(data[: len(data) // 3])
    (root / "random.pdf").write_bytes(random.Random(7).randbytes(8192))
    (root / "page.pdf").write_bytes(b"<!DOCTYPE html>\n<html><head><title>Download</title></head><body>x</body></html>")
    encrypted_pdf(root / "encrypted_open.pdf", "The open vault holds the copper ledger.", "")
    encrypted_pdf(root / "encrypted_secret.pdf", "The closed vault holds the silver ledger.", "hunter2")
    image_pdf(root / "scanned.pdf", [text_image(["Scanned invoice total", "amount due 1234 euros"])])
    image_pdf(root / "blank_scan.pdf", [Image.new("L", (800, 1000), 255)])
    broken_font_pdf(root / "broken_font.pdf", ["The turbine manual says", "replace the filter monthly."])
    big = text_image(["Huge poster headline"], size=(6000, 6000), font_px=300)
    image_pdf(root / "huge_image.pdf", [big], caption="Poster, scanned at very high resolution.")
    (root / "latin1.txt").write_bytes("Un café très fort à Genève, évidemment préféré.".encode("latin-1"))
    (root / "cp1252.txt").write_bytes("Les « guillemets » et l’apostrophe — coûtent 5 €.".encode("cp1252"))
    (root / "blank.txt").write_bytes(b"  \n\t \n")
    (root / "binary.txt").write_bytes(b"\x00\x01\x02 binary \x00" * 50)
    (root / "name with spaces.txt").write_text("Spaces in names are fine.", encoding="utf-8")
    (root / "unicodé – ünïcode 文件.txt").write_text("Unicode names are fine.", encoding="utf-8")
    (root / "a..b.txt").write_text("Double dots in a name are fine.", encoding="utf-8")
    (root / "dots..dir").mkdir()
    (root / "dots..dir" / "inner.txt").write_text("Double dots in a folder are fine.", encoding="utf-8")
    (root / "dup_first.txt").write_text("The same words twice, under two names.", encoding="utf-8")
    (root / "dup_second.txt").write_text("The same words twice, under two names.", encoding="utf-8")
    (root / "loop_a.pdf").symlink_to("loop_b.pdf")
    (root / "loop_b.pdf").symlink_to("loop_a.pdf")
    (root / "dangling.pdf").symlink_to("missing-target.pdf")
    (root / "loopdir").symlink_to(".", target_is_directory=True)
    (root / "notes.docx").write_bytes(b"PK\x03\x04 not read")
    (root / "sheet.xlsx").write_bytes(b"PK\x03\x04 not read")
    return root


EXPECTED = {
    # name: (status, words the reason must contain)
    "good.pdf": ("added", ""),
    "empty.pdf": ("failed", "empty file (0 bytes)"),
    "truncated.pdf": ("failed", "damaged or truncated PDF"),
    "random.pdf": ("failed", "not a PDF"),
    "page.pdf": ("failed", "web page (HTML)"),
    "encrypted_open.pdf": ("added", ""),
    "encrypted_secret.pdf": ("failed", "encrypted PDF: a password is required"),
    "scanned.pdf": ("added", ""),
    "blank_scan.pdf": ("failed", "OCR found no text"),
    "broken_font.pdf": ("added", ""),
    "huge_image.pdf": ("added", ""),
    "latin1.txt": ("added", ""),
    "cp1252.txt": ("added", ""),
    "blank.txt": ("failed", "empty file"),
    "binary.txt": ("failed", "binary content"),
    "name with spaces.txt": ("added", ""),
    "unicodé – ünïcode 文件.txt": ("added", ""),
    "a..b.txt": ("added", ""),
    "inner.txt": ("added", ""),
    "dup_first.txt": ("added", ""),
    "loop_a.pdf": ("failed", "symbolic links"),
    "loop_b.pdf": ("failed", "symbolic links"),
    "missing-target.pdf": ("failed", "No such file"),  # dangling.pdf, known by the path it points to
    "notes.docx": ("failed", "damaged or truncated Word document"),
}


@needs_tesseract
def test_every_bad_input_gets_a_status_and_the_run_goes_on(
    corpus: Path, settings: Settings, embedder: Embedder
) -> None:
    report = index_folder(corpus, settings, embedder)
    files = by_name(report)
    for status in report.files:
        print(f"{Path(status.source).name:32} {status.status:8} {status.reason}")
    for name, (status, reason) in EXPECTED.items():
        assert name in files, f"{name} has no status"
        assert files[name].status == status, f"{name}: {files[name]}"
        assert reason in files[name].reason, f"{name}: {files[name].reason!r}"
        if status == "failed":
            assert files[name].reason, f"{name} failed without a reason"
    # Duplicates: the second name is skipped, naming the first.
    second = files["dup_second.txt"]
    assert second.status == "skipped" and "duplicate of" in second.reason
    assert "sheet.xlsx" not in files, "unsupported types are not scanned"
    assert not any("loopdir" in f.source for f in report.files), "symlinked folders are not followed"
    counts = report.counts
    assert counts["failed"] == sum(1 for status, _ in EXPECTED.values() if status == "failed")
    assert counts["added"] >= 12  # every readable file but the duplicate
    assert files["good.pdf"].pages == 2
    # A second run changes nothing and fails the same files again, still with reasons.
    again = index_folder(corpus, settings, embedder)
    assert again.counts["added"] == 0 and again.counts["failed"] == counts["failed"]
    # A path with a '..' segment names the same file.
    dotted = index_files([corpus / "dots..dir" / ".." / "a..b.txt"], settings, embedder)
    assert [(f.source, f.status) for f in dotted.files] == [(str(corpus.resolve() / "a..b.txt"), "unchanged")]


def test_text_files_in_legacy_encodings_keep_their_accents(corpus: Path) -> None:
    assert "très fort à Genève" in extract_pages(corpus / "latin1.txt")[0].text
    assert "« guillemets » et l’apostrophe — coûtent 5 €" in extract_pages(corpus / "cp1252.txt")[0].text


def test_encrypted_pdf_with_empty_password_is_decrypted(corpus: Path) -> None:
    assert "copper ledger" in extract_pages(corpus / "encrypted_open.pdf")[0].text
    with pytest.raises(ExtractionError, match="encrypted"):
        extract_pages(corpus / "encrypted_secret.pdf")


def test_garbage_heuristic() -> None:
    assert is_garbage("".join(chr(0xE000 + i % 90) for i in range(200)))
    assert is_garbage("\x03\x11\x0f\x12 \x05\x07" * 20)
    assert is_garbage("¤§¶†‡•‰¬¦" * 10)
    assert not is_garbage("The turbine manual says: replace the filter monthly (see § 4.2).")
    assert not is_garbage("Table des matières\nIntroduction .................................... 3\n" * 5)
    assert not is_garbage("Œuvre, élève, garçon — naïve façon d'être; 12,5 % à 3 €.")
    assert not is_garbage("ab")


def test_broken_font_encoding_is_reported_when_ocr_cannot_help(corpus: Path, settings: Settings) -> None:
    no_ocr = settings.model_copy(update={"ocr_enabled": False})
    with pytest.raises(ExtractionError, match=r"unreadable text \(broken font encoding\)"):
        guarded_extract(corpus / "broken_font.pdf", "broken_font.pdf", no_ocr)
    assert BROKEN_ENCODING == "unreadable text (broken font encoding)"


@needs_tesseract
def test_broken_font_encoding_is_read_back_by_ocr(corpus: Path, settings: Settings) -> None:
    pages = guarded_extract(corpus / "broken_font.pdf", "broken_font.pdf", settings)
    assert "replace the filter monthly" in pages[0].text


# --- OCR --------------------------------------------------------------------------------------


@needs_tesseract
def test_scanned_english_brochure_ocr_character_error_rate(settings: Settings) -> None:
    scan = requires_shared("scans", "scan_en_linn_brochure.pdf")
    truth = scan.with_name("scan_en_linn_brochure.groundtruth.txt").read_text(encoding="utf-8")
    pages = guarded_extract(scan, scan.name, settings)
    assert [p.page for p in pages] == [1]
    rate = cer(truth, pages[0].text)
    print(f"CER scan_en_linn_brochure: {rate:.3f}")
    assert rate < 0.10


@needs_tesseract
def test_scanned_french_pangram_keeps_accents(settings: Settings) -> None:
    scan = requires_shared("scans", "scan_fr_pangram.pdf")
    text = guarded_extract(scan, scan.name, settings)[0].text
    for word in ("vieux whisky", "intérieure", "à côté", "alcôve", "où"):
        assert word in text, (word, text)


@needs_tesseract
def test_ocr_keeps_page_numbers_and_respects_the_page_cap(tmp_path: Path, settings: Settings) -> None:
    images = [text_image([f"Scanned sheet number {word}"], size=(1200, 300)) for word in ("one", "two", "three")]
    path = image_pdf(tmp_path / "three_scans.pdf", images)
    pages = guarded_extract(path, path.name, settings.model_copy(update={"ocr_dpi": 150}))
    assert [p.page for p in pages] == [1, 2, 3]
    assert "three" in pages[2].text
    capped = guarded_extract(path, path.name, settings.model_copy(update={"ocr_dpi": 150, "ocr_max_pages": 1}))
    assert [p.page for p in capped] == [1]


def test_image_only_pdf_without_tesseract_fails_with_an_install_hint(tmp_path: Path, settings: Settings) -> None:
    path = image_pdf(tmp_path / "scan.pdf", [text_image(["No text layer here"], size=(600, 200))])
    missing = settings.model_copy(update={"ocr_tesseract": str(tmp_path / "no-such-tesseract")})
    with pytest.raises(ExtractionError) as caught:
        guarded_extract(path, path.name, missing)
    assert str(caught.value) == OCR_UNAVAILABLE == "no text layer; OCR unavailable (install tesseract-ocr)"
    off = settings.model_copy(update={"ocr_enabled": False})
    with pytest.raises(ExtractionError, match="OCR is turned off"):
        guarded_extract(path, path.name, off)


@needs_tesseract
def test_real_bad_files_all_get_a_status(settings: Settings, embedder: Embedder) -> None:
    folder = requires_shared("bad")
    fast = settings.model_copy(update={"ocr_dpi": 200})
    report = index_folder(folder, fast, embedder)
    files = by_name(report)
    assert set(files) == {p.name for p in folder.glob("*.pdf")}
    for status in files.values():
        assert status.status == "added", status
    assert report.counts["failed"] == 0
    # Without Tesseract the scans fail with the install hint, the text PDFs still index.
    other = fast.model_copy(update={"ocr_tesseract": "/nonexistent/tesseract", "home": settings.home / "no-ocr"})
    files = by_name(index_folder(folder, other, embedder))
    for name in ("file_scanned.pdf", "image-based-pdf-sample.pdf", "non_text_searchable.pdf"):
        assert (files[name].status, files[name].reason) == ("failed", OCR_UNAVAILABLE)
    for name in ("pdf_encrypted.pdf", "pdf_with_forms.pdf", "pdf_with_annotations.pdf", "ocr_samples.pdf"):
        assert files[name].status == "added", files[name]


# --- limits -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def register_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return many_pages_pdf(tmp_path_factory.mktemp("long") / "register_2000.pdf", 2000)


def test_two_thousand_pages_parse_within_limits(register_pdf: Path, settings: Settings) -> None:
    started = time.perf_counter()
    pages = guarded_extract(register_pdf, register_pdf.name, settings)
    elapsed = time.perf_counter() - started
    print(f"2,000-page PDF parsed in {elapsed:.1f} s")
    assert [p.page for p in pages] == list(range(1, 2001))
    assert "R01999" in pages[1998].text
    assert len(chunk_pages(pages, settings.chunk_words, settings.chunk_overlap)) == 2000


def test_slow_file_times_out_and_the_run_goes_on(
    register_pdf: Path, tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    small = make_pdf(tmp_path / "small.pdf", ["A small file indexed after the slow one."])
    hasty = settings.model_copy(update={"parse_timeout_s": 0.3})
    started = time.perf_counter()
    report = index_files([register_pdf, small], hasty, embedder)
    assert time.perf_counter() - started < 60
    files = by_name(report)
    assert (files["register_2000.pdf"].status, files["register_2000.pdf"].reason) == (
        "failed",
        "parsing took longer than 0.3 s",
    )
    assert files["small.pdf"].status == "added"


def test_memory_hungry_file_fails_and_the_worker_recovers(tmp_path: Path, settings: Settings) -> None:
    bomb = bomb_pdf(tmp_path / "bomb.pdf", 500)
    assert bomb.stat().st_size < 3_000_000
    tight = settings.model_copy(update={"parse_memory_mb": 350})
    with pytest.raises(ExtractionError, match=r"memory|killed|crashed|damaged|no extractable text"):
        guarded_extract(bomb, bomb.name, tight)
    good = make_pdf(tmp_path / "after.pdf", ["Parsing goes on after the bomb."])
    assert "goes on" in guarded_extract(good, good.name, tight)[0].text


def test_a_page_with_one_megabyte_of_text(tmp_path: Path, settings: Settings) -> None:
    """Parsed and chunked, not embedded (about 1,500 chunks take minutes to embed on 2 busy cores)."""
    line = "The archive keeps every ledger of the harbour office in good order. " * 3
    operators = ["BT /F1 1 Tf 0 790 Td 1.1 TL", *[f"({line}) '" for _ in range(1_000_000 // len(line) + 1)], "ET"]
    path = _write_pdf(tmp_path / "dense.pdf", [*_page_objects(), _stream("\n".join(operators).encode())])
    started = time.perf_counter()
    pages = guarded_extract(path, path.name, settings)
    print(f"1 MB page parsed in {time.perf_counter() - started:.1f} s")
    assert len(pages) == 1 and len(pages[0].text) > 1_000_000
    chunks = chunk_pages(pages, settings.chunk_words, settings.chunk_overlap)
    assert len(chunks) > 1000 and all(c.page == 1 for c in chunks)


def test_file_deleted_between_scan_and_parse(
    tmp_path: Path, settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "stays.txt").write_text("This file stays put.", encoding="utf-8")
    goner = folder / "goes.txt"
    goner.write_text("This file vanishes mid-run.", encoding="utf-8")
    real_triage = indexer._triage

    def triage_then_delete(paths: list[Path], *args: object) -> tuple[list, list[FileStatus]]:
        result = real_triage(paths, *args)
        goner.unlink()
        return result

    monkeypatch.setattr(indexer, "_triage", triage_then_delete)
    files = by_name(index_folder(folder, settings, embedder))
    assert (files["goes.txt"].status, files["goes.txt"].reason) == (
        "failed",
        "the file was removed or moved while indexing",
    )
    assert files["stays.txt"].status == "added"


def test_unreadable_permissions(tmp_path: Path, settings: Settings, embedder: Embedder) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root from reading")
    path = tmp_path / "locked.txt"
    path.write_text("secret", encoding="utf-8")
    path.chmod(0)
    try:
        files = by_name(index_files([path], settings, embedder))
    finally:
        path.chmod(0o644)
    assert files["locked.txt"].status == "failed" and "Permission denied" in files["locked.txt"].reason


def test_ten_thousand_small_files(tmp_path: Path, settings: Settings, embedder: Embedder) -> None:
    """10,000 tiny distinct files that fail fast (binary bytes), so the run measures scanning and triage."""
    folder = tmp_path / "many"
    for group in range(10):
        sub = folder / f"group{group}"
        sub.mkdir(parents=True)
        for n in range(1000):
            (sub / f"note_{n:04d}.txt").write_bytes(b"\x00" + (group * 1000 + n).to_bytes(4, "big"))
    (folder / "group0" / "real.txt").write_text("The only real note among ten thousand.", encoding="utf-8")
    started = time.perf_counter()
    assert len(scan_folder(folder)) == 10_001
    scanned = time.perf_counter() - started
    report = index_folder(folder, settings, embedder)
    elapsed = time.perf_counter() - started
    print(f"10,001 files: scan {scanned:.2f} s, full run {elapsed:.1f} s")
    assert report.counts["failed"] == 10_000 and report.counts["added"] == 1
    assert {f.reason for f in report.files if f.status == "failed"} == {"binary content in a text file"}
    assert elapsed < 120


def test_worker_overhead_is_small_on_normal_files(settings: Settings) -> None:
    folder = requires_shared("localgpt")
    files = sorted(folder.rglob("*.pdf"))
    guarded_extract(files[0], files[0].name, settings)  # start the worker
    started = time.perf_counter()
    guarded = [guarded_extract(f, str(f), settings) for f in files]
    middle = time.perf_counter()
    direct = [extract_pages(f, str(f)) for f in files]
    ended = time.perf_counter()
    assert guarded == direct
    print(f"{len(files)} files: worker {middle - started:.3f} s, in-process {ended - middle:.3f} s")


def test_a_crashed_worker_is_replaced(tmp_path: Path, settings: Settings) -> None:
    from ingest import parse_guard

    good = make_pdf(tmp_path / "fine.pdf", ["Still working after a crash."])
    guarded_extract(good, good.name, settings)
    proc = parse_guard._GUARD._proc
    assert proc is not None
    proc.kill()
    proc.wait()
    assert "Still working" in guarded_extract(good, good.name, settings)[0].text


def test_pdf_rendered_as_image_bytes_is_read(tmp_path: Path) -> None:
    """An image embedded with a caption: the caption alone is indexed when OCR is off."""
    buffer = io.BytesIO()
    text_image(["caption test"], size=(400, 100)).save(buffer, format="PNG")
    path = image_pdf(tmp_path / "captioned.pdf", [Image.open(buffer)], caption="A caption on the page.")
    pages = extract_pages(path, path.name, options=ExtractOptions(ocr=False))
    assert "caption on the page" in pages[0].text


def test_relative_paths_are_read_from_the_callers_folder(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_pdf(tmp_path / "relative.pdf", ["Found through a relative path."])
    monkeypatch.chdir(tmp_path)
    assert "relative path" in guarded_extract(Path("relative.pdf"), "relative.pdf", settings)[0].text


# --- Word, PowerPoint, OpenDocument, EPUB, web pages ---------------------------------------------

SECTIONS = [("Valves", ["The brass valve is inspected every spring by the plant engineer."])]
MIMETYPES = {".odt": "application/vnd.oasis.opendocument.text", ".epub": "application/epub+zip"}
INNER = {".docx": "word/document.xml", ".pptx": "ppt/presentation.xml", ".odt": "content.xml",
         ".epub": "META-INF/container.xml"}  # fmt: skip
MAKERS = {".docx": make_docx, ".pptx": make_pptx, ".odt": make_odt, ".epub": make_epub, ".html": make_html}


@pytest.fixture(scope="module")
def rich_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good and bad files of every rich format: empty, damaged, password-protected, zip bomb, wrong content."""
    root = tmp_path_factory.mktemp("rich_corpus")
    (root / "empty.docx").write_bytes(b"")  # (the other empty files would be skipped as its duplicates)
    for suffix, maker in MAKERS.items():
        good = maker(root / f"good{suffix}", SECTIONS)
        data = good.read_bytes()
        (root / f"truncated{suffix}").write_bytes(data[: len(data) // 2])
    for suffix, inner in INNER.items():
        zip_bomb(root / f"bomb{suffix}", inner, 100, MIMETYPES.get(suffix, ""))
        (root / f"random{suffix}").write_bytes(random.Random(suffix).randbytes(4096))
    encrypt_office(root / "good.docx", root / "locked.docx", "hunter2")
    encrypt_office(root / "good.pptx", root / "locked.pptx", "hunter2")
    encrypted_odt(root / "locked.odt")
    (root / "no_text.html").write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>", encoding="utf-8")
    (root / "binary.html").write_bytes(b"\x00\x01 not html \x00" * 100)
    return root


RICH_EXPECTED = {
    **{f"good{s}": ("added", "") for s in MAKERS},
    "empty.docx": ("failed", "empty file (0 bytes)"),
    "truncated.docx": ("failed", "damaged or truncated Word document (.docx)"),
    "truncated.pptx": ("failed", "damaged or truncated PowerPoint presentation (.pptx)"),
    "truncated.odt": ("failed", "damaged or truncated OpenDocument text (.odt)"),
    "truncated.epub": ("failed", "damaged or truncated EPUB book"),
    "truncated.html": ("added", ""),  # half a web page is still a web page
    **{f"bomb{s}": ("failed", "zip bomb") for s in INNER},
    **{f"random{s}": ("failed", "the file is not a ZIP package") for s in INNER},
    "locked.docx": ("failed", "password-protected Word document (.docx)"),
    "locked.pptx": ("failed", "password-protected PowerPoint presentation (.pptx)"),
    "locked.odt": ("failed", "password-protected OpenDocument text (.odt)"),
    "no_text.html": ("failed", "no extractable text"),
    "binary.html": ("failed", "not a web page: binary content"),
}


def test_rich_formats_bad_inputs_get_clear_reasons_and_the_run_goes_on(
    rich_corpus: Path, settings: Settings, embedder: Embedder
) -> None:
    report = index_folder(rich_corpus, settings, embedder)
    files = by_name(report)
    for status in report.files:
        print(f"{Path(status.source).name:20} {status.status:8} {status.reason}")
    assert set(files) == set(RICH_EXPECTED)
    for name, (status, reason) in RICH_EXPECTED.items():
        assert files[name].status == status, f"{name}: {files[name]}"
        assert reason in files[name].reason, f"{name}: {files[name].reason!r}"


@pytest.mark.parametrize("suffix", sorted(MAKERS))
def test_empty_rich_files_are_named_empty(suffix: str, tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(ExtractionError, match=r"^empty file \(0 bytes\)$"):
        guarded_extract(path, str(path), settings)


def test_a_bomb_under_the_ratio_check_is_caught_by_the_unpacked_size_limit(tmp_path: Path, settings: Settings) -> None:
    path = zip_bomb(tmp_path / "big.docx", "word/document.xml", 24)  # below the per-entry check's 32 MB
    with pytest.raises(ExtractionError, match=r"zip bomb: the package would unpack to 24 MB \(limit 16 MB\)"):
        guarded_extract(path, str(path), settings.model_copy(update={"max_unpacked_mb": 16}))


def test_a_legacy_word_file_renamed_docx_is_named(tmp_path: Path) -> None:
    path = tmp_path / "old.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"WordDocument".decode().encode("utf-16-le"))
    with pytest.raises(ExtractionError, match=r"older binary Office file \(\.doc, \.ppt\)"):
        extract_pages(path)
