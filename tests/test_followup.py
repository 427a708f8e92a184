"""Follow-up questions rewritten into standalone ones (rag.followup)."""

from __future__ import annotations

import pytest

from rag.followup import MAX_NEW_TOKENS, build_rewrite_messages, clean_rewrite, rewrite_question
from rag.llm import Generation, get_llm, installed_models
from rag.settings import Settings


class StandIn:
    """Replies with a fixed text and records what it was asked (UI-logic tests only)."""

    def __init__(self, reply: str) -> None:
        self.reply, self.calls = reply, []

    def stream_chat(self, messages, max_tokens, temperature, stats: Generation):
        self.calls.append((messages, max_tokens, temperature))
        stats.text_parts.append(self.reply)
        yield self.reply


HISTORY = [("When was the Zorblax reactor built?", "The Zorblax reactor was built in 1987 [1].")]


def test_no_history_means_no_model_call() -> None:
    llm = StandIn("something else")
    assert rewrite_question("  What is X?  ", [], llm) == "What is X?"
    assert llm.calls == []


def test_rewrite_is_cheap_and_cleaned() -> None:
    llm = StandIn('Standalone question: "Who is the chief engineer of the Zorblax reactor?"\nExtra line')
    assert rewrite_question("Who is its chief engineer?", HISTORY, llm) == (
        "Who is the chief engineer of the Zorblax reactor?"
    )
    messages, max_tokens, temperature = llm.calls[0]
    assert max_tokens == MAX_NEW_TOKENS <= 48 and temperature == 0.0
    assert "Zorblax reactor was built in 1987" in messages[-1]["content"] and "[1]" not in messages[-1]["content"]


@pytest.mark.parametrize("reply", ["", "   \n  ", "The documents do not say.", "word " * 200])
def test_unusable_output_falls_back(reply: str) -> None:
    assert rewrite_question("Who is its chief engineer?", HISTORY, StandIn(reply)) == "Who is its chief engineer?"


def test_example_follows_question_language() -> None:
    assert "Victor Hugo" in build_rewrite_messages("And where is it?", HISTORY)[2]["content"]
    assert "projet Atlas" in build_rewrite_messages("Et où se trouve-t-il ?", HISTORY)[2]["content"]
    assert clean_rewrite("« Où est le réacteur ? »") == "Où est le réacteur ?"


@pytest.mark.skipif("smollm2-135m" not in installed_models(), reason="SmolLM2 model package not installed")
def test_real_model_resolves_the_pronoun(settings: Settings) -> None:
    rewritten = rewrite_question("Who is its chief engineer?", HISTORY, get_llm(settings, "smollm2-135m"))
    assert "zorblax" in rewritten.lower(), rewritten


@pytest.mark.slow
def test_default_model_names_what_that_refers_to(settings: Settings) -> None:
    """The default 1.5B model, with the worked examples, replaces "that version" by the version the conversation
    named (with one example, it gave such follow-ups back unchanged)."""
    history = [
        ("Which router model and firmware does the lab use?", "The lab uses the RX-900 router with firmware 2.1 [1]."),
    ]
    rewritten = rewrite_question("When was that firmware released?", history, get_llm(settings, "qwen2.5-coder-1.5b"))
    assert "2.1" in rewritten or "rx-900" in rewritten.lower(), rewritten
