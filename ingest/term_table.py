"""Bags of BM25 terms per chunk in flat arrays: what a segment stores so that BM25 is rebuilt in bulk at load.

BM25 needs corpus-wide statistics (document frequencies, average length), so an index made of segments
cannot keep one BM25 matrix per segment: the matrix is rebuilt at load from every live row's term counts.
Kept as arrays (and computed with numpy, :meth:`ingest.keyword_index.KeywordIndex.from_table`) that takes
about a second at 100k chunks, where re-tokenizing the texts or indexing token lists document by document
would take tens of seconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class Vocabulary:
    """Terms numbered in order of first appearance."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, words: list[str]) -> np.ndarray:
        """The numbers of ``words``, adding the new ones."""
        found = np.empty(len(words), dtype=np.int32)
        for position, word in enumerate(words):
            number = self.index.get(word)
            if number is None:
                number = self.index[word] = len(self.words)
                self.words.append(word)
            found[position] = number
        return found


@dataclass
class TermTable:
    """Row ``r`` (chunk ``ids[r]``, ``lengths[r]`` terms) holds ``terms[offsets[r]:offsets[r + 1]]`` with ``counts``."""

    ids: np.ndarray
    offsets: np.ndarray
    terms: np.ndarray
    counts: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_tokens(cls, ids: list[int], tokens: list[list[str]], vocab: Vocabulary) -> TermTable:
        """Count the terms of each row."""
        offsets, terms, counts = [0], [], []
        for row in tokens:
            counter = Counter(row)
            terms.append(vocab.ids(list(counter)))
            counts.extend(counter.values())
            offsets.append(offsets[-1] + len(counter))
        return cls(
            np.asarray(ids, dtype=np.int64),
            np.asarray(offsets, dtype=np.int64),
            np.concatenate(terms) if terms else np.zeros(0, np.int32),
            np.asarray(counts, dtype=np.int32),
            np.asarray([len(row) for row in tokens], dtype=np.int32),
        )

    def select(self, keep: np.ndarray) -> TermTable:
        """The rows where ``keep`` (a boolean mask) is true."""
        entries = np.repeat(keep, np.diff(self.offsets))
        sizes = np.diff(self.offsets)[keep]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return TermTable(self.ids[keep], offsets, self.terms[entries], self.counts[entries], self.lengths[keep])

    @staticmethod
    def concat(tables: list[TermTable]) -> TermTable:
        """All rows of ``tables``, in order."""
        tables = [t for t in tables if len(t)] or [TermTable.from_tokens([], [], Vocabulary())]
        starts = np.cumsum([0] + [len(t.terms) for t in tables[:-1]])
        offsets = [tables[0].offsets[:1]] + [t.offsets[1:] + s for t, s in zip(tables, starts, strict=True)]
        return TermTable(
            np.concatenate([t.ids for t in tables]),
            np.concatenate(offsets).astype(np.int64),
            np.concatenate([t.terms for t in tables]),
            np.concatenate([t.counts for t in tables]),
            np.concatenate([t.lengths for t in tables]),
        )

    def save(self, path: Path, vocab: Vocabulary) -> None:
        """Write to ``path`` (.npz) with the words it uses, numbered locally."""
        used, local = np.unique(self.terms, return_inverse=True)
        words = "\n".join(vocab.words[i] for i in used.tolist()).encode("utf-8")
        with path.open("wb") as handle:
            np.savez(
                handle,
                ids=self.ids,
                offsets=self.offsets,
                terms=local.astype(np.int32),
                counts=self.counts,
                lengths=self.lengths,
                words=np.frombuffer(words, dtype=np.uint8),
            )

    @classmethod
    def load(cls, path: Path, vocab: Vocabulary) -> TermTable:
        """Read a table written by :meth:`save`, its terms renumbered in ``vocab``."""
        with np.load(path, allow_pickle=False) as data:
            text = data["words"].tobytes().decode("utf-8")
            mapping = vocab.ids(text.split("\n") if text else [])
            return cls(data["ids"], data["offsets"], mapping[data["terms"]], data["counts"], data["lengths"])
