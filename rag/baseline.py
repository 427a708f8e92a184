"""The naive RAG pipeline the project is measured against (``rag eval --baseline``, ``bench/retrieval_eval.py``).

What a first tutorial builds: pypdf's plain ``page.extract_text()`` (a .md/.txt file is one page),
fixed windows of 200 words without overlap that never cross a page, the same all-MiniLM-L6-v2
embedder as the project, a FAISS ``IndexFlatIP`` over unit vectors, dense search only, top k.
No cleaning, no OCR, no BM25, no sentence alignment. Its passages carry ``name``, ``page``,
``text`` and ``source`` like the project's, so ``rag.evaluate.is_hit`` scores both alike.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pypdf

from ingest.embedder import Embedder, get_embedder

WINDOW_WORDS = 200
"""Words per window (the last window of a page holds the rest)."""

SUFFIXES = {".pdf", ".md", ".markdown", ".txt"}

logging.getLogger("pypdf").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Window:
    """A fixed run of words of one page."""

    source: str
    page: int
    text: str

    @property
    def name(self) -> str:
        """File name of the source."""
        return Path(self.source).name


@dataclass(frozen=True)
class BaselinePassage(Window):
    """A retrieved window with its cosine similarity to the question."""

    score: float = 0.0


FileWindows = tuple[list[Window], np.ndarray]
"""The windows of one file and their unit vectors (one row each)."""


def read_pages(path: Path) -> list[tuple[int, str]]:
    """(1-based page, text) pairs: pypdf's plain extraction, or the whole file for .md/.txt."""
    if path.suffix.lower() == ".pdf":
        reader = pypdf.PdfReader(path)
        return [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, 1)]
    return [(1, path.read_text(encoding="utf-8", errors="replace"))]


def split_words(text: str, size: int = WINDOW_WORDS) -> list[str]:
    """Consecutive windows of ``size`` words, no overlap (an empty text gives none)."""
    words = text.split()
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def corpus_files(folder: Path) -> list[Path]:
    """PDF, Markdown and text files below ``folder``, sorted, hidden folders left out."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / f for f in files if Path(f).suffix.lower() in SUFFIXES)
    return sorted(found)


class NaiveBaseline:
    """An in-memory index of 200-word windows over some files; ``search`` is dense top-k."""

    def __init__(
        self,
        paths: Iterable[Path],
        embedder: Embedder | None = None,
        window_words: int = WINDOW_WORDS,
        cache: dict[tuple[str, int], FileWindows] | None = None,
    ) -> None:
        """Read, split and embed ``paths``; ``cache`` (file, window size) -> windows is reused and filled."""
        self.embedder = embedder or get_embedder()
        self.windows: list[Window] = []
        self.failed: dict[str, str] = {}
        cache = {} if cache is None else cache
        blocks = [np.zeros((0, self.embedder.dim), dtype=np.float32)]
        for path in paths:
            source = str(Path(path).resolve())
            key = (source, window_words)
            if key not in cache:
                try:
                    cache[key] = self._embed_file(Path(source), window_words)
                except Exception as exc:  # a naive pipeline skips what it cannot read
                    self.failed[source] = f"{type(exc).__name__}: {exc}"
                    continue
            windows, vectors = cache[key]
            self.windows.extend(windows)
            blocks.append(vectors)
        vectors = np.ascontiguousarray(np.vstack(blocks), dtype=np.float32)
        faiss.normalize_L2(vectors)
        self.index = faiss.IndexFlatIP(self.embedder.dim)
        self.index.add(vectors)

    @classmethod
    def from_folder(cls, folder: Path, embedder: Embedder | None = None, **kwargs) -> NaiveBaseline:
        """A baseline over every supported file below ``folder``."""
        if not Path(folder).is_dir():
            raise NotADirectoryError(f"not a folder: {folder}")
        return cls(corpus_files(Path(folder)), embedder, **kwargs)

    def _embed_file(self, path: Path, window_words: int) -> FileWindows:
        source = str(path)
        windows = [
            Window(source, number, text)
            for number, page_text in read_pages(path)
            for text in split_words(page_text, window_words)
        ]
        return windows, self.embedder.embed([w.text for w in windows])

    def search(self, question: str, k: int) -> list[BaselinePassage]:
        """The ``k`` windows closest to ``question`` by cosine, best first."""
        if not self.windows:
            return []
        query = self.embedder.embed([question])
        faiss.normalize_L2(query)
        scores, ids = self.index.search(query, min(k, len(self.windows)))
        return [
            BaselinePassage(self.windows[i].source, self.windows[i].page, self.windows[i].text, float(s))
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0
        ]


def score_gold(rows: list[dict], baseline: NaiveBaseline, k: int) -> dict[str, float | int]:
    """recall@k and MRR (first hit within max(k, 10), as ``rag.evaluate``) over the answerable rows."""
    from rag.evaluate import is_hit

    answerable = [r for r in rows if not r.get("unanswerable")]
    hits = 0
    reciprocal = 0.0
    for row in answerable:
        passages = baseline.search(row["query"], max(k, 10))
        rank = next((i for i, p in enumerate(passages, 1) if is_hit(p, row)), None)
        hits += rank is not None and rank <= k
        reciprocal += 1.0 / rank if rank else 0.0
    n = len(answerable)
    return {
        "answerable": n,
        f"recall@{k}": round(hits / n, 4) if n else 0.0,
        "mrr": round(reciprocal / n, 4) if n else 0.0,
    }
