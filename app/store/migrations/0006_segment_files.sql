-- Model segments move out of SQLite blobs into content-addressed files beside the hypercube
-- (app/store/segfiles.py: `<file>.segments/<sha256>.seg`), mapped read-only at load so a
-- server starts in constant time and holds in memory only what its queries touch.
--
-- A segment's row names its file (the SHA-256 of its bytes), its size and the checksum of
-- its header, which loading verifies; `hypercube db check` verifies the arrays' checksums in
-- the header. After these columns are added, the migration's Python step
-- (app.store.segfiles.move_blobs_to_files, in this same transaction) writes every existing
-- segment's arrays to its file, references it, and drops model_segment_arrays.

ALTER TABLE model_segments ADD COLUMN file TEXT;
ALTER TABLE model_segments ADD COLUMN file_bytes INTEGER;
ALTER TABLE model_segments ADD COLUMN header_checksum BLOB;
