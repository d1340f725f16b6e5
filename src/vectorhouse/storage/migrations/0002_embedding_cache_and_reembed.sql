-- vectorhouse schema, version 2: embedding reuse and resumable re-embedding.

-- Hash (first 8 bytes of sha256, as a signed integer) of the document whose text the
-- collection's own embedding function turned into `embedding`; NULL when the caller
-- supplied the vector. Upserting unchanged text finds its vector here and skips the model.
ALTER TABLE records ADD COLUMN doc_hash INTEGER;
CREATE INDEX records_doc_hash ON records (collection_id, doc_hash) WHERE doc_hash IS NOT NULL;

-- Vectors computed by a re-embedding run that has not switched over yet.
CREATE TABLE reembed_staging (
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    rowid         INTEGER NOT NULL,
    seq           INTEGER NOT NULL,          -- the record's seq when it was re-embedded
    embedding     BLOB NOT NULL,
    doc_hash      INTEGER,
    PRIMARY KEY (collection_id, rowid)
) WITHOUT ROWID;

CREATE TABLE reembed_runs (
    collection_id TEXT PRIMARY KEY REFERENCES collections(id) ON DELETE CASCADE,
    function      TEXT NOT NULL              -- JSON: the new function's stored config
);
