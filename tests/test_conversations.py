"""Saved conversations (``rag.conversations``): real SQLite files, a real process killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rag.answer import Answer
from rag.citations import Citation
from rag.cli import main as rag_main
from rag.conversations import (
    FILE_NAME,
    ConversationStore,
    answer_from_record,
    answer_record,
    export_markdown,
    feedback_gold_rows,
    title_from,
)
from rag.evidence import Quote
from rag.grounding import SentenceCheck
from rag.retrieve import Passage
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def an_answer(question: str = "When was the reactor built?") -> Answer:
    """A finished answer with a cited passage, an evidence quote and a sentence check."""
    passage = Passage(7, "/docs/guide.docx", 2, 0, 60, "The Zorblax reactor was built in 1987 in Grenoble.", 0.71,
                      0.03, 0, "History > Construction", "guide")  # fmt: skip
    quote = Quote(passage.text, 1, "guide.docx", passage.source, 2, 0.8, 0, 51)
    return Answer(
        question=question,
        answer="It was built in 1987 [1].",
        language="en",
        refused=False,
        grounded=True,
        citations=[Citation.of(1, passage)],
        passages=[passage],
        sentences=[SentenceCheck("It was built in 1987 [1].", [1], 1.0, True)],
        timings={"retrieval_s": 0.02, "total_s": 3.1},
        evidence=[quote],
        draft="It was built in 1987 [1].",
    )


def test_answer_round_trips_through_json() -> None:
    answer = an_answer()
    again = answer_from_record(json.loads(json.dumps(answer_record(answer))))
    assert again == answer


def test_conversations_are_saved_listed_renamed_and_deleted(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / FILE_NAME)
    first = store.create("  When was the\n reactor built?  ")
    assert first.title == "When was the reactor built?"
    store.add_question(first.id, "When was the reactor built?")
    answer_id = store.add_answer(first.id, an_answer(), searched="When was the reactor built?", extra_timings={
        "rewrite_s": 0.5})  # fmt: skip
    second = store.create("x" * 200)
    assert len(second.title) == 80 and second.title.endswith("…")
    assert [c.id for c in store.list()] == [second.id, first.id]
    store.add_question(first.id, "And where?")  # a new message moves the conversation to the top
    assert store.latest().id == first.id

    reopened = ConversationStore(tmp_path / FILE_NAME)  # another process would see the same
    messages = reopened.messages(first.id)
    assert [m.role for m in messages] == ["user", "assistant", "user"]
    assert messages[1].id == answer_id and messages[1].answer.citations[0].name == "guide.docx"
    assert messages[1].answer.passages[0].section == "History > Construction"
    assert messages[1].timings["rewrite_s"] == 0.5
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT quoted, refused FROM messages WHERE id = ?", (answer_id,)).fetchone() == (0, 0)

    reopened.rename(first.id, "  Reactor   history ")
    assert reopened.get(first.id).title == "Reactor history"
    with pytest.raises(ValueError, match="blank"):
        reopened.rename(first.id, "   ")
    reopened.set_feedback(answer_id, -1, "wrong year")
    reopened.delete(first.id)
    assert reopened.get(first.id) is None and reopened.messages(first.id) == []
    with sqlite3.connect(tmp_path / FILE_NAME) as db:  # the feedback went with its message
        assert db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0
    assert [c.id for c in reopened.list()] == [second.id]


def test_feedback_and_markdown_export(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / FILE_NAME)
    conversation = store.create("When was the reactor built?")
    store.add_question(conversation.id, "When was the reactor built?")
    good = store.add_answer(conversation.id, an_answer())
    store.add_question(conversation.id, "And who runs it?")
    bad = store.add_answer(conversation.id, an_answer("And who runs it?"), searched="Who runs the Zorblax reactor?")
    with pytest.raises(KeyError):
        store.set_feedback(good - 1, 1)  # a question takes no feedback
    with pytest.raises(ValueError):
        store.set_feedback(good, 5)
    store.set_feedback(good, 1)
    store.set_feedback(bad, -1, "  it does not say who ")
    assert [(m.rating, m.comment) for m in store.messages(conversation.id) if m.role == "assistant"] == [
        (1, ""), (-1, "it does not say who")]  # fmt: skip

    text = export_markdown(conversation, store.messages(conversation.id))
    assert text.startswith("# When was the reactor built?\n")
    assert "## And who runs it?" in text and "*Searched for: Who runs the Zorblax reactor?*" in text
    assert "1. guide.docx, § History > Construction" in text
    assert "   > The Zorblax reactor was built in 1987 in Grenoble." in text
    assert "👎 it does not say who" in text

    rows = feedback_gold_rows(store)
    assert [r["id"] for r in rows] == [f"feedback-{bad}"]
    row = rows[0]
    assert row["query"] == "Who runs the Zorblax reactor?" and row["question"] == "And who runs it?"
    assert row["answer"] == "It was built in 1987 [1]." and row["comment"] == "it does not say who"
    assert row["sources"][0]["name"] == "guide.docx" and row["sources"][0]["cited"] and row["expected"] == []
    store.set_feedback(bad, None)
    assert feedback_gold_rows(store) == []


def test_rag_feedback_writes_the_thumbs_down_gold_file(settings: Settings, tmp_path: Path, capsys) -> None:
    store = ConversationStore.for_settings(settings)
    conversation = store.create("q")
    store.add_question(conversation.id, "When was the reactor built?")
    store.set_feedback(store.add_answer(conversation.id, an_answer()), -1, "no")
    out = tmp_path / "feedback.jsonl"
    assert rag_main(["feedback", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["query"] for r in rows] == ["When was the reactor built?"]
    assert "1 thumbs-down answer" in capsys.readouterr().err


def test_title_from_first_question() -> None:
    assert title_from("What is RAG?\n") == "What is RAG?"


WRITER = textwrap.dedent(
    """
    import sys, time
    from rag.conversations import ConversationStore
    from tests.test_conversations import an_answer
    store = ConversationStore(sys.argv[1])
    conversation = store.create("kill test")
    pause_at = int(sys.argv[2])
    for turn in range(100000):
        store.add_question(conversation.id, f"question {turn}")
        print(f"asked {turn}", flush=True)
        if turn == pause_at:
            time.sleep(3600)  # the answer is being generated when the process is killed
        store.add_answer(conversation.id, an_answer(f"question {turn}"))
    """
)


def _kill_writer(path: Path, pause_at: int, kill_after: int) -> None:
    """Run the writer in a child process; SIGKILL it once it has printed ``kill_after`` lines."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(pause_at)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        for _ in range(kill_after):
            assert child.stdout.readline(), "the writer stopped early"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()


def _check_after_kill(path: Path) -> list:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = ConversationStore(path)
    (conversation,) = store.list()
    messages = store.messages(conversation.id)
    for n, message in enumerate(messages):  # question, answer, question, answer, ... in order
        assert message.role == ("user" if n % 2 == 0 else "assistant")
        assert message.text.startswith(f"question {n // 2}") or message.answer.question == f"question {n // 2}"
    return messages


def test_kill_9_mid_answer_loses_only_the_answer_in_flight(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    _kill_writer(path, pause_at=5, kill_after=6)  # killed while "generating" the answer to question 5
    messages = _check_after_kill(path)
    assert len(messages) == 11 and messages[-1].role == "user" and messages[-1].text == "question 5"
    assert all(m.answer is not None for m in messages if m.role == "assistant")


def test_kill_9_during_a_burst_of_writes_leaves_a_consistent_file(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    _kill_writer(path, pause_at=-1, kill_after=150)  # killed somewhere in the middle of a write
    messages = _check_after_kill(path)
    assert len(messages) >= 299  # every question it reported asking, and the answers before it
