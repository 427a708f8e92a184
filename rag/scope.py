"""Which documents a question is asked in: collections and file-name patterns, resolved to a set of sources.

The set goes to ``Retriever.search(..., sources=...)``, which filters inside the dense and keyword searches,
so the k passages are the best of the chosen documents (not what is left of a global top k). A scope that
names an unknown collection, or a pattern that matches no document, is an error (:class:`ScopeError`) with
a message saying what exists, never an empty answer.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.backends import IndexStore, StoredFile


class ScopeError(ValueError):
    """The scope names something the index does not hold; the message says what does."""


@dataclass(frozen=True)
class Scope:
    """The chosen collections and patterns, and the sources they resolve to (None: the whole index)."""

    collections: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    sources: frozenset[str] | None = None

    @property
    def whole_index(self) -> bool:
        """True when nothing narrows the search."""
        return self.sources is None

    @property
    def names(self) -> list[str]:
        """File names of the chosen documents, sorted (empty for the whole index)."""
        return sorted(Path(s).name for s in self.sources or ())

    def describe(self, limit: int = 5) -> str:
        """One line for people: "collection course, files *.pdf: a.pdf, b.pdf (2 documents)"."""
        if self.whole_index:
            return "all documents"
        parts = []
        if self.collections:
            parts.append(_plural("collection", self.collections) + " " + ", ".join(self.collections))
        if self.patterns:
            parts.append(_plural("file", self.patterns) + " " + ", ".join(self.patterns))
        names = self.names
        shown = ", ".join(names[:limit]) + (f", … (+{len(names) - limit})" if len(names) > limit else "")
        head = "; ".join(parts)
        count = f"{len(names)} document{'s' if len(names) != 1 else ''}"
        return f"{head}: {shown} ({count})" if head else f"{shown} ({count})"

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "collections": list(self.collections),
            "patterns": list(self.patterns),
            "sources": sorted(self.sources) if self.sources is not None else None,
        }


def _plural(word: str, items: Sequence[str]) -> str:
    return word if len(items) == 1 else word + "s"


def split_values(values: Iterable[str] | None) -> list[str]:
    """Repeatable, comma-separated command-line values as one list, blanks dropped, order kept."""
    found = [part.strip() for value in values or () for part in value.split(",")]
    return list(dict.fromkeys(part for part in found if part))


def matches(source: str, pattern: str) -> bool:
    """Whether a glob matches the file's name (or its whole path when the pattern holds a slash), ignoring case."""
    target = source if "/" in pattern else Path(source).name
    return fnmatch.fnmatchcase(target.lower(), pattern.lower())


def resolve_scope(
    files: Mapping[str, StoredFile] | Iterable[str],
    collections: Mapping[str, Sequence[str]],
    names: Sequence[str] = (),
    patterns: Sequence[str] = (),
) -> Scope:
    """The sources of the named collections (their union) whose names match one of ``patterns`` (when given).

    Raises :class:`ScopeError` for an unknown collection, a pattern that matches no document (of the chosen
    collections, when some are named), or any scope over an empty index.
    """
    names, patterns = tuple(split_values(names)), tuple(split_values(patterns))
    if not names and not patterns:
        return Scope()
    indexed = set(files)
    if not indexed:
        raise ScopeError("the index is empty: run `rag index FOLDER` first")
    chosen = indexed
    if names:
        unknown = [n for n in names if n not in collections]
        if unknown:
            known = ", ".join(sorted(collections)) or "none yet (`rag index FOLDER --collection NAME` makes one)"
            raise ScopeError(f"no collection named {', '.join(map(repr, unknown))}; collections: {known}")
        chosen = {s for n in names for s in collections[n] if s in indexed}
    if patterns:
        where = "indexed document"
        if names:
            where = f"document of {_plural('collection', names)} {', '.join(map(repr, names))}"
        narrowed: set[str] = set()
        for pattern in patterns:
            found = {s for s in chosen if matches(s, pattern)}
            if not found:
                raise ScopeError(f"no {where} matches {pattern!r} (a glob on the file name, e.g. '*.pdf')")
            narrowed |= found
        chosen = narrowed
    return Scope(names, patterns, frozenset(chosen))


def scope_of(store: IndexStore, names: Sequence[str] = (), patterns: Sequence[str] = ()) -> Scope:
    """:func:`resolve_scope` against the store's committed files and collections."""
    if not split_values(names) and not split_values(patterns):
        return Scope()
    with store.read() as reader:
        return resolve_scope(reader.files(), reader.collections(), names, patterns)
