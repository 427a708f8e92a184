"""The indexed documents as the sidebar shows them: list, delete, first-start indexing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest.backends import StoredFile, open_store
from ingest.indexer import IndexReport, ProgressFn, index_folder, remove_sources, scan_folder
from rag.settings import Settings


@dataclass
class Document:
    """One indexed file."""

    source: str
    name: str
    pages: int
    chunks: int
    indexed_at: float


def _indexed_files(settings: Settings) -> list[StoredFile]:
    index = open_store(settings)
    try:
        return index.files()
    finally:
        index.close()


def list_documents(settings: Settings) -> list[Document]:
    """Indexed files, sorted by name."""
    docs = [Document(f.source, Path(f.source).name, f.pages, f.chunks, f.indexed_at) for f in _indexed_files(settings)]
    return sorted(docs, key=lambda d: (d.name.lower(), d.source))


def in_docs_dir(source: str, settings: Settings) -> bool:
    """Whether ``source`` is a file directly managed by the app (inside ``settings.docs_dir``)."""
    try:
        Path(source).resolve().relative_to(settings.docs_dir.resolve())
    except ValueError:
        return False
    return True


def delete_document(source: str, settings: Settings) -> bool:
    """Drop ``source`` from the index, and delete the file when it lives in the documents folder."""
    report = remove_sources([source], settings)
    if in_docs_dir(source, settings):
        Path(source).unlink(missing_ok=True)
    return bool(report.files)


def needs_first_index(settings: Settings) -> bool:
    """True when the index is empty but the documents folder holds supported files."""
    if _indexed_files(settings):
        return False
    return settings.docs_dir.is_dir() and bool(scan_folder(settings.docs_dir))


def reindex_docs(settings: Settings, progress: ProgressFn | None = None) -> IndexReport:
    """Sync the documents folder into the index (``rag index`` on it)."""
    settings.docs_dir.mkdir(parents=True, exist_ok=True)
    return index_folder(settings.docs_dir, settings, progress=progress)
