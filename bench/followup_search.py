"""Follow-up questions: does the last turn of each multi-turn conversation find its passage?

For every row of ``../shared/eval/localgpt/multiturn.jsonl``, the earlier turns are taken as a saved
``rag eval --answers --json`` report asked and answered them (``--report``; the app's history), the last turn is
rewritten by ``rag.followup.rewrite_question`` with the default model, and searched as ``rag eval`` and the app
search it (``QA.retrieve(..., context=search_context(history))``, re-ranked as in the app). Printed: the rewrite
and whether a passage holding the expected fact is among the first ``--k``, with the question alone beside it (no
rewrite, no context) as the baseline of the same run. Then a change of subject: after each conversation, a question of a
single-turn set over another corpus is asked, rewritten and searched the same way; it should find its passage as
well as it does alone.

    python bench/followup_search.py --report /tmp/runs/ans_multiturn.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import _common as C  # noqa: F401  (sys.path and offline environment)
from evidence_quality import LOCALGPT, SETS, settings_for

from rag.answer import QA
from rag.evaluate import is_hit, read_gold
from rag.followup import rewrite_question, search_context
from rag.llm import get_llm
from rag.retrieve import Retriever


def _history(saved_row: dict) -> list[tuple[str, str]]:
    """The (question as searched, answer) pairs of a saved multi-turn row's earlier turns: the app's history."""
    return [(turn["searched"], turn["answer"]) for turn in saved_row["turns"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", type=Path, required=True, help="a multi-turn rag eval --answers --json report")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rag-evidence-bench"))
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    settings = settings_for("paraphrases", args.cache)  # every localgpt PDF in one index, as rag eval runs them
    retriever, llm = Retriever(settings), get_llm(settings)
    qa = QA(settings, retriever, llm)  # the passages the answer reads: re-ranked as in the app
    saved = {row["id"]: row for row in json.loads(args.report.read_text())["rows"]}
    alone = followed = 0
    seconds = []
    gold = read_gold(LOCALGPT / "multiturn.jsonl")
    for row in gold:
        history = _history(saved[row["id"]])
        last = row["turns"][-1]
        started = time.perf_counter()
        rewritten = rewrite_question(last, history, llm)
        seconds.append(time.perf_counter() - started)
        plain = qa.retrieve(last, args.k)
        found = qa.retrieve(rewritten, args.k, context=search_context(history))
        hit_alone = any(is_hit(p, row) for p in plain.passages)
        hit = any(is_hit(p, row) for p in found.passages)
        alone, followed = alone + hit_alone, followed + hit
        print(
            f"{row['id']}: {last!r} -> {rewritten!r}\n    alone {hit_alone}, followed {hit}: "
            + ", ".join(f"{p.name} p.{p.page}" for p in found.passages)
        )
    n = len(gold)
    print(
        f"hit@{args.k}: question alone {alone / n:.3f}, as followed up {followed / n:.3f}; "
        f"rewrite p50 {sorted(seconds)[n // 2]:.2f} s"
    )
    # a change of subject: the i-th question of a set over another corpus, asked after the row's conversation
    standalone = {name: read_gold(SETS[name][0]) for name in ("atlas7", "hr", "acquisition")}
    alone = followed = 0
    for i, row in enumerate(gold):
        other = next(name for name in standalone if name != row["corpus"])
        new = standalone[other][i % len(standalone[other])]
        final = saved[row["id"]]
        history = [*_history(final), (final["searched"], final["answer"])]
        rewritten = rewrite_question(new["query"], history, llm)
        hit_alone = any(is_hit(p, new) for p in qa.retrieve(new["query"], args.k).passages)
        found = qa.retrieve(rewritten, args.k, context=search_context(history))
        hit = any(is_hit(p, new) for p in found.passages)
        alone, followed = alone + hit_alone, followed + hit
        if rewritten != new["query"] or hit != hit_alone:
            print(
                f"{new['id']} after {row['id']}: {new['query']!r} -> {rewritten!r}\n"
                f"    alone {hit_alone}, followed {hit}"
            )
    print(f"change of subject, hit@{args.k}: question alone {alone / n:.3f}, after the conversation {followed / n:.3f}")


if __name__ == "__main__":
    main()
