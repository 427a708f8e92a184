"""Retrieval and answer quality on a gold set (``rag eval``).

Gold rows (JSON lines): ``query``, ``expected`` (strings a right passage contains),
optional ``expected_sources`` (file names), ``expected_pages`` (1-based pages, used instead
of ``expected`` when present) and ``unanswerable`` (true: the corpus does not hold the answer).
A multi-turn row has ``turns`` (questions asked in order) instead of ``query``: with answers,
each turn after the first is rewritten from the previous turns as the app does
(``rag.followup.rewrite_question``), every turn is answered, and ``expected`` checks the last
answer; without answers (no model to rewrite), the turns joined are the query.
A passage is a *hit* when it comes from an expected source (if any are given) and contains
one of the expected strings after lower-casing and collapsing white space (or, for rows with
``expected_pages``, lies on one of those pages).
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from rag.answer import QA, Answer
from rag.evidence import Quote, find_evidence
from rag.followup import rewrite_question, search_context
from rag.grounding import SUPPORT_THRESHOLD, content_words, support
from rag.retrieve import Passage, Retrieval, Retriever

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower-case with white space collapsed."""
    return _SPACE.sub(" ", text).strip().lower()


def read_gold(path: Path) -> list[dict]:
    """Rows of a gold JSON-lines file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def is_hit(passage: Passage, row: dict) -> bool:
    """Whether a passage answers a gold row (see the module docstring)."""
    sources = row.get("expected_sources")
    if sources and passage.name not in sources:
        return False
    if row.get("expected_pages"):
        last = max(passage.page, getattr(passage, "page_end", 0))  # a passage may run onto the next pages
        return any(page in row["expected_pages"] for page in range(passage.page, last + 1))
    text = normalise(passage.text)
    return any(normalise(e) in text for e in row.get("expected", []))


def answer_contains(answer: str, row: dict) -> bool:
    """Whether an answer contains one of the expected strings, word for word."""
    text = normalise(answer)
    return any(normalise(e) in text for e in row.get("expected", []))


def quote_holds(quotes: list[Quote], row: dict) -> bool:
    """Whether the first evidence quote holds an expected string (:func:`answer_matches`, verbatim included)."""
    return bool(quotes) and answer_matches(quotes[0].text, row)


def answer_matches(answer: str, row: dict) -> bool:
    """Whether an answer carries one of the expected strings in its own words: every number and code of
    the string, and at least half of its other content words (the citation check's measure of support, on the
    check's own tokens: "naver/provence-reranker-debertav3-v1" is also read as its parts). An answer holding a
    string word for word matches it."""
    words = content_words(answer)
    return answer_contains(answer, row) or any(support(e, words) >= SUPPORT_THRESHOLD for e in row.get("expected", []))


@dataclass
class EvalReport:
    """Aggregate metrics and per-query misses."""

    k: int
    rows: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        """Averages over the answerable (and unanswerable) rows."""
        answerable = [r for r in self.rows if not r["unanswerable"]]
        out: dict = {"queries": len(self.rows), "answerable": len(answerable), "k": self.k}
        if answerable:
            out[f"recall@{self.k}"] = _mean(r["hit"] for r in answerable)
            out["mrr"] = _mean(r["rr"] for r in answerable)
            out["ndcg@10"] = _mean(r["ndcg10"] for r in answerable)
        if answerable and any("quote_ok" in r for r in answerable):
            out["quote_holds_expected"] = _mean(r["quote_ok"] for r in answerable)
        retrieval = [r["retrieval_s"] for r in self.rows]
        out["retrieval_p50_ms"] = round(1000 * statistics.median(retrieval), 1) if retrieval else 0.0
        if any("answer" in r for r in self.rows):
            answered = [r for r in answerable if "answer" in r]
            unanswerable = [r for r in self.rows if r["unanswerable"] and "answer" in r]
            out["answer_contains_expected"] = _mean(r["answer_ok"] for r in answered)
            out["answer_matches_expected"] = _mean(r["answer_match"] for r in answered)
            out["cites_expected_source"] = _mean(r["cites_source"] for r in answered)
            out["false_refusal_rate"] = _mean(r["refused"] for r in answered)
            out["quoted_answers"] = _mean(r["quoted"] for r in answered)
            # how the claim check did: the model's own drafts that carried the fact, and those of them it replaced
            out["draft_matches_expected"] = _mean(r["draft_match"] for r in answered)
            out["right_drafts_replaced"] = _mean(r["draft_match"] and r["rejected"] for r in answered)
            if unanswerable:
                out["refusal_on_unanswerable"] = _mean(r["refused"] for r in unanswerable)
                out["quoted_on_unanswerable"] = _mean(r["quoted"] for r in unanswerable)
            out["first_token_p50_s"] = _median(r["first_token_s"] for r in self.rows if "first_token_s" in r)
            out["answer_total_p50_s"] = _median(r["total_s"] for r in self.rows if "total_s" in r)
        return out


def _mean(values) -> float:
    values = [float(v) for v in values]
    return round(sum(values) / len(values), 4) if values else 0.0


def _median(values) -> float:
    values = list(values)
    return round(statistics.median(values), 3) if values else 0.0


def evaluate(
    rows: list[dict],
    retriever: Retriever,
    k: int = 5,
    qa: QA | None = None,
    hybrid: bool = True,
    sources: Collection[str] | None = None,
) -> EvalReport:
    """Run every row through retrieval (and generation when ``qa`` is given), within ``sources`` when given."""
    report = EvalReport(k)
    top_k = (qa.settings if qa is not None else retriever.settings).top_k
    reader = qa or QA(retriever.settings, retriever)
    for row in rows:
        query, earlier, context = _conversation(row, qa, hybrid, sources)
        retrieval = retriever.search(query, max(k, 10), hybrid=hybrid, sources=sources, context=context)
        hits = [is_hit(p, row) for p in retrieval.passages]
        first = next((i for i, h in enumerate(hits) if h), None)
        asked = row["turns"][-1] if "turns" in row else row["query"]
        result = {
            "id": row.get("id", asked[:40]),
            "query": asked,
            "unanswerable": bool(row.get("unanswerable")),
            "hit": any(hits[:k]),
            "rr": 1.0 / (first + 1) if first is not None else 0.0,
            "ndcg10": _ndcg(hits[:10]),
            "best_score": round(retrieval.best_score, 4),
            "retrieval_s": retrieval.seconds,
            "top": [f"{p.name} p.{p.page}" for p in retrieval.passages[:k]],
        }
        if "turns" in row:
            result.update(searched=query, turns=earlier)
        # what the app reads: top_k passages of a re-ranked pool (QA.retrieve), widened onto neighbours that the
        # deeper search above had taken as passages of their own
        shown = _shown(reader, query, top_k, hybrid, sources, context)
        if qa is None:
            quotes = find_evidence(query, shown.passages, retriever.embedder)
            result.update(
                quote=quotes[0].text if quotes else "",
                quote_score=quotes[0].score if quotes else 0.0,
                quote_ok=quote_holds(quotes, row),
            )
        else:
            done = _answer(qa, query, shown)
            result.update(
                answer=done.answer,
                refused=done.refused,
                quoted=done.quoted,
                grounded=done.grounded,
                answer_ok=answer_contains(done.answer, row),
                answer_match=not done.refused and answer_matches(done.answer, row),
                cites_source=cites_expected_source({c.name for c in done.citations}, row),
                quote=done.evidence[0].text if done.evidence else "",
                quote_score=done.evidence[0].score if done.evidence else 0.0,
                quote_ok=quote_holds(done.evidence, row),
                model_answer=done.draft,
                rejected=bool(done.draft) and (done.quoted or done.refused),
                draft_match=bool(done.draft) and answer_matches(done.draft, row),
                first_token_s=done.timings.get("first_token_s", 0.0),
                total_s=done.timings.get("total_s", 0.0),
            )
        report.rows.append(result)
    return report


def cites_expected_source(cited: set[str], row: dict) -> bool:
    """Whether an answer citing the files ``cited`` cites one of the row's ``expected_sources`` (any file when the
    row names none)."""
    expected = set(row.get("expected_sources") or [])
    return bool(cited & expected) if expected else bool(cited)


def _shown(qa: QA, query: str, k: int, hybrid: bool, sources: Collection[str] | None, context: str) -> Retrieval:
    """The passages the app answers ``query`` from (re-ranked, :meth:`QA.retrieve`); a dense-only evaluation
    searches the dense ranking alone, not re-ranked."""
    if hybrid:
        return qa.retrieve(query, k, sources, context)
    return qa.retriever.search(query, k, hybrid=False, sources=sources, context=context)


def _answer(qa: QA, question: str, retrieval: Retrieval | None = None) -> Answer:
    stream = qa.stream(question, retrieval)
    for _ in stream:
        pass
    assert stream.result is not None
    return stream.result


def _conversation(
    row: dict, qa: QA | None, hybrid: bool, sources: Collection[str] | None = None
) -> tuple[str, list[dict], str]:
    """The question to score for a row, for a multi-turn row its earlier turns as asked and answered, and what
    its search also reads (:func:`rag.followup.search_context`).

    Each turn after the first is rewritten from the previous (standalone question, answer) pairs and searched
    with the previous question, as the app does; without a model the turns are joined instead.
    """
    if "turns" not in row:
        return row["query"], [], ""
    turns = [t for t in row["turns"] if t.strip()]
    if qa is None:
        return " ".join(turns), [], ""
    history: list[tuple[str, str]] = []
    earlier = []
    for turn in turns[:-1]:
        searched = rewrite_question(turn, history, qa.llm)
        retrieval = _shown(qa, searched, qa.settings.top_k, hybrid, sources, search_context(history))
        answer = _answer(qa, searched, retrieval)
        history.append((searched, answer.answer))
        earlier.append({"question": turn, "searched": searched, "answer": answer.answer})
    return rewrite_question(turns[-1], history, qa.llm), earlier, search_context(history)


def _ndcg(hits: list[bool]) -> float:
    """nDCG with binary gains; the ideal ranking puts one relevant passage first."""
    dcg = sum(1.0 / math.log2(i + 2) for i, h in enumerate(hits) if h)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(sum(hits)))
    return dcg / ideal if ideal else 0.0
