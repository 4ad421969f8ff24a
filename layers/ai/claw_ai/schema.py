"""The database schema of this deployment: migrations with the embedder's vector size.

``python -m claw_ai.schema`` (``make migrate``) applies pending migrations to ``DATABASE_URL``
(or the database named by ``DATABASE_SECRET_ARN``).
"""

from __future__ import annotations


def deployment_embedding_dim() -> int:
    """The pgvector column size: the deployment's embedder's dimension (Zhipu key from env or secret)."""
    from claw_ai.providers import get_embedder
    from claw_common.settings import get_settings

    return get_embedder(get_settings()).dim


def migrate() -> list[str]:
    """Apply pending migrations to the configured database; the names applied now."""
    from claw_common.data.credentials import database_credentials
    from claw_common.data.migrate import apply_migrations

    # DATABASE_URL locally, the database secret (DATABASE_SECRET_ARN) on AWS.
    return apply_migrations(database_credentials().url(), deployment_embedding_dim())


def main() -> None:  # pragma: no cover - command line entry point
    names = migrate()
    print("applied:", ", ".join(names) if names else "nothing (up to date)")


if __name__ == "__main__":  # pragma: no cover
    main()
