-- The API server's own records: files uploaded through /v1/files and the batches of the
-- OpenAI batch API, so a restart loses neither. Results are stored line by line as they are
-- made, so an interrupted batch resumes where it stopped instead of starting again.

CREATE TABLE api_files(
  id TEXT PRIMARY KEY,
  filename TEXT NOT NULL,
  purpose TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  content BLOB NOT NULL
) STRICT;
CREATE INDEX api_files_by_created ON api_files(created_at);

CREATE TABLE api_batches(
  id TEXT PRIMARY KEY,
  endpoint TEXT NOT NULL,
  input_file_id TEXT NOT NULL,
  completion_window TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('validating', 'failed', 'in_progress', 'finalizing',
                                         'completed', 'expired', 'cancelling', 'cancelled')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  in_progress_at INTEGER,
  finalizing_at INTEGER,
  completed_at INTEGER,
  failed_at INTEGER,
  expired_at INTEGER,
  cancelling_at INTEGER,
  cancelled_at INTEGER,
  output_file_id TEXT,
  error_file_id TEXT,
  errors TEXT,                 -- JSON list of {code, message, param, line}
  metadata TEXT,               -- JSON object
  model TEXT,
  total INTEGER NOT NULL DEFAULT 0,
  completed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX api_batches_by_created ON api_batches(created_at);

CREATE TABLE api_batch_results(
  batch_id TEXT NOT NULL REFERENCES api_batches(id) ON DELETE CASCADE,
  line INTEGER NOT NULL,
  ok INTEGER NOT NULL,         -- 1: goes to the output file, 0: to the error file
  result TEXT NOT NULL,        -- the JSONL line
  PRIMARY KEY (batch_id, line)
) STRICT, WITHOUT ROWID;
