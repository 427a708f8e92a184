"""Real servers for tests, on 127.0.0.1 and free ports, always stopped: llama-cpp-python's OpenAI-compatible
server with SmolLM2, ``rag serve`` (uvicorn), and small broken model servers (HTTP 500, a stream cut in the
middle, a server that never answers)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from rag.llm import installed_models, resolve_model_path

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 180  # the machine may be busy


def free_port() -> int:
    """A TCP port nobody listens on at the moment of the call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll ``url`` until it answers 200, or fail with the server's log when it died or took too long."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"server not up after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running(command: list[str], health_url: str, log: Path, env: dict | None = None) -> Iterator[None]:
    """Run ``command`` until the block ends; it is terminated (killed if need be) whatever happens."""
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    try:
        wait_until_up(health_url, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def llama_cpp_server(log_dir: Path) -> Iterator[str]:
    """``python -m llama_cpp.server`` serving SmolLM2-135M; yields its base URL (``http://127.0.0.1:PORT/v1``).

    Skips the test when the model package or the server's dependencies are missing.
    """
    if "smollm2-135m" not in installed_models():
        pytest.skip("SmolLM2 model package not installed")
    pytest.importorskip("sse_starlette", reason="llama-cpp-python's server dependencies are not installed")
    port = free_port()
    model = resolve_model_path("smollm2-135m")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_ctx", "4096", "--n_threads", "2", "--model_alias", "smollm2"]
    with running(command, f"http://127.0.0.1:{port}/v1/models", log_dir / "llama-server.log"):
        yield f"http://127.0.0.1:{port}/v1"


def serve_command(port: int) -> list[str]:
    """``rag serve`` of this checkout (the worktree's code, not an installed one)."""
    return [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]


@contextlib.contextmanager
def rag_server(env: dict[str, str], log: Path) -> Iterator[str]:
    """``rag serve`` with ``env`` added to the environment, on a free port; yields its base URL."""
    port = free_port()
    with running(serve_command(port), f"http://127.0.0.1:{port}/health", log, {**os.environ, **env}):
        yield f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------- broken model servers


CHUNK = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "The reactor "}}]}


class _Broken(BaseHTTPRequestHandler):
    """Answers every request the way ``self.server.mode`` says."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._reply()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply()

    def _reply(self) -> None:
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "500":
            body = b'{"error": {"message": "CUDA out of memory (simulated)"}}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        if mode == "cut-chunked":  # chunked encoding, the connection closed before the last chunk
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(3):
                event = f"data: {json.dumps(CHUNK)}\n\n".encode()
                self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                self.wfile.flush()
        else:  # "cut-close": body delimited by closing the connection, which happens before [DONE]
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(3):
                self.wfile.write(f"data: {json.dumps(CHUNK)}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def broken_server(mode: str) -> Iterator[str]:
    """A model server that fails in ``mode`` ("500", "cut-chunked", "cut-close"); yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    server.mode = mode  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A socket that accepts connections (the kernel's backlog) but never answers; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@contextlib.contextmanager
def refusing_server() -> Iterator[str]:
    """A base URL on a port nobody listens on (connection refused)."""
    yield f"http://127.0.0.1:{free_port()}/v1"
