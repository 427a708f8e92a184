"""Index backends behind one interface (:mod:`ingest.backends.base`), chosen by ``RAG_STORE``."""

from __future__ import annotations

from ingest.backends.base import IndexReader, IndexStore, IndexWriter, StoredFile, collection_name
from rag.settings import Settings

__all__ = ["IndexReader", "IndexStore", "IndexWriter", "StoredFile", "collection_name", "open_store"]


def open_store(settings: Settings) -> IndexStore:
    """The store the settings name: ``local`` (files under ``RAG_HOME/index``) or ``postgres`` (``RAG_PG_URL``)."""
    if settings.store == "postgres":
        if not settings.pg_url:
            raise ValueError("RAG_STORE=postgres needs RAG_PG_URL, e.g. postgresql://rag@127.0.0.1:5432/rag")
        from ingest.backends.postgres import PostgresStore

        return PostgresStore(settings.pg_url)
    from ingest.backends.local import LocalStore

    return LocalStore(settings.index_dir)
