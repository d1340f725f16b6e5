-- vectorhouse schema, version 3: the database's identity.

-- A random id given to the database when it is created (or, for a database made by an
-- earlier release, when this migration runs on its first open). Index files record it,
-- so that a graph file copied in from another database is never used for this one.
CREATE TABLE database_info (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO database_info (key, value) VALUES ('database_id', lower(hex(randomblob(16))));
