"""The PostgreSQL store: documents, chunks, pgvector embeddings (HNSW, cosine) and full-text search in one database.

Replacing a file is one transaction, so a reader sees its old or its new chunks, never half of each; every
write transaction first takes one advisory lock (``pg_advisory_xact_lock``), so several ``rag index`` runs,
apps or API servers can write to the same database. The schema is created and migrated here (table
``rag_schema`` records the versions applied). Keyword search is Postgres full-text search: each chunk's
context line and text are parsed with an English or French configuration (chosen by the chunk's language)
that removes accents (``unaccent``) before Snowball stemming; a question is matched in both languages and
ranked with ``ts_rank_cd``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection as Sources
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from ingest.backends.base import StoredFile, collection_name
from ingest.keyword_index import tokenize
from ingest.records import Chunk
from rag.language import detect_language

LOCK_KEY = 0x7261675F696478  # "rag_idx": the advisory lock every writer of the index takes
EF_SEARCH = 100
"""HNSW candidates examined per query (pgvector's default is 40); see bench/store_backends.py for recall."""

MIGRATIONS: list[str] = [
    # 1: extensions, text-search configurations, documents and chunks (the embedding column is added by
    # the first writer, once the embedder's dimension is known).
    """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE EXTENSION IF NOT EXISTS unaccent;
    CREATE TEXT SEARCH CONFIGURATION rag_en (COPY = english);
    ALTER TEXT SEARCH CONFIGURATION rag_en ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
    CREATE TEXT SEARCH CONFIGURATION rag_fr (COPY = french);
    ALTER TEXT SEARCH CONFIGURATION rag_fr ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem;
    CREATE TABLE rag_meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE rag_documents (
        source text PRIMARY KEY,
        sha256 text NOT NULL,
        size bigint NOT NULL,
        pages integer NOT NULL,
        chunks integer NOT NULL,
        indexed_at timestamptz NOT NULL,
        title text NOT NULL DEFAULT ''
    );
    CREATE SEQUENCE rag_chunk_ids;
    CREATE TABLE rag_chunks (
        id bigint PRIMARY KEY,
        source text NOT NULL REFERENCES rag_documents (source) ON DELETE CASCADE,
        page integer NOT NULL,
        page_end integer NOT NULL,
        start_offset integer NOT NULL,
        end_offset integer NOT NULL,
        section text NOT NULL,
        title text NOT NULL,
        context text NOT NULL,
        language text NOT NULL,
        text text NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (
            to_tsvector(
                CASE WHEN language = 'fr' THEN 'rag_fr'::regconfig ELSE 'rag_en'::regconfig END,
                CASE WHEN context = '' THEN text ELSE context || E'\\n' || text END
            )
        ) STORED
    );
    CREATE INDEX rag_chunks_source ON rag_chunks (source);
    CREATE INDEX rag_chunks_tsv ON rag_chunks USING gin (tsv);
    """,
    # 2: collections (named sets of documents). No foreign key: replacing a file deletes and re-inserts its
    # document row, and a rebuild truncates the documents, and both keep the file's collections;
    # removing a file deletes its memberships explicitly.
    """
    CREATE TABLE rag_collections (name text NOT NULL, source text NOT NULL, PRIMARY KEY (name, source));
    CREATE INDEX rag_collections_source ON rag_collections (source);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

_CHUNK_COLUMNS = "id, source, page, page_end, start_offset, end_offset, section, title, context, language, text"
_WORD = re.compile(r"[a-z0-9]+")


class StoreUnavailable(ConnectionError):
    """The database cannot be reached or is not usable; the message says why."""


def migrate(conn: psycopg.Connection) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION` (each migration once, under the writers' lock); the version."""
    if conn.execute("SELECT to_regclass('rag_schema') IS NOT NULL").fetchone()[0]:
        applied = conn.execute("SELECT coalesce(max(version), 0) FROM rag_schema").fetchone()[0]
        if applied == SCHEMA_VERSION:
            return applied
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute("CREATE TABLE IF NOT EXISTS rag_schema (version integer PRIMARY KEY, applied_at timestamptz)")
        applied = conn.execute("SELECT coalesce(max(version), 0) FROM rag_schema").fetchone()[0]
        if applied > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"the database schema is version {applied}, newer than this program's {SCHEMA_VERSION}: upgrade it"
            )
        for version in range(applied + 1, SCHEMA_VERSION + 1):
            conn.execute(MIGRATIONS[version - 1])
            conn.execute("INSERT INTO rag_schema VALUES (%s, now())", (version,))
    return SCHEMA_VERSION


def _files(conn: psycopg.Connection) -> dict[str, StoredFile]:
    rows = conn.execute(
        "SELECT d.source, d.sha256, d.size, d.pages, d.chunks, extract(epoch FROM d.indexed_at)::float8, d.title,"
        " coalesce(array_agg(c.name ORDER BY c.name) FILTER (WHERE c.name IS NOT NULL), '{}')"
        " FROM rag_documents d LEFT JOIN rag_collections c ON c.source = d.source GROUP BY d.source"
    ).fetchall()
    return {row[0]: StoredFile(*row[:7], collections=list(row[7])) for row in rows}


def _collections(conn: psycopg.Connection) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT c.name, array_agg(c.source ORDER BY c.source) FROM rag_collections c"
        " JOIN rag_documents d ON d.source = c.source GROUP BY c.name ORDER BY c.name"
    ).fetchall()
    return {name: list(sources) for name, sources in rows}


def _has_embeddings(conn: psycopg.Connection) -> bool:
    found = conn.execute(
        "SELECT 1 FROM pg_attribute WHERE attrelid = 'rag_chunks'::regclass AND attname = 'embedding'"
        " AND NOT attisdropped"
    ).fetchone()
    return found is not None


def _query_words(text: str) -> list[str]:
    """The question's words for to_tsquery: accent-folded, stopwords out, letters and digits only."""
    return list(dict.fromkeys(w for token in tokenize(text) for w in _WORD.findall(token)))


def _chunk(row: tuple) -> tuple[int, Chunk]:
    chunk = Chunk(
        source=row[1],
        page=row[2],
        page_end=row[3],
        start=row[4],
        end=row[5],
        section=row[6],
        title=row[7],
        text=row[10],
    )
    return int(row[0]), chunk


def _source_filter(sources: Sources[str] | None) -> tuple[str, list]:
    if sources is None:
        return "", []
    return " AND source = ANY(%s)", [list(sources)]


class PostgresReader:
    """Searches inside one REPEATABLE READ, read-only transaction: one snapshot of the index."""

    def __init__(self, conn: psycopg.Connection, searchable: bool) -> None:
        self.conn = conn
        self.searchable = searchable

    def count(self) -> int:
        """Number of chunks (kept per document, so this reads the small table)."""
        return int(self.conn.execute("SELECT coalesce(sum(chunks), 0) FROM rag_documents").fetchone()[0])

    def files(self) -> dict[str, StoredFile]:
        """Indexed files by source path."""
        return _files(self.conn)

    def collections(self) -> dict[str, list[str]]:
        """Collection names with the sources of their indexed files."""
        return _collections(self.conn)

    def dense_search(self, vector: np.ndarray, k: int, sources: Sources[str] | None = None) -> list[tuple[int, float]]:
        """HNSW cosine search; a filter on sources is a WHERE clause the index scan iterates past (strict order)."""
        if not self.searchable or (sources is not None and not sources):
            return []
        where, params = _source_filter(sources)
        self.conn.execute(f"SET LOCAL hnsw.ef_search = {min(max(EF_SEARCH, k), 1000)}")
        if where:
            self.conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")
        query = np.asarray(vector, dtype=np.float32)
        rows = self.conn.execute(
            f"SELECT id, 1 - (embedding <=> %s) FROM rag_chunks WHERE true{where} ORDER BY embedding <=> %s LIMIT %s",
            [query, *params, query, k],
        ).fetchall()
        return [(int(i), float(s)) for i, s in rows]

    def keyword_search(self, text: str, k: int, sources: Sources[str] | None = None) -> list[tuple[int, float]]:
        """Full-text match of any of the question's words, stemmed in English and French, ranked by ts_rank_cd."""
        words = _query_words(text)
        if not words or (sources is not None and not sources):
            return []
        where, params = _source_filter(sources)
        expression = " | ".join(words)
        rows = self.conn.execute(
            "WITH q AS (SELECT to_tsquery('rag_en', %s) || to_tsquery('rag_fr', %s) AS q) "
            f"SELECT id, ts_rank_cd(tsv, q.q, 1) AS rank FROM rag_chunks, q WHERE tsv @@ q.q{where} "
            "ORDER BY rank DESC, id LIMIT %s",
            [expression, expression, *params, k],
        ).fetchall()
        return [(int(i), float(s)) for i, s in rows if s > 0]

    def chunks(self, ids: Iterable[int]) -> Mapping[int, Chunk]:
        """The chunks with these ids."""
        rows = self.conn.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM rag_chunks WHERE id = ANY(%s)", [sorted({int(i) for i in ids})]
        ).fetchall()
        return dict(_chunk(row) for row in rows)

    def file_chunks(self, source: str) -> list[tuple[int, Chunk]]:
        """The file's chunks in reading order."""
        rows = self.conn.execute(f"SELECT {_CHUNK_COLUMNS} FROM rag_chunks WHERE source = %s ORDER BY id", [source])
        return [_chunk(row) for row in rows.fetchall()]

    def cosine(self, vector: np.ndarray, ids: Iterable[int]) -> dict[int, float]:
        """Exact cosine with the stored vectors."""
        rows = self.conn.execute(
            "SELECT id, 1 - (embedding <=> %s) FROM rag_chunks WHERE id = ANY(%s)",
            [np.asarray(vector, dtype=np.float32), [int(i) for i in ids]],
        ).fetchall()
        return {int(i): float(s) for i, s in rows}


class PostgresWriter:
    """Each change is its own transaction under the writers' advisory lock, visible when it returns."""

    def __init__(self, conn: psycopg.Connection, embed_model: str | None) -> None:
        self.conn = conn
        self.embed_model = embed_model

    def files(self) -> dict[str, StoredFile]:
        """Indexed files, as committed now (other writers' changes included)."""
        return _files(self.conn)

    def add_file(self, file: StoredFile, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Replace the file's document row and chunks in one transaction; ids are consecutive in reading order."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors) != len(chunks):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            model = self.conn.execute("SELECT value FROM rag_meta WHERE key = 'embed_model'").fetchone()
            if self.embed_model is None or model is None or model[0] != self.embed_model:
                raise ValueError(
                    f"the index now holds vectors of {model[0] if model else 'no model'}, not {self.embed_model}: "
                    "another writer rebuilt it; run the indexing again"
                )
            self.conn.execute("DELETE FROM rag_documents WHERE source = %s", (file.source,))
            self.conn.execute(
                "INSERT INTO rag_documents VALUES (%s, %s, %s, %s, %s, to_timestamp(%s), %s)",
                (
                    file.source,
                    file.sha256,
                    file.size,
                    file.pages,
                    len(chunks),
                    file.indexed_at,
                    chunks[0].title if chunks else "",
                ),
            )
            if not chunks:
                return
            first = self.conn.execute("SELECT nextval('rag_chunk_ids')").fetchone()[0]
            self.conn.execute("SELECT setval('rag_chunk_ids', %s)", (first + len(chunks) - 1,))
            with self.conn.cursor().copy(
                f"COPY rag_chunks ({_CHUNK_COLUMNS}, embedding) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(
                    ["int8", "text", "int4", "int4", "int4", "int4", "text", "text", "text", "text", "text", "vector"]
                )
                for offset, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True)):
                    copy.write_row(
                        (
                            first + offset,
                            chunk.source,
                            chunk.page,
                            chunk.page_end,
                            chunk.start,
                            chunk.end,
                            chunk.section,
                            chunk.title,
                            chunk.context(),
                            detect_language(chunk.indexed_text()),
                            chunk.text,
                            vector,
                        )
                    )

    def remove_file(self, source: str) -> bool:
        """Delete the file's document row and collection memberships; its chunks go with it (one transaction)."""
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            self.conn.execute("DELETE FROM rag_collections WHERE source = %s", (source,))
            return self.conn.execute("DELETE FROM rag_documents WHERE source = %s", (source,)).rowcount > 0

    def add_to_collection(self, name: str, sources: Iterable[str]) -> int:
        """Insert the memberships in one transaction, after checking every file is indexed."""
        name, sources = collection_name(name), sorted(set(sources))
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            rows = self.conn.execute("SELECT source FROM rag_documents WHERE source = ANY(%s)", [sources])
            known = {row[0] for row in rows.fetchall()}
            missing = [s for s in sources if s not in known]
            if missing:
                raise ValueError(f"not indexed: {', '.join(missing)}")
            return self.conn.execute(
                "INSERT INTO rag_collections SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING", [name, sources]
            ).rowcount

    def remove_from_collection(self, name: str, sources: Iterable[str] | None = None) -> int:
        """Delete memberships (of indexed files, counted; stale ones of files not indexed go too)."""
        name = collection_name(name)
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            where, params = ("", []) if sources is None else (" AND source = ANY(%s)", [sorted(set(sources))])
            rows = self.conn.execute(
                f"DELETE FROM rag_collections WHERE name = %s{where} RETURNING source", [name, *params]
            ).fetchall()
            gone = [row[0] for row in rows]
            indexed = self.conn.execute("SELECT count(*) FROM rag_documents WHERE source = ANY(%s)", [gone])
            return int(indexed.fetchone()[0])

    def commit(self) -> None:
        """Nothing is pending: every change committed when it was made."""


class PostgresStore:
    """The index in a PostgreSQL database with the ``vector`` and ``unaccent`` extensions."""

    name = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._searchable = False
        with self._connection() as conn:
            self._searchable = _has_embeddings(conn)

    def _connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL ({_redact(self.url)}): {exc}".strip()) from exc
        try:
            migrate(conn)
            register_vector(conn)
        except psycopg.Error as exc:
            conn.close()
            raise StoreUnavailable(f"PostgreSQL at {_redact(self.url)} cannot hold the index: {exc}") from exc
        return conn

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """A connection of this store's small pool (one per concurrent reader or writer)."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        conn = conn or self._connect()
        try:
            yield conn
        finally:
            if conn.closed or conn.broken or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.close()
            else:
                with self._lock:
                    self._idle.append(conn)

    @contextmanager
    def read(self) -> Iterator[PostgresReader]:
        """A read-only REPEATABLE READ transaction: every search inside sees the same committed state."""
        with self._connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if not self._searchable:
                self._searchable = _has_embeddings(conn)
            yield PostgresReader(conn, self._searchable)

    @contextmanager
    def write(self, embed_model: str | None = None, dim: int = 0, pipeline: str = "") -> Iterator[PostgresWriter]:
        """A writing run; an index of another model, dimension or pipeline is emptied and re-created first."""
        with self._connection() as conn:
            if embed_model is not None:
                self._prepare(conn, embed_model, dim, pipeline)
            yield PostgresWriter(conn, embed_model)

    def _prepare(self, conn: psycopg.Connection, embed_model: str, dim: int, pipeline: str) -> None:
        wanted = {"embed_model": embed_model, "dim": str(dim), "pipeline": pipeline}
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            meta = dict(conn.execute("SELECT key, value FROM rag_meta").fetchall())
            if meta == wanted and _has_embeddings(conn):
                return
            conn.execute("TRUNCATE rag_chunks, rag_documents")
            conn.execute("ALTER TABLE rag_chunks DROP COLUMN IF EXISTS embedding")
            conn.execute(f"ALTER TABLE rag_chunks ADD COLUMN embedding vector({int(dim)}) NOT NULL")
            conn.execute("CREATE INDEX rag_chunks_embedding ON rag_chunks USING hnsw (embedding vector_cosine_ops)")
            conn.execute("DELETE FROM rag_meta")
            conn.cursor().executemany("INSERT INTO rag_meta VALUES (%s, %s)", list(wanted.items()))
        self._searchable = True

    def files(self) -> list[StoredFile]:
        """The indexed files, sorted by source."""
        with self.read() as reader:
            return sorted(reader.files().values(), key=lambda f: f.source)

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self._connection() as conn:
            return int(conn.execute("SELECT max(version) FROM rag_schema").fetchone()[0])

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _redact(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
