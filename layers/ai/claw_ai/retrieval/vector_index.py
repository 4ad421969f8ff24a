"""Per-knowledge-base vector indexes: exact search while small, a partial HNSW index once large.

There is no global HNSW index on ``chunks`` (docs/vector-store.md): a query always filters by
one knowledge base, so a global graph is never the planner's choice at a knowledge base's
size, while every insert pays for it. Instead:

* a knowledge base below :data:`HNSW_MIN_CHUNKS` is searched exactly (the ``kb_id`` index,
  then the distance of each of its rows; ``halfvec`` rows are inline, so that is a few ms);
* past :data:`HNSW_MIN_CHUNKS` chunks the knowledge base gets ``chunks_hnsw_<kb id>``, an HNSW
  index over its rows only (``WHERE kb_id = ...``), which the planner uses for its queries (the
  search sets ``plan_cache_mode = force_custom_plan`` so it sees the kb id);
* that index is built once the knowledge base's loading has settled: load first, index after,
  as pgvector advises. Building a graph over rows already there costs ~0.15-0.2 ms a row;
  inserting the same rows one by one into a graph ~0.85 ms each (docs/vector-store.md). So
  ingest does not build while documents keep arriving (:func:`plan_index` says ``"later"``
  and the caller checks back once no document came for the ``VECTOR_INDEX_QUIET_S`` setting,
  30 s by default: a console upload of many files keeps its gaps far shorter); a knowledge
  base that reaches :data:`BUILD_AT_ONCE_CHUNKS` unindexed is indexed at once all the same,
  so exact search never grows past ~40 ms. Once built, the index takes every new row as it
  is written;
* deleting the knowledge base drops its index (:func:`drop_index`), concurrently, after the
  rows are gone.

Builds run ``CREATE INDEX CONCURRENTLY`` on their own autocommit connection, so ingest of other
documents (and of this knowledge base) keeps writing meanwhile; ``maintenance_work_mem`` is
sized so the graph is built in memory. An interrupted build leaves an invalid index, which
the next call drops and builds again.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

HNSW_MIN_CHUNKS = 2_000
"""Chunks from which a knowledge base gets its own HNSW index (benchmarks/retrieval.py: exact
search over ``halfvec`` stays under ~5 ms p95 below it on the reference machine)."""
BUILD_AT_ONCE_CHUNKS = 20_000
"""An unindexed knowledge base this large is indexed at once, even while documents keep arriving
(exact search over 20k ``halfvec`` rows: ~33 ms p50, ~40 ms p95 on the reference machine)."""
HNSW_OPTIONS = "m = 16, ef_construction = 64"
DROP_TIMEOUT_MS = 10_000
"""How long a drop may wait for the transactions that use ``chunks`` (ingest writes, searches)."""
BUILD_MEMORY = "256MB"
"""``maintenance_work_mem`` of a build: an HNSW graph of 100k 512-d halfvec rows is ~150 MB;
past it pgvector builds on disk, several times slower."""


def index_name(kb_id: str) -> str:
    """``chunks_hnsw_<32 hex>``: the knowledge base id is a UUID (checked), never free text."""
    return "chunks_hnsw_" + uuid.UUID(str(kb_id)).hex


def index_state(conn: Any, kb_id: str) -> str:
    """``"none"``, ``"valid"`` or ``"invalid"`` (a build that did not finish)."""
    row = conn.execute(
        """SELECT i.indisvalid AS valid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
            WHERE c.relname = %s AND c.relkind = 'i'""",
        (index_name(kb_id),),
    ).fetchone()
    if row is None:
        return "none"
    valid = row["valid"] if isinstance(row, dict) else row[0]
    return "valid" if valid else "invalid"


def chunk_count(conn: Any, kb_id: str) -> int:
    row = conn.execute("SELECT count(*) AS n FROM chunks WHERE kb_id = %s", (str(kb_id),)).fetchone()
    return int(row["n"] if isinstance(row, dict) else row[0])


def build_index(conn: Any, kb_id: str, *, concurrently: bool = True) -> bool:
    """Build the knowledge base's partial HNSW index on ``conn`` (autocommit). False when there was
    nothing to do: a valid one exists, or another session is building it."""
    name = index_name(kb_id)
    kb = str(uuid.UUID(str(kb_id)))
    how = "CONCURRENTLY " if concurrently else ""
    if index_state(conn, kb) == "valid":
        return False
    # One build per knowledge base at a time (a session lock: a concurrent build holds no
    # transaction open). Busy: another session is building it, which is all this one would do.
    lock = f"vector index:{kb}"
    if not _first(conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (lock,)).fetchone()):
        return False
    try:
        state = index_state(conn, kb)
        if state == "valid":
            return False
        if state == "invalid":
            conn.execute(f"DROP INDEX {how}IF EXISTS {name}")
        conn.execute(f"SET maintenance_work_mem = '{BUILD_MEMORY}'")
        conn.execute(
            f"CREATE INDEX {how}IF NOT EXISTS {name} ON chunks USING hnsw (embedding halfvec_cosine_ops) "
            f"WITH ({HNSW_OPTIONS}) WHERE kb_id = '{kb}'::uuid"
        )
        conn.execute("RESET maintenance_work_mem")
        return True
    finally:
        # A connection that broke has released its session locks with it.
        with contextlib.suppress(Exception):
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (lock,))


def _first(row: Any) -> Any:
    if row is None:
        return None
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def ensure_index(kb_id: str, *, conn: Any = None, database_url: str | None = None) -> bool:
    """After chunks were written (and committed): build the index when the knowledge base has
    reached the size for one. True when the knowledge base has (now) an index.

    ``conn`` (optional, e.g. the pooled connection of the request) is used for the two cheap
    checks and committed before a build: a concurrent build waits for every open transaction on
    ``chunks``, so the build runs on an autocommit connection of its own."""
    if conn is not None:
        needed = _needs_index(conn, kb_id)
        conn.commit()
        if needed is None:
            return True
        if not needed:
            return False
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(database_url or _database_url(), autocommit=True, row_factory=dict_row) as own:
        needed = _needs_index(own, kb_id)
        if needed is None:
            return True
        if not needed:
            return False
        build_index(own, kb_id)
    return True


def plan_index(conn: Any, kb_id: str) -> str:
    """What a knowledge base's index needs after chunks were written (committed):

    ``"indexed"`` (it has one), ``"small"`` (exact search is the right plan), ``"now"`` (build
    it: :data:`BUILD_AT_ONCE_CHUNKS` reached) or ``"later"`` (build it once loading settles:
    :func:`build_when_quiet` after the quiet time)."""
    if index_state(conn, kb_id) == "valid":
        return "indexed"
    n = chunk_count(conn, kb_id)
    if n < HNSW_MIN_CHUNKS:
        return "small"
    return "now" if n >= BUILD_AT_ONCE_CHUNKS else "later"


def quiet_for(conn: Any, kb_id: str) -> float | None:
    """Seconds since the knowledge base's last document was ingested (None: none ever was)."""
    row = conn.execute(
        "SELECT extract(epoch FROM now() - max(ingested_at)) AS s FROM documents WHERE kb_id = %s", (str(kb_id),)
    ).fetchone()
    value = row["s"] if isinstance(row, dict) else row[0]
    return None if value is None else float(value)


def build_when_quiet(kb_id: str, quiet_s: float, *, database_url: str | None = None) -> str:
    """Build the knowledge base's index if it needs one and no document was ingested into it for
    ``quiet_s`` seconds (one second of slack for clocks and queue delays).

    Returns ``"built"``, ``"indexed"`` (a valid one exists), ``"building"`` (another session is),
    ``"small"`` or ``"loading"``: a document came in meanwhile, and the check that document
    asked for decides instead."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(database_url or _database_url(), autocommit=True, row_factory=dict_row) as own:
        plan = plan_index(own, kb_id)
        if plan in ("indexed", "small"):
            return plan
        quiet = quiet_for(own, kb_id)
        if plan == "later" and quiet is not None and quiet < quiet_s - 1:
            return "loading"
        if not build_index(own, kb_id):
            return "indexed" if index_state(own, kb_id) == "valid" else "building"
    return "built"


def _needs_index(conn: Any, kb_id: str) -> bool | None:
    """None: a valid index exists; True: none yet and the knowledge base is large enough."""
    if index_state(conn, kb_id) == "valid":
        return None
    return chunk_count(conn, kb_id) >= HNSW_MIN_CHUNKS


def drop_index(kb_id: str, *, database_url: str | None = None) -> None:
    """Drop the knowledge base's index, once its rows are deleted and committed.

    ``DROP INDEX CONCURRENTLY`` on an autocommit connection of its own: a plain ``DROP INDEX``
    takes an ACCESS EXCLUSIVE lock on ``chunks``, so it would wait for every open ingest
    transaction while every search and insert of every tenant queued behind it. This waits
    (up to :data:`DROP_TIMEOUT_MS`) and blocks nobody. Raises ``psycopg.Error`` when it could
    not: an index whose knowledge base is gone matches no row and costs nothing but its catalog
    entry; :func:`sweep_orphans` removes it at the next deploy.
    """
    import psycopg

    with psycopg.connect(database_url or _database_url(), autocommit=True) as own:
        own.execute(f"SET statement_timeout = {DROP_TIMEOUT_MS}")
        own.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index_name(kb_id)}")


def drop_orphans(conn: Any) -> list[str]:
    """Drop indexes whose knowledge base no longer exists; the names dropped (``conn`` in
    autocommit: each drop is concurrent, see :func:`drop_index`)."""
    rows = conn.execute(
        """SELECT c.relname AS name FROM pg_class c
            WHERE c.relkind = 'i' AND c.relname LIKE 'chunks\\_hnsw\\_%'
              AND NOT EXISTS (SELECT 1 FROM knowledge_bases k
                               WHERE 'chunks_hnsw_' || replace(k.id::text, '-', '') = c.relname)"""
    ).fetchall()
    names = [r["name"] if isinstance(r, dict) else r[0] for r in rows]
    for name in names:
        conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    return names


def sweep_orphans(*, database_url: str | None = None) -> list[str]:
    """:func:`drop_orphans` on an autocommit connection of its own (the migrations function runs
    it after every deploy's migrations)."""
    import psycopg

    with psycopg.connect(database_url or _database_url(), autocommit=True) as own:
        own.execute(f"SET statement_timeout = {DROP_TIMEOUT_MS}")
        return drop_orphans(own)


def _database_url() -> str:
    """The deployment's connection URL (from DATABASE_URL or the database secret)."""
    from claw_common.data.credentials import database_credentials

    return database_credentials().url()
