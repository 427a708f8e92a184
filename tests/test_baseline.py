"""The naive baseline (rag/baseline.py) on real PDFs with the packaged MiniLM."""

from __future__ import annotations

from pathlib import Path

from ingest.embedder import Embedder
from rag.baseline import NaiveBaseline, read_pages
from rag.evaluate import is_hit
from tests.conftest import make_pdf

ESPRESSO = [
    "Daily care of the Orbit espresso machine. Wipe the steam wand after every use and empty the drip tray "
    "each evening. Rinse the portafilter basket with warm water.",
    "Safety valve. The brew boiler is protected by a spring-loaded safety valve that opens when the boiler "
    "pressure reaches 14 bar, venting steam through the rear exhaust pipe.",
]
LEAVE = [
    "Annual leave. Every employee accrues 25 days of paid annual leave per calendar year, prorated for "
    "part-time contracts.",
    "Parental leave. Parents may take up to 16 weeks of paid parental leave within the first year after a "
    "birth or an adoption.",
]


def test_answer_on_page_two_comes_first(tmp_path: Path, embedder: Embedder) -> None:
    manual = make_pdf(tmp_path / "docs" / "espresso_manual.pdf", ESPRESSO)
    make_pdf(tmp_path / "docs" / "leave_policy.pdf", LEAVE)
    baseline = NaiveBaseline.from_folder(tmp_path / "docs", embedder)

    passages = baseline.search("At what pressure does the boiler safety valve open?", 3)

    assert [(p.name, p.page) for p in passages[:1]] == [("espresso_manual.pdf", 2)]
    assert passages[0].source == str(manual.resolve())
    assert "14 bar" in passages[0].text
    row = {"query": "", "expected": ["reaches 14 bar"], "expected_sources": ["espresso_manual.pdf"]}
    assert is_hit(passages[0], row)
    assert not any(is_hit(p, row) for p in passages[1:])


def test_a_450_word_page_makes_three_windows(tmp_path: Path, embedder: Embedder) -> None:
    words = [f"token{i}" for i in range(450)]
    path = make_pdf(tmp_path / "long.pdf", [" ".join(words), "A short second page."])
    assert sum(len(text.split()) for _, text in read_pages(path)[:1]) == 450

    baseline = NaiveBaseline([path], embedder)

    first_page = [w for w in baseline.windows if w.page == 1]
    assert [len(w.text.split()) for w in first_page] == [200, 200, 50]
    assert first_page[0].text.split()[0] == "token0"
    assert first_page[2].text.split()[-1] == "token449"
    assert [w.page for w in baseline.windows].count(2) == 1
    assert baseline.index.ntotal == len(baseline.windows) == 4
