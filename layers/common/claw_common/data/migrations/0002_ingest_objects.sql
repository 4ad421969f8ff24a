-- Every S3 object event the ingest function received: the audit trail of what came in
-- through the bucket, keyed so that a redelivered event is recorded once.
CREATE TABLE ingest_objects (
    id          bigserial PRIMARY KEY,
    bucket      text        NOT NULL,
    object_key  text        NOT NULL,
    version_id  text        NOT NULL DEFAULT '',
    etag        text        NOT NULL DEFAULT '',
    size        bigint,
    event_name  text        NOT NULL,
    event_time  timestamptz,
    sequencer   text,
    received_at timestamptz NOT NULL DEFAULT now(),
    deliveries  integer     NOT NULL DEFAULT 1,
    UNIQUE (bucket, object_key, version_id, etag, event_name)
);
CREATE INDEX ingest_objects_key_idx ON ingest_objects (bucket, object_key);
