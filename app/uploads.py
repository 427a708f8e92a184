"""Uploaded files -> safe names in the documents folder, checked by content, then indexed."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from charset_normalizer import from_bytes

from ingest.extract import PDF_SUFFIXES, SUPPORTED_NAMES, SUPPORTED_SUFFIXES, TEXT_SUFFIXES
from ingest.formats import RICH_SUFFIXES, upload_problem
from ingest.indexer import IndexReport, ProgressFn, index_files
from rag.settings import Settings

MAX_NAME_BYTES = 180
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


class UploadError(ValueError):
    """An upload refused before indexing; the message says why."""


def safe_name(name: str) -> str:
    """A file name safe to create in the documents folder: no folders, no hidden or reserved names.

    Unicode letters and spaces are kept; the extension is lower-cased.
    """
    name = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")[-1]
    name = _FORBIDDEN.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    stem, suffix = os.path.splitext(name)
    stem, suffix = stem.strip(" ."), suffix.lower()
    if not stem:
        stem = "document"
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix


def check_content(name: str, data: bytes, max_mb: float, max_unpacked_mb: float = 1024.0) -> None:
    """Raise :class:`UploadError` unless ``data`` is what the extension of ``name`` claims, within the size cap."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadError(f"unsupported file type '{suffix or name}' ({SUPPORTED_NAMES} are read)")
    if not data:
        raise UploadError("empty file (0 bytes)")
    if len(data) > max_mb * 1024 * 1024:
        raise UploadError(f"larger than {max_mb:g} MB")
    if suffix in PDF_SUFFIXES:
        if b"%PDF-" not in data[:1024]:
            raise UploadError("not a PDF: the file does not start with a PDF header")
    elif suffix in TEXT_SUFFIXES:
        _check_text(data)
    elif suffix in RICH_SUFFIXES and (problem := upload_problem(data, suffix, max_unpacked_mb)):
        raise UploadError(problem)


def _check_text(data: bytes) -> None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return
    if b"\x00" in data[:4096]:
        raise UploadError("binary content in a text file")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        if from_bytes(data[:65536]).best() is None:
            raise UploadError("not a text file (no known encoding decodes it)") from None


def store_upload(name: str, data: bytes, folder: Path, max_mb: float, max_unpacked_mb: float = 1024.0) -> Path:
    """Check ``data`` and write it as ``folder/safe_name(name)`` (replacing a file of that name) atomically."""
    target_name = safe_name(name)
    check_content(target_name, data, max_mb, max_unpacked_mb)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / target_name
    if target.resolve().parent != folder.resolve():
        raise UploadError("invalid file name")
    tmp = folder / f".{target_name}.{os.getpid()}.upload"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


@dataclass
class UploadResult:
    """Files refused before indexing, and the indexing report of the others."""

    rejected: list[tuple[str, str]] = field(default_factory=list)
    report: IndexReport = field(default_factory=IndexReport)
    stored: list[Path] = field(default_factory=list)


def ingest_uploads(
    files: list[tuple[str, bytes]], settings: Settings, progress: ProgressFn | None = None
) -> UploadResult:
    """Store ``(name, content)`` uploads in ``settings.docs_dir`` and index them (the code ``rag index`` runs)."""
    result = UploadResult()
    for name, data in files:
        try:
            stored = store_upload(name, data, settings.docs_dir, settings.max_file_mb, settings.max_unpacked_mb)
            result.stored.append(stored)
        except (UploadError, OSError) as exc:
            result.rejected.append((name, str(exc)))
    if result.stored:
        result.report = index_files(result.stored, settings, progress=progress)
    return result
