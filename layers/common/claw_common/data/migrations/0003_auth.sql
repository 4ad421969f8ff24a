-- Accounts, refresh-token families and API keys. Ids are UUID strings platform-wide.
CREATE TABLE users (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash text        NOT NULL,
    name          text,
    company       text,
    phone         text,
    role          text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    tier          text        NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
    is_active     boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
-- One account per address whatever its case (what citext would give, without the extension).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
-- Keyset pagination of the admin listing: newest first.
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);

-- Opaque refresh tokens, stored as SHA-256. Every login starts a family; each refresh marks
-- the presented token used and adds its successor to the family. Presenting a used or
-- revoked token again revokes the whole family (reuse detection).
CREATE TABLE refresh_tokens (
    id          bigserial   PRIMARY KEY,
    token_hash  text        NOT NULL UNIQUE,
    family_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

-- API keys, stored as SHA-256; only the prefix is ever shown again.
CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text        NOT NULL,
    key_hash     text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at DESC) WHERE revoked_at IS NULL;
