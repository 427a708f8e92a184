"""Generation on an OpenAI-compatible server (llama.cpp's server, vLLM, Ollama, ...) through ``/chat/completions``.

Spoken with httpx rather than the ``openai`` SDK: the answer must be known complete (a stream that stops
without ``finish_reason`` or ``[DONE]`` is an error here, while the SDK ends such a stream quietly), and every
failure must become one :class:`~rag.llm.GenerationError` with a sentence for the user.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from rag.llm import Generation, GenerationError, public_url

ERROR_BODY_CHARS = 300
"""An error reply's body is quoted up to this many characters."""


class RemoteLLM:
    """A chat model behind an OpenAI-compatible HTTP endpoint; safe to call from several threads."""

    def __init__(self, url: str, model: str = "", api_key: str = "", timeout_s: float = 120.0) -> None:
        self.url = url.rstrip("/")
        if urlsplit(self.url).path == "":  # http://host:8080 -> http://host:8080/v1; other paths are kept
            self.url += "/v1"
        self.where = public_url(self.url)
        """The URL as messages show it (no credentials)."""
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout_s = timeout_s
        self.client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)))
        self._model_lock = threading.Lock()

    def model_name(self) -> str:
        """The configured model, or the first one the server lists (asked once)."""
        with self._model_lock:
            if not self.model:
                reply = self._request("GET", "/models")
                try:
                    self.model = str(reply.json()["data"][0]["id"])
                except (ValueError, KeyError, IndexError, TypeError):
                    raise GenerationError(
                        f"the language model server at {self.where} lists no model: set RAG_LLM_REMOTE_MODEL"
                    ) from None
            return self.model

    def _request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        with self._errors():
            reply = self.client.request(method, self.url + path, **kwargs)
            if reply.status_code >= 400:
                raise GenerationError(_status_message(self.where, reply.status_code, reply.text))
            return reply

    def stream_chat(
        self, messages: list[dict], max_tokens: int, temperature: float, stats: Generation
    ) -> Iterator[str]:
        """Yield text pieces as the server streams them, filling ``stats`` (token counts when the server reports
        them, else pieces received); raise :class:`GenerationError` if the answer does not arrive whole."""
        body = {
            "model": self.model_name(),
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": 0.9,
            "seed": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        started = time.perf_counter()
        finished = False
        with self._errors(stats), self.client.stream("POST", self.url + "/chat/completions", json=body) as reply:
            if reply.status_code >= 400:
                text = reply.read().decode(errors="replace")
                raise GenerationError(_status_message(self.where, reply.status_code, text))
            for data in _sse_data(reply.iter_lines()):
                if data == "[DONE]":
                    finished = True
                    break
                event = _parse_event(data, self.where)
                _read_usage(event, stats)
                for choice in event.get("choices") or []:
                    if choice.get("finish_reason"):
                        stats.finish_reason = choice["finish_reason"]
                        finished = True
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if not piece:
                        continue
                    if not stats.text_parts:
                        stats.first_token_seconds = time.perf_counter() - started
                    stats.text_parts.append(piece)
                    if not stats.usage_reported:
                        stats.completion_tokens += 1
                    yield piece
        stats.total_seconds = time.perf_counter() - started
        if not finished:
            raise GenerationError(
                f"the language model server at {self.where} closed the stream before the answer was complete "
                f"({len(stats.text_parts)} pieces received); the partial answer was discarded"
            )

    def _errors(self, stats: Generation | None = None) -> _ErrorTranslator:
        return _ErrorTranslator(self, stats)


class _ErrorTranslator:
    """Context manager turning httpx failures into :class:`GenerationError` with a message for the user."""

    def __init__(self, llm: RemoteLLM, stats: Generation | None) -> None:
        self.llm, self.stats = llm, stats

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, _tb: object) -> bool:
        if exc is None or isinstance(exc, GenerationError | GeneratorExit) or not isinstance(exc, httpx.HTTPError):
            return False
        url = self.llm.where
        got = f" after {len(self.stats.text_parts)} pieces" if self.stats and self.stats.text_parts else ""
        if isinstance(exc, httpx.ConnectTimeout):
            message = f"could not connect to the language model server at {url} within {self.llm.timeout_s:g} s"
        elif isinstance(exc, httpx.TimeoutException):
            message = (
                f"the language model server at {url} sent nothing for {self.llm.timeout_s:g} s{got} "
                "(RAG_LLM_TIMEOUT_S); the answer was abandoned"
            )
        elif isinstance(exc, httpx.ConnectError):
            message = f"cannot reach the language model server at {url} ({_reason(exc)}): is it running?"
        elif isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            message = (
                f"the language model server at {url} dropped the connection{got} ({_reason(exc)}); "
                "the partial answer was discarded"
            )
        else:
            message = f"request to the language model server at {url} failed: {_reason(exc)}"
        raise GenerationError(message) from exc


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return "connection refused" if "refused" in text.lower() else text


def _status_message(url: str, status: int, body: str) -> str:
    detail = " ".join(body.split())[:ERROR_BODY_CHARS]
    return f"the language model server at {url} answered HTTP {status}" + (f": {detail}" if detail else "")


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The ``data:`` payloads of a server-sent-event stream (multi-line payloads joined; comments skipped)."""
    parts: list[str] = []
    for line in lines:
        if not line:
            if parts:
                yield "\n".join(parts)
                parts = []
        elif line.startswith("data:"):
            parts.append(line[5:].removeprefix(" "))
    if parts:
        yield "\n".join(parts)


def _parse_event(data: str, url: str) -> dict:
    try:
        event = json.loads(data)
    except ValueError:
        raise GenerationError(f"the language model server at {url} sent an unreadable event: {data[:120]!r}") from None
    if not isinstance(event, dict):
        raise GenerationError(f"the language model server at {url} sent an unexpected event: {data[:120]!r}")
    if event.get("error"):
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise GenerationError(f"the language model server at {url} failed mid-answer: {message}")
    return event


def _read_usage(event: dict, stats: Generation) -> None:
    """Token counts from an OpenAI ``usage`` object, or llama.cpp server ``timings``, when the server sends them."""
    usage = event.get("usage")
    if isinstance(usage, dict) and usage.get("completion_tokens") is not None:
        stats.usage_reported = True
        stats.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        stats.completion_tokens = int(usage["completion_tokens"])
        details = usage.get("prompt_tokens_details") or {}
        stats.cached_tokens = int(details.get("cached_tokens") or 0)
    timings = event.get("timings")
    if isinstance(timings, dict) and "cache_n" in timings:
        stats.cached_tokens = int(timings["cache_n"])
