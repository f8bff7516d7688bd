"""Segments are kept per language family, and a completion in one language draws on its
family only: ingesting other languages' code beside Python never puts their code into a
Python completion."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from app.engine.engine import Engine
from app.engine.loader import load_engine
from app.engine.types import SamplingParams
from app.ingest import IngestOptions, IngestRun
from app.model.families import code_family, family_of
from app.model.loading import load_model
from app.model.maintain import MAX_SEGMENTS, plan_update
from app.store import Store
from jit import kernels
from tests.conftest import make_root

from .conftest import write_python_corpus

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_CSHARP = """using System.Collections.Generic;

namespace Inventory.Storage
{{
    public sealed class WarehouseLedger{n}<TItem> where TItem : IStockKeeping
    {{
        private readonly Dictionary<string, TItem> shelvesByCode{n} = new();

        public bool TryReserveShelf{n}(string code, out TItem reserved)
        {{
            return shelvesByCode{n}.TryGetValue(code, out reserved);
        }}
    }}
}}
"""

_TYPESCRIPT = """import {{ Observable }} from "rxjs";

export interface ParcelRoute{n} {{
  readonly trackingHandle: string;
  hops: ReadonlyArray<string>;
}}

export function plotParcelRoute{n}(route: ParcelRoute{n}): Observable<string> {{
  return new Observable<string>((subscriber) => {{
    route.hops.forEach((hop) => subscriber.next(`${{route.trackingHandle}}:${{hop}}`));
    subscriber.complete();
  }});
}}
"""


def _write_other_languages(root: Path, copies: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for n in range(copies):
        (root / f"Ledger{n}.cs").write_text(_CSHARP.format(n=n), encoding="utf-8")
        (root / f"route{n}.ts").write_text(_TYPESCRIPT.format(n=n), encoding="utf-8")


def _ingest(store: Store, root: Path) -> None:
    IngestRun(store, IngestOptions(roots=[root]), listeners=make_root().listeners()).run()


def _identifiers(paths: list[Path]) -> set[str]:
    return {name for path in paths for name in _IDENTIFIER.findall(path.read_text("utf-8"))}


def test_families_group_what_is_mutually_useful() -> None:
    assert family_of("typescript") == family_of("tsx") == family_of("javascript")
    assert family_of("cpp") == family_of("c")
    assert family_of("markdown") == family_of("yaml") == family_of(None) == "text"
    assert code_family("Python") == "python"
    assert code_family("markdown") is None and code_family(None) is None


def test_each_family_gets_segments_of_its_own(tmp_path: Path) -> None:
    python_root = tmp_path / "py"
    write_python_corpus(python_root, files=6, seed=1)
    _write_other_languages(tmp_path / "other", copies=4)
    with Store(tmp_path / "h.db") as store:
        _ingest(store, python_root)
        _ingest(store, tmp_path / "other")
        with store.snapshot() as conn:
            assert not plan_update(conn).needed
        model = load_model(store, kernels())
        families = sorted(s.family or "?" for s in model.segments)
        assert families == ["csharp", "javascript", "python"]
        python = model.for_language("python")
        assert [s.family for s in python.segments] == ["python"]
        assert python.tokens == sum(n for n, in store.conn.execute(
            "SELECT n_tokens FROM documents WHERE language = 'python'"))
        assert model.for_language("python") is python          # built once
        assert model.for_language("go") is model                # nothing of it: everything
        assert model.for_language(None) is model


def test_family_segments_are_merged_within_the_family(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        for run in range(MAX_SEGMENTS + 2):
            root = tmp_path / f"run{run}"
            write_python_corpus(root / "py", files=2, seed=20 + run)
            _write_other_languages(root / "cs", copies=1 + run)
            _ingest(store, root)
        model = load_model(store, kernels())
        for family in ("python", "csharp", "javascript"):
            assert 1 <= sum(s.family == family for s in model.segments) <= MAX_SEGMENTS
        covered = set().union(*(set(s.doc_ids.tolist()) for s in model.segments))
        assert covered == {d for d, in store.conn.execute("SELECT id FROM documents")}


def test_python_completions_never_emit_other_languages_identifiers(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    python_files = write_python_corpus(corpus / "py", files=8, seed=3)
    _write_other_languages(corpus / "other", copies=6)
    others = sorted((corpus / "other").iterdir())
    foreign = _identifiers(others) - _identifiers(python_files)
    with Store(tmp_path / "h.db") as store:
        _ingest(store, corpus)  # one run: the vocabulary learns all the languages' words
        engine = load_engine(store, kernels())
    focused = Engine(engine.model.for_language("python"), engine.tokenizer, engine.info)
    # Tokens that spell (a piece of) an identifier only the other languages use.
    texts = [engine.tokenizer.token_bytes(i).decode("utf-8", "replace").strip()
             for i in range(engine.tokenizer.vocab_size)]
    foreign_tokens = np.array([len(t) > 3 and any(t in name for name in foreign)
                               and not any(t in name for name in _identifiers(python_files))
                               for t in texts])
    assert foreign_tokens.any()
    leaked: set[str] = set()
    for index, path in enumerate(python_files):
        text = path.read_text("utf-8")
        for cut in range(40, len(text), max(1, len(text) // 6)):
            ids = engine.tokenizer.encode(text[:cut])
            prompt = np.asarray(ids, dtype=np.int64)
            params = SamplingParams(max_tokens=24, temperature=0.7, seed=index * 1000 + cut)
            leaked |= set(_IDENTIFIER.findall(focused.complete(prompt, params).text)) & foreign
            # What the whole corpus would give those tokens, and what the focused view does.
            whole = _mass(engine, ids, foreign_tokens)
            only_python = _mass(focused, ids, foreign_tokens)
            assert only_python < 1e-3 and only_python < whole
    assert not leaked


def _mass(engine: Engine, ids: list[int], tokens: np.ndarray) -> float:
    with engine._session(np.asarray(ids, dtype=np.int64)) as session:
        return float(session.distribution()[tokens].sum())
