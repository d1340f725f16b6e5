-- vectorhouse schema, version 4: each collection's number of records, kept by triggers.

-- Counting a collection's records with count(*) reads its whole index (10-20 ms at 120k
-- records), and opening a saved graph compares that count with the graph's. The count is
-- kept here instead, in the same transaction as every insert and delete, whichever code
-- or process makes them. `vectorhouse check` compares it with count(*) and repairs it.
ALTER TABLE collections ADD COLUMN record_count INTEGER NOT NULL DEFAULT 0;
UPDATE collections
   SET record_count = (SELECT count(*) FROM records WHERE records.collection_id = collections.id);

CREATE TRIGGER records_count_insert AFTER INSERT ON records BEGIN
    UPDATE collections SET record_count = record_count + 1 WHERE id = NEW.collection_id;
END;
CREATE TRIGGER records_count_delete AFTER DELETE ON records BEGIN
    UPDATE collections SET record_count = record_count - 1 WHERE id = OLD.collection_id;
END;
CREATE TRIGGER records_count_move AFTER UPDATE OF collection_id ON records
WHEN OLD.collection_id IS NOT NEW.collection_id BEGIN
    UPDATE collections SET record_count = record_count - 1 WHERE id = OLD.collection_id;
    UPDATE collections SET record_count = record_count + 1 WHERE id = NEW.collection_id;
END;
