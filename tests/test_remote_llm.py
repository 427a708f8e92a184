"""Generation on an OpenAI-compatible server (rag.remote_llm): llama-cpp-python's own server with SmolLM2, and
real broken servers (connection refused, HTTP 500, a stream cut mid-answer, a server that never answers)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ingest.indexer import index_folder
from rag.answer import QA
from rag.followup import rewrite_question
from rag.llm import Generation, GenerationError, LocalLLM, get_llm
from rag.remote_llm import RemoteLLM
from rag.settings import Settings, get_settings
from tests.conftest import make_pdf
from tests.servers import REPO, broken_server, free_port, llama_cpp_server, refusing_server, silent_server

FACTS = (
    "The Zorblax reactor was built in 1987 in Grenoble. It produces forty megawatts of electric power "
    "for the valley. The chief engineer of the Zorblax reactor is Marie Curien."
)
QUESTION = "When was the Zorblax reactor built?"
HISTORY = [("When was the Zorblax reactor built?", "The Zorblax reactor was built in 1987 [1].")]


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with SmolLM2, for this module."""
    with llama_cpp_server(tmp_path_factory.mktemp("llm")) as url:
        yield url


@pytest.fixture
def indexed(settings: Settings) -> Settings:
    """A data folder whose index holds one real PDF about the Zorblax reactor."""
    make_pdf(settings.docs_dir / "zorblax.pdf", [FACTS])
    report = index_folder(settings.docs_dir, settings)
    assert report.counts["added"] == 1
    return settings


def test_server_streams_and_fills_the_timings(model_server: str) -> None:
    llm = RemoteLLM(model_server)
    assert llm.model_name() == "smollm2"  # the first model the server lists
    stats = Generation()
    messages = [{"role": "user", "content": "Name a colour."}]
    pieces = list(llm.stream_chat(messages, 16, 0.0, stats))
    assert len(pieces) >= 2 and stats.text == "".join(pieces) and stats.text.strip()
    assert stats.finish_reason in ("stop", "length")
    assert 0 < stats.first_token_seconds <= stats.total_seconds
    assert stats.completion_tokens == len(pieces)  # this server does not report usage while streaming


def test_same_prompt_same_answer_as_in_process(indexed: Settings, model_server: str) -> None:
    """Greedy decoding of the same messages by the same model: the server and llama.cpp in process agree, so the
    prompt reached the server unchanged, and the answer goes through the same citation check."""
    greedy = indexed.model_copy(update={"temperature": 0.0, "max_tokens": 48})
    local = QA(greedy, llm=LocalLLM(Path(_smollm2()), greedy.n_ctx, 2)).ask(QUESTION)
    remote_settings = greedy.model_copy(update={"llm_url": model_server})
    remote = QA(remote_settings).ask(QUESTION)
    assert isinstance(get_llm(remote_settings), RemoteLLM)
    assert remote.draft and remote.draft == local.draft
    assert (remote.answer, remote.refused, remote.quoted) == (local.answer, local.refused, local.quoted)
    assert remote.passages[0].name == "zorblax.pdf"
    assert remote.timings["first_token_s"] > 0 and remote.timings["completion_tokens"] > 0


def test_follow_up_rewriting_goes_to_the_server(model_server: str) -> None:
    llm = RemoteLLM(model_server, "smollm2")
    rewritten = rewrite_question("Who is its chief engineer?", HISTORY, llm)
    assert "zorblax" in rewritten.lower(), rewritten


def _smollm2() -> str:
    from rag.llm import resolve_model_path

    return str(resolve_model_path("smollm2-135m"))


# ---------------------------------------------------------------- failures: one exception, a message, no answer


FAILURES = {
    "refused": (refusing_server, "cannot reach the language model server .* \\(connection refused\\): is it running"),
    "http-500": (lambda: broken_server("500"), "answered HTTP 500: .*CUDA out of memory"),
    "cut-chunked": (lambda: broken_server("cut-chunked"), "dropped the connection after 3 pieces"),
    "cut-close": (lambda: broken_server("cut-close"), "closed the stream before the answer was complete"),
    "timeout": (silent_server, "sent nothing for 1 s"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_a_failing_server_raises_one_clear_error_and_saves_no_answer(indexed: Settings, case: str) -> None:
    make, message = FAILURES[case]
    with make() as url:
        settings = indexed.model_copy(update={"llm_url": url, "llm_remote_model": "smollm2", "llm_timeout_s": 1.0})
        qa = QA(settings)
        stream = qa.stream(QUESTION)
        received = []
        with pytest.raises(GenerationError, match=message):
            for piece in stream:
                received.append(piece)
        assert stream.result is None  # nothing half-finished to save or show
        if case.startswith("cut"):
            assert "".join(received) == "The reactor " * 3  # what came before the cut was streamed, then refused


def test_model_lookup_failure_is_the_same_error() -> None:
    with broken_server("500") as url, pytest.raises(GenerationError, match="HTTP 500"):
        RemoteLLM(url, timeout_s=5).model_name()


def test_cli_prints_the_message_and_exits_3_without_traceback(indexed: Settings) -> None:
    env = {**os.environ, "RAG_HOME": str(indexed.home), "RAG_LLM_URL": f"http://127.0.0.1:{free_port()}/v1"}
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", QUESTION], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 3, done.stderr
    assert "error: no answer: cannot reach the language model server" in done.stderr
    assert "Traceback" not in done.stderr and "Sources:" not in done.stdout


def test_app_shows_the_message_and_keeps_no_answer(indexed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with broken_server("500") as url:
        monkeypatch.setenv("RAG_LLM_URL", url)
        monkeypatch.setenv("RAG_LLM_REMOTE_MODEL", "smollm2")
        get_settings.cache_clear()
        at = AppTest.from_file(str(REPO / "app" / "streamlit_app.py"), default_timeout=600)
        at.run()
        assert not at.exception, at.exception
        assert any(
            url in c.value.replace("\\", "").replace("\u2060", "") for c in at.sidebar.caption
        )  # the server, not a model picker
        at.chat_input[0].set_value(QUESTION).run(timeout=600)
        assert not at.exception, at.exception
        turn = at.session_state["messages"][-1]
        assert turn.get("answer") is None and turn.get("error"), turn  # saved as an error, never a half answer
        errors = [e.value.replace("\\", "").replace("\u2060", "") for e in at.main.error]  # markdown-escaped
        assert any("answered HTTP 500" in e and "Traceback" not in e for e in errors), errors


def test_url_forms_and_no_credentials_in_messages() -> None:
    assert RemoteLLM("http://127.0.0.1:8080").url == "http://127.0.0.1:8080/v1"
    assert RemoteLLM("http://127.0.0.1:8080/v1/").url == "http://127.0.0.1:8080/v1"
    assert RemoteLLM("https://example.org/v1beta/openai").url == "https://example.org/v1beta/openai"
    with refusing_server() as url:
        secret = url.replace("http://", "http://user:hunter2@")
        with pytest.raises(GenerationError, match="cannot reach") as caught:
            list(
                RemoteLLM(secret, "m", timeout_s=5).stream_chat(
                    [{"role": "user", "content": "hi"}], 4, 0.0, Generation()
                )
            )
        assert "hunter2" not in str(caught.value) and url in str(caught.value)
