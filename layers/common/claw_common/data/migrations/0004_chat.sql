-- Conversations, their messages and the per-user token/cost ledger of the chat function.
-- Every row belongs to a user (the authorizer's user_id); deleting the user deletes them.

CREATE TABLE conversations (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title             text        NOT NULL DEFAULT '' CHECK (char_length(title) <= 200),
    conversation_type text        NOT NULL DEFAULT 'chat' CHECK (conversation_type IN ('chat', 'consulting', 'support')),
    status            text        NOT NULL DEFAULT 'active'
                                  CHECK (status IN ('active', 'paused', 'completed', 'archived')),
    model             text        NOT NULL,
    system_prompt     text,
    -- Knowledge bases arrive in a later migration; the retriever only ever searches the
    -- owner's knowledge bases, so a dangling id finds nothing rather than someone else's data.
    knowledge_base_id uuid,
    metadata          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    message_count     integer     NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
-- The list query: the owner's conversations, most recently active first (keyset pagination).
CREATE INDEX conversations_user_updated_idx ON conversations (user_id, updated_at DESC, id DESC);

CREATE TABLE messages (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Insertion order: the cursor of the message list and the order of the history.
    seq               bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    conversation_id   uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id           uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role              text        NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content           text        NOT NULL,
    prompt_tokens     integer     NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens integer     NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    cost              numeric(18, 6) NOT NULL DEFAULT 0 CHECK (cost >= 0),
    model             text,
    latency_ms        integer,
    sources           jsonb,
    cached            boolean     NOT NULL DEFAULT false,
    -- ok: a finished message; pending: a user message whose answer is being generated;
    -- failed: a user message whose answer could not be generated (error = the problem slug).
    status            text        NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'pending', 'failed')),
    error             text,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX messages_conversation_seq_idx ON messages (conversation_id, seq);

-- Tokens and cost per user, UTC day and model; one row per (user, day, model), upserted.
CREATE TABLE usage_ledger (
    user_id           uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day               date        NOT NULL,
    model             text        NOT NULL,
    requests          integer     NOT NULL DEFAULT 0,
    cached_requests   integer     NOT NULL DEFAULT 0,
    prompt_tokens     bigint      NOT NULL DEFAULT 0,
    completion_tokens bigint      NOT NULL DEFAULT 0,
    total_tokens      bigint      NOT NULL DEFAULT 0,
    cost              numeric(18, 6) NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, day, model)
);
