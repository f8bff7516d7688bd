-- Code intelligence: what tree-sitter ingestion extracts from source files (app/code).
-- Every table keys on the document (directly or through its symbols) with ON DELETE CASCADE,
-- so replacing or pruning a document removes its facts exactly; the FTS index is the one
-- exception (virtual tables do not cascade) and app.code.CodeAnalyzer.forget clears it.

-- Interned identifier strings. `node` is the name's node in the DAG: its vocabulary token
-- when it is one, else its composition (tag 'ident', children the name's tokens), which is
-- stored once a relation points at it (app/code/names.py). `folded` is the name lower-cased
-- without separators, so get_user_name, getUserName and GetUserName meet in identifier
-- search.
CREATE TABLE code_names(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  folded TEXT NOT NULL,
  node INTEGER NOT NULL
) STRICT;
CREATE INDEX code_names_by_folded ON code_names(folded);

-- One row per parsed source file. Its symbols have the contiguous ids
-- first_symbol .. first_symbol + n_symbols - 1, which the packed reference sites rely on.
CREATE TABLE code_files(
  doc_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
  language TEXT NOT NULL,
  module TEXT NOT NULL,
  first_symbol INTEGER NOT NULL,
  n_symbols INTEGER NOT NULL,
  parse_errors INTEGER NOT NULL
) STRICT;

-- Definitions. Lines and columns are 1-based (columns in characters); the span is the whole
-- definition, name_line/name_col its name. parent_id is the enclosing definition.
CREATE TABLE code_symbols(
  id INTEGER PRIMARY KEY,
  doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  parent_id INTEGER,
  name_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  qualified_name TEXT NOT NULL,
  signature TEXT NOT NULL,
  doc TEXT NOT NULL,
  start_line INTEGER NOT NULL,
  start_col INTEGER NOT NULL,
  end_line INTEGER NOT NULL,
  end_col INTEGER NOT NULL,
  name_line INTEGER NOT NULL,
  name_col INTEGER NOT NULL
) STRICT;
CREATE INDEX code_symbols_by_name ON code_symbols(name_id);
CREATE INDEX code_symbols_by_doc ON code_symbols(doc_id, start_line);

-- Shape fingerprints of functions, methods and types (app/code/fingerprint.py): the hash of
-- the normalised node-kind stream (equal for exact structural clones) and a 64 x uint8
-- MinHash signature of its 4-gram shingles (NULL when the definition is too small).
CREATE TABLE code_fingerprints(
  symbol_id INTEGER PRIMARY KEY REFERENCES code_symbols(id) ON DELETE CASCADE,
  shape INTEGER NOT NULL,
  minhash BLOB
) STRICT;

-- Uses of a name in a file, one row per (name, file, kind) with kind 0 (a reference), 1 (a
-- call) or 2 (a use as a type). sites packs triples (line, column, enclosing) as
-- app/code/packing.py says, where enclosing is 0 at file level, else 1 + the enclosing
-- symbol's offset from first_symbol. (A rowid table with two narrow indexes is a third
-- smaller than a WITHOUT ROWID table keyed on all three columns plus a document index.)
CREATE TABLE code_refs(
  id INTEGER PRIMARY KEY,
  doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  name_id INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  count INTEGER NOT NULL,
  sites BLOB NOT NULL
) STRICT;
CREATE INDEX code_refs_by_name ON code_refs(name_id);
CREATE INDEX code_refs_by_doc ON code_refs(doc_id);

-- Imports as written: `module` is what is imported from ('os.path', './util', 'stdio.h'),
-- `name` an imported name and `alias` the name it is bound to, when the syntax has them.
CREATE TABLE code_imports(
  doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  module TEXT NOT NULL,
  name TEXT,
  alias TEXT,
  line INTEGER NOT NULL
) STRICT;
CREATE INDEX code_imports_by_doc ON code_imports(doc_id);

-- A type's bases: kind 'extends' or 'implements'; base as written, base_name_id its last
-- segment without type arguments (what `implementations NAME` looks up).
CREATE TABLE code_inherits(
  symbol_id INTEGER NOT NULL REFERENCES code_symbols(id) ON DELETE CASCADE,
  base_name_id INTEGER NOT NULL,
  base TEXT NOT NULL,
  kind TEXT NOT NULL
) STRICT;
CREATE INDEX code_inherits_by_base ON code_inherits(base_name_id);
CREATE INDEX code_inherits_by_symbol ON code_inherits(symbol_id);

-- Substring search over every ingested document (rowid = documents.id). Contentless with
-- detail=none keeps it near a third of the source size: a query's trigrams select candidate
-- documents, and the text (rebuilt from document_tokens) confirms each match.
CREATE VIRTUAL TABLE code_fts USING fts5(
  body, tokenize = 'trigram', content = '', contentless_delete = 1, detail = 'none'
);
