"""The ingest analyzer that stores code facts, inside the ingest's own write transaction.

Every document goes into the trigram search index; documents in a language we parse also get
their symbols, reference sites, imports, inheritance and shape fingerprints, and the main
edges are mirrored into the core ``relations`` table between name compositions, with the
document and run as provenance:

==========  =========================================  ======================================
kind        src → dst                                   weight
==========  =========================================  ======================================
defines     file's module name → each top-level name    1 per definition
ast_child   enclosing definition's name → nested name   1 per definition
calls       caller's name (or module) → callee name     number of call sites
imports     module name → imported module               number of import statements
inherits    type name → base name                       1
==========  =========================================  ======================================

Plain references stay in ``code_refs`` only: one mirrored row per (user, name) pair would
make the relations table larger than the source it describes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import PurePath

import apsw
import numpy as np

from app.code.extract import FileFacts, extract
from app.code.languages import language_spec
from app.code.names import NAME_TAG, NameTable
from app.code.packing import KIND_CODE, fits_narrow, pack_sites
from app.ingest.protocols import IngestedDocument, Preparer
from app.store.checksums import blob_checksum
from app.store.rows import integer
from app.tokenizer import Tokenizer

RELATION_KINDS = ("defines", "ast_child", "calls", "imports", "inherits")
_KIND_LIST = ", ".join(f"'{kind}'" for kind in RELATION_KINDS)


def _module_has_edges(facts: FileFacts) -> bool:
    """Whether :meth:`CodeAnalyzer._mirror` gives the file's module name any relation."""
    return (any(d.parent < 0 for d in facts.definitions)
            or any(i.module for i in facts.imports)
            or any(g.kind == "call" and g.name and bool((g.sites[:, 2] == 0).any())
                   for g in facts.references))


def module_name(path: str) -> str:
    """A file's module name as its language would say it, from the path alone."""
    pure = PurePath(path)
    if pure.stem in ("__init__", "index", "mod", "lib", "main") and pure.parent.name:
        return pure.parent.name
    return pure.stem


def prepare_code(path: str, text: str, language: str) -> FileFacts | None:
    """The file's facts (None for a language we do not parse): the parse and queries, which
    are most of the analyzer's time, as an ingest worker process may run them."""
    spec = language_spec(language)
    if spec is None:
        return None
    facts = extract(spec, text)
    for definition in facts.definitions:
        # Parse tree nodes neither pickle nor are stored; the tree can go with them.
        definition.node = None
    return facts


class CodeAnalyzer:
    """Stores code intelligence facts for each ingested document (see module docstring)."""

    name = "code"

    def __init__(self) -> None:
        self._names = NameTable()

    @property
    def preparer(self) -> Preparer:
        return prepare_code

    def analyze(self, conn: apsw.Connection, doc: IngestedDocument,
                tokenizer: Tokenizer) -> None:
        conn.execute("INSERT INTO code_fts(rowid, body) VALUES(?, ?)", (doc.doc_id, doc.text))
        if self.name in doc.prepared:
            facts = doc.prepared[self.name]
        else:
            # A caller that did not run the preparer: the same facts, computed here.
            facts = prepare_code(doc.path, doc.text, doc.language)
        if facts is None:
            return
        assert isinstance(facts, FileFacts)
        self._store(conn, doc, facts, tokenizer)

    def forget(self, conn: apsw.Connection, doc_ids: Sequence[int]) -> None:
        """Remove these documents' facts, then whatever only they referred to.

        The name compositions their relations pointed at and the names only they used go too,
        so a hypercube updated file by file holds exactly what one built from scratch would.
        """
        ids = [(i,) for i in doc_ids]
        # The FTS table is virtual and cannot cascade; the rest could, but the garbage
        # collection below must see the facts gone first.
        conn.executemany("DELETE FROM code_fts WHERE rowid = ?", ids)
        nodes: set[int] = set()
        names: set[int] = set()
        modules: set[str] = set()
        for (doc_id,) in ids:
            for src, dst in conn.execute("SELECT src, dst FROM relations WHERE doc_id = ? "
                                         f"AND kind IN ({_KIND_LIST})", (doc_id,)):
                nodes.update((src, dst))
            names.update(n for (n,) in conn.execute(
                "SELECT name_id FROM code_symbols WHERE doc_id = ? UNION "
                "SELECT name_id FROM code_refs WHERE doc_id = ? UNION "
                "SELECT i.base_name_id FROM code_inherits i JOIN code_symbols s "
                "ON s.id = i.symbol_id WHERE s.doc_id = ?", (doc_id, doc_id, doc_id)))
            modules.update(m for (m,) in conn.execute(
                "SELECT module FROM code_files WHERE doc_id = ? UNION "
                "SELECT module FROM code_imports WHERE doc_id = ?", (doc_id, doc_id)))
        conn.executemany(f"DELETE FROM relations WHERE doc_id = ? AND kind IN ({_KIND_LIST})",
                         ids)
        for table in ("code_symbols", "code_refs", "code_imports", "code_files"):
            conn.executemany(f"DELETE FROM {table} WHERE doc_id = ?", ids)
        for module in modules:
            row = conn.execute("SELECT id FROM code_names WHERE name = ?", (module,)).fetchone()
            if row is not None:
                names.add(row[0])
        self._collect(conn, nodes, names)

    def _collect(self, conn: apsw.Connection, nodes: set[int], names: set[int]) -> None:
        """Drop the candidate name compositions and names nothing refers to any more."""
        unused_nodes = [
            (node,) for node in nodes
            if not conn.execute(
                f"SELECT 1 FROM relations WHERE kind IN ({_KIND_LIST}) AND (src = ? OR dst = ?)"
                " LIMIT 1", (node, node)).fetchone()
        ]
        conn.executemany("DELETE FROM compositions WHERE id = ? AND tag = ?",
                         [(node, NAME_TAG) for (node,) in unused_nodes])
        unused_names = []
        for name_id in names:
            name = conn.execute("SELECT name FROM code_names WHERE id = ?",
                                (name_id,)).fetchone()
            if name is None:
                continue
            if not conn.execute(
                    "SELECT 1 FROM code_symbols WHERE name_id = ?1 UNION ALL "
                    "SELECT 1 FROM code_refs WHERE name_id = ?1 UNION ALL "
                    "SELECT 1 FROM code_inherits WHERE base_name_id = ?1 UNION ALL "
                    "SELECT 1 FROM code_files WHERE module = ?2 UNION ALL "
                    "SELECT 1 FROM code_imports WHERE module = ?2 LIMIT 1",
                    (name_id, name[0])).fetchone():
                unused_names.append((name_id,))
        conn.executemany("DELETE FROM code_names WHERE id = ?", unused_names)
        if unused_nodes or unused_names:
            # The name cache believes those rows exist: start it afresh.
            self._names = NameTable()

    # -- storing ----------------------------------------------------------------------------

    def _store(self, conn: apsw.Connection, doc: IngestedDocument, facts: FileFacts,
               tokenizer: Tokenizer) -> None:
        module = module_name(doc.path)
        names = {d.name for d in facts.definitions}
        names.update(g.name for g in facts.references)
        names.update(i.base_name for i in facts.inheritance)
        names.update(i.module for i in facts.imports)
        names.add(module)
        names.discard("")
        # The names the mirrored relations point at (see _mirror) need stored nodes.
        keep = {d.name for d in facts.definitions}
        keep.update(g.name for g in facts.references if g.kind == "call")
        keep.update(i.base_name for i in facts.inheritance)
        keep.update(i.module for i in facts.imports)
        if _module_has_edges(facts):
            keep.add(module)
        keep.discard("")
        entries = self._names.lookup(conn, names, keep, tokenizer)
        name_ids = {name: entry[0] for name, entry in entries.items()}
        first = integer(conn, "SELECT coalesce(max(id), 0) + 1 FROM code_symbols")
        conn.execute(
            "INSERT INTO code_files(doc_id, language, module, first_symbol, n_symbols,"
            " parse_errors) VALUES(?, ?, ?, ?, ?, ?)",
            (doc.doc_id, facts.language, module, first, len(facts.definitions),
             facts.parse_errors),
        )
        conn.executemany(
            "INSERT INTO code_symbols(id, doc_id, parent_id, name_id, kind, qualified_name,"
            " signature, doc, start_line, start_col, end_line, end_col, name_line, name_col)"
            " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(first + i, doc.doc_id, None if d.parent < 0 else first + d.parent,
              name_ids[d.name], d.kind, d.qualified_name, d.signature, d.doc, d.start_line,
              d.start_col, d.end_line, d.end_col, d.name_line, d.name_col)
             for i, d in enumerate(facts.definitions)],
        )
        conn.executemany(
            "INSERT INTO code_fingerprints(symbol_id, shape, minhash, checksum)"
            " VALUES(?, ?, ?, ?)",
            [(first + i, d.shape, d.minhash, blob_checksum(d.minhash))
             for i, d in enumerate(facts.definitions) if d.shape is not None],
        )
        groups = [g for g in facts.references if g.name]
        narrow = fits_narrow(np.concatenate([g.sites for g in groups])) if groups else True
        conn.executemany(
            "INSERT INTO code_refs(doc_id, name_id, kind, count, sites, checksum)"
            " VALUES(?, ?, ?, ?, ?, ?)",
            [(doc.doc_id, name_ids[g.name], KIND_CODE[g.kind], len(g.sites), sites,
              blob_checksum(sites))
             for g in groups for sites in (pack_sites(g.sites, narrow),)],
        )
        conn.executemany(
            "INSERT INTO code_imports(doc_id, module, name, alias, line) VALUES(?, ?, ?, ?, ?)",
            [(doc.doc_id, i.module, i.name, i.alias, i.line) for i in facts.imports],
        )
        conn.executemany(
            "INSERT INTO code_inherits(symbol_id, base_name_id, base, kind) VALUES(?, ?, ?, ?)",
            [(first + i.symbol, name_ids[i.base_name], i.base, i.kind)
             for i in facts.inheritance if i.base_name],
        )
        self._mirror(conn, doc, facts, {name: entry[1] for name, entry in entries.items()},
                     module)

    def _mirror(self, conn: apsw.Connection, doc: IngestedDocument, facts: FileFacts,
                node_of: dict[str, int], module: str) -> None:
        """The main edges as core relations between name compositions (see the table above)."""
        defs = facts.definitions
        module_node = node_of[module]
        edges: Counter[tuple[str, int, int]] = Counter()
        for d in defs:
            node = node_of[d.name]
            if d.parent < 0:
                edges["defines", module_node, node] += 1
            else:
                edges["ast_child", node_of[defs[d.parent].name], node] += 1
        for group in facts.references:
            if group.kind != "call" or not group.name:
                continue
            callee = node_of[group.name]
            for enclosing, count in Counter(group.sites[:, 2].tolist()).items():
                caller = (module_node if enclosing == 0
                          else node_of[defs[enclosing - 1].name])
                edges["calls", caller, callee] += count
        for imp in facts.imports:
            if imp.module:
                edges["imports", module_node, node_of[imp.module]] += 1
        for inh in facts.inheritance:
            if inh.base_name:
                edges["inherits", node_of[defs[inh.symbol].name],
                      node_of[inh.base_name]] += 1
        conn.executemany(
            "INSERT INTO relations(kind, src, dst, weight, doc_id, run_id)"
            " VALUES(?, ?, ?, ?, ?, ?)",
            [(kind, src, dst, float(weight), doc.doc_id, doc.run_id)
             for (kind, src, dst), weight in edges.items()],
        )

