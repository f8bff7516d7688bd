"""Code-intelligence benchmark: accuracy against Universal Ctags, throughput, size, latency.

1. Accuracy: for each language, the definitions of functions, methods, classes, structs,
   interfaces and traits that Universal Ctags reports vs ours, on the Python train split and
   one real project per language fetched from a registry (tests/bench/code_projects.py);
   recall, precision, and the disagreements grouped by kind and file for spot-checking.
2. Reference resolution: on the train split, call sites whose target the source itself
   settles (``self.m()`` inside a class that defines ``m``; ``f()`` of a function or class
   the same module defines once at top level); top-1 accuracy of ``defs`` at each call.
3. Throughput: the code analyzer's own time (parse + extract + store, one core) over the
   train split and over all projects; index size ÷ source size (code tables only).
4. Latency: p50/p99 of defs, refs, search and similar on the train split's index.

Needs ``ctags`` (apt-get install universal-ctags), npm, pip and apt-get for the projects.
Usage: python tests/bench/bench_code.py [--cache DIR] [--languages python,go] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import apsw

from app.code import CodeAnalyzer, CodeIndex
from app.code.analyzer import prepare_code
from app.code.packing import CALL, unpack_sites
from app.code.texts import DocumentTexts
from app.ingest import IngestOptions, IngestRun
from app.store import Store
from tests.bench.code_ctags import Comparison, compare, source_files
from tests.bench.code_projects import copy_sources, fetch_all

CODE_TABLES = re.compile(r"^(code_|sqlite_autoindex_code_)")
CODE_RELATIONS = ("defines", "ast_child", "calls", "imports", "inherits")
QUERIES = 200


class TimedAnalyzer(CodeAnalyzer):
    """The real analyzer, with its own time (parse + extract + store) measured: wall clock,
    and this thread's CPU time, which other processes on a shared machine do not inflate."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    @property
    def preparer(self):  # type: ignore[no-untyped-def]
        # The parse and extraction run in the preparer (in this process: the bench ingests
        # with one worker), so they are timed there.
        return self._timed_prepare

    def _timed_prepare(self, path, text, language):  # type: ignore[no-untyped-def]
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return prepare_code(path, text, language)
        finally:
            self.seconds += time.perf_counter() - start
            self.cpu_seconds += time.thread_time() - cpu

    def analyze(self, conn, doc, tokenizer) -> None:  # type: ignore[no-untyped-def]
        start, cpu = time.perf_counter(), time.thread_time()
        super().analyze(conn, doc, tokenizer)
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.thread_time() - cpu


# -- accuracy ---------------------------------------------------------------------------------


def accuracy(projects, files) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    rows = []
    for project, _ in projects:
        result: Comparison = compare(files[project.language], project.language)
        rows.append({
            "language": project.language, "project": project.name, "source": project.source,
            "files": result.files, "ctags": result.ctags, "ours": result.ours,
            "recall": round(result.recall, 4), "precision": round(result.precision, 4),
            "precision_known_gaps_excluded": round(result.precision_known_gaps_excluded, 4),
            "kind_differs": result.kind_differs,
            "missed_by_kind": Counter(t.kind for t in result.missed).most_common(),
            "extra_by_kind": Counter(t.kind for t in result.extra).most_common(),
            "extra_by_cause": result.extra_by_cause,
            "extra_by_file": Counter(Path(t.path).name for t in result.extra).most_common(6),
            "missed_sample": [f"{Path(t.path).name}:{t.line} {t.kind} {t.name}"
                              for t in result.missed[:8]],
            "extra_sample": [f"{Path(t.path).name}:{t.line} {t.kind} {t.name}"
                             for t in result.extra[:8]],
        })
    return rows


# -- throughput and size ----------------------------------------------------------------------


def ingest_timed(root: Path, db: Path) -> dict[str, float]:
    source = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    analyzer = TimedAnalyzer()
    start = time.perf_counter()
    with Store(db) as store:
        IngestRun(store, IngestOptions(roots=[root]), analyzers=[analyzer]).run()
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    total = time.perf_counter() - start
    return {
        "source_mb": round(source / 1e6, 2),
        "analyzer_seconds": round(analyzer.seconds, 2),
        "analyzer_mb_per_s": round(source / analyzer.seconds / 1e6, 2),
        "analyzer_cpu_seconds": round(analyzer.cpu_seconds, 2),
        "analyzer_mb_per_cpu_s": round(source / analyzer.cpu_seconds / 1e6, 2),
        "ingest_seconds_total": round(total, 2),
        **index_size(db, source),
    }


def index_size(db: Path, source: int) -> dict[str, float]:
    """Bytes of the code tables and indexes, plus the code share of relations and names'
    compositions, ÷ source bytes."""
    conn = apsw.Connection(str(db))
    pages = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
    own = sum(size for name, size in pages.items() if CODE_TABLES.match(name))
    relation_rows = conn.execute("SELECT count(*) FROM relations").fetchone()[0] or 1
    code_rows = conn.execute(
        f"SELECT count(*) FROM relations WHERE kind IN ({','.join('?' * 5)})",
        CODE_RELATIONS).fetchone()[0]
    relations = sum(size for name, size in pages.items() if name.startswith("relations")) \
        * code_rows / relation_rows
    total_compositions = conn.execute("SELECT count(*) FROM compositions").fetchone()[0] or 1
    ident = conn.execute("SELECT count(*) FROM compositions WHERE tag = 'ident'").fetchone()[0]
    children = conn.execute("SELECT count(*) FROM composition_children").fetchone()[0] or 1
    ident_children = conn.execute(
        "SELECT count(*) FROM composition_children WHERE parent IN"
        " (SELECT id FROM compositions WHERE tag = 'ident')").fetchone()[0]
    compositions = sum(size for name, size in pages.items()
                       if name.startswith("compositions")) * ident / total_compositions \
        + sum(size for name, size in pages.items()
              if name.startswith("composition_children")) * ident_children / children
    fts = sum(size for name, size in pages.items() if name.startswith("code_fts"))
    conn.close()
    total = own + relations + compositions
    return {
        "index_mb": round(total / 1e6, 2),
        "index_ratio": round(total / source, 3),
        "fts_ratio": round(fts / source, 3),
        "tables_ratio": round((own - fts) / source, 3),
        "relations_ratio": round(relations / source, 3),
        "name_compositions_ratio": round(compositions / source, 3),
        "file_ratio": round(db.stat().st_size / source, 3),
    }


# -- reference resolution ---------------------------------------------------------------------


def resolution(index: CodeIndex, sample: int, seed: int = 7) -> dict[str, object]:
    """defs at call sites whose right answer the source itself settles."""
    conn = index.store.conn
    cases: list[tuple[str, str, int, int, int]] = []
    rows = conn.execute(
        "SELECT d.path, d.id, n.name, r.sites, f.first_symbol FROM code_refs r"
        " JOIN code_names n ON n.id = r.name_id JOIN documents d ON d.id = r.doc_id"
        f" JOIN code_files f ON f.doc_id = r.doc_id WHERE r.kind = {CALL}").fetchall()
    symbols = {sid: (doc, name, kind, parent) for sid, doc, name, kind, parent in conn.execute(
        "SELECT s.id, s.doc_id, n.name, s.kind, s.parent_id FROM code_symbols s"
        " JOIN code_names n ON n.id = s.name_id")}
    by_doc_name: dict[tuple[int, str], list[int]] = {}
    for sid, (doc, name, _, _) in symbols.items():
        by_doc_name.setdefault((doc, name), []).append(sid)
    texts = DocumentTexts(conn)
    for path, doc, name, blob, first in rows:
        for line, column, enclosing in unpack_sites(blob):
            if not enclosing:
                continue
            caller = first + int(enclosing) - 1
            candidates = by_doc_name.get((doc, name), [])
            line_text = texts.get(doc).line(int(line))
            before = line_text[:int(column) - 1]
            # self.m() where the enclosing class defines m: that method.
            if before.endswith("self."):
                klass = symbols[caller][3]
                while klass is not None and symbols[klass][2] != "class":
                    klass = symbols[klass][3]
                own = [c for c in candidates if symbols[c][3] == klass and klass is not None]
                if len(own) == 1:
                    cases.append((path, name, int(line), int(column), own[0]))
            # f() of a function or class this module defines once, at its top level.
            elif not before.endswith(".") and len(candidates) == 1 \
                    and symbols[candidates[0]][3] is None \
                    and symbols[candidates[0]][2] in ("function", "class"):
                cases.append((path, name, int(line), int(column), candidates[0]))
    random.Random(seed).shuffle(cases)
    cases = cases[:sample]
    right = 0
    wrong: list[str] = []
    for path, name, line, column, target in cases:
        found = index.defs(at=f"{path}:{line}:{column}", limit=1)
        if found and found[0].id == target:
            right += 1
        elif len(wrong) < 5:
            wrong.append(f"{Path(path).name}:{line}:{column} {name} → "
                         f"{found[0].qualified_name if found else None}")
    return {"call_sites": len(cases), "top1": round(right / max(1, len(cases)), 4),
            "wrong_sample": wrong}


# -- latency ----------------------------------------------------------------------------------


def latency(index: CodeIndex, seed: int = 11) -> dict[str, dict[str, float]]:
    conn = index.store.conn
    rng = random.Random(seed)
    names = [n for (n,) in conn.execute(
        "SELECT DISTINCT n.name FROM code_symbols s JOIN code_names n ON n.id = s.name_id")]
    used = [n for (n,) in conn.execute(
        "SELECT n.name FROM code_refs r JOIN code_names n ON n.id = r.name_id"
        " GROUP BY r.name_id")]
    functions = conn.execute(
        "SELECT d.path, s.start_line, s.end_line FROM code_symbols s"
        " JOIN documents d ON d.id = s.doc_id JOIN code_fingerprints p ON p.symbol_id = s.id"
        " WHERE s.kind IN ('function', 'method') AND p.minhash IS NOT NULL").fetchall()
    words = [w for w in used if len(w) >= 4]
    call_sites = [(path, int(line), int(column)) for path, blob in conn.execute(
        "SELECT d.path, r.sites FROM code_refs r JOIN documents d ON d.id = r.doc_id"
        f" WHERE r.kind = {CALL}") for line, column, _ in unpack_sites(blob)]
    plans = {
        "defs": lambda: index.defs(rng.choice(names)),
        "defs_at_call_site": lambda: index.defs(at="{}:{}:{}".format(*rng.choice(call_sites)),
                                                limit=10),
        "refs": lambda: index.refs(rng.choice(used), limit=50),
        "search": lambda: index.search(rng.choice(words), limit=20),
        "similar": lambda: index.similar(
            "{}:{}".format(*(lambda f: (f[0], rng.randint(f[1], f[2])))(rng.choice(functions))),
            limit=10),
    }
    results = {}
    for label, plan in plans.items():
        first = time.perf_counter()
        plan()  # the first call loads caches (the signature matrix for similar)
        cold = (time.perf_counter() - first) * 1000
        times, cpu_times = [], []
        for _ in range(QUERIES):
            start, cpu = time.perf_counter(), time.thread_time()
            plan()
            times.append((time.perf_counter() - start) * 1000)
            cpu_times.append((time.thread_time() - cpu) * 1000)
        times.sort()
        cpu_times.sort()
        results[label] = {"p50_ms": round(statistics.median(times), 2),
                          "p99_ms": round(times[int(len(times) * 0.99) - 1], 2),
                          "cpu_p50_ms": round(statistics.median(cpu_times), 2),
                          "cpu_p99_ms": round(cpu_times[int(len(cpu_times) * 0.99) - 1], 2),
                          "first_ms": round(cold, 2)}
    return results


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "hypercube-bench-code",
                        help="where fetched projects are kept between runs")
    parser.add_argument("--languages", help="comma-separated subset (default: all)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    languages = set(args.languages.split(",")) if args.languages else None
    projects = fetch_all(args.cache, languages)
    files = {p.language: source_files(root, p.language, p.patterns) for p, root in projects}
    results: dict[str, object] = {"accuracy": accuracy(projects, files)}

    work = Path(tempfile.mkdtemp(prefix="hypercube-bench-code-"))
    train = next((root for p, root in projects if p.language == "python"), None)
    if train is not None:
        db = work / "python.db"
        results["throughput_python_train"] = ingest_timed(train, db)
        with Store(db) as store:
            index = CodeIndex(store)
            results["resolution"] = resolution(index, 500)
            results["latency"] = latency(index)
    everything = copy_sources(projects, files, work / "all")
    results["throughput_all_projects"] = ingest_timed(everything, work / "all.db")

    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'language':<11} {'project':<48} {'ctags':>6} {'ours':>6} {'recall':>7} "
          f"{'precision':>9} {'(gaps set aside)':>16}")
    for row in results["accuracy"]:  # type: ignore[union-attr]
        print(f"{row['language']:<11} {row['project']:<48} {row['ctags']:>6} {row['ours']:>6} "
              f"{row['recall']:>7.2%} {row['precision']:>9.2%} "
              f"{row['precision_known_gaps_excluded']:>16.2%}")
    for row in results["accuracy"]:  # type: ignore[union-attr]
        if row["missed_sample"] or row["extra_sample"]:
            print(f"\n{row['language']}: missed {row['missed_by_kind']}, "
                  f"extra {row['extra_by_kind']} (by file {row['extra_by_file']}; "
                  f"by cause {row['extra_by_cause']})")
            for line in row["missed_sample"][:4]:
                print(f"   missed {line}")
            for line in row["extra_sample"][:4]:
                print(f"   extra  {line}")
    for key in ("resolution", "throughput_python_train", "throughput_all_projects", "latency"):
        if key in results:
            print(f"\n{key}: {json.dumps(results[key], indent=1)}")


if __name__ == "__main__":
    main()
