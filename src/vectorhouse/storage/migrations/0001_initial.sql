-- vectorhouse schema, version 1.
-- Storage is the source of truth; ANN index files are caches derived from `records`.

CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO counters (name, value) VALUES ('seq', 0);

CREATE TABLE collections (
    id            TEXT PRIMARY KEY,           -- uuid4, stable for the collection's life
    name          TEXT NOT NULL UNIQUE,
    metadata      TEXT,                       -- JSON object or NULL
    configuration TEXT NOT NULL,              -- JSON: hnsw settings, embedding function config
    dimension     INTEGER,                    -- NULL until the first vector is stored
    created_seq   INTEGER NOT NULL,
    last_seq      INTEGER NOT NULL            -- seq of the latest write to this collection
);

CREATE TABLE records (
    rowid         INTEGER PRIMARY KEY AUTOINCREMENT,  -- the ANN index label; never reused
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    document      TEXT,
    metadata      TEXT,                       -- JSON object, exactly as given, or NULL
    embedding     BLOB NOT NULL,              -- float32 little-endian
    seq           INTEGER NOT NULL,           -- seq of the last write to this record
    vector_seq    INTEGER NOT NULL,           -- seq of the last change of `embedding`
    UNIQUE (collection_id, id)
);
CREATE INDEX records_collection_vector_seq ON records (collection_id, vector_seq);

-- Deleted records, so an index that is behind can remove them when it catches up.
CREATE TABLE deletions (
    collection_id TEXT NOT NULL,
    rowid         INTEGER NOT NULL,
    seq           INTEGER NOT NULL
);
CREATE INDEX deletions_collection_seq ON deletions (collection_id, seq);

-- One row per metadata scalar (lists: one row per element, is_list = 1), for filtering.
-- num_value has no type affinity: ints stay exact integers, floats stay reals, and
-- SQLite compares the two numerically.
CREATE TABLE record_metadata (
    record     INTEGER NOT NULL REFERENCES records(rowid) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    str_value  TEXT,
    num_value,
    bool_value INTEGER,
    is_list    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX record_metadata_key_str ON record_metadata (key, str_value);
CREATE INDEX record_metadata_key_num ON record_metadata (key, num_value);
CREATE INDEX record_metadata_key_bool ON record_metadata (key, bool_value);
CREATE INDEX record_metadata_record ON record_metadata (record);

-- Substring search on documents ($contains) through a case-sensitive trigram index.
CREATE VIRTUAL TABLE documents_fts USING fts5(
    document, content='records', content_rowid='rowid',
    tokenize = 'trigram case_sensitive 1'
);
CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN
    INSERT INTO documents_fts (rowid, document) VALUES (new.rowid, new.document);
END;
CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, document)
        VALUES ('delete', old.rowid, old.document);
END;
CREATE TRIGGER records_fts_update AFTER UPDATE OF document ON records BEGIN
    INSERT INTO documents_fts (documents_fts, rowid, document)
        VALUES ('delete', old.rowid, old.document);
    INSERT INTO documents_fts (rowid, document) VALUES (new.rowid, new.document);
END;
