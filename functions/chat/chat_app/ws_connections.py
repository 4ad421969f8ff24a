"""The ``ws_connections`` table: which user each open WebSocket connection was authorized for."""

from __future__ import annotations

from typing import Any

MAX_CONNECTION_AGE_HOURS = 2
"""API Gateway closes every WebSocket connection after 2 hours; older rows are leftovers."""


class ConnectionRepository:
    """Open WebSocket connections by id, each owned by one user."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def register(self, connection_id: str, user_id: str) -> bool:
        """Record a new connection of ``user_id`` (and sweep the user's connections that cannot be open any more).

        A connection id that already exists keeps its owner unless it is the same user: ids
        are API Gateway's and never reused, so a clash is refused (False) rather than taken over.
        """
        self.conn.execute(
            """DELETE FROM ws_connections
                WHERE user_id = %s AND connected_at < now() - make_interval(hours => %s)""",
            (user_id, MAX_CONNECTION_AGE_HOURS),
        )
        row = self.conn.execute(
            """INSERT INTO ws_connections (connection_id, user_id) VALUES (%s, %s)
               ON CONFLICT (connection_id) DO UPDATE SET last_seen = now()
                   WHERE ws_connections.user_id = EXCLUDED.user_id
               RETURNING user_id::text AS user_id""",
            (connection_id, user_id),
        ).fetchone()
        return row is not None

    def touch(self, connection_id: str, user_id: str) -> bool:
        """Mark the connection active; False unless it is open and belongs to ``user_id``."""
        row = self.conn.execute(
            """UPDATE ws_connections SET last_seen = now()
                WHERE connection_id = %s AND user_id = %s
            RETURNING 1 AS ok""",
            (connection_id, user_id),
        ).fetchone()
        return row is not None

    def remove(self, connection_id: str) -> bool:
        """Forget a closed connection; False when it was not recorded."""
        cur = self.conn.execute("DELETE FROM ws_connections WHERE connection_id = %s", (connection_id,))
        return cur.rowcount > 0

    def of_user(self, user_id: str) -> list[dict[str, Any]]:
        """The user's recorded connections, oldest first."""
        return self.conn.execute(
            """SELECT connection_id, connected_at, last_seen FROM ws_connections
                WHERE user_id = %s ORDER BY connected_at, connection_id""",
            (user_id,),
        ).fetchall()
