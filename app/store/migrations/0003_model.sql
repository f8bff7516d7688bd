-- The generation model (app/model): ∞-gram segments over the documents' token streams and
-- the parameters fitted on held-out documents. Everything here is derived from
-- document_tokens and can be rebuilt from it at any time.

-- One segment indexes a set of documents (usually those of one ingest run).
CREATE TABLE model_segments(
  id INTEGER PRIMARY KEY,
  created REAL NOT NULL,
  vocab_size INTEGER NOT NULL,
  kmax INTEGER NOT NULL,
  thresh INTEGER NOT NULL,
  stream_length INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  documents INTEGER NOT NULL
) STRICT;

-- The segment's arrays as raw little-endian blobs (read straight into numpy at load).
CREATE TABLE model_segment_arrays(
  id INTEGER PRIMARY KEY,
  segment_id INTEGER NOT NULL REFERENCES model_segments(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  dtype TEXT NOT NULL,
  data BLOB NOT NULL,
  UNIQUE (segment_id, name)
) STRICT;

-- Which documents (and which version of each) a segment counts. No foreign key to
-- documents on purpose: a deleted or replaced document must stay listed here until its
-- segment is rebuilt, which is how the model notices it is stale.
CREATE TABLE model_segment_docs(
  doc_id INTEGER PRIMARY KEY,
  segment_id INTEGER NOT NULL REFERENCES model_segments(id) ON DELETE CASCADE,
  content_hash TEXT NOT NULL
) STRICT;
CREATE INDEX model_segment_docs_by_segment ON model_segment_docs(segment_id);

-- The fitted parameters (one row) and what they were fitted on.
CREATE TABLE model_params(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  params TEXT NOT NULL,
  fitted REAL NOT NULL,
  corpus_tokens INTEGER NOT NULL,
  heldout_tokens INTEGER NOT NULL,
  heldout_bits_per_token REAL
) STRICT;
