"""Ingest logic: what happens to each S3 object event."""

from __future__ import annotations

from typing import Any

from ingest_app.models import S3EventRecord


def record_object_event(conn: Any, record: S3EventRecord) -> dict[str, Any]:
    """Record an object event once; a redelivery only bumps ``deliveries``."""
    obj = record.s3.object
    row = conn.execute(
        """INSERT INTO ingest_objects
               (bucket, object_key, version_id, etag, size, event_name, event_time, sequencer)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (bucket, object_key, version_id, etag, event_name)
           DO UPDATE SET deliveries = ingest_objects.deliveries + 1
           RETURNING id, bucket, object_key, deliveries""",
        (
            record.s3.bucket.name,
            obj.decoded_key,
            obj.versionId or "",
            (obj.eTag or "").strip('"'),
            obj.size,
            record.eventName,
            record.eventTime,
            obj.sequencer,
        ),
    ).fetchone()
    return dict(row)
