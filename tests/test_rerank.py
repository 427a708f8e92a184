"""Re-ranking a deeper pool by its best sentence (rag.rerank): real MiniLM, real PDFs made with fpdf2, real index."""

from __future__ import annotations

from pathlib import Path

from ingest.indexer import index_folder
from rag.answer import QA
from rag.rerank import rerank_order
from rag.retrieve import Passage, Retriever
from rag.settings import Settings
from tests.conftest import make_pdf


def _passage(chunk_id: int, text: str, fused: float) -> Passage:
    return Passage(chunk_id, "manual.pdf", chunk_id, 0, len(text), text, 0.5, fused)


def test_a_passage_whose_sentence_answers_moves_ahead_of_a_better_fused_one(embedder) -> None:
    question = "How often must the grinder burrs of the Atlas-7 be replaced?"
    passages = [
        _passage(1, "The Atlas-7 is an espresso machine with two boilers. Its housing is made of steel.", 1.0),
        _passage(2, "Chapter 5 lists the cleaning products. Use only approved detergents on the group head.", 0.95),
        _passage(3, "Maintenance intervals. Replace the grinder burrs every 500 kg of coffee or once a year.", 0.9),
    ]
    order = rerank_order(question, passages, embedder, weight=0.75)
    assert order[0] == 2, order
    assert sorted(order) == [0, 1, 2]
    assert rerank_order(question, passages, embedder, weight=0.0) == [0, 1, 2], "weight 0 keeps the fused order"


def test_the_answer_reads_k_passages_of_the_pool_widened_against_each_other_only(
    tmp_path: Path, settings: Settings, embedder
) -> None:
    words = [f"word{i}" for i in range(400)]
    pages = [
        " ".join(words[:200]) + ". The brew boiler holds 1.2 litres of water. " + " ".join(words[200:300]),
        "The steam wand is cleaned after each use. " + " ".join(words[300:]),
    ]
    make_pdf(tmp_path / "docs" / "manual.pdf", pages)
    tuned = Settings(home=settings.home, chunk_words=40, chunk_overlap=0, context_words=20, top_k=2, rerank_pool=6)
    index_folder(tmp_path / "docs", tuned, embedder)
    retriever = Retriever(tuned, embedder)
    question = "How much water does the brew boiler hold?"
    deeper = retriever.search(question, 6)
    shown = QA(tuned, retriever).retrieve(question)
    assert len(shown.passages) == 2
    pool = {p.chunk_id for p in deeper.passages}
    assert {p.chunk_id for p in shown.passages} <= pool
    assert any("1.2 litres" in p.text for p in shown.passages), shown.passages
    assert shown.seconds >= deeper.seconds
    # a neighbour that was its own passage in the pool widens a shown passage once it is no longer shown
    for passage in deeper.passages:
        neighbour = next((p for p in deeper.passages if p.chunk_id == passage.chunk_id + 1), None)
        if neighbour is None or passage.page != neighbour.page:
            continue
        alone = retriever.select(deeper, [deeper.passages.index(passage)]).passages[0]
        assert len(alone.text.split()) > len(passage.text.split())
        assert neighbour.text.split()[0] in alone.text.split()[len(passage.text.split()) :]
        break
    else:
        raise AssertionError("no two neighbouring chunks in the pool")
    plain = QA(Settings(home=settings.home, top_k=2, rerank_pool=0), retriever).retrieve(question)
    assert [p.chunk_id for p in plain.passages] == [p.chunk_id for p in retriever.search(question, 2).passages]
