"""Run text extraction in a worker process with a time and a memory limit per file.

One evil file (a decompression bomb, a PDF that sends a parser into a loop) must not hang or
exhaust the app. :func:`guarded_extract` sends each file to a long-lived worker process
(``python -m ingest.parse_guard``, reused across files and runs, so the cost per file is one
round trip over a pipe). The worker caps its address space with ``RLIMIT_AS``; the parent waits
at most ``parse_timeout_s`` (plus ``ocr_page_timeout_s`` per page announced for OCR) and kills
the worker's whole process group when that passes. A dead worker is started again for the
next file.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from ingest.extract import ExtractionError, ExtractOptions, extract_document
from ingest.records import Document, Page
from rag.settings import REPO_ROOT, Settings

_HEADER = struct.Struct("!I")
STARTUP_TIMEOUT_S = 120.0
"""A new worker (python + pypdf + pypdfium2 imports) must report ready within this time."""


def options_from(settings: Settings) -> ExtractOptions:
    """Extraction options taken from the settings."""
    return ExtractOptions(
        ocr=settings.ocr_enabled,
        tesseract=settings.ocr_tesseract,
        ocr_languages=settings.ocr_languages,
        ocr_dpi=settings.ocr_dpi,
        ocr_max_pages=settings.ocr_max_pages,
        ocr_page_timeout_s=settings.ocr_page_timeout_s,
        max_unpacked_mb=settings.max_unpacked_mb,
    )


class ParseGuard:
    """A reusable worker process that extracts one file at a time under limits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._memory_mb = 0

    def extract(self, path: Path, source: str, settings: Settings) -> Document:
        """The document at ``path``; raises :class:`ExtractionError` (also for timeouts and memory exhaustion)."""
        request = (str(Path(path).absolute()), source, options_from(settings))
        with self._lock:
            proc = self._worker(settings.parse_memory_mb)
            try:
                _send(proc.stdin, request)
            except OSError:
                self._kill()
                proc = self._worker(settings.parse_memory_mb)
                _send(proc.stdin, request)
            deadline = time.monotonic() + settings.parse_timeout_s
            while True:
                try:
                    message = _receive(proc.stdout, deadline)
                except TimeoutError:
                    self._kill()
                    raise ExtractionError(f"parsing took longer than {settings.parse_timeout_s:g} s") from None
                except EOFError:
                    code = self._kill()
                    raise ExtractionError(_crash_reason(code, settings.parse_memory_mb)) from None
                kind = message[0]
                if kind == "ocr":
                    deadline += message[1] * settings.ocr_page_timeout_s
                elif kind == "ok":
                    return message[1]
                elif kind == "memory":
                    self._kill()
                    raise ExtractionError(f"parsing needed more than {settings.parse_memory_mb} MB of memory")
                else:
                    raise ExtractionError(message[1])

    def close(self) -> None:
        """Stop the worker (a later call starts a new one)."""
        with self._lock:
            self._kill()

    def _worker(self, memory_mb: int) -> subprocess.Popen[bytes]:
        if self._proc is not None and (self._proc.poll() is not None or self._memory_mb != memory_mb):
            self._kill()
        if self._proc is None:
            env = dict(os.environ, RAG_PARSE_MEMORY_MB=str(memory_mb), PYTHONPATH=_pythonpath())
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "ingest.parse_guard"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
            self._memory_mb = memory_mb
            try:  # the per-file clock starts once the worker has imported everything
                ready = _receive(self._proc.stdout, time.monotonic() + STARTUP_TIMEOUT_S)
            except (TimeoutError, EOFError):
                ready = None
            if ready != ("ready",):
                self._kill()
                raise ExtractionError(f"the parsing process could not start (memory limit {memory_mb} MB too low?)")
        return self._proc

    def _kill(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        return proc.wait()


def _pythonpath() -> str:
    parts = [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(p for p in parts if p)


def _crash_reason(code: int | None, memory_mb: int) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return f"the parser crashed on this file (signal {name}; out of memory? limit {memory_mb} MB)"
    return f"the parser stopped unexpectedly (exit code {code})"


_GUARD = ParseGuard()
atexit.register(_GUARD.close)


def guarded_extract(path: Path, source: str, settings: Settings) -> list[Page]:
    """The pages of :func:`guarded_extract_document`."""
    return _GUARD.extract(path, source, settings).pages


def guarded_extract_document(path: Path, source: str, settings: Settings) -> Document:
    """:func:`ingest.extract.extract_document` in the shared worker, under the settings' limits."""
    return _GUARD.extract(path, source, settings)


# --- wire format: 4-byte length + pickle ------------------------------------------------------


def _send(stream: BinaryIO | None, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exact(stream: BinaryIO, size: int, deadline: float | None) -> bytes:
    fd = stream.fileno()
    parts: list[bytes] = []
    while size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            raise EOFError
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _receive(stream: BinaryIO | None, deadline: float | None) -> Any:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size, deadline))
    return pickle.loads(_read_exact(stream, size, deadline))


# --- the worker ---------------------------------------------------------------------------------


def _limit_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    import resource

    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _serve() -> None:
    # The protocol owns the real stdout; anything a library prints goes to stderr instead.
    inbox = os.fdopen(os.dup(0), "rb", buffering=0)
    outbox = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _limit_memory(int(os.environ.get("RAG_PARSE_MEMORY_MB", "0") or 0))
    _send(outbox, ("ready",))
    while True:
        try:
            path, source, options = _receive(inbox, None)
        except EOFError:
            return
        try:
            document = extract_document(Path(path), source, options, on_ocr=lambda n: _send(outbox, ("ocr", n)))
            reply: tuple = ("ok", document)
        except ExtractionError as exc:
            reply = ("error", str(exc))
        except MemoryError:
            reply = ("memory", "")
        except FileNotFoundError:
            reply = ("error", "the file was removed or moved while indexing")
        except OSError as exc:
            reply = ("error", f"cannot read file: {exc.strerror or exc}")
        except RecursionError:
            reply = ("error", "damaged PDF (its structure nests too deeply to read)")
        except Exception as exc:
            reply = ("error", f"unexpected error: {type(exc).__name__}: {exc}"[:300])
        try:
            _send(outbox, reply)
        except MemoryError:
            _send(outbox, ("memory", ""))
        if reply[0] == "memory":
            return


if __name__ == "__main__":
    _serve()
