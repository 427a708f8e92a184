"""The checks after generation, replayed over saved drafts: what a change to ``rag.answer`` / ``rag.grounding`` does
to the answers without generating them again.

Reads the JSON reports of ``rag eval GOLD --answers --json`` (each row keeps the model's draft, ``model_answer``),
searches each row's question again over the set's index (as ``bench/evidence_quality.py`` builds it, same
``--cache``; retrieval is deterministic, so the passages are those the draft was written from), and passes the
draft through ``QA.check_draft`` as the current code stands. Printed per set: the lenient fact metric, false refusals
and the right file cited, as saved and as replayed, and every row whose answer changed.

    python bench/answer_replay.py atlas7=/tmp/runs/ans_atlas7.json hr=/tmp/runs/ans_hr.json

Multi-turn reports are not replayed (their questions are rewritten by the model).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import _common as C  # noqa: F401  (sys.path and offline environment)
from evidence_quality import SETS, settings_for

from rag.answer import QA, wants_retry
from rag.evaluate import answer_matches, cites_expected_source, read_gold


class _NoModel:
    """Stands where the generator would: a replay never generates."""

    def stream_chat(self, *args: object, **kwargs: object):  # pragma: no cover - never called
        raise RuntimeError("a replay does not generate")


def replay(
    name: str, report: Path, cache: Path, show: bool, retry: bool, explain: set[str] | None = None
) -> dict[str, tuple[float, float]]:
    """Saved and replayed figures of one set's report: lenient fact, false refusals, right file; with ``retry``,
    a draft the check rejects gets its second try (``QA.second_try``, generated with the configured model)."""
    settings = settings_for(name, cache)
    qa = QA(settings, llm=None if retry else _NoModel())
    gold = {row.get("id"): row for row in read_gold(SETS[name][0])}
    rows = json.loads(report.read_text())["rows"]
    saved = {"fact": [], "refused": [], "file": []}
    now = {"fact": [], "refused": [], "file": []}
    unanswerable_saved = unanswerable_now = unanswerable_total = retried = 0
    for row in rows:
        question = row["query"]
        retrieval = qa.retrieve(question)
        draft = row.get("model_answer", "")
        if draft:
            answer = qa.check_draft(question, retrieval, draft)
            if explain is not None and row["id"] in explain:
                _explain(row, answer)
            if retry and wants_retry(answer):
                answer = qa.second_try(answer, retrieval)
                retried += 1
            text, refused = answer.answer, answer.refused
            cited = {c.name for c in answer.citations}
        else:  # refused before the model (the score gate): nothing to replay
            text, refused, cited = row["answer"], row["refused"], set()
        if row["unanswerable"]:
            unanswerable_total += 1
            unanswerable_saved += row["refused"]
            unanswerable_now += refused
        else:
            saved["fact"].append(row["answer_match"])
            saved["refused"].append(row["refused"])
            saved["file"].append(row["cites_source"])
            now["fact"].append(not refused and answer_matches(text, gold[row["id"]]))
            now["refused"].append(refused)
            now["file"].append(cites_expected_source(cited, gold[row["id"]]) if draft else row["cites_source"])
        if show and text != row["answer"]:
            print(f"  {row['id']}: {row['answer'][:160]!r}\n    -> {text[:160]!r}")
    figures = {key: (_share(saved[key]), _share(now[key])) for key in saved}
    if unanswerable_total:
        figures["unanswerable refused"] = (
            unanswerable_saved / unanswerable_total,
            unanswerable_now / unanswerable_total,
        )
    if retry:
        figures["second tries"] = (0.0, retried / max(1, len(rows)))
    return figures


def _explain(row: dict, answer: object) -> None:
    """Print how the check read each sentence of a row's draft."""
    print(f"  [{row['id']}] {row['query']}\n    draft: {row.get('model_answer', '')[:400]!r}")
    for check in answer.sentences:
        print(
            f"    support {check.support:.2f} supported={check.supported} vacuous={check.vacuous} "
            f"foreign={check.wrong_language} cited={check.cited} added={check.added}: {check.text[:200]!r}"
        )
    print(f"    -> refused={answer.refused} quoted={answer.quoted}: {answer.answer[:300]!r}")


def _share(values: list[bool]) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", help="SET=REPORT.json, SET one of " + ", ".join(sorted(SETS)))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rag-evidence-bench"))
    parser.add_argument("--retry", action="store_true", help="give rejected drafts their second try (loads the model)")
    parser.add_argument("--explain", default="", help="comma-separated row ids: print how each sentence was checked")
    parser.add_argument("--quiet", action="store_true", help="figures only, not the rows that changed")
    args = parser.parse_args()
    explain = set(filter(None, args.explain.split(",")))
    for item in args.reports:
        name, _, path = item.partition("=")
        print(f"{name}:")
        figures = replay(name, Path(path), args.cache, not args.quiet, args.retry, explain)
        print("  " + ", ".join(f"{key} {a:.3f} -> {b:.3f}" for key, (a, b) in figures.items()), flush=True)


if __name__ == "__main__":
    main()
