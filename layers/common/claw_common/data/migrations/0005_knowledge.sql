-- Knowledge bases, their documents and the chunks that search reads.
-- Every row carries its owner (the authorizer's user_id); every query filters by it.

CREATE TABLE knowledge_bases (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The list query: the owner's knowledge bases, newest first (keyset pagination).
CREATE INDEX knowledge_bases_owner_created_idx ON knowledge_bases (owner_id, created_at DESC, id DESC);

CREATE TABLE documents (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    kb_id               uuid        NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
    owner_id            uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title               text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
    filename            text        NOT NULL,
    status              text        NOT NULL DEFAULT 'pending'
                                    CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    error               text,
    -- Machine reason of the last failure (too_large, encrypted, temporary, ...): metrics and UI hints.
    error_code          text,
    chunk_count         integer     NOT NULL DEFAULT 0 CHECK (chunk_count >= 0),
    token_count         integer     NOT NULL DEFAULT 0 CHECK (token_count >= 0),
    parser              text,
    file_type           text,
    size                bigint,
    content_type        text,
    page_count          integer,
    embedding_model     text,
    -- Where the file lives: every way in ends as this S3 object (kb/<kb_id>/...).
    s3_bucket           text        NOT NULL,
    s3_key              text        NOT NULL,
    -- The object version whose chunks are stored (or whose failure is final). An event for
    -- the same (version or ETag) is a no-op; sequencer orders events of one key.
    s3_version_id       text,
    s3_etag             text,
    s3_sequencer        text,
    ingested_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (s3_bucket, s3_key)
);
CREATE INDEX documents_kb_created_idx ON documents (kb_id, created_at DESC, id DESC);
CREATE INDEX documents_owner_idx ON documents (owner_id);

-- One row per retrievable passage. Replaced as a whole, in one transaction, when a new
-- version of the document is ingested.
CREATE TABLE chunks (
    document_id  uuid        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    chunk_index  integer     NOT NULL CHECK (chunk_index >= 0),
    kb_id        uuid        NOT NULL,
    owner_id     uuid        NOT NULL,
    text         text        NOT NULL,
    -- segment_for_search(text): Chinese cut into words (jieba search mode), lower-cased;
    -- PostgreSQL's own parser leaves a run of Chinese as one unmatchable "word".
    search_text  text        NOT NULL,
    tsv          tsvector    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED,
    heading_path text[]      NOT NULL DEFAULT '{}',
    page         integer,
    row          integer,
    sheet        text,
    metadata     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    token_count  integer     NOT NULL DEFAULT 0,
    embedding    vector({{EMBEDDING_DIM}}) NOT NULL,
    PRIMARY KEY (document_id, chunk_index)
);
-- HNSW over cosine distance (embeddings are L2-normalised). m = 16 and ef_construction = 64
-- are pgvector's defaults and measured well for 512-1024 dimensions: recall@10 above 0.98
-- at ef_search 100 on a few million rows, with build time and memory (about 2 x m links per
-- vector) that a single-document COPY pays in milliseconds. Raise ef_construction (128-200)
-- only for collections in the tens of millions; recall at query time is tuned with
-- hnsw.ef_search and the iterative scan (see claw_common.search).
CREATE INDEX chunks_embedding_hnsw_idx ON chunks USING hnsw (embedding vector_cosine_ops)
    WITH (m = 16, ef_construction = 64);
CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);
CREATE INDEX chunks_kb_idx ON chunks (kb_id);

-- Conversations stored knowledge_base_id without a foreign key until this table existed.
-- A deleted knowledge base detaches from its conversations instead of deleting them.
UPDATE conversations c SET knowledge_base_id = NULL
    WHERE knowledge_base_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM knowledge_bases kb WHERE kb.id = c.knowledge_base_id);
ALTER TABLE conversations
    ADD CONSTRAINT conversations_knowledge_base_id_fkey
    FOREIGN KEY (knowledge_base_id) REFERENCES knowledge_bases (id) ON DELETE SET NULL;
CREATE INDEX conversations_knowledge_base_idx ON conversations (knowledge_base_id)
    WHERE knowledge_base_id IS NOT NULL;
