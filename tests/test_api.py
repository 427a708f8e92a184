"""``rag serve`` (rag.api): a real uvicorn process on a free localhost port, real index of fpdf2 PDFs, real
SmolLM2, and the ``openai`` SDK as the chat client; TestClient in process where a socket adds nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from ingest.indexer import index_folder
from rag.api import create_app
from rag.settings import Settings
from tests.conftest import make_pdf
from tests.servers import llama_cpp_server, rag_server, refusing_server, silent_server

KEY = "s3cret-test-key"
FACTS = (
    "The Zorblax reactor was built in 1987 in Grenoble. It produces forty megawatts of electric power "
    "for the valley. The chief engineer of the Zorblax reactor is Marie Curien."
)
OTHER = "Bananas ripen faster in a paper bag because of the ethylene gas they release."
QUESTION = "When was the Zorblax reactor built?"
TIMEOUT = 600  # the machine may be busy


def data_home(root: Path) -> Path:
    """A data folder whose index holds two real PDFs."""
    settings = Settings(home=root, llm_model="smollm2-135m")
    make_pdf(settings.docs_dir / "zorblax.pdf", [FACTS])
    make_pdf(settings.docs_dir / "bananas.pdf", [OTHER])
    assert index_folder(settings.docs_dir, settings).counts["added"] == 2
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``rag serve`` with an API key, the local SmolLM2 and two indexed PDFs."""
    home = data_home(tmp_path_factory.mktemp("home"))
    env = {"RAG_HOME": str(home), "RAG_LLM_MODEL": "smollm2-135m", "RAG_API_KEY": KEY, "RAG_LLM_URL": ""}
    with rag_server(env, home / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key=KEY, max_retries=0, timeout=TIMEOUT)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


def test_health_is_open_and_docs_are_served(server: str) -> None:
    health = httpx.get(f"{server}/health").json()
    assert health["status"] == "ok" and health["documents"] == 2 and health["generation_workers"] == 1
    assert "llama.cpp in process" in health["llm"]
    assert httpx.get(f"{server}/docs").status_code == 200
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    assert {"/v1/chat/completions", "/search", "/documents", "/documents/{name}", "/health"} <= set(paths)


def test_bearer_token_required(server: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        reply = httpx.get(f"{server}/documents", headers=headers)
        assert reply.status_code == 401, headers
        assert reply.headers["www-authenticate"] == "Bearer"
        assert "API key" in reply.json()["error"]["message"]
    reply = httpx.get(f"{server}/documents", headers=auth())
    assert reply.status_code == 200
    assert sorted(d["name"] for d in reply.json()) == ["bananas.pdf", "zorblax.pdf"]
    wrong = openai.OpenAI(base_url=f"{server}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="local-doc-qa", messages=[{"role": "user", "content": QUESTION}])


def test_chat_completion_with_citations(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="local-doc-qa", messages=[{"role": "user", "content": QUESTION}])
    content = completion.choices[0].message.content
    extra = completion.model_extra
    assert content and completion.choices[0].finish_reason == "stop"
    assert extra["rag"]["passages"][0]["name"] == "zorblax.pdf"
    assert not extra["rag"]["refused"], content
    assert extra["citations"], content
    for citation in extra["citations"]:  # each [n] of the text is passage n: file, page and text
        assert f"[{citation['number']}]" in content
        passage = extra["rag"]["passages"][citation["number"] - 1]
        assert (citation["name"], citation["page"], citation["text"]) == (passage["name"], 1, passage["text"])
    assert extra["evidence"] and "1987" in extra["evidence"][0]["text"]
    if not extra["rag"]["quoted"]:
        assert completion.usage.completion_tokens > 0


def test_streaming_sends_evidence_first_then_the_same_checked_answer(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    whole = client.chat.completions.create(model="local-doc-qa", messages=messages)
    chunks = list(client.chat.completions.create(model="local-doc-qa", messages=messages, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[1].model_extra["evidence"] and not chunks[1].choices[0].delta.content  # before the model ran
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content  # same question, same seed: the same checked answer
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"] == whole.model_extra["citations"]


def test_follow_up_is_rewritten_from_the_conversation(client: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "ignored: the prompt is the server's"},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "The Zorblax reactor was built in 1987 [1]."},
        {"role": "user", "content": "Who is its chief engineer?"},
    ]
    completion = client.chat.completions.create(model="local-doc-qa", messages=messages)
    searched = completion.model_extra["rag"]["question"]
    assert "zorblax" in searched.lower(), searched
    assert completion.model_extra["rag"]["passages"][0]["name"] == "zorblax.pdf"


def test_concurrent_questions_are_serialised_and_all_answered(client: openai.OpenAI) -> None:
    """llama.cpp in process is not thread-safe: three questions at once queue and give the same answer."""
    answers: list[str | None] = [None] * 3

    def ask(i: int) -> None:
        completion = client.chat.completions.create(
            model="local-doc-qa", messages=[{"role": "user", "content": QUESTION}]
        )
        answers[i] = completion.choices[0].message.content

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert answers[0] and answers.count(answers[0]) == 3, answers


def test_bad_chat_requests_get_400(server: str) -> None:
    url = f"{server}/v1/chat/completions"
    last_not_user = {"messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "x"}]}
    assert httpx.post(url, json=last_not_user, headers=auth()).status_code == 400
    assert httpx.post(url, json={"messages": []}, headers=auth()).status_code == 422
    assert httpx.post(url, json={"messages": [{"role": "user", "content": " "}]}, headers=auth()).status_code == 400


def test_search(server: str) -> None:
    reply = httpx.get(f"{server}/search", params={"q": "ethylene bananas", "k": 1}, headers=auth())
    assert reply.status_code == 200
    passages = reply.json()["passages"]
    assert len(passages) == 1 and passages[0]["name"] == "bananas.pdf" and passages[0]["page"] == 1
    assert httpx.get(f"{server}/search", params={"q": "x", "k": 0}, headers=auth()).status_code == 422
    assert httpx.get(f"{server}/search", headers=auth()).status_code == 422


def test_upload_checks_indexes_and_delete(server: str, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "steam.pdf", ["The Kelvar steam boiler runs at 180 degrees Celsius."]).read_bytes()
    files = [
        ("files", ("../../steam.pdf", pdf, "application/pdf")),  # a path in the name is dropped
        ("files", ("fake.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")),
    ]
    reply = httpx.post(f"{server}/documents", files=files, headers=auth(), timeout=TIMEOUT)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["stored"] == ["steam.pdf"] and body["counts"]["added"] == 1
    assert body["rejected"] == [{"name": "fake.pdf", "reason": "not a PDF: the file does not start with a PDF header"}]
    names = [d["name"] for d in httpx.get(f"{server}/documents", headers=auth()).json()]
    assert sorted(names) == ["bananas.pdf", "steam.pdf", "zorblax.pdf"]
    hit = httpx.get(f"{server}/search", params={"q": "Kelvar boiler temperature", "k": 1}, headers=auth()).json()
    assert hit["passages"][0]["name"] == "steam.pdf"

    only_bad = [("files", ("notes.txt", b"\x00\x01\x02 binary", "text/plain"))]
    reply = httpx.post(f"{server}/documents", files=only_bad, headers=auth())
    assert reply.status_code == 422 and reply.json()["rejected"][0]["reason"] == "binary content in a text file"

    source = Path(next(d["source"] for d in httpx.get(f"{server}/documents", headers=auth()).json()))
    assert source.parent.name == "docs"
    reply = httpx.delete(f"{server}/documents/steam.pdf", headers=auth())
    assert reply.status_code == 200 and reply.json()["removed"].endswith("steam.pdf")
    assert not (source.parent / "steam.pdf").exists()
    assert httpx.delete(f"{server}/documents/steam.pdf", headers=auth()).status_code == 404
    assert httpx.get(f"{server}/health").json()["documents"] == 2


# ---------------------------------------------------------------- generation on a model server, in process


def test_a_failing_model_server_gives_a_message_not_an_answer(tmp_path: Path) -> None:
    with refusing_server() as url:
        settings = Settings(home=data_home(tmp_path / "home"), llm_url=url, llm_remote_model="m", llm_timeout_s=5)
        with TestClient(create_app(settings)) as http:
            body = {"messages": [{"role": "user", "content": QUESTION}]}
            reply = http.post("/v1/chat/completions", json=body)
            assert reply.status_code == 502
            assert "no answer: cannot reach the language model server" in reply.json()["error"]["message"]
            with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as streamed:
                events = [line for line in streamed.iter_lines() if line.startswith("data: ")]
            assert '"error"' in events[-1] and "connection refused" in events[-1]
            assert not any('"content"' in e for e in events) and "[DONE]" not in events[-1]


def test_answers_through_llama_cpp_server(tmp_path: Path) -> None:
    """The "one server" shape: this API in front of llama-cpp-python's OpenAI-compatible server."""
    home = data_home(tmp_path / "home")
    with llama_cpp_server(tmp_path) as url:
        settings = Settings(home=home, llm_url=url, llm_concurrency=2)
        with TestClient(create_app(settings)) as http:
            assert http.get("/health").json()["generation_workers"] == 2
            reply = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]})
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert body["choices"][0]["message"]["content"]
            assert body["rag"]["passages"][0]["name"] == "zorblax.pdf"
            assert body["rag"]["timings"]["first_token_s"] > 0


def test_questions_beyond_the_queue_get_503(tmp_path: Path) -> None:
    """One worker, no waiting room: while a question waits on a model server that never answers, the next one is
    refused with 503 and Retry-After; the first ends with 502 when the server's timeout passes."""
    with silent_server() as url:
        settings = Settings(
            home=data_home(tmp_path / "home"), llm_url=url, llm_remote_model="m", llm_timeout_s=3, api_max_waiting=0
        )
        settings = settings.model_copy(update={"llm_concurrency": 1})
        with TestClient(create_app(settings)) as http:
            body = {"messages": [{"role": "user", "content": QUESTION}]}
            first: list[httpx.Response] = []
            thread = threading.Thread(target=lambda: first.append(http.post("/v1/chat/completions", json=body)))
            thread.start()
            while http.get("/health").json()["pending_questions"] == 0 and thread.is_alive():
                threading.Event().wait(0.05)
            second = http.post("/v1/chat/completions", json=body)
            thread.join(TIMEOUT)
            assert second.status_code == 503 and second.headers["retry-after"] == "5"
            assert "waiting for the model" in second.json()["error"]["message"]
            assert first[0].status_code == 502 and "sent nothing for 3 s" in first[0].json()["error"]["message"]
