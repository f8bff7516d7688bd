"""Model segments in content-addressed files beside the hypercube, mapped at load."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np

from app.cli.serving import load_engine
from app.model.loading import load_model
from app.model.segment import build_segment
from app.model.storage import DTYPES, load_segments, save_segment
from app.store import Store
from app.store.segfiles import collect_garbage, segments_dir
from tests.conftest import make_root
from tests.test_reliability_store import build


def _mapped(array: np.ndarray) -> bool:
    base: object = array
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, mmap.mmap)


def test_segments_round_trip_through_mapped_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    streams = [rng.integers(0, 50, size=n).astype(np.uint16) for n in (300, 900, 40)]
    segment = build_segment(streams, 50, [1, 2, 3], thresh=8, kmax=8)
    with Store(tmp_path / "h.db") as store:
        with store.write() as conn:
            save_segment(conn, segment, ["a", "b", "c"])
        (loaded,) = load_segments(store.conn, 50)
    for name in DTYPES:
        original, back = getattr(segment, name), getattr(loaded, name)
        assert back.dtype == original.dtype and np.array_equal(back, original), name
        assert back.flags.c_contiguous and not back.flags.writeable
        assert _mapped(back), f"{name} was copied, not mapped"
    (file,) = segments_dir(tmp_path / "h.db").iterdir()
    assert file.name.endswith(".seg") and len(file.stem) == 64


def test_a_loaded_model_maps_its_files_and_serves(tmp_path: Path, small_corpus: Path) -> None:
    db = build(tmp_path / "h.db", small_corpus)
    with Store(db) as store:
        model = load_model(store, make_root().kernels)
    assert model.segments and all(_mapped(s.sa) and _mapped(s.r) for s in model.segments)
    engine = load_engine(db, make_root().kernels)
    assert engine.info.id


def test_orphan_files_are_collected(tmp_path: Path, small_corpus: Path) -> None:
    db = build(tmp_path / "h.db", small_corpus)
    folder = segments_dir(db)
    kept = sorted(p.name for p in folder.iterdir())
    orphan = folder / ("0" * 64 + ".seg")
    temp = folder / ".tmp-1-abc.seg"
    orphan.write_bytes(b"left by a killed writer")
    temp.write_bytes(b"half written")
    with Store(db) as store, store.write() as conn:
        assert sorted(collect_garbage(conn)) == sorted([orphan.name, temp.name])
    assert sorted(p.name for p in folder.iterdir()) == kept
    # Dropping a segment's row and collecting removes its file.
    with Store(db) as store:
        with store.write() as conn:
            conn.execute("DELETE FROM model_segments")
        with store.write() as conn:
            collect_garbage(conn)
    assert list(folder.iterdir()) == []
