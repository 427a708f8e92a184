"""BM25 keyword index (bm25s) with a tokenizer for French and English text.

Index terms are Snowball stems (PyStemmer) in the language of the text, so "optimiseurs" finds
"optimiseur" and "replaced" finds "replacement"; a question is stemmed in both languages, so an
English question still meets a French passage on the words they share.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import scipy.sparse as sp
import Stemmer
from anyascii import anyascii

from ingest.term_table import TermTable, Vocabulary
from rag.language import detect_language

STEM_LANGUAGES = {"en": "english", "fr": "french"}

# Elided articles and pronouns: "l'attention" -> "attention", "qu'il" -> "il".
_ELISION = re.compile(r"\b(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)
# Words, identifiers with underscores, and numbers with separators (3.5, 1,200, 2024-01).
_TOKEN = re.compile(r"[a-z0-9]+(?:[_.,\-/][a-z0-9]+)*")

_STOPWORDS = frozenset(
    """a an and are as at be by for from has have how in is it its of on or that the this to was were
    what when where which who why will with does do did can could should would into than then there
    these those not no yes you your we our they their he she his her them me my i
    le la les un une des du de d l et ou en au aux ce ces cet cette est sont a ont qui que quoi
    quel quelle quels quelles dans par pour sur avec sans se sa son ses leur leurs il elle ils elles
    on nous vous je tu ne pas plus y comment pourquoi quand combien ou etre avoir fait faire""".split()
)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _fold(text: str) -> str:
    """Case-folded, accents stripped and other letters spelt in ASCII, so that both spellings of a word meet:
    "modèle" and "modele", "Gauß" and "Gauss", "nœud" and "noeud". Symbols (∀, →) are left to the tokenizer,
    which drops them."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    if stripped.isascii():
        return stripped
    return _NON_ASCII.sub(_ascii_letter, stripped)


def _ascii_letter(match: re.Match[str]) -> str:
    char = match.group()
    return anyascii(char).lower() if unicodedata.category(char).startswith("L") else char


def tokenize(text: str) -> list[str]:
    """Keyword tokens: accent-folded, elisions split, stopwords dropped, identifiers kept whole."""
    folded = _fold(_ELISION.sub(" ", text))
    tokens = []
    for token in _TOKEN.findall(folded):
        token = token.strip(".,-/")
        if token and token not in _STOPWORDS:
            tokens.append(token)
            if "_" in token or "-" in token:
                tokens.extend(part for part in re.split(r"[_\-]", token) if part)
    return tokens


@lru_cache(maxsize=len(STEM_LANGUAGES))
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(STEM_LANGUAGES[language])


def stem_word(word: str, language: str) -> str:
    """The Snowball stem of one word in ``language`` ("en" or "fr")."""
    return _stemmer(language).stemWord(word)


_LETTERS_DIGITS = re.compile(r"[a-z]{2,}|\d{2,}")


def _stems(tokens: list[str], language: str) -> list[str]:
    """Snowball stems of word tokens; numbers and codes are kept whole, and a code that mixes letters and digits
    also gives its parts ("fy2017" -> "fy2017", "fy", "2017"), so either spelling meets the other."""
    stemmer = _stemmer(language)
    terms = []
    for token in tokens:
        if any(c.isdigit() for c in token):
            terms.append(token)
            if token.isalnum() and not token.isdigit():
                terms.extend(_LETTERS_DIGITS.findall(token))
        else:
            terms.append(token if "_" in token else stemmer.stemWord(token))
    return terms


def index_terms(text: str) -> list[str]:
    """The BM25 terms of a passage: its tokens stemmed in its language."""
    return _stems(tokenize(text), detect_language(text))


def query_terms(text: str) -> list[str]:
    """The BM25 terms of a question: its tokens stemmed in every language the index knows, without repeats."""
    tokens = tokenize(text)
    return list(dict.fromkeys(stem for language in STEM_LANGUAGES for stem in _stems(tokens, language)))


class KeywordIndex:
    """BM25 over chunk texts; positions map back to chunk ids."""

    def __init__(self, ids: list[int], texts: list[str] | None = None, tokens: list[list[str]] | None = None) -> None:
        """Index ``texts``, or their already computed ``tokens``, under ``ids``."""
        self.ids = np.asarray(ids, dtype=np.int64)
        self.bm25 = bm25s.BM25()
        if tokens is None:
            tokens = [index_terms(t) for t in texts or []]
        if tokens:
            self.bm25.index([t or ["_"] for t in tokens], show_progress=False)

    @classmethod
    def from_table(cls, table: TermTable, vocab: Vocabulary) -> KeywordIndex:
        """BM25 over the rows of ``table``, computed in bulk with numpy: the scores bm25s computes document by
        document (its default Lucene variant, k1 1.5, b 0.75), in about a second at 100k chunks."""
        built = cls([])
        built.ids = table.ids.copy()
        n_docs, n_terms = len(table), len(vocab)
        if not n_docs:
            return built
        bm25 = built.bm25
        docs = np.repeat(np.arange(n_docs, dtype=np.int32), np.diff(table.offsets))
        frequencies = np.bincount(table.terms, minlength=n_terms)
        idf = np.log1p((n_docs - frequencies + 0.5) / (frequencies + 0.5))
        lengths = np.maximum(table.lengths, 1)  # an empty chunk counts one term, as "_" in the constructor
        counts = table.counts.astype(np.float64)
        norm = bm25.k1 * ((1 - bm25.b) + bm25.b * lengths[docs] / lengths.mean())
        scores = (idf[table.terms] * counts / (norm + counts)).astype(bm25.dtype)
        matrix = sp.csc_matrix((scores, (docs, table.terms)), shape=(n_docs, n_terms), dtype=bm25.dtype)
        bm25.scores = {"data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr, "num_docs": n_docs}
        bm25.vocab_dict = dict(vocab.index)
        bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
        bm25.nonoccurrence_array = None
        return built

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, BM25 score) with a positive score; only chunks in ``allowed`` when it is given."""
        if not len(self.ids):
            return []
        vocab = self.bm25.vocab_dict or {}
        tokens = [t for t in query_terms(query) if t in vocab]
        if not tokens:
            return []
        k = min(k, len(self.ids))
        mask = None if allowed is None else np.isin(self.ids, allowed).astype(np.float32)
        docs, scores = self.bm25.retrieve([tokens], k=k, show_progress=False, n_threads=1, weight_mask=mask)
        return [(int(self.ids[d]), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def save(self, folder: Path) -> None:
        """Write into ``folder`` (created)."""
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "ids.npy", self.ids)
        if len(self.ids):
            self.bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        """Read an index written by :meth:`save`."""
        loaded = cls([])
        loaded.ids = np.load(folder / "ids.npy")
        if len(loaded.ids):
            loaded.bm25 = bm25s.BM25.load(str(folder), show_progress=False)
        return loaded
