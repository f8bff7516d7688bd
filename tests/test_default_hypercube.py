"""The embedded default hypercube: built once from the shipped starter corpus, then reused."""

from __future__ import annotations

from pathlib import Path

from app.default_hypercube import default_hypercube_path, ensure_default_hypercube
from app.store import Store
from app.store.inspect import check, info


def test_default_hypercube_is_built_once_and_consistent(isolated_user_dir: Path) -> None:
    path = ensure_default_hypercube()
    assert path == default_hypercube_path()
    assert path.parent == isolated_user_dir
    assert not list(isolated_user_dir.glob("*.partial*"))
    stamp = path.stat().st_mtime_ns
    assert ensure_default_hypercube() == path
    assert path.stat().st_mtime_ns == stamp
    with Store(path) as store:
        report = info(store)
        assert [f for f in check(store) if f.severity == "error"] == []
        paths = [p for (p,) in store.conn.execute("SELECT path FROM documents")]
    assert report["counts"]["documents"] > 150  # type: ignore[index]
    assert report["languages"]["python"] > 150  # type: ignore[index]
    assert all(Path(p).is_file() for p in paths), "its documents must be openable files"
