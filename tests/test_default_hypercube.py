"""The embedded default hypercube: built once from the shipped starter corpus, then reused; or,
in the executable, copied from the prebuilt file the build ships and re-rooted where the corpus
is unpacked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.code import CodeIndex
from app.compose import Root
from app.default_hypercube import (
    CORPUS_PLACEHOLDER,
    default_file_name,
    default_hypercube_path,
    shipped_prebuilt,
)
from app.store import Store
from app.store.inspect import check, info


@dataclass(frozen=True)
class Built:
    data: Path  # the "build machine's" data folder, holding the default built by ingest
    default: Path
    prebuilt: Path  # what the executable ships


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    # One ingest of the starter corpus (~15 s) serves every test here.
    data = tmp_path_factory.mktemp("build-machine")
    root = Root.from_environment({"HYPERCUBE_DATA_DIR": str(data)})
    default = root.ensure_default_hypercube()
    prebuilt = root.build_prebuilt(tmp_path_factory.mktemp("ship") / "prebuilt")
    return Built(data, default, prebuilt)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with Store(path, readonly=True) as store:
        return [tuple(row) for row in store.conn.execute(sql)]


def errors(path: Path) -> list[object]:
    with Store(path) as store:
        return [f for f in check(store) if f.severity == "error"]


def test_default_hypercube_is_built_once_and_consistent(built: Built) -> None:
    root = Root.from_environment({"HYPERCUBE_DATA_DIR": str(built.data)})
    path = built.default
    assert path == root.default_hypercube_path == default_hypercube_path(built.data)
    assert path.parent == built.data
    assert not list(built.data.glob("*.partial*"))
    stamp = path.stat().st_mtime_ns
    assert root.ensure_default_hypercube() == path
    assert path.stat().st_mtime_ns == stamp
    assert errors(path) == []
    with Store(path) as store:
        report = info(store)
    assert report["counts"]["documents"] > 150  # type: ignore[index]
    assert report["languages"]["python"] > 150  # type: ignore[index]
    paths = [p for (p,) in rows(path, "SELECT path FROM documents")]
    assert all(Path(p).is_file() for p in paths), "its documents must be openable files"


def test_the_prebuilt_file_names_no_build_machine_path(built: Built) -> None:
    assert built.prebuilt.name == default_file_name()
    assert errors(built.prebuilt) == []
    paths = [p for (p,) in rows(built.prebuilt, "SELECT path FROM documents")]
    assert paths and all(p.startswith(CORPUS_PLACEHOLDER + "/") for p in paths)
    assert rows(built.prebuilt, "SELECT roots FROM runs") == [
        (json.dumps([CORPUS_PLACEHOLDER]),)]
    assert str(built.data).encode() not in built.prebuilt.read_bytes()
    # Built once per fingerprint: asking again reuses the file.
    stamp = built.prebuilt.stat().st_mtime_ns
    root = Root.from_environment({"HYPERCUBE_DATA_DIR": str(built.data)})
    assert root.build_prebuilt(built.prebuilt.parent) == built.prebuilt
    assert built.prebuilt.stat().st_mtime_ns == stamp


def test_first_start_copies_the_shipped_prebuilt_file(built: Built, root: Root,
                                                      isolated_user_dir: Path) -> None:
    assert shipped_prebuilt() is None  # a source checkout ships none
    assert shipped_prebuilt(built.prebuilt.parent) == built.prebuilt

    path = root.ensure_default_hypercube(prebuilt_folder=built.prebuilt.parent)

    assert path == isolated_user_dir / default_file_name()
    assert not list(isolated_user_dir.glob("*.partial*"))
    assert errors(path) == []
    # Copied, not ingested again: the same run and documents, ingest times included.
    assert rows(path, "SELECT id, started, finished, status FROM runs") == rows(
        built.default, "SELECT id, started, finished, status FROM runs")
    documents = "SELECT id, content_hash, size, language, n_tokens, ingested FROM documents"
    assert rows(path, documents) == rows(built.default, documents)
    assert rows(path, "SELECT COUNT(*) FROM model_segments") == rows(
        built.default, "SELECT COUNT(*) FROM model_segments") != [(0,)]
    # Every path now names the corpus unpacked beside the file, and those files exist.
    corpus = path.with_suffix(".corpus").resolve()
    assert rows(path, "SELECT roots FROM runs") == [(json.dumps([str(corpus)]),)]
    paths = [p for (p,) in rows(path, "SELECT path FROM documents")]
    assert all(Path(p).is_file() and Path(p).is_relative_to(corpus) for p in paths)
    # So the code pages can open them: whole files, found by a path's end as usual.
    with Store(path, readonly=True) as store:
        index = CodeIndex(store)
        some = Path(sorted(paths)[0])
        opened = index.file(f"{some.parent.name}/{some.name}")
        assert opened.path == str(some)
        assert opened.text == some.read_text(encoding="utf-8")
        decoder = corpus / "python-stdlib" / "json" / "decoder.py"
        assert index.defs("JSONDecoder")[0].path == str(decoder)


def test_the_prebuilt_file_is_used_only_for_its_fingerprint(built: Built, tmp_path: Path,
                                                            isolated_user_dir: Path) -> None:
    # A prebuilt file for another version or corpus is never copied: the name carries the
    # fingerprint, and a folder without this one's is a folder without a prebuilt file.
    other = tmp_path / "other"
    other.mkdir()
    (other / "default-0000000000000000.hypercube").write_bytes(built.prebuilt.read_bytes())
    assert shipped_prebuilt(other) is None
