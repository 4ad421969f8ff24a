-- Runtime configuration: the current value of every key, its full history and an audit
-- trail of who changed or read what. Sensitive values are sealed (KMS envelope encryption):
-- only ciphertext and the KMS-encrypted data key are stored, never the plaintext.
-- A deleted key keeps its row as a tombstone (deleted_at) so version numbers never repeat.
CREATE TABLE configs (
    key              text        PRIMARY KEY CHECK (char_length(key) <= 128),
    value            jsonb,
    value_ciphertext bytea,
    value_data_key   bytea,
    description      text        NOT NULL DEFAULT '',
    is_sensitive     boolean     NOT NULL DEFAULT false,
    is_public        boolean     NOT NULL DEFAULT false,
    version          integer     NOT NULL CHECK (version >= 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text        NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    CONSTRAINT configs_sensitive_not_public CHECK (NOT (is_sensitive AND is_public)),
    CONSTRAINT configs_value_shape CHECK (
        deleted_at IS NOT NULL
        OR (is_sensitive AND value IS NULL AND value_ciphertext IS NOT NULL AND value_data_key IS NOT NULL)
        OR (NOT is_sensitive AND value IS NOT NULL AND value_ciphertext IS NULL)
    )
);
CREATE INDEX configs_public_idx ON configs (key) WHERE is_public AND deleted_at IS NULL;

-- One row per change of one key. old_value/new_value are what an admin may see (masked when
-- sensitive); the state after the change (sealed when sensitive) is kept so that a rollback
-- can restore it exactly.
CREATE TABLE config_history (
    id                bigserial   PRIMARY KEY,
    key               text        NOT NULL,
    version           integer     NOT NULL,
    action            text        NOT NULL CHECK (action IN ('create', 'update', 'delete', 'rollback', 'import')),
    actor             text        NOT NULL,
    old_value         jsonb,
    new_value         jsonb,
    state_value       jsonb,
    state_ciphertext  bytea,
    state_data_key    bytea,
    state_description text,
    state_sensitive   boolean     NOT NULL DEFAULT false,
    state_public      boolean     NOT NULL DEFAULT false,
    rolled_back_to    integer,
    at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (key, version)
);

-- Who did what to the configuration, including reads that expose secrets (reveal, export).
-- Actor is the authorizer's user_id as text (no foreign key: users live in another migration
-- and an audit row must outlive its user).
CREATE TABLE config_audit (
    id         bigserial   PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    action     text        NOT NULL,
    key        text,
    version    integer,
    detail     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    request_id text
);
CREATE INDEX config_audit_key_idx ON config_audit (key, id);
CREATE INDEX config_audit_actor_idx ON config_audit (actor, id);
CREATE INDEX config_audit_at_idx ON config_audit (at);
