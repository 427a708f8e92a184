"""``rag eval`` on single and multi-turn rows: real index, real MiniLM, real SmolLM2 for answers and rewriting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.indexer import index_folder
from rag.answer import QA
from rag.cli import main
from rag.evaluate import answer_matches, evaluate
from rag.retrieve import Retriever
from rag.settings import Settings
from tests.conftest import make_pdf

PAGES = [
    "The Zorblax reactor was built in 1987 in Grenoble. It produces forty megawatts of electric power for the valley.",
    "Staff. The chief engineer of the Zorblax reactor is Marie Curien. She joined the site in 1995.",
    "Bananas ripen faster in a paper bag because of the ethylene gas they release.",
]
ROWS = [
    {"id": "single", "query": "When was the Zorblax reactor built?", "expected": ["1987"]},
    {
        "id": "follow",
        "turns": ["When was the Zorblax reactor built?", "Who is its chief engineer?"],
        "expected": ["Marie Curien"],
    },
]


@pytest.fixture
def indexed(tmp_path: Path, settings: Settings, embedder) -> Settings:
    make_pdf(tmp_path / "docs" / "zorblax.pdf", PAGES)
    index_folder(tmp_path / "docs", settings, embedder)
    return settings


def test_multi_turn_rows_are_rewritten_answered_and_scored_on_the_last_turn(indexed: Settings, embedder) -> None:
    retriever = Retriever(indexed, embedder)
    report = evaluate(ROWS, retriever, k=3, qa=QA(indexed, retriever))
    single, follow = report.rows
    assert single["query"] == ROWS[0]["query"] and "searched" not in single and single["hit"]
    assert follow["query"] == "Who is its chief engineer?"
    assert "zorblax" in follow["searched"].lower(), follow["searched"]
    assert [t["question"] for t in follow["turns"]] == ["When was the Zorblax reactor built?"]
    assert follow["turns"][0]["answer"].strip()
    assert follow["hit"], follow["top"]
    for row in report.rows:
        assert {"answer", "refused", "quoted", "quote", "quote_ok"} <= set(row)
    summary = report.summary()
    assert summary["answerable"] == 2 and "quoted_answers" in summary and "quote_holds_expected" in summary


def test_without_answers_the_turns_are_joined_and_quotes_scored(indexed: Settings, embedder, capsys) -> None:
    gold = indexed.home / "gold.jsonl"
    gold.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    capsys.readouterr()
    assert main(["eval", str(gold), "--k", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    single, follow = out["rows"]
    assert follow["searched"] == "When was the Zorblax reactor built? Who is its chief engineer?"
    assert follow["hit"] and "Marie Curien" in follow["quote"], follow
    assert single["quote_ok"] and "1987" in single["quote"]
    assert out["summary"]["quote_holds_expected"] == 1.0


@pytest.mark.parametrize(
    ("answer", "expected", "matches"),
    [
        ("Pruning uses `naver/provence-reranker-debertav3-v1` [2].", "naver/provence-reranker-debertav3-v1", True),
        ("The overview input is cut to 5000 characters [1].", "truncated to 5000 characters", True),
        ("The overview input is cut to 4000 characters [1].", "truncated to 5000 characters", False),
        ("Les documents ne le disent pas.", "truncated to 5000 characters", False),
    ],
)
def test_lenient_match_reads_answers_with_the_checks_tokens(answer: str, expected: str, matches: bool) -> None:
    """A name held word for word always matches (a path-like name once failed: its parts were read on one side
    only); otherwise every number and half of the other words of the expected string are needed."""
    assert answer_matches(answer, {"expected": [expected]}) is matches
