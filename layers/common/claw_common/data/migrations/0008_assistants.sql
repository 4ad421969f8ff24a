-- Assistants: an owner publishes an answering app over their knowledge bases; visitors
-- without accounts chat with it (widget, share link, WebSocket) and OpenAI-compatible
-- clients call it with the owner's API key. Every row carries the owner (the authorizer's
-- user_id of the owner's requests); visitor rows are reached only through the assistant.

CREATE TABLE assistants (
    id                            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id                      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- What visitors and OpenAI clients see (the "model"); unguessable, never the row id.
    public_id                     text        NOT NULL UNIQUE CHECK (public_id ~ '^ast_[A-Za-z0-9_-]{16,64}$'),
    name                          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    system_prompt                 text        CHECK (char_length(system_prompt) <= 8000),
    model                         text        NOT NULL,
    welcome_message               text        NOT NULL DEFAULT '' CHECK (char_length(welcome_message) <= 2000),
    suggested_questions           jsonb       NOT NULL DEFAULT '[]'::jsonb,
    no_answer_message             text        NOT NULL DEFAULT '' CHECK (char_length(no_answer_message) <= 2000),
    -- Empty = any origin may embed the assistant.
    allowed_origins               text[]      NOT NULL DEFAULT '{}',
    visitor_rate_limit_per_minute integer     NOT NULL DEFAULT 10 CHECK (visitor_rate_limit_per_minute BETWEEN 1 AND 1000),
    -- Tokens (prompt + completion) per calendar month (UTC); NULL = only the owner's quota applies.
    monthly_token_budget          bigint      CHECK (monthly_token_budget >= 0),
    is_active                     boolean     NOT NULL DEFAULT true,
    created_at                    timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at                    timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The owner's listing, newest first (keyset pagination).
CREATE INDEX assistants_owner_created_idx ON assistants (owner_id, created_at DESC, id DESC);

-- Which of the owner's knowledge bases an assistant answers from; deleting one drops the link.
CREATE TABLE assistant_knowledge_bases (
    assistant_id      uuid NOT NULL REFERENCES assistants (id) ON DELETE CASCADE,
    knowledge_base_id uuid NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    position          integer NOT NULL DEFAULT 0,
    PRIMARY KEY (assistant_id, knowledge_base_id)
);
CREATE INDEX assistant_knowledge_bases_kb_idx ON assistant_knowledge_bases (knowledge_base_id);

-- One visitor session (widget) or one API call (OpenAI-compatible) = one conversation.
-- Counters are kept in the same transaction as the messages and feedback they count, so the
-- owner's list and filters never scan messages.
CREATE TABLE assistant_conversations (
    id               uuid        PRIMARY KEY,
    assistant_id     uuid        NOT NULL REFERENCES assistants (id) ON DELETE CASCADE,
    owner_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel          text        NOT NULL DEFAULT 'widget' CHECK (channel IN ('widget', 'api')),
    visitor_id       uuid,
    origin           text        CHECK (char_length(origin) <= 300),
    started_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_message_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    message_count    integer     NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    question_count   integer     NOT NULL DEFAULT 0 CHECK (question_count >= 0),
    no_answer_count  integer     NOT NULL DEFAULT 0 CHECK (no_answer_count >= 0),
    feedback_up      integer     NOT NULL DEFAULT 0 CHECK (feedback_up >= 0),
    feedback_down    integer     NOT NULL DEFAULT 0 CHECK (feedback_down >= 0)
);
-- The owner's view: an assistant's conversations, most recently active first (keyset pagination).
CREATE INDEX assistant_conversations_list_idx
    ON assistant_conversations (assistant_id, last_message_at DESC, id DESC);
-- The "no answer" and "thumbs down" filters and per-day stats by start date.
CREATE INDEX assistant_conversations_no_answer_idx
    ON assistant_conversations (assistant_id, last_message_at DESC, id DESC) WHERE no_answer_count > 0;
CREATE INDEX assistant_conversations_down_idx
    ON assistant_conversations (assistant_id, last_message_at DESC, id DESC) WHERE feedback_down > 0;
CREATE INDEX assistant_conversations_started_idx ON assistant_conversations (assistant_id, started_at);

CREATE TABLE assistant_messages (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    seq               bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    conversation_id   uuid        NOT NULL REFERENCES assistant_conversations (id) ON DELETE CASCADE,
    assistant_id      uuid        NOT NULL REFERENCES assistants (id) ON DELETE CASCADE,
    owner_id          uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role              text        NOT NULL CHECK (role IN ('user', 'assistant')),
    content           text        NOT NULL,
    sources           jsonb       NOT NULL DEFAULT '[]'::jsonb,
    -- The answer is the no-answer message (nothing relevant found, or the model declined).
    no_answer         boolean     NOT NULL DEFAULT false,
    -- Why the model was not asked: 'budget' (assistant's monthly budget) or 'quota' (owner's).
    limited           text        CHECK (limited IN ('budget', 'quota')),
    prompt_tokens     integer     NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens integer     NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    total_tokens      integer     GENERATED ALWAYS AS (prompt_tokens + completion_tokens) STORED,
    cost              numeric(18, 6) NOT NULL DEFAULT 0 CHECK (cost >= 0),
    model             text,
    latency_ms        integer,
    cached            boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX assistant_messages_conversation_idx ON assistant_messages (conversation_id, seq);
-- Monthly budget and per-day stats: an assistant's messages by time.
CREATE INDEX assistant_messages_assistant_time_idx
    ON assistant_messages (assistant_id, created_at) INCLUDE (role, no_answer, total_tokens, cost);

-- One rating per answer (a visitor may change their mind: the row is updated).
CREATE TABLE assistant_feedback (
    message_id      uuid        PRIMARY KEY REFERENCES assistant_messages (id) ON DELETE CASCADE,
    conversation_id uuid        NOT NULL REFERENCES assistant_conversations (id) ON DELETE CASCADE,
    assistant_id    uuid        NOT NULL REFERENCES assistants (id) ON DELETE CASCADE,
    rating          text        NOT NULL CHECK (rating IN ('up', 'down')),
    comment         text        CHECK (char_length(comment) <= 2000),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX assistant_feedback_assistant_time_idx ON assistant_feedback (assistant_id, created_at);
