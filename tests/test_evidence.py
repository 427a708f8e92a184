"""Quoted evidence (rag.evidence): real MiniLM embedder, real PDFs made with fpdf2, real index."""

from __future__ import annotations

from pathlib import Path

from app.page_image import render_page
from ingest.indexer import index_folder
from rag.answer import AGREEMENT, QA, agreement, quote_stands_in
from rag.conversations import answer_from_record, answer_record
from rag.evidence import Quote, claim_quote, find_evidence, numbers_found, quote_answer, sentence_spans
from rag.grounding import check_answer
from rag.retrieve import Passage, Retrieval, Retriever
from rag.settings import Settings
from tests.conftest import make_pdf

PAGES = [
    "Operations handbook. Chapter one covers safety briefings for new staff members and visitors. "
    "Visitors sign in at the front gate and wear a badge at all times.",
    "Telescope. The observatory houses the Kestrel-9 telescope, its main instrument. "
    "The Kestrel-9 telescope has a primary mirror of 4.2 metres. It was installed on Mount Arvel in 2011. "
    "The dome is repainted every ten years by a local company.",
    "Chapter three: the observatory cafeteria opens at 7 am and closes at 9 pm on weekdays.",
]
PAGES_FR = [
    "Manuel d'exploitation. Le premier chapitre présente les consignes de sécurité pour le personnel.",
    "Le télescope Kestrel-9 est l'instrument principal de l'observatoire. Le télescope Kestrel-9 possède "
    "un miroir principal de 4,2 mètres de diamètre. Il a été installé sur le mont Arvel en 2011.",
]


def _indexed(tmp_path: Path, settings: Settings, embedder, name: str, pages: list[str]) -> Retriever:
    make_pdf(tmp_path / "docs" / name, pages)
    index_folder(tmp_path / "docs", settings, embedder)
    return Retriever(settings, embedder)


def test_the_quote_is_the_sentence_that_answers_and_is_found_on_its_page(
    tmp_path: Path, settings: Settings, embedder
) -> None:
    retriever = _indexed(tmp_path, settings, embedder, "observatory.pdf", PAGES)
    question = "How large is the primary mirror of the Kestrel-9 telescope?"
    passages = retriever.search(question, 3).passages
    quotes = find_evidence(question, passages, embedder)
    assert 1 <= len(quotes) <= 3
    best = quotes[0]
    assert "4.2 metres" in best.text and best.page == 2 and best.name == "observatory.pdf", quotes
    assert "cafeteria" not in best.text and "repainted" not in best.text, "the quote is the answering sentence"
    assert passages[best.number - 1].text[best.start : best.end] == best.text
    assert [q.score for q in quotes] == sorted((q.score for q in quotes), reverse=True)
    lit = render_page(tmp_path / "docs" / "observatory.pdf", best.page, best.text, 1.0)
    assert lit.found, "the quoted sentence is highlighted on the page image"


def test_a_sentence_that_only_repeats_the_question_is_not_evidence(embedder) -> None:
    text = (
        "What is the boiling point of the coolant? Engineers often ask this. "
        "The coolant boils at 131 degrees Celsius at sea level."
    )
    passages = [Passage(0, "/d/coolant.pdf", 4, 0, len(text), text, 0.6)]
    quotes = find_evidence("What is the boiling point of the coolant?", passages, embedder)
    assert quotes and "131 degrees" in quotes[0].text, quotes
    assert all(q.text != "What is the boiling point of the coolant?" for q in quotes)


def test_french_passages_are_split_in_french_and_quoted_in_french(tmp_path: Path, settings: Settings, embedder) -> None:
    retriever = _indexed(tmp_path, settings, embedder, "observatoire.pdf", PAGES_FR)
    question = "Quel est le diamètre du miroir principal du télescope Kestrel-9 ?"
    quotes = find_evidence(question, retriever.search(question, 3).passages, embedder)
    assert "4,2 mètres" in quotes[0].text and quotes[0].page == 2, quotes
    assert quote_answer(quotes[0], "fr").startswith("D'après observatoire.pdf, p. 2 : « ")
    assert quote_answer(quotes[0], "fr").endswith(f" » [{quotes[0].number}]")
    assert quote_answer(quotes[0], "en").startswith('According to observatoire.pdf, p. 2: "')


def test_sentence_spans_join_headings_and_cut_table_rows() -> None:
    text = "V. RESPONSIBLE PARTIES Escrow Agent: First National Trust. " + " ".join(f"cell{i}" for i in range(100))
    spans = sentence_spans(text, "en")
    pieces = [text[a:b] for a, b in spans]
    assert pieces[0] == "V. RESPONSIBLE PARTIES Escrow Agent: First National Trust.", pieces
    assert len(pieces) >= 3 and all(len(p.split()) <= 45 for p in pieces[1:])
    assert " ".join(pieces).split() == text.split(), "no word lost or repeated"
    assert sentence_spans("", "en") == []
    short = "Le chat dort. Le chien du voisin aboie fort ce soir."
    assert sentence_spans(short, "fr") == [(0, len(short))], "a three-word sentence joins the next one"


def test_a_quote_is_shown_with_the_sentence_after_it_which_the_checks_do_not_judge(embedder) -> None:
    text = (
        "3. ERROR CODES E11: Brew boiler thermistor open circuit. Replace sensor part TS-71. "
        "E23: Steam boiler overpressure. Check the OPV calibration at 12 bar."
    )
    passages = [Passage(0, "/d/manual.pdf", 3, 0, len(text), text, 0.6)]
    question = "What does the E11 fault code on the brew boiler mean?"
    best = find_evidence(question, passages, embedder)[0]
    assert "TS-71" in best.text and "TS-71" not in best.scored_text, best
    assert best.text.startswith(best.scored_text) and text[best.start : best.end] == best.text
    assert "12 bar" not in best.text, "one sentence after it, not the rest of the passage"
    said = "E11 is cleared by fitting sensor part TS-71 [1]."
    checks = check_answer("E11 means the brew boiler is fine; fit sensor part TS-71 [1].", passages, question)[1]
    assert agreement(said, question, best.text) > agreement(said, question, best.scored_text)
    assert not quote_stands_in(best, question, passages, checks), "a stand-in is judged on the sentence that scored"
    assert "TS-71" not in quote_answer(best, "en"), "a quoted answer says what scored"
    first = find_evidence("What does E23 mean?", passages, embedder)[0]
    assert first.text.endswith("12 bar.") and "TS-71" not in first.text, first


def test_a_code_the_passages_do_not_hold_means_no_quote_answers() -> None:
    passages = [Passage(0, "/d/m.pdf", 3, 0, 10, "E57: Flow meter reports zero pulses. Clean the filter.", 0.6)]
    assert not numbers_found("What does error E35 mean?", passages)
    assert numbers_found("What does error E57 mean?", passages)
    assert numbers_found("How do I clean the filter?", passages)


def test_a_quote_stands_in_for_an_unsupported_answer_only_when_it_carries_the_claim() -> None:
    text = "Backflushing with Cafiza detergent is recommended weekly. Descaling is due every 60 days."
    passages = [Passage(0, "/d/m.pdf", 1, 0, len(text), text, 0.6)]
    quote = Quote(text.split(". ")[0] + ".", 1, "m.pdf", "/d/m.pdf", 1, 0.45, 0, 56)
    question = "How often should I backflush the espresso machine?"
    said = "Backflushing the espresso machine should be performed weekly with Cafiza [2]."
    checks = check_answer(said, passages, question)[1]
    assert agreement(said, question, quote.text) > AGREEMENT
    assert quote_stands_in(quote, question, passages, checks), "the quote says what the model tried to say"
    invented = "The espresso machine must be backflushed every 3 days by a technician [1]."
    checks = check_answer(invented, passages, question)[1]
    assert not checks[0].supported and not quote_stands_in(quote, question, passages, checks)
    vacuous = "Yes, you should backflush the espresso machine [1]."
    checks = check_answer(vacuous, passages, question)[1]
    assert checks[0].vacuous and quote_stands_in(quote, question, passages, checks)
    assert not quote_stands_in(quote, question, passages, []), "after a refusal only a strong quote answers"
    late = "To answer, we use the information the passage gives [1]. Backflush weekly with Cafiza [1]."
    checks = check_answer(late, passages, question)[1]
    assert not checks[0].supported and quote_stands_in(quote, question, passages, checks), "a later sentence agrees"
    checks = check_answer(
        "To answer, we use the information the passage gives [1]. Call a technician.", passages, question
    )[1]
    assert not quote_stands_in(quote, question, passages, checks), "no sentence of the draft says what the quote says"
    invented_first = "Backflush every 3 days [1]. Backflushing with Cafiza detergent is recommended [1]."
    checks = check_answer(invented_first, passages, question)[1]
    assert not checks[0].supported and not quote_stands_in(quote, question, passages, checks), "not the answer's fact"


def test_a_quote_without_the_claimed_figure_does_not_stand_in() -> None:
    text = "1.4 Outstanding debt: $1.5 million (detailed in Exhibit A - Financial Terms of the Acquisition Agreement)."
    passages = [Passage(0, "/d/dd.pdf", 1, 0, len(text), text, 0.6)]
    quote = Quote(text, 1, "dd.pdf", "/d/dd.pdf", 1, 0.5, 0, len(text))
    question = "What interest rate applies to the outstanding debt?"
    invented = "The rate is 17% margin, as set in Exhibit A - Financial Terms of the Acquisition Agreement [1]."
    checks = check_answer(invented, passages, question)[1]
    assert not checks[0].supported
    assert agreement(checks[0].text, question, quote.text) >= AGREEMENT, "the quote shares the words of the pointer"
    assert not quote_stands_in(quote, question, passages, checks), "but not the figure the model invented"


def test_the_sentence_holding_a_restated_answers_claim_is_quoted_and_only_it() -> None:
    text = (
        "Les slides suivent des conventions usuelles. L'équation 3x + 2 = 0 a pour solution -2/3. En pratique, Xi "
        "est une variable aléatoire et xi est un nombre observé."
    )
    passages = [Passage(0, "/d/stats.pdf", 15, 0, len(text), text, 0.6)]
    question = "Dans les notations du cours, quelle différence y a-t-il entre Xi en majuscule et xi en minuscule ?"
    said = "Dans les notations du cours, la différence entre Xi en majuscule et xi en minuscule est que Xi est une "
    said += "variable aléatoire, tandis que xi est un nombre."
    assert not check_answer(said, passages, question, "fr")[1][0].supported, "the restated question is not there"
    quote = claim_quote(said, question, passages)
    assert quote is not None and quote.text.startswith("En pratique, Xi est une variable aléatoire")
    assert quote.number == 1 and quote.page == 15
    elsewhere = "Dans les notations du cours, la différence est que Xi vaut -2/3."
    assert claim_quote(elsewhere, question, passages) is None, "a figure from another equation is no answer"
    unrelated = "Dans les notations du cours, les slides suivent des conventions usuelles."
    assert claim_quote(unrelated, question, passages) is None, "a sentence sharing no word of the question"


def test_an_answer_made_of_a_claim_quote_carries_that_quote_through_a_saved_conversation() -> None:
    text = "Les slides suivent des conventions usuelles. En pratique, Xi est une variable aléatoire et xi un nombre."
    passages = [Passage(0, "/d/stats.pdf", 15, 0, len(text), text, 0.6)]
    question = "Dans les notations du cours, quelle différence y a-t-il entre Xi en majuscule et xi en minuscule ?"
    said = "Dans les notations du cours, la différence entre Xi en majuscule et xi en minuscule est que Xi est une "
    said += "variable aléatoire, tandis que xi est un nombre."
    checks = check_answer(said, passages, question, "fr")[1]
    assert not checks[0].supported
    answer = QA._instead(question, "fr", Retrieval(question, passages, 0.01), [], said, checks, {})
    assert answer.quoted and not answer.refused and answer.quote is not None, answer.answer
    assert answer.answer.startswith("D'après stats.pdf, p. 15 : « En pratique, Xi est une variable aléatoire")
    assert answer.to_dict()["quote"]["page"] == 15 and answer.draft == said
    assert answer_from_record(answer_record(answer)).quote == answer.quote
