"""The fit reads a bounded sample of the documents: all of a small corpus, a capped, stable
sample of a large one."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from app.ingest import IngestOptions, IngestRun
from app.model import maintain
from app.model.maintain import fit_sample, refit
from app.model.storage import load_params
from app.store import Store
from tests.conftest import make_root

from .conftest import write_python_corpus


def _catalog(count: int, tokens: int = 100) -> list[tuple[int, str, int]]:
    return [(i, hashlib.sha256(str(i).encode()).hexdigest(), tokens + i) for i in range(count)]


def test_a_corpus_under_the_cap_is_fitted_on_every_document() -> None:
    catalog = _catalog(30)
    assert fit_sample(catalog, sum(n for *_, n in catalog)) == [i for i, *_ in catalog]


def test_a_larger_corpus_is_sampled_under_the_cap_and_stably() -> None:
    catalog = _catalog(400)
    cap = 5_000
    chosen = fit_sample(catalog, cap)
    tokens = {doc_id: n for doc_id, _, n in catalog}
    assert 0 < sum(tokens[i] for i in chosen) <= cap
    assert len(chosen) == len(set(chosen))
    # The same documents whatever order they come in, and most of them again once the
    # corpus has grown.
    assert sorted(fit_sample(catalog[::-1], cap)) == sorted(chosen)
    grown = fit_sample(_catalog(440), cap)
    assert len(set(grown) & set(chosen)) >= 0.8 * len(chosen)


@pytest.fixture()
def hypercube(tmp_path: Path) -> Path:
    write_python_corpus(tmp_path / "corpus", files=24, seed=5)
    path = tmp_path / "h.hypercube"
    with Store(path) as store:
        IngestRun(store, IngestOptions(roots=[tmp_path / "corpus"]),
                  listeners=make_root().listeners()).run()
    return path


def test_refit_reads_only_the_sample_and_still_fits(hypercube: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with Store(hypercube) as store:
        corpus = sum(n for n, in store.conn.execute(
            "SELECT length(tokens) / 2 FROM document_tokens"))
        seen: list[int] = []
        fit = maintain.fit_on_documents

        def counting(streams: list[Any], *args: Any, **kwargs: Any) -> Any:
            seen.append(sum(len(s) for s in streams))
            return fit(streams, *args, **kwargs)

        monkeypatch.setattr(maintain, "fit_on_documents", counting)
        refit(store, make_root().kernels)
        assert seen == [corpus]  # under the cap: every document, as before
        everything = load_params(store.conn)
        assert everything is not None

        monkeypatch.setattr(maintain, "FIT_SAMPLE_TOKENS", corpus // 3)
        refit(store, make_root().kernels)
        assert 0 < seen[1] <= corpus // 3
        sampled = load_params(store.conn)
        assert sampled is not None
        assert sampled.params.to_json() != everything.params.to_json()  # fitted on less
        assert sampled.corpus_tokens == everything.corpus_tokens == corpus  # refits judge by it
