"""The database schema of this deployment: migrations with the embedder's vector size.

``python -m claw_ai.schema`` (``make migrate``) applies pending migrations to ``DATABASE_URL``
(or the database named by ``DATABASE_SECRET_ARN``).

The vector column's size is fixed by the first migration. When the deployment's embedder
changes afterwards (typically: a Zhipu key added to a deployment that embedded offline, with
``OFFLINE_EMBEDDINGS=auto``), the stored vectors no longer match it: :func:`migrate` refuses
a different size (the deploy fails with the reason, rather than every search and ingest
failing afterwards) and logs the stored documents of another model.
"""

from __future__ import annotations

import re
from typing import Any


def deployment_embedding_dim() -> int:
    """The pgvector column size: the deployment's embedder's dimension (Zhipu key from env or secret)."""
    from claw_ai.providers import get_embedder
    from claw_common.settings import get_settings

    return get_embedder(get_settings()).dim


def check_stored_vectors(conn: Any, name: str, dim: int) -> dict[str, int]:
    """Raise ``EmbeddingDimensionMismatch`` if the vector column is not ``dim`` wide; return the
    ready documents embedded by another model than ``name`` ({model: documents})."""
    from claw_ai.embeddings import EmbeddingDimensionMismatch

    row = conn.execute(
        """SELECT format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = to_regclass('chunks') AND attname = 'embedding' AND NOT attisdropped"""
    ).fetchone()
    size = re.search(r"\((\d+)\)", row[0]) if row else None
    if size and int(size.group(1)) != dim:
        raise EmbeddingDimensionMismatch(
            f"the stored vectors have {size.group(1)} dimensions and the deployment's embedder ({name}) "
            f"makes {dim}: keep the embedder the knowledge bases were built with (OfflineEmbeddings=Always "
            "after adding a Zhipu key to an offline deployment; docs/deploy.md#embeddings)"
        )
    others = conn.execute(
        """SELECT embedding_model, count(*) FROM documents
            WHERE status = 'ready' AND embedding_model IS DISTINCT FROM %s GROUP BY embedding_model""",
        (name,),
    ).fetchall()
    return {str(model): int(count) for model, count in others}


def migrate() -> list[str]:
    """Apply pending migrations to the configured database; the names applied now."""
    import psycopg

    from claw_ai.providers import get_embedder
    from claw_common.data.credentials import database_credentials
    from claw_common.data.migrate import apply_migrations
    from claw_common.observability import logger
    from claw_common.settings import get_settings

    embedder = get_embedder(get_settings())
    # DATABASE_URL locally, the database secret (DATABASE_SECRET_ARN) on AWS.
    url = database_credentials().url()
    applied = apply_migrations(url, embedder.dim)
    with psycopg.connect(url, autocommit=True) as conn:
        others = check_stored_vectors(conn, embedder.name, embedder.dim)
    if others:
        logger.warning(
            "documents embedded by another model than the deployment's: their chunks rank poorly until reindexed",
            extra={"embedder": embedder.name, "documents_by_model": others},
        )
    return applied


def main() -> None:  # pragma: no cover - command line entry point
    names = migrate()
    print("applied:", ", ".join(names) if names else "nothing (up to date)")


if __name__ == "__main__":  # pragma: no cover
    main()
