-- The core hypercube: atoms, compositions, the tokenizer's vocabulary, documents and their
-- token streams, typed relations with provenance, and the ingest runs that produced them.

CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- Only the atoms the vocabulary uses are stored; any other codepoint's point is computed on
-- demand by app.geometry, so the file stays small and the count depends only on content.
CREATE TABLE atoms(
  codepoint INTEGER PRIMARY KEY CHECK (codepoint BETWEEN 0 AND 1114111),
  x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL, w REAL NOT NULL,
  hilbert INTEGER NOT NULL,
  category TEXT NOT NULL
) STRICT;
CREATE INDEX atoms_by_hilbert ON atoms(hilbert);

-- Content-addressed Merkle DAG: id = 63-bit BLAKE2b of (tag, ordered child ids).
-- content caches the UTF-8 bytes the node expands to, so reading a token never walks the DAG;
-- `hypercube db check` verifies it against the children.
CREATE TABLE compositions(
  id INTEGER PRIMARY KEY,
  tag TEXT NOT NULL,
  length INTEGER NOT NULL,
  content BLOB NOT NULL,
  x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL, w REAL NOT NULL,
  hilbert INTEGER NOT NULL
) STRICT;
CREATE INDEX compositions_by_hilbert ON compositions(hilbert);

CREATE TABLE composition_children(
  parent INTEGER NOT NULL REFERENCES compositions(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  child INTEGER NOT NULL,
  PRIMARY KEY (parent, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX composition_children_by_child ON composition_children(child);

-- The tokenizer: dense token ids for the model, each naming an atom or a composition.
-- merge_rank orders the learned pair merges (NULL for base symbols and byte fallbacks).
CREATE TABLE vocabulary(
  token_id INTEGER PRIMARY KEY,
  node INTEGER NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('byte', 'atom', 'composition')),
  merge_rank INTEGER UNIQUE
) STRICT;

CREATE TABLE runs(
  id INTEGER PRIMARY KEY,
  started REAL NOT NULL,
  finished REAL,
  status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled', 'interrupted')),
  roots TEXT NOT NULL,
  files_added INTEGER NOT NULL DEFAULT 0,
  files_changed INTEGER NOT NULL DEFAULT 0,
  files_unchanged INTEGER NOT NULL DEFAULT 0,
  files_removed INTEGER NOT NULL DEFAULT 0,
  files_skipped INTEGER NOT NULL DEFAULT 0,
  bytes_ingested INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE documents(
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  content_hash TEXT NOT NULL,
  size INTEGER NOT NULL,
  language TEXT NOT NULL,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  n_tokens INTEGER NOT NULL,
  ingested REAL NOT NULL
) STRICT;
CREATE INDEX documents_by_run ON documents(run_id);

-- The sequence relation of a document: its ordered token stream (little-endian uint16;
-- vocabularies are capped at 65,536 tokens). Every sequence statistic the generator uses is derived
-- from these, so deleting a document removes its contribution exactly.
CREATE TABLE document_tokens(
  doc_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
  tokens BLOB NOT NULL
) STRICT;

-- Typed, weighted edges with provenance (document and run).
CREATE TABLE relations(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  src INTEGER NOT NULL,
  dst INTEGER NOT NULL,
  weight REAL NOT NULL DEFAULT 1.0,
  doc_id INTEGER REFERENCES documents(id) ON DELETE CASCADE,
  run_id INTEGER REFERENCES runs(id)
) STRICT;
CREATE INDEX relations_by_src ON relations(kind, src);
CREATE INDEX relations_by_dst ON relations(kind, dst);
CREATE INDEX relations_by_doc ON relations(doc_id);
