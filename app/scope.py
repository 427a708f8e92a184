"""The sidebar's search filter: a collection and documents to ask in. The chosen sources scope the retrieval of
each question (``QA.retrieve(..., sources=...)``, filtered inside the search as with ``rag ask --collection``), and
the finished answer says where it searched.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.i18n import t
from ingest.backends import StoredFile, open_store
from rag.scope import Scope
from rag.settings import Settings

ALL = ""
"""The selectbox value meaning "no collection: every document"."""


def _index_state(settings: Settings) -> tuple[dict[str, StoredFile], dict[str, list[str]]]:
    """The indexed files and the collections, from one snapshot of the store."""
    index = open_store(settings)
    try:
        with index.read() as reader:
            return reader.files(), reader.collections()
    finally:
        index.close()


def _labels(sources: list[str]) -> dict[str, str]:
    """A label per source: its file name, with its folder when two files share a name."""
    names = [Path(s).name for s in sources]
    twice = {n for n in names if names.count(n) > 1}
    return {s: f"{n} ({Path(s).parent.name})" if n in twice else n for s, n in zip(sources, names, strict=True)}


def sidebar_scope(settings: Settings, lang: str) -> Scope:
    """Draw the filter in the sidebar and return the chosen scope (``Scope()``: the whole index)."""
    files, collections = _index_state(settings)
    if not files:
        return Scope()
    side = st.sidebar
    side.subheader(t("search_in", lang))
    chosen = ALL
    if collections:
        options = [ALL, *collections]
        chosen = side.selectbox(
            t("collection", lang),
            options,
            format_func=lambda name: name or t("all_documents", lang),
            key="scope_collection",
        )
    candidates = collections.get(chosen, []) if chosen else sorted(files)
    labels = _labels(candidates)
    picked = side.multiselect(
        t("documents", lang),
        sorted(candidates, key=lambda s: (labels[s].lower(), s)),
        format_func=labels.__getitem__,
        key=f"scope_docs:{chosen}",
        placeholder=t("documents_placeholder", lang),
        help=t("documents_help", lang),
    )
    picked = [s for s in picked if s in labels]  # a document deleted since it was picked
    if not chosen and not picked:
        return Scope()
    return Scope((chosen,) if chosen else (), (), frozenset(picked or candidates))


def scope_caption(scope: Scope | None, lang: str, limit: int = 6) -> str:
    """ "Searched in: collection “course”: a.pdf, b.pdf" for a narrowed scope; empty for the whole index."""
    if scope is None or scope.whole_index:
        return ""
    names = scope.names
    shown = ", ".join(names[:limit]) + (f", … (+{len(names) - limit})" if len(names) > limit else "")
    where = [t("in_collection", lang, name=name) for name in scope.collections]
    return t("searched_in", lang, what=": ".join([*where, shown]) if where else shown)
