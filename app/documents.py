"""The indexed documents as the sidebar shows them: list, delete, first-start indexing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest import store
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


def list_documents(settings: Settings) -> list[Document]:
    """Indexed files, sorted by name."""
    collection = store.load(settings.index_dir)
    if collection is None:
        return []
    docs = [
        Document(r.source, Path(r.source).name, r.pages, len(r.chunk_ids), r.indexed_at)
        for r in collection.files.values()
    ]
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
    collection = store.load(settings.index_dir)
    if collection is not None and collection.files:
        return False
    return settings.docs_dir.is_dir() and bool(scan_folder(settings.docs_dir))


def reindex_docs(settings: Settings, progress: ProgressFn | None = None) -> IndexReport:
    """Sync the documents folder into the index (``rag index`` on it)."""
    settings.docs_dir.mkdir(parents=True, exist_ok=True)
    return index_folder(settings.docs_dir, settings, progress=progress)
