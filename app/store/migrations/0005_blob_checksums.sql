-- A BLAKE2b checksum (16 bytes, app/store/checksums.py) beside every blob, because SQLite's
-- integrity_check cannot see a flipped bit inside one: model arrays are verified when the
-- model loads, and `hypercube db check` verifies them all.
--
-- Existing files get their checksums here, in the migration's own transaction, rather than
-- at the next write: model segments are rewritten only when their documents change, so
-- "at the next write" would leave most of a file unprotected for good, and `db check` could
-- not tell a missing checksum from one never written. blob_checksum() is the Python function
-- every Store registers on its connection.

ALTER TABLE document_tokens ADD COLUMN checksum BLOB;
ALTER TABLE model_segment_arrays ADD COLUMN checksum BLOB;
ALTER TABLE api_files ADD COLUMN checksum BLOB;
ALTER TABLE code_refs ADD COLUMN checksum BLOB;
ALTER TABLE code_fingerprints ADD COLUMN checksum BLOB;

UPDATE document_tokens SET checksum = blob_checksum(tokens);
UPDATE model_segment_arrays SET checksum = blob_checksum(data);
UPDATE api_files SET checksum = blob_checksum(content);
UPDATE code_refs SET checksum = blob_checksum(sites);
UPDATE code_fingerprints SET checksum = blob_checksum(minhash);

-- Writers that do not compute the checksum themselves (the code index's small blobs) get it
-- filled in here. The big blobs (model arrays, token streams, files) are written with theirs,
-- so these triggers never rewrite a large row. A blob replaced by UPDATE gets a new checksum
-- unless the same statement sets one.
CREATE TRIGGER document_tokens_checksum AFTER INSERT ON document_tokens
  WHEN NEW.checksum IS NULL
  BEGIN UPDATE document_tokens SET checksum = blob_checksum(NEW.tokens) WHERE doc_id = NEW.doc_id; END;
CREATE TRIGGER document_tokens_checksum_update AFTER UPDATE OF tokens ON document_tokens
  WHEN NEW.checksum IS OLD.checksum
  BEGIN UPDATE document_tokens SET checksum = blob_checksum(NEW.tokens) WHERE doc_id = NEW.doc_id; END;
CREATE TRIGGER model_segment_arrays_checksum AFTER INSERT ON model_segment_arrays
  WHEN NEW.checksum IS NULL
  BEGIN UPDATE model_segment_arrays SET checksum = blob_checksum(NEW.data) WHERE id = NEW.id; END;
CREATE TRIGGER model_segment_arrays_checksum_update AFTER UPDATE OF data ON model_segment_arrays
  WHEN NEW.checksum IS OLD.checksum
  BEGIN UPDATE model_segment_arrays SET checksum = blob_checksum(NEW.data) WHERE id = NEW.id; END;
CREATE TRIGGER api_files_checksum AFTER INSERT ON api_files
  WHEN NEW.checksum IS NULL
  BEGIN UPDATE api_files SET checksum = blob_checksum(NEW.content) WHERE id = NEW.id; END;
CREATE TRIGGER code_refs_checksum AFTER INSERT ON code_refs
  WHEN NEW.checksum IS NULL
  BEGIN UPDATE code_refs SET checksum = blob_checksum(NEW.sites) WHERE id = NEW.id; END;
CREATE TRIGGER code_refs_checksum_update AFTER UPDATE OF sites ON code_refs
  WHEN NEW.checksum IS OLD.checksum
  BEGIN UPDATE code_refs SET checksum = blob_checksum(NEW.sites) WHERE id = NEW.id; END;
CREATE TRIGGER code_fingerprints_checksum AFTER INSERT ON code_fingerprints
  WHEN NEW.checksum IS NULL AND NEW.minhash IS NOT NULL
  BEGIN UPDATE code_fingerprints SET checksum = blob_checksum(NEW.minhash) WHERE symbol_id = NEW.symbol_id; END;
CREATE TRIGGER code_fingerprints_checksum_update AFTER UPDATE OF minhash ON code_fingerprints
  WHEN NEW.checksum IS OLD.checksum
  BEGIN UPDATE code_fingerprints SET checksum = blob_checksum(NEW.minhash) WHERE symbol_id = NEW.symbol_id; END;
