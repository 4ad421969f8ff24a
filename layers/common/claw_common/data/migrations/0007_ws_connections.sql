-- Open WebSocket connections (streaming chat) and the user each one was authorized for at
-- $connect. A frame on a connection is only answered for that user; $disconnect deletes the
-- row, and rows older than API Gateway's 2-hour connection limit are swept on the user's next
-- $connect (a $disconnect is not guaranteed to arrive).
CREATE TABLE ws_connections (
    connection_id text        PRIMARY KEY CHECK (char_length(connection_id) BETWEEN 1 AND 128),
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connected_at  timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ws_connections_user_idx ON ws_connections (user_id, connected_at);
