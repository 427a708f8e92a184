"""Follow-up questions ("and in 2023?") rewritten into standalone questions before retrieval."""

from __future__ import annotations

import re

from rag.citations import strip_markers
from rag.language import detect_language
from rag.llm import ChatModel, Generation
from rag.prompt import is_refusal

MAX_TURNS = 3
"""Previous turns shown to the model."""
MAX_ANSWER_CHARS = 300
"""Each previous answer is trimmed to this many characters."""
MAX_NEW_TOKENS = 48

SYSTEM = (
    "Rewrite the user's last question so that it can be understood without the conversation: "
    "replace every pronoun and every vague word with the exact names the conversation gives. "
    "Keep the question's language. Do not answer it. Reply with the rewritten question only."
)

EXAMPLES = {
    "en": (
        (
            "User: Who wrote Les Misérables?\nAssistant: Victor Hugo wrote it in 1862.",
            "When was he born?",
            "When was Victor Hugo born?",
        ),
        (
            "User: What is the warranty on the Z3 drill?\nAssistant: The Z3 drill has a 2-year warranty.",
            "Does that cover the battery?",
            "Does the warranty on the Z3 drill cover the battery?",
        ),
        (
            "User: Which version of the safety standard applies?\nAssistant: Version 5 of standard ISO-9 applies.",
            "When was that version published?",
            "When was version 5 of standard ISO-9 published?",
        ),
    ),
    "fr": (
        (
            "User: Quel est le budget du projet Atlas ?\nAssistant: Le budget est de 2 millions d'euros.",
            "Et sa durée ?",
            "Quelle est la durée du projet Atlas ?",
        ),
        (
            "User: Quelle garantie couvre la perceuse Z3 ?\nAssistant: La perceuse Z3 est garantie 2 ans.",
            "Est-ce que cela couvre la batterie ?",
            "Est-ce que la garantie de la perceuse Z3 couvre la batterie ?",
        ),
        (
            "User: Quelle version de la norme de sécurité s'applique ?\nAssistant: La version 5 de la norme ISO-9.",
            "Quand cette version a-t-elle été publiée ?",
            "Quand la version 5 de la norme ISO-9 a-t-elle été publiée ?",
        ),
    ),
}
"""Worked examples per language (a person, a thing, "that version"): small models follow examples far better than
an instruction. With the first alone, Qwen2.5-Coder-1.5B resolved what "that" or "their" meant in 1 of the 9 shared
follow-ups; with the three, in 3 (``bench/followup_search.py``)."""

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
    messages = [{"role": "system", "content": SYSTEM}]
    for conversation, asked, rewritten in EXAMPLES[detect_language(question)]:
        messages.append({"role": "user", "content": _request(conversation, asked)})
        messages.append({"role": "assistant", "content": rewritten})
    messages.append({"role": "user", "content": _request("\n".join(lines), question)})
    return messages


def _request(conversation: str, question: str) -> str:
    return f"Conversation:\n{conversation}\n\nLast question: {question}"


def clean_rewrite(text: str) -> str:
    """The first non-empty line of a model reply, without labels or quotes."""
    for line in text.strip().splitlines():
        line = _PREFIX.sub("", line.strip()).strip().strip("\"'«»“”").strip()
        if line:
            return line
    return ""


def rewrite_question(question: str, history: list[tuple[str, str]], llm: ChatModel | None) -> str:
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
    if not rewritten or len(rewritten) > 3 * len(question) + 120 or is_refusal(rewritten):
        return question
    return rewritten


def search_context(history: list[tuple[str, str]]) -> str:
    """What a follow-up's search also reads (``Retriever.search(context=...)``): the previous standalone question.
    A small model's rewrite often leaves "that" in place ("How tight is the tolerance on that?"); the question
    before it names what "that" is."""
    return history[-1][0] if history else ""
