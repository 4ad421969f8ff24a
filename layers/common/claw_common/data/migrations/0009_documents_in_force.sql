-- Answers people can trust: documents that are no longer (or not yet) in force, and what a
-- knowledge base says when it has no answer.

-- A document replaced by another one of the same knowledge base, or valid only for a period,
-- is left out of search; the API shows these fields.
ALTER TABLE documents
    ADD COLUMN superseded_by uuid REFERENCES documents (id) ON DELETE SET NULL,
    ADD COLUMN valid_from    timestamptz,
    ADD COLUMN valid_until   timestamptz,
    ADD CONSTRAINT documents_not_self_superseded CHECK (superseded_by IS NULL OR superseded_by <> id),
    ADD CONSTRAINT documents_validity_order CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until);
-- Search looks up the documents not in force of the knowledge bases it reads.
CREATE INDEX documents_not_in_force_idx ON documents (kb_id)
    WHERE superseded_by IS NOT NULL OR valid_from IS NOT NULL OR valid_until IS NOT NULL;

-- The knowledge base's own words when it does not cover a question (NULL: the default
-- message in the question's language).
ALTER TABLE knowledge_bases
    ADD COLUMN no_answer_message text CHECK (no_answer_message IS NULL OR char_length(no_answer_message) BETWEEN 1 AND 1000);
