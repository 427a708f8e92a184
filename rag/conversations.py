"""Saved conversations: questions, answers with their sources, and feedback, in SQLite under ``$RAG_HOME``.

One file, ``conversations.sqlite3``, in WAL mode; every write is one transaction. The app saves a
question before its answer streams and the answer once it is finished, so a crash (or ``kill -9``)
in the middle of an answer loses that answer only. A connection is opened per call: the app's
script runs move between threads, and opening a SQLite file takes well under a millisecond.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path

from rag.answer import Answer
from rag.citations import Citation
from rag.evidence import Quote
from rag.grounding import SentenceCheck
from rag.retrieve import Passage
from rag.settings import Settings

FILE_NAME = "conversations.sqlite3"
TITLE_CHARS = 80
"""A conversation is titled by the start of its first question."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    searched TEXT NOT NULL DEFAULT '',
    answer TEXT,
    error TEXT NOT NULL DEFAULT '',
    quoted INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, id);
CREATE TABLE IF NOT EXISTS feedback (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
"""


@dataclass
class Conversation:
    """One saved conversation."""

    id: str
    title: str
    created: float
    updated: float


@dataclass
class Message:
    """A saved question (``role == "user"``) or answer (``"assistant"``)."""

    id: int
    conversation_id: str
    role: str
    text: str
    created: float
    searched: str = ""
    """The standalone question retrieval ran on (a follow-up rewritten), for answers."""
    answer: Answer | None = None
    error: str = ""
    rating: int = 0
    """Feedback on an answer: 1 thumbs up, -1 thumbs down, 0 none."""
    comment: str = ""
    timings: dict[str, float] = field(default_factory=dict)


def title_from(question: str) -> str:
    """A conversation title from its first question: one line, at most :data:`TITLE_CHARS` characters."""
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


# ---------------------------------------------------------------- answers <-> JSON


def _build(cls: type, data: dict):
    """``cls(**data)`` keeping only the fields ``cls`` has (records written by other versions still load)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def answer_record(answer: Answer) -> dict:
    """Everything needed to show an answer again: text, flags, citations, passages, quotes, checks, timings."""
    return asdict(answer)


def answer_from_record(record: dict) -> Answer:
    """The :class:`Answer` saved by :func:`answer_record`."""
    data = dict(record)
    data["citations"] = [_build(Citation, c) for c in data.get("citations", [])]
    data["passages"] = [_build(Passage, p) for p in data.get("passages", [])]
    data["evidence"] = [_build(Quote, q) for q in data.get("evidence", [])]
    data["quote"] = _build(Quote, data["quote"]) if data.get("quote") else None
    data["sentences"] = [_build(SentenceCheck, s) for s in data.get("sentences", [])]
    return _build(Answer, data)


# ---------------------------------------------------------------- the store


class ConversationStore:
    """Conversations, messages and feedback in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @classmethod
    def for_settings(cls, settings: Settings) -> ConversationStore:
        """The store of ``settings.home``."""
        return cls(settings.home / FILE_NAME)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: safe against a killed process
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is stored, or none."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- conversations

    def create(self, title: str) -> Conversation:
        """A new, empty conversation."""
        now = time.time()
        conversation = Conversation(uuid.uuid4().hex, title_from(title) or "…", now, now)
        with self._write() as db:
            db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?)", astuple_conversation(conversation))
        return conversation

    def list(self) -> list[Conversation]:
        """Every conversation, the most recently updated first."""
        with self._connect() as db:
            rows = db.execute("SELECT id, title, created, updated FROM conversations ORDER BY updated DESC, id")
            return [Conversation(*row) for row in rows]

    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation with this id, or None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT id, title, created, updated FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        return Conversation(*row) if row else None

    def latest(self) -> Conversation | None:
        """The most recently updated conversation, or None."""
        found = self.list()
        return found[0] if found else None

    def rename(self, conversation_id: str, title: str) -> None:
        """Give a conversation a new title (blank titles are refused)."""
        title = " ".join(title.split())
        if not title:
            raise ValueError("a conversation title cannot be blank")
        with self._write() as db:
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title[:200], conversation_id))

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation with its messages and their feedback."""
        with self._write() as db:
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # -- messages

    def add_question(self, conversation_id: str, text: str) -> int:
        """Save a question (before it is answered); returns its message id."""
        return self._add(conversation_id, "user", text)

    def add_answer(
        self,
        conversation_id: str,
        answer: Answer | None,
        searched: str = "",
        error: str = "",
        extra_timings: dict[str, float] | None = None,
    ) -> int:
        """Save a finished answer (or the error that stopped it); returns its message id."""
        record = answer_record(answer) if answer is not None else None
        if record is not None and extra_timings:
            record["timings"] = {**record.get("timings", {}), **extra_timings}
        text = answer.answer if answer is not None else error
        return self._add(conversation_id, "assistant", text, searched, record, error)

    def _add(
        self,
        conversation_id: str,
        role: str,
        text: str,
        searched: str = "",
        record: dict | None = None,
        error: str = "",
    ) -> int:
        now = time.time()
        flags = (int(bool(record and record.get("quoted"))), int(bool(record and record.get("refused"))))
        payload = json.dumps(record, ensure_ascii=False) if record is not None else None
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, role, text, searched, answer, error, quoted, refused, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, role, text, searched, payload, error, *flags, now),
            )
            if not db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id)).rowcount:
                raise KeyError(f"no conversation {conversation_id}")
            return int(cursor.lastrowid)

    def messages(self, conversation_id: str) -> list[Message]:
        """The messages of a conversation in order, answers with their feedback."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT m.id, m.conversation_id, m.role, m.text, m.created, m.searched, m.answer, m.error,"
                " COALESCE(f.rating, 0), COALESCE(f.comment, '') FROM messages m"
                " LEFT JOIN feedback f ON f.message_id = m.id WHERE m.conversation_id = ? ORDER BY m.id",
                (conversation_id,),
            ).fetchall()
        out = []
        for mid, cid, role, text, created, searched, payload, error, rating, comment in rows:
            answer = answer_from_record(json.loads(payload)) if payload else None
            timings = dict(answer.timings) if answer else {}
            out.append(Message(mid, cid, role, text, created, searched, answer, error, rating, comment, timings))
        return out

    # -- feedback

    def set_feedback(self, message_id: int, rating: int | None, comment: str = "") -> None:
        """Thumbs up (1) or down (-1) with an optional comment on an answer; ``None`` clears it."""
        with self._write() as db:
            role = db.execute("SELECT role FROM messages WHERE id = ?", (message_id,)).fetchone()
            if role is None or role[0] != "assistant":
                raise KeyError(f"no answer with id {message_id}")
            if rating is None:
                db.execute("DELETE FROM feedback WHERE message_id = ?", (message_id,))
                return
            if rating not in (-1, 1):
                raise ValueError("rating is 1 (thumbs up) or -1 (thumbs down)")
            db.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?) ON CONFLICT(message_id) DO UPDATE SET"
                " rating = excluded.rating, comment = excluded.comment, created = excluded.created",
                (message_id, rating, comment.strip(), time.time()),
            )

    def rated(self, rating: int) -> list[tuple[Conversation, Message, str]]:
        """Answers rated ``rating``, oldest first, each with its conversation and the question it answered."""
        out = []
        for conversation in self.list():
            question = ""
            for message in self.messages(conversation.id):
                if message.role == "user":
                    question = message.text
                elif message.rating == rating:
                    out.append((conversation, message, question))
        return sorted(out, key=lambda item: item[1].id)


def astuple_conversation(conversation: Conversation) -> tuple[str, str, float, float]:
    """The row of a conversation."""
    return conversation.id, conversation.title, conversation.created, conversation.updated


# ---------------------------------------------------------------- exports


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def location(passage: Passage) -> str:
    """Where a passage is, for people: "page 3", "slide 2" or the section of a document without pages."""
    from ingest.locations import location_label

    return location_label(passage.source, passage.page, passage.page_end, passage.section)


def export_markdown(conversation: Conversation, messages: list[Message]) -> str:
    """The conversation as Markdown: each question, each answer with its sources (file, place, quoted passage)."""
    lines = [f"# {conversation.title}", "", f"_{_when(conversation.created)} – {_when(conversation.updated)}_", ""]
    for message in messages:
        if message.role == "user":
            lines += [f"## {message.text.strip()}", ""]
            continue
        answer = message.answer
        if answer is None:
            lines += [f"*Error: {message.error}*", ""]
            continue
        if message.searched and message.searched != answer.question:
            lines += [f"*Searched for: {message.searched}*", ""]
        lines += [("> " if answer.quoted else "") + answer.answer.strip(), ""]
        cited = sorted({c.number for c in answer.citations})
        if cited:
            lines.append("**Sources**")
            lines.append("")
            for number in cited:
                passage = answer.passages[number - 1]
                lines.append(f"{number}. {passage.name}, {location(passage)}")
                lines.append("")
                lines.append("   > " + " ".join(passage.text.split()))
                lines.append("")
        if answer.evidence and not answer.quoted:
            lines.append("**Evidence**")
            lines.append("")
            for quote in answer.evidence:
                lines.append(f"- “{' '.join(quote.text.split())}” ({quote.name}, page {quote.page})")
            lines.append("")
        if message.rating:
            mark = "👍" if message.rating > 0 else "👎"
            lines += [f"*Feedback: {mark}{' ' + message.comment if message.comment else ''}*", ""]
    return "\n".join(lines).rstrip() + "\n"


def feedback_gold_rows(store: ConversationStore, rating: int = -1) -> list[dict]:
    """Rated answers (thumbs down by default) as gold-file rows to look at and complete: the question, the
    answer given, its sources; ``expected`` is left empty for a person to fill in."""
    rows = []
    for conversation, message, question in store.rated(rating):
        answer = message.answer
        passages = answer.passages if answer else []
        cited = {c.number for c in answer.citations} if answer else set()
        rows.append(
            {
                "id": f"feedback-{message.id}",
                "query": message.searched or question,
                "question": question,
                "answer": message.text,
                "refused": bool(answer and answer.refused),
                "quoted": bool(answer and answer.quoted),
                "comment": message.comment,
                "sources": [
                    {
                        "number": n,
                        "cited": n in cited,
                        "name": p.name,
                        "source": p.source,
                        "page": p.page,
                        "page_end": max(p.page, p.page_end),
                        "section": p.section,
                        "text": p.text,
                    }
                    for n, p in enumerate(passages, 1)
                ],
                "expected": [],
                "conversation": conversation.title,
                "asked": _when(message.created),
            }
        )
    return rows
