"""Incremental ingest: a changed file's code facts are replaced exactly, a pruned file's are
gone, and the result equals a fresh ingest of the final tree (compared by content, since
ids differ)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.code import CodeIndex
from app.code.packing import REFERENCE_KINDS, unpack_sites
from app.code.search import trigram_query
from app.ingest import IngestOptions, IngestRun
from app.store import Store
from tests.conftest import make_root, write_python_corpus
from tests.hypercube_dump import dump

CODE_RELATIONS = ("defines", "ast_child", "calls", "imports", "inherits")

FIRST = '''\
class Greeter:
    def greet(self, name):
        return helper(name)


def helper(name):
    return f"hello {name}"
'''
SECOND = '''\
class Greeter:
    def greet(self, name, punctuation="!"):
        return helper(name) + punctuation

    def wave(self):
        return helper("you")


def helper(name):
    return f"hi {name}"
'''
OTHER = '''\
export function shout(text) {
  return text.toUpperCase() + unique_marker();
}
'''


def ingest(db: Path, root: Path, *, prune: bool = False) -> None:
    with Store(db) as store:
        summary = IngestRun(store, IngestOptions(roots=[root], prune=prune),
                            analyzers=make_root().analyzers()).run()
    assert summary.status == "done"


def code_state(db: Path) -> dict[str, list]:
    """Every code fact, keyed by paths and names instead of row ids."""
    with Store(db) as store:
        conn = store.conn
        path_of = dict(conn.execute("SELECT id, path FROM documents"))
        symbols = {sid: (path_of[doc], qname, line) for sid, doc, qname, line in conn.execute(
            "SELECT id, doc_id, qualified_name, start_line FROM code_symbols")}
        first = dict(conn.execute("SELECT doc_id, first_symbol FROM code_files"))
        refs = []
        for name, doc, kind, count, blob in conn.execute(
                "SELECT n.name, r.doc_id, r.kind, r.count, r.sites FROM code_refs r"
                " JOIN code_names n ON n.id = r.name_id"):
            sites = [(int(a), int(b), symbols[first[doc] + int(c) - 1] if c else None)
                     for a, b, c in unpack_sites(blob)]
            refs.append((path_of[doc], name, REFERENCE_KINDS[kind], count, sites))
        state = {
            "files": conn.execute("SELECT d.path, f.language, f.module, f.n_symbols,"
                                  " f.parse_errors FROM code_files f JOIN documents d"
                                  " ON d.id = f.doc_id").fetchall(),
            "symbols": [(symbols[r[0]], *r[1:]) for r in conn.execute(
                "SELECT s.id, s.kind, s.signature, s.doc, s.end_line, s.name_line, s.name_col,"
                " (SELECT qualified_name FROM code_symbols p WHERE p.id = s.parent_id)"
                " FROM code_symbols s")],
            "fingerprints": [(symbols[sid], shape, blob) for sid, shape, blob in conn.execute(
                "SELECT symbol_id, shape, minhash FROM code_fingerprints")],
            "refs": refs,
            "imports": [(path_of[doc], *rest) for doc, *rest in conn.execute(
                "SELECT doc_id, module, name, alias, line FROM code_imports")],
            "inherits": [(symbols[sid], base, kind) for sid, base, kind in conn.execute(
                "SELECT symbol_id, base, kind FROM code_inherits")],
            "relations": conn.execute(
                "SELECT r.kind, s.content, t.content, r.weight, d.path FROM relations r"
                " JOIN compositions s ON s.id = r.src JOIN compositions t ON t.id = r.dst"
                " JOIN documents d ON d.id = r.doc_id"
                f" WHERE r.kind IN ({','.join('?' * len(CODE_RELATIONS))})",
                CODE_RELATIONS).fetchall(),
            "fts_rows": [conn.execute("SELECT count(*) FROM code_fts").fetchone()[0]],
            "fts_marker": sorted(path_of[r] for (r,) in conn.execute(
                "SELECT rowid FROM code_fts WHERE code_fts MATCH ?",
                (trigram_query(["unique_marker"]),))),
        }
    return {key: sorted(value, key=repr) for key, value in state.items()}


def test_changed_file_replaces_its_facts_exactly(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    (root / "greet.py").write_text(FIRST)
    (root / "shout.js").write_text(OTHER)
    db = tmp_path / "h.db"
    ingest(db, root)
    before = code_state(db)
    assert [s[0][1] for s in before["symbols"]] == ["Greeter", "Greeter.greet", "helper",
                                                    "shout"]
    ingest(db, root)  # unchanged: a no-op
    assert code_state(db) == before

    reader = Store(db)
    index = CodeIndex(reader)
    assert index.defs("wave") == [] and index.similar(f"{root / 'greet.py'}:2").hits == []
    (root / "greet.py").write_text(SECOND)
    ingest(db, root)
    after = code_state(db)
    # A reader open during the ingest sees the new facts (its caches follow the file).
    assert [s.qualified_name for s in index.defs("wave")] == ["Greeter.wave"]
    assert index.search("hi {name}")[0].line == 10
    reader.close()
    fresh_root = tmp_path / "fresh" / "src"
    fresh_root.mkdir(parents=True)
    (fresh_root / "greet.py").write_text(SECOND)
    (fresh_root / "shout.js").write_text(OTHER)
    fresh_db = tmp_path / "fresh.db"
    ingest(fresh_db, fresh_root)
    relocated = code_state(fresh_db)

    def rebase(state: dict[str, list]) -> dict[str, list]:
        return {key: sorted(eval(repr(value).replace(str(fresh_root), str(root))), key=repr)
                for key, value in state.items()}

    assert after == rebase(relocated)
    assert [s[0][1] for s in after["symbols"]] == ["Greeter", "Greeter.greet", "Greeter.wave",
                                                   "helper", "shout"]
    # The JavaScript file's facts were untouched by the Python file's change.
    assert [r for r in after["refs"] if r[0].endswith(".js")] == \
        [r for r in before["refs"] if r[0].endswith(".js")]


def test_pruned_file_leaves_no_facts(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    (root / "greet.py").write_text(FIRST)
    (root / "shout.js").write_text(OTHER)
    db = tmp_path / "h.db"
    ingest(db, root)
    assert code_state(db)["fts_marker"] == [str((root / "shout.js").resolve())]
    (root / "shout.js").unlink()
    ingest(db, root, prune=True)
    state = code_state(db)
    assert state["fts_marker"] == [] and state["fts_rows"] == [1]
    assert all(".js" not in repr(rows) for rows in state.values())
    with Store(db) as store:
        orphans = store.conn.execute(
            "SELECT (SELECT count(*) FROM code_symbols WHERE doc_id NOT IN"
            " (SELECT id FROM documents)) + (SELECT count(*) FROM code_refs WHERE doc_id NOT IN"
            " (SELECT id FROM documents)) + (SELECT count(*) FROM code_fingerprints WHERE"
            " symbol_id NOT IN (SELECT id FROM code_symbols))").fetchone()[0]
        # Every node a code relation points at exists: an atom, or a stored composition.
        dangling = store.conn.execute(
            "SELECT count(*) FROM relations r, (SELECT r2.id, r2.src AS node FROM relations r2"
            " UNION ALL SELECT r3.id, r3.dst FROM relations r3) n WHERE n.id = r.id"
            " AND n.node >= 1114112 AND n.node NOT IN (SELECT id FROM compositions)"
            ).fetchone()[0]
    assert orphans == 0 and dangling == 0


def test_a_name_cache_smaller_than_the_names_builds_the_same_hypercube(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's name cache is bounded: names it dropped are found in the table again,
    so a cache of three names stores exactly what an ample one does."""
    root = tmp_path / "src"
    write_python_corpus(root, files=8, lines=30, seed=4)
    (root / "shout.js").write_text(OTHER)
    ample, tiny = tmp_path / "ample.db", tmp_path / "tiny.db"
    ingest(ample, root)
    with monkeypatch.context() as patched:
        patched.setattr("app.code.names.CACHED_NAMES", 3)
        ingest(tiny, root)
        (root / "greet.py").write_text(FIRST)   # a second run over a filled table
        ingest(tiny, root)
    ingest(ample, root)
    assert dump(tiny) == dump(ample)
