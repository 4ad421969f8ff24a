-- Scanned PDFs and images: OCR runs in its own function, page ranges at a time, and the
-- document is assembled when the last page is in.

-- Progress of the OCR of one object version (ocr_source: its S3 version id, or ETag without
-- versioning), and how many pages of the ingested text came from OCR.
ALTER TABLE documents
    ADD COLUMN ocr_source      text,
    ADD COLUMN ocr_pages_total integer NOT NULL DEFAULT 0 CHECK (ocr_pages_total >= 0),
    ADD COLUMN ocr_pages_done  integer NOT NULL DEFAULT 0 CHECK (ocr_pages_done >= 0),
    ADD COLUMN ocr_pages       integer NOT NULL DEFAULT 0 CHECK (ocr_pages >= 0);

-- The text OCR read from each page of one object version (an image is page 1). A page that
-- could not be read keeps its reason in error and empty text. A new object version
-- supersedes the rows of older ones (ingest deletes them when it starts the new OCR).
CREATE TABLE document_pages (
    document_id    uuid        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    source_version text        NOT NULL,
    page           integer     NOT NULL CHECK (page >= 1),
    text           text        NOT NULL DEFAULT '',
    engine         text        NOT NULL,
    confidence     real,
    seconds        real,
    error          text,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (document_id, source_version, page)
);
