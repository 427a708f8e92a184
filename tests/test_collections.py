"""Collections and per-question document filters, on both stores: membership, scoped search, CLI, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.backends import collection_name, open_store
from ingest.indexer import add_to_collection, index_folder, remove_from_collection, remove_sources
from rag import cli
from rag.answer import QA
from rag.retrieve import Retriever
from rag.scope import Scope, ScopeError, resolve_scope, scope_of
from rag.settings import Settings
from tests.conftest import make_pdf
from tests.test_index import _corpus, _write
from tests.test_store_backends import TOPICS

PUMP_QUESTION = "Which centrifugal pump is rated for 30 litres?"


def _state(settings: Settings) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(collections with their sources, each file's collections), read through the store interface."""
    index = open_store(settings)
    try:
        with index.read() as reader:
            return reader.collections(), {s: f.collections for s, f in reader.files().items()}
    finally:
        index.close()


def _src(path: Path) -> str:
    return str(path.resolve())


def _two_topics(docs: Path) -> tuple[Path, Path]:
    """pumps.pdf (eight pages about pumps) and handbook/other.pdf (six pages about other things)."""
    pumps = make_pdf(docs / "pumps.pdf", [f"Pump P-{i} is a centrifugal pump rated for {i}0 litres." for i in range(8)])
    other = make_pdf(docs / "handbook" / "other.pdf", [f"Chapter {i}. {topic}" for i, topic in enumerate(TOPICS)])
    return pumps, other


def test_membership_survives_reindex_rebuild_and_removal_of_other_files(
    tmp_path: Path, store_settings: Settings, embedder
) -> None:
    docs = _corpus(tmp_path / "docs")
    pumps, people, note = (_src(docs[k]) for k in ("pumps", "people", "note"))
    report = index_folder(tmp_path / "docs", store_settings, embedder, collection="lab")
    assert (report.collection, report.joined) == ("lab", 3)
    again = index_folder(tmp_path / "docs" / "team", store_settings, embedder, collection=" course  2026 ")
    assert again.counts["unchanged"] == 1 and (again.collection, again.joined) == ("course 2026", 1)
    collections, files = _state(store_settings)
    assert collections == {"course 2026": [people], "lab": sorted([pumps, people, note])}
    assert files[people] == ["course 2026", "lab"] and files[note] == ["lab"]

    _write(docs["note"], "The backup generator is now tested every second Friday.")  # changed: replaced
    docs["pumps"].unlink()  # another file goes
    report = index_folder(tmp_path / "docs", store_settings, embedder)
    assert report.counts["updated"] == 1 and report.counts["removed"] == 1
    collections, files = _state(store_settings)
    assert collections == {"course 2026": [people], "lab": sorted([people, note])}
    assert files[note] == ["lab"], "a replaced file keeps its collections"

    smaller = store_settings.model_copy(update={"chunk_words": 20, "chunk_overlap": 4})
    rebuilt = index_folder(tmp_path / "docs", smaller, embedder)
    assert rebuilt.counts["added"] == 2, "another chunk size re-indexes everything"
    assert _state(smaller)[0] == {"course 2026": [people], "lab": sorted([people, note])}

    assert remove_sources([people], smaller).counts["removed"] == 1
    assert _state(smaller)[0] == {"lab": [note]}, "a removed file leaves its collections; an emptied one is gone"
    index_folder(tmp_path / "docs", smaller, embedder)
    assert _state(smaller)[1][people] == [], "indexed again, it does not silently rejoin"


def test_collections_are_changed_by_hand_and_checked(tmp_path: Path, store_settings: Settings, embedder) -> None:
    pumps, other = _two_topics(tmp_path / "docs")
    index_folder(tmp_path / "docs", store_settings, embedder)
    assert add_to_collection("Cours d'été", [_src(pumps), _src(other)], store_settings) == 2
    assert add_to_collection("Cours d'été", [_src(pumps)], store_settings) == 0, "already in it"
    with pytest.raises(ValueError, match=r"not indexed: /nowhere\.pdf"):
        add_to_collection("Cours d'été", [_src(other), "/nowhere.pdf"], store_settings)
    for bad in ("", "   ", "a,b", "nul\x00here", "x" * 101):
        with pytest.raises(ValueError):
            add_to_collection(bad, [_src(pumps)], store_settings)
    assert _state(store_settings)[0] == {"Cours d'été": sorted([_src(pumps), _src(other)])}
    assert remove_from_collection("Cours d'été", [_src(pumps)], store_settings) == 1
    assert remove_from_collection("Cours d'été", [_src(pumps)], store_settings) == 0
    assert _state(store_settings)[0] == {"Cours d'été": [_src(other)]}
    assert remove_from_collection("Cours d'été", None, store_settings) == 1
    assert _state(store_settings)[0] == {}


def test_a_collection_gives_the_k_best_of_its_documents(tmp_path: Path, store_settings: Settings, embedder) -> None:
    """Every global top passage is about pumps; scoped to the handbook, the k passages all come from it."""
    pumps, other = _two_topics(tmp_path / "docs")
    index_folder(tmp_path / "docs" / "handbook", store_settings, embedder, collection="handbook")
    index_folder(tmp_path / "docs", store_settings, embedder)
    retriever = Retriever(store_settings, embedder)
    everywhere = retriever.search(PUMP_QUESTION, k=4).passages
    assert {p.source for p in everywhere} == {_src(pumps)}
    scope = scope_of(retriever.store, ["handbook"])
    assert scope.sources == {_src(other)} and scope.describe() == "collection handbook: other.pdf (1 document)"
    scoped = retriever.search(PUMP_QUESTION, k=4, sources=scope.sources).passages
    assert len(scoped) == 4 and {p.source for p in scoped} == {_src(other)}
    assert {p.page for p in scoped} <= set(range(1, 7))

    qa = QA(store_settings, retriever)
    assert {p.source for p in qa.retrieve(PUMP_QUESTION, 3, scope.sources).passages} == {_src(other)}
    by_file = scope_of(retriever.store, patterns=["PUMPS.*"]).sources
    assert {p.source for p in qa.retrieve("Who must wear a badge?", 3, by_file).passages} == {_src(pumps)}


def test_the_answer_path_searches_only_the_scope(tmp_path: Path, settings: Settings, embedder) -> None:
    """QA.stream without a retrieval retrieves within the scope: on the handbook, pumps are not there to cite."""
    pumps, other = _two_topics(tmp_path / "docs")
    index_folder(tmp_path / "docs", settings, embedder)
    qa = QA(settings, Retriever(settings, embedder))
    answer = qa.ask(PUMP_QUESTION, sources={_src(other)})
    assert answer.passages and {p.source for p in answer.passages} == {_src(other)}
    assert not any(c.source == _src(pumps) for c in answer.citations)


def test_scope_resolution_rules(tmp_path: Path) -> None:
    files = ["/c/notes week1.pdf", "/c/notes week2.PDF", "/c/slides.pptx.pdf", "/p/plan.md", "/p/notes.txt"]
    collections = {"course": files[:3], "project": files[3:]}
    assert resolve_scope(files, collections) == Scope()
    assert resolve_scope(files, collections, ["course"]).sources == set(files[:3])
    assert resolve_scope(files, collections, ["course,project"]).sources == set(files)
    assert resolve_scope(files, collections, patterns=["notes*.pdf"]).sources == set(files[:2]), "case ignored"
    assert resolve_scope(files, collections, patterns=["plan.md, slides*"]).sources == {files[2], files[3]}
    assert resolve_scope(files, collections, ["project"], ["notes*"]).sources == {files[4]}
    assert resolve_scope(files, collections, patterns=["/p/*"]).sources == set(files[3:]), "a slash: whole path"
    with pytest.raises(ScopeError, match=r"no collection named 'cours'; collections: course, project"):
        resolve_scope(files, collections, ["cours"])
    with pytest.raises(ScopeError, match=r"no indexed document matches '\*\.docx'"):
        resolve_scope(files, collections, patterns=["*.pdf", "*.docx"])
    with pytest.raises(ScopeError, match=r"no document of collection 'project' matches 'slides\*'"):
        resolve_scope(files, collections, ["project"], ["slides*"])
    with pytest.raises(ScopeError, match="the index is empty"):
        resolve_scope([], {}, patterns=["*"])
    with pytest.raises(ScopeError, match="none yet"):
        resolve_scope(files, {}, ["course"])
    assert collection_name("  Physique   L2 ") == "Physique L2"


# ---------------------------------------------------------------- command line


def test_cli_collections_and_scoped_search(tmp_path: Path, store_settings: Settings, embedder, capsys) -> None:
    pumps, other = _two_topics(tmp_path / "docs")
    assert cli.main(["index", str(tmp_path / "docs" / "handbook"), "--collection", "handbook", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["joined"] == 1
    assert cli.main(["index", str(tmp_path / "docs")]) == 0
    capsys.readouterr()
    assert cli.main(["collections", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"name": "handbook", "sources": [_src(other)]}]
    assert cli.main(["docs", "--json"]) == 0
    assert {d["source"]: d["collections"] for d in json.loads(capsys.readouterr().out)} == {
        _src(pumps): [],
        _src(other): ["handbook"],
    }

    assert cli.main(["search", PUMP_QUESTION, "--k", "3", "--json"]) == 0
    assert {p["source"] for p in json.loads(capsys.readouterr().out)} == {_src(pumps)}
    assert cli.main(["search", PUMP_QUESTION, "--k", "3", "--json", "--collection", "handbook"]) == 0
    scoped = json.loads(capsys.readouterr().out)
    assert len(scoped) == 3 and {p["source"] for p in scoped} == {_src(other)}
    assert cli.main(["search", "Who must wear a badge?", "--k", "2", "--file", "pump*", "--file", "PUMPS.PDF"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("searched in: files pump*, PUMPS.PDF: pumps.pdf (1 document)\n1. pumps.pdf")
    assert "other.pdf" not in out
    assert cli.main(["search", "Who must wear a badge?", "--file", "*.pdf,*.txt"]) == 2, "every pattern must match"
    assert "no indexed document matches '*.txt'" in capsys.readouterr().err

    assert cli.main(["search", PUMP_QUESTION, "--collection", "handbok"]) == 2
    assert "error: no collection named 'handbok'; collections: handbook" in capsys.readouterr().err
    assert cli.main(["search", PUMP_QUESTION, "--collection", "handbook", "--file", "pumps*"]) == 2
    assert "no document of collection 'handbook' matches 'pumps*'" in capsys.readouterr().err
    assert cli.main(["ask", PUMP_QUESTION, "--file", "*.docx"]) == 2, "fails before any model loads"
    assert "no indexed document matches '*.docx'" in capsys.readouterr().err


def test_cli_collection_add_remove_delete(tmp_path: Path, settings: Settings, embedder, capsys) -> None:
    pumps, other = _two_topics(tmp_path / "docs")
    index_folder(tmp_path / "docs", settings, embedder)
    assert cli.main(["collection", "add", "all", str(tmp_path / "docs")]) == 0, "a folder: its indexed files"
    assert "2 of 2 document(s) joined" in capsys.readouterr().out
    assert cli.main(["collection", "add", "pumps", str(pumps)]) == 0
    assert _state(settings)[0] == {"all": sorted([_src(pumps), _src(other)]), "pumps": [_src(pumps)]}
    assert cli.main(["collection", "add", "all", str(tmp_path / "missing.pdf")]) == 2
    assert "not indexed" in capsys.readouterr().err
    assert cli.main(["collection", "add", "a,b", str(pumps)]) == 2
    assert cli.main(["collection", "remove", "all", str(pumps), str(tmp_path / "missing.pdf")]) == 1
    assert "1 of 2 document(s) left" in capsys.readouterr().out
    assert cli.main(["collection", "delete", "pumps"]) == 0
    assert cli.main(["collection", "delete", "pumps"]) == 2
    assert "no collection named 'pumps'" in capsys.readouterr().err
    assert cli.main(["collections"]) == 0
    assert capsys.readouterr().out == f"all  (1 document)\n    other.pdf  {_src(other)}\n"
    assert cli.main(["index", str(tmp_path / "docs"), "--collection", ""]) == 2
    assert "a collection needs a name" in capsys.readouterr().err


def test_cli_eval_within_a_collection(tmp_path: Path, settings: Settings, embedder, capsys) -> None:
    """Two corpora in one index: each gold set scored within its own collection."""
    _two_topics(tmp_path / "docs")
    index_folder(tmp_path / "docs", settings, embedder)
    gold = tmp_path / "gold.jsonl"
    rows = [
        {"query": "Where is the assembly point for fire drills?", "expected": ["north lawn"]},
        {"query": "Which pump is rated for 50 litres?", "expected": ["rated for 50 litres"]},
    ]
    gold.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    corpus = str(tmp_path / "docs" / "handbook")
    assert cli.main(["eval", str(gold), "--corpus", corpus, "--collection", "handbook", "--k", "3", "--json"]) == 0
    handbook = json.loads(capsys.readouterr().out)
    assert handbook["scope"]["collections"] == ["handbook"]
    assert [r["hit"] for r in handbook["rows"]] == [True, False], "the pump page is indexed, outside the collection"
    assert cli.main(["eval", str(gold), "--k", "3", "--json"]) == 0
    assert [r["hit"] for r in json.loads(capsys.readouterr().out)["rows"]] == [True, True]
    assert cli.main(["eval", str(gold), "--collection", "pumps"]) == 2
    assert "no collection named 'pumps'" in capsys.readouterr().err


# ---------------------------------------------------------------- the app (AppTest), real components


def test_app_filter_scopes_the_sources_of_each_question(settings: Settings, tmp_path: Path) -> None:
    """The sidebar's collection and document filter decide which documents the passages come from."""
    from app.render import escape_markdown
    from app.scope import scope_caption
    from tests.test_app import FACTS, OTHER, TIMEOUT, pdf_bytes, start, upload

    at = start(settings)
    at = upload(
        at,
        [
            ("zorblax.pdf", pdf_bytes(tmp_path, "z.pdf", [FACTS])),
            ("bananas.pdf", pdf_bytes(tmp_path, "b.pdf", [OTHER])),
        ],
    )
    assert not at.exception, at.exception
    zorblax, bananas = (_src(settings.docs_dir / name) for name in ("zorblax.pdf", "bananas.pdf"))
    assert "scope_collection" not in [s.key for s in at.sidebar.selectbox], "no collections yet"
    assert sorted(at.sidebar.multiselect(key="scope_docs:").options) == ["bananas.pdf", "zorblax.pdf"]
    add_to_collection("fruit", [bananas], settings)
    at.run(timeout=TIMEOUT)
    question = "When was the Zorblax reactor built?"

    at.sidebar.selectbox(key="scope_collection").set_value("fruit").run(timeout=TIMEOUT)
    assert at.sidebar.multiselect(key="scope_docs:fruit").options == ["bananas.pdf"]
    at.chat_input[0].set_value(question).run(timeout=TIMEOUT)
    assert not at.exception, at.exception
    turn = at.session_state["messages"][-1]
    assert "error" not in turn, turn.get("error")
    assert turn["answer"].passages and {p.source for p in turn["answer"].passages} == {bananas}
    assert turn["scope"] == "Searched in: collection “fruit”: bananas.pdf"
    assert escape_markdown(turn["scope"]) in [c.value for c in at.main.caption]

    at.sidebar.selectbox(key="scope_collection").set_value("").run(timeout=TIMEOUT)
    at.sidebar.multiselect(key="scope_docs:").set_value([zorblax]).run(timeout=TIMEOUT)
    at.chat_input[0].set_value(question).run(timeout=TIMEOUT)
    assert not at.exception, at.exception
    turn = at.session_state["messages"][-1]
    assert "error" not in turn, turn.get("error")
    assert {p.source for p in turn["answer"].passages} == {zorblax}
    assert turn["scope"] == "Searched in: zorblax.pdf" and scope_caption(None, "en") == ""
    assert any("zorblax" in e.label for e in at.main.expander)
