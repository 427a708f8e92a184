"""OCR of PDF pages without a usable text layer: pypdfium2 renders, the Tesseract binary reads.

Tesseract is called as a subprocess (Debian packages ``tesseract-ocr``, ``tesseract-ocr-eng``,
``tesseract-ocr-fra``); no Python wrapper is needed. Every call has a timeout, the rendered
image has a pixel cap, and Tesseract runs single-threaded so it shares the CPU politely.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache

import numpy as np
import pypdfium2

OCR_UNAVAILABLE = "no text layer; OCR unavailable (install tesseract-ocr)"
MAX_PIXELS = 25_000_000
"""A page is rendered with at most this many pixels (a 300 dpi A4 page has about 8.7 million)."""


class OcrError(Exception):
    """OCR could not run on a page; the message is user-facing."""


def tesseract_path(command: str = "tesseract") -> str | None:
    """The tesseract binary (a command name or a path), or None when it is not installed."""
    return shutil.which(command) if command else None


@lru_cache(maxsize=8)
def available_languages(binary: str) -> frozenset[str]:
    """Language packs the given tesseract binary can use."""
    try:
        out = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    lines = (out.stdout + out.stderr).splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and " " not in line.strip())


def usable_languages(binary: str, wanted: str) -> str:
    """``wanted`` ("eng+fra") restricted to installed packs; raises :class:`OcrError` when none is installed."""
    have = available_languages(binary)
    langs = [lang for lang in wanted.split("+") if lang and lang in have]
    if not langs:
        raise OcrError(f"OCR languages '{wanted}' are not installed (install tesseract-ocr-eng / tesseract-ocr-fra)")
    return "+".join(langs)


def render_page(page: pypdfium2.PdfPage, dpi: int) -> tuple[bytes, int]:
    """``page`` as a greyscale PGM image and its resolution: ``dpi``, lowered for huge pages (MAX_PIXELS)."""
    width, height = page.get_size()
    scale = dpi / 72
    pixels = width * scale * height * scale
    if pixels > MAX_PIXELS:
        scale *= (MAX_PIXELS / pixels) ** 0.5
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        grey = np.ascontiguousarray(bitmap.to_numpy(), dtype=np.uint8)
    finally:
        bitmap.close()
    if grey.ndim == 3:
        grey = np.ascontiguousarray(grey[:, :, 0])
    rows, cols = grey.shape
    return b"P5\n%d %d\n255\n" % (cols, rows) + grey.tobytes(), round(scale * 72)


def ocr_image(image: bytes, binary: str, langs: str, timeout: float, dpi: int = 300) -> str:
    """Text Tesseract reads in one image (PGM, PNG, ...)."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        done = subprocess.run(
            [binary, "stdin", "stdout", "-l", langs, "--psm", "3", "--dpi", str(dpi)],
            input=image,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise OcrError(f"OCR of a page took longer than {timeout:g} s") from exc
    except OSError as exc:
        raise OcrError(f"OCR could not start: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrError(f"OCR failed: {detail[-1] if detail else f'exit code {done.returncode}'}")
    return done.stdout.decode("utf-8", "replace")
