"""Shared fixtures: real PDFs made with fpdf2, a per-test data folder, the real embedder."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

from ingest.embedder import Embedder, get_embedder
from rag.settings import Settings, get_settings

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_EVAL = SHARED / "eval"


def make_pdf(path: Path, pages: list[str]) -> Path:
    """Write a PDF with one text block per page (an empty string makes an empty page)."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 6, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def requires_shared(*parts: str) -> Path:
    """A path under ../shared/eval, or skip the test when the shared folder is absent."""
    path = SHARED_EVAL.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is not beside this checkout)")
    return path


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The packaged all-MiniLM-L6-v2, loaded once for the whole run."""
    return get_embedder()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings on an empty data folder; also what ``get_settings()`` returns during the test."""
    home = tmp_path / "home"
    monkeypatch.setenv("RAG_HOME", str(home))
    monkeypatch.setenv("RAG_LLM_MODEL", "smollm2-135m")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
