-- A vector store that costs what it serves (docs/vector-store.md).
--
-- * No global HNSW index: at a knowledge base's size the planner never read it (it filtered by
--   kb_id and sorted exactly), while every insert paid its maintenance and WAL.
-- * halfvec storage: half the bytes, and the row stays inline (no TOAST fetch per candidate);
--   L2-normalised embeddings lose nothing measurable at 16 bits (recall@10 0.995).
-- * A knowledge base is searched exactly while small; claw_ai.retrieval.vector_index builds a
--   partial HNSW index for it (WHERE kb_id = ...) once it passes a measured size, and drops it
--   with the knowledge base.
DROP INDEX IF EXISTS chunks_embedding_hnsw_idx;
ALTER TABLE chunks
    ALTER COLUMN embedding TYPE halfvec({{EMBEDDING_DIM}}) USING embedding::halfvec({{EMBEDDING_DIM}});
-- Inline, uncompressed: 2 bytes a dimension fit a page for any dimension HNSW can index (4,000).
ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE PLAIN;
