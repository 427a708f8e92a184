"""Follow-up questions ("and in 2023?") rewritten into standalone questions before retrieval."""

from __future__ import annotations

import re

from rag.citations import strip_markers
from rag.llm import Generation, LocalLLM

MAX_TURNS = 3
"""Previous turns shown to the model."""
MAX_ANSWER_CHARS = 300
"""Each previous answer is trimmed to this many characters."""
MAX_NEW_TOKENS = 48

SYSTEM = (
    "You rewrite the user's last question so that it can be understood without the conversation. "
    "Replace pronouns and vague references with what they refer to. Keep the question's language. "
    "Do not answer it. Reply with the rewritten question only, on one line."
)

_PREFIX = re.compile(r"^(standalone question|rewritten question|question|question autonome)\s*:\s*", re.IGNORECASE)


def _trim(text: str, limit: int) -> str:
    text = " ".join(strip_markers(text).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def build_rewrite_messages(question: str, history: list[tuple[str, str]]) -> list[dict]:
    """Chat messages asking for a standalone version of ``question`` given ``(question, answer)`` turns."""
    lines = []
    for asked, answered in history[-MAX_TURNS:]:
        lines.append(f"User: {_trim(asked, MAX_ANSWER_CHARS)}")
        lines.append(f"Assistant: {_trim(answered, MAX_ANSWER_CHARS)}")
    user = "Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {question}\n\nStandalone question:"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def clean_rewrite(text: str) -> str:
    """The first non-empty line of a model reply, without labels or quotes."""
    for line in text.strip().splitlines():
        line = _PREFIX.sub("", line.strip()).strip().strip("\"'«»“”").strip()
        if line:
            return line
    return ""


def rewrite_question(question: str, history: list[tuple[str, str]], llm: LocalLLM | None) -> str:
    """``question`` made standalone using the previous ``(question, answer)`` turns.

    Without history (or model) the question is returned unchanged, and so it is when the model
    replies with nothing usable.
    """
    question = question.strip()
    if not history or llm is None or not question:
        return question
    stats = Generation()
    for _ in llm.stream_chat(build_rewrite_messages(question, history), MAX_NEW_TOKENS, 0.0, stats):
        pass
    rewritten = clean_rewrite(stats.text)
    if not rewritten or len(rewritten) > 4 * len(question) + 200:
        return question
    return rewritten
