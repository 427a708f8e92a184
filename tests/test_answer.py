"""Answers from real llama.cpp generation, through the same command line a user runs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ingest import store
from ingest.indexer import index_files, index_folder
from rag.answer import QA, Answer, wants_retry
from rag.cli import main
from rag.grounding import check_answer
from rag.language import detect_language
from rag.llm import QWEN_SIZE, resolve_model_path
from rag.prompt import build_messages, build_retry
from rag.retrieve import Passage
from rag.settings import Settings, get_settings
from tests.conftest import make_pdf, requires_shared

FACTS = [
    "Operations handbook. Chapter one covers safety briefings for new staff members and visitors.",
    "The Kestrel-9 telescope has a primary mirror of 4.2 metres. It was installed on Mount Arvel in 2011.",
    "Chapter three: the observatory cafeteria opens at 7 am and closes at 9 pm on weekdays.",
]
FACTS_FR = [
    "Manuel d'exploitation. Le premier chapitre présente les consignes de sécurité pour le personnel.",
    "Le télescope Kestrel-9 possède un miroir principal de 4,2 mètres de diamètre. "
    "Il a été installé sur le mont Arvel en 2011.",
    "Chapitre trois : la cafétéria de l'observatoire ouvre à 7 heures et ferme à 21 heures en semaine.",
]


def _cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def indexed(tmp_path: Path, settings: Settings, embedder) -> Settings:
    make_pdf(tmp_path / "docs" / "observatory.pdf", FACTS)
    index_folder(tmp_path / "docs", settings, embedder)
    return settings


def test_search_json_lists_passages_with_source_page_text_score(indexed: Settings, capsys) -> None:
    rows = _cli_json(capsys, "search", "How large is the Kestrel-9 mirror?", "--k", "2", "--json")
    assert rows[0]["page"] == 2 and rows[0]["source"].endswith("observatory.pdf")
    assert "4.2 metres" in rows[0]["text"] and isinstance(rows[0]["score"], float)
    assert len(rows) == 2


def test_ask_json_with_a_real_gguf_cites_indexed_pages(indexed: Settings, capsys) -> None:
    result = _cli_json(capsys, "ask", "How large is the primary mirror of the Kestrel-9 telescope?", "--json")
    files = store.load(indexed.index_dir).files
    assert result["answer"].strip()
    assert not result["refused"], result["answer"]
    assert result["citations"], f"no citation in: {result['answer']}"
    for citation in result["citations"]:
        assert citation["source"] in files
        assert 1 <= citation["page"] <= files[citation["source"]].pages
    assert any(c["page"] == 2 for c in result["citations"])
    timings = result["timings"]
    assert timings["prompt_tokens"] > 50 and timings["completion_tokens"] > 0
    assert 0 < timings["first_token_s"] <= timings["total_s"]


def test_ask_json_carries_evidence_quotes_found_before_the_model(indexed: Settings, capsys) -> None:
    result = _cli_json(capsys, "ask", "How large is the primary mirror of the Kestrel-9 telescope?", "--json")
    evidence = result["evidence"]
    assert evidence and "4.2 metres" in evidence[0]["text"] and evidence[0]["page"] == 2, evidence
    assert evidence[0]["name"] == "observatory.pdf" and 1 <= evidence[0]["number"] <= len(result["passages"])
    assert set(evidence[0]) >= {"text", "number", "name", "source", "page", "score"}
    assert result["quoted"] is False or result["answer"].startswith("According to observatory.pdf, p. 2:")
    assert 0 < result["timings"]["evidence_s"] < result["timings"]["first_token_s"]


def test_plain_ask_prints_the_quotes_before_the_answer(indexed: Settings, capsys) -> None:
    capsys.readouterr()
    assert main(["ask", "How large is the primary mirror of the Kestrel-9 telescope?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Evidence (quoted from the documents):\n"), out
    assert out.index("4.2 metres") < out.index("observatory.pdf, page 2") < out.index("Sources:")


def test_a_vacuous_model_answer_gives_way_to_the_quote(indexed: Settings, capsys, monkeypatch) -> None:
    """One generated token is no answer: the best quote answers instead, marked as a quotation."""
    monkeypatch.setenv("RAG_MAX_TOKENS", "1")
    get_settings.cache_clear()
    result = _cli_json(capsys, "ask", "How large is the primary mirror of the Kestrel-9 telescope?", "--json")
    assert result["quoted"] and not result["refused"] and result["grounded"], result["answer"]
    assert result["answer"].startswith('According to observatory.pdf, p. 2: "') and "4.2 metres" in result["answer"]
    assert result["model_answer"].strip() and len(result["model_answer"].split()) <= 2, "the one-token draft is kept"
    assert [(c["name"], c["page"]) for c in result["citations"]] == [("observatory.pdf", 2)]
    assert f"[{result['citations'][0]['number']}]" in result["answer"]


def test_french_quote_answers_in_french(tmp_path: Path, settings: Settings, embedder, monkeypatch) -> None:
    monkeypatch.setenv("RAG_MAX_TOKENS", "1")
    get_settings.cache_clear()
    make_pdf(tmp_path / "docs" / "observatoire.pdf", FACTS_FR)
    index_folder(tmp_path / "docs", settings, embedder)
    answer = QA(get_settings()).ask("Quel est le diamètre du miroir principal du télescope Kestrel-9 ?")
    assert answer.quoted and answer.answer.startswith("D'après observatoire.pdf, p. 2 : « "), answer.answer
    assert "4,2 mètres" in answer.answer and answer.citations[0].page == 2


def test_an_unsupported_draft_gets_one_second_try_in_the_passages_words(indexed: Settings, monkeypatch) -> None:
    """With RAG_RETRY_UNSUPPORTED, a draft the check rejects is followed by a second generation (the real model,
    asked in the same conversation), and the answer is either that second draft, supported, or the first outcome."""
    monkeypatch.setenv("RAG_RETRY_UNSUPPORTED", "1")
    monkeypatch.setenv("RAG_MAX_TOKENS", "48")
    get_settings.cache_clear()
    qa = QA(get_settings())
    question = "How large is the primary mirror of the Kestrel-9 telescope?"
    retrieval = qa.retrieve(question)
    evidence = qa.evidence(question, retrieval)
    first = Answer(question, "The documents do not say.", "en", True, False, [], retrieval.passages,
                   evidence=evidence.quotes, draft="The Kestrel-9 primary mirror is 9.9 metres wide [1].")  # fmt: skip
    assert wants_retry(first) and not wants_retry(replace(first, draft="The documents do not say."))
    asked = build_retry(build_messages(question, retrieval.passages, "en"), first.draft, "en")
    assert [m["role"] for m in asked] == ["system", "user", "assistant", "user"] and asked[2]["content"] == first.draft
    second = qa.second_try(first, retrieval)
    assert second.timings.get("retried") == 1
    if second is first:
        assert second.refused and second.answer == "The documents do not say."
    else:
        assert not second.refused and second.sentences[0].supported and "9.9" not in second.answer, second.answer
        assert second.draft.startswith(first.draft) and second.citations


def test_question_the_documents_do_not_answer_is_refused(indexed: Settings, capsys) -> None:
    english = _cli_json(capsys, "ask", "Which football club won the 1998 world cup final?", "--json")
    french = _cli_json(capsys, "ask", "Quelle équipe de football a gagné la finale de 1998 ?", "--json")
    assert english["refused"] and english["answer"] == "The documents do not say."
    assert french["refused"] and french["answer"] == "Les documents ne le disent pas."
    assert english["passages"], "the closest passages are still shown"


def test_grounding_attaches_missing_citations_and_flags_unsupported_sentences() -> None:
    passages = [
        Passage(1, "/d/a.pdf", 3, 0, 10, "The Kestrel-9 mirror measures 4.2 metres across.", 0.8),
        Passage(2, "/d/b.pdf", 5, 0, 10, "The cafeteria opens at 7 am.", 0.5),
    ]
    text, checks = check_answer("The Kestrel-9 mirror measures 4.2 metres. It was built by Martians [2].", passages)
    assert text.startswith("The Kestrel-9 mirror measures 4.2 metres. [1]")
    assert [c.supported for c in checks] == [True, False]
    codes = [Passage(3, "/d/m.pdf", 2, 0, 10, "E57: Flow meter reports zero pulses. Clean the filter.", 0.6)]
    _, checks = check_answer("Error E35 means the flow meter reports zero pulses [1].", codes)
    assert not checks[0].supported, "a code the passage does not contain is not supported"
    _, checks = check_answer('E35 means "Flow meter reports zero pulses." Clean the filter [1].', codes)
    assert [c.supported for c in checks] == [False, True], "a sentence ends after a closing quote too"
    _, checks = check_answer(
        "Le miroir mesure 4.2 mètres [1].", [Passage(4, "/d/f.pdf", 1, 0, 9, "miroir de 4,2 mètres", 0.7)]
    )
    assert checks[0].supported, "decimal comma and point are the same number"


def test_grounding_checks_one_place_of_a_passage_and_folds_pointer_sentences() -> None:
    manual = [
        Passage(1, "/d/m.pdf", 4, 0, 10, "E11: Heater fault. Replace thermal switch TS-71 and reset. "
                "Requests are answered within 3 working days. The northern site employs 40 people. "
                "Visitors sign in at the gate. Staff may travel to the plant once a week.", 0.7),
        Passage(2, "/d/m.pdf", 5, 0, 10, "E57: Flow meter reports zero pulses. Clean the filter.", 0.6),
    ]  # fmt: skip
    _, checks = check_answer("To clear error E11, replace the thermal switch TS-71 [1].", manual)
    assert checks[0].supported
    question = "How many days per week may employees work from home?"
    _, checks = check_answer("Employees may work from home 3 days per week [1].", manual, question)
    assert not checks[0].supported, "words gathered from all over a passage are not support"
    _, checks = check_answer("To clear error E11, replace switch TS-71, as stated in [1] on page 4.", manual)
    assert checks[0].supported, "a page reference is not a claim"
    text, checks = check_answer("Replace thermal switch TS-71. This can be found in [1].", manual)
    assert text == "Replace thermal switch TS-71 [1]." and len(checks) == 1 and checks[0].supported
    text, _ = check_answer("Clean the filter, as stated in [2].", manual)
    assert text == "Clean the filter [2]."
    text, checks = check_answer("Clean the filter according to [2].", manual, "What should I clean when E57 shows?")
    assert text == "Clean the filter [2]." and checks[0].supported, "a trailing source is a pointer, not a claim"
    text, _ = check_answer("According to [2], clean the filter.", manual)
    assert text.startswith("According to [2], clean"), "a source named first stays where it reads"


def test_the_prompt_can_put_the_best_passage_next_to_the_question() -> None:
    """Passages keep their numbers in either order (``RAG_PASSAGE_ORDER``)."""
    passages = [
        Passage(1, "/d/a.pdf", 3, 0, 10, "The Kestrel-9 mirror measures 4.2 metres across.", 0.8),
        Passage(2, "/d/b.pdf", 5, 0, 10, "The cafeteria opens at 7 am.", 0.5),
    ]
    ranked = build_messages("How wide is the mirror?", passages, "en")[1]["content"]
    assert ranked.index("[1] (a.pdf, page 3)") < ranked.index("[2] (b.pdf, page 5)") < ranked.index("Question:")
    best_last = build_messages("How wide is the mirror?", passages, "en", best_last=True)[1]["content"]
    assert best_last.index("[2] (b.pdf, page 5)") < best_last.index("[1] (a.pdf, page 3)") < best_last.index("Question")


def test_the_prompt_can_set_the_evidence_quotes_in_bold() -> None:
    """``RAG_MARK_EVIDENCE``: the quote's span of its passage is set between ``**``, the rest as it was."""
    text = "The lobby is on level 0. The Kestrel-9 mirror measures 4.2 metres across. Tours run daily."
    passages = [Passage(1, "/d/a.pdf", 3, 0, 10, text, 0.8), Passage(2, "/d/b.pdf", 5, 0, 10, "Opens at 7 am.", 0.5)]
    start = text.index("The Kestrel")
    marks = {1: [(start - 1, text.index(" Tours"))]}  # a span with white space at its edge is marked inside it
    user = build_messages("How wide is the mirror?", passages, "en", marks=marks)[1]["content"]
    assert "level 0. **The Kestrel-9 mirror measures 4.2 metres across.** Tours run daily." in user
    assert "Sentences in bold" in user and user.index("Sentences in bold") < user.index("Question:")
    plain = build_messages("How wide is the mirror?", passages, "en")[1]["content"]
    assert "**" not in plain and "in bold" not in plain
    outside = build_messages("How wide?", passages, "en", marks={1: [(0, 10_000)]})[1]["content"]
    assert "**" not in outside, "a span past the passage's end is not marked"


def test_language_detection() -> None:
    assert detect_language("Quelle est la taille du miroir ?") == "fr"
    assert detect_language("Qu'est-ce que l'attention multi-tête ?") == "fr"
    assert detect_language("What is the size of the mirror?") == "en"


def test_settings_come_from_environment_and_config_file(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "rag.toml"
    config.write_text('top_k = 7\nllm_model = "/models/x.gguf"\n')
    monkeypatch.setenv("RAG_CONFIG", str(config))
    monkeypatch.setenv("RAG_TOP_K", "5")
    settings = Settings()
    assert settings.top_k == 5 and settings.llm_model == "/models/x.gguf"


def test_localgpt_recall_at_5(tmp_path: Path, settings: Settings, embedder) -> None:
    from rag.evaluate import evaluate, read_gold
    from rag.retrieve import Retriever

    folder = requires_shared("localgpt")
    index_folder(folder, settings, embedder)
    rows = [row for name in ("atlas7", "hr", "acquisition") for row in read_gold(folder / f"{name}.jsonl")]
    summary = evaluate(rows, Retriever(settings, embedder), k=5).summary()
    assert summary["answerable"] == 72
    assert summary["recall@5"] >= 0.9, summary


@pytest.mark.slow
def test_default_qwen_model_answers_in_the_question_language(tmp_path: Path, settings: Settings, embedder) -> None:
    folder = requires_shared("localgpt")
    qwen = settings.model_copy(update={"llm_model": "qwen2.5-coder-1.5b"})
    path = resolve_model_path("qwen2.5-coder-1.5b", qwen)
    assert path.stat().st_size == QWEN_SIZE
    make_pdf(tmp_path / "docs" / "observatoire.pdf", FACTS_FR)
    index_files([folder / "atlas7_service_manual.pdf"], qwen, embedder)
    index_folder(tmp_path / "docs", qwen, embedder)
    qa = QA(qwen)
    english = qa.ask("What is the pressure of the brew boiler during extraction?")
    assert "9.2" in english.answer and not english.refused
    assert any(c.name == "atlas7_service_manual.pdf" and c.page == 1 for c in english.citations)
    french = qa.ask("Quel est le diamètre du miroir principal du télescope Kestrel-9 ?")
    assert "4,2" in french.answer or "4.2" in french.answer, french.answer
    assert detect_language(french.answer) == "fr", french.answer
    assert any(c.name == "observatoire.pdf" and c.page == 2 for c in french.citations)
    assert english.timings["first_token_s"] > 0 and french.timings["cached_prompt_tokens"] > 0
