"""The names the code index knows, looked up in the hypercube file as ranking asks."""

from __future__ import annotations

from pathlib import Path

from app.engine.names import KnownNames
from app.engine.ranking import OUT_OF_SCOPE, Ranker
from app.ingest import IngestOptions, IngestRun
from app.store import Store
from tests.conftest import make_root


def _ingest(db: Path, root: Path) -> None:
    with Store(db) as store:
        IngestRun(store, IngestOptions(roots=[root]), analyzers=make_root().analyzers()).run()


def _known(tmp_path: Path, files: dict[str, str]) -> tuple[KnownNames, Path, Path]:
    """The known names of a hypercube of ``files`` (name → text), its folder and file."""
    folder = tmp_path / "files"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, "utf-8")
    db = tmp_path / "h.db"
    _ingest(db, folder)
    return KnownNames(str(db)), folder, db


def test_known_names_are_the_code_indexs_and_follow_the_file(tmp_path: Path) -> None:
    known, code, db = _known(tmp_path, {
        "shapes.py": "import math\n\n\ndef circle_area(radius):\n"
                     "    return math.pi * radius ** 2\n"})
    assert known
    assert "circle_area" in known and "math" in known and "radius" in known
    assert "never_written_anywhere" not in known and "" not in known
    # A name another run adds is known without reloading (the file is read as it is now).
    (code / "more.py").write_text("def rectangle_area(w, h):\n    return w * h\n", "utf-8")
    _ingest(db, code)
    assert "rectangle_area" in known


def test_a_hypercube_without_code_knows_no_name(tmp_path: Path) -> None:
    known, _, _ = _known(tmp_path, {"notes.txt": "plain words only\n"})
    assert not known and "words" not in known


def test_ranking_counts_unknown_names_above_known_ones_out_of_scope(tmp_path: Path) -> None:
    known, _, _ = _known(tmp_path, {"shapes.py": "def circle_area(radius):\n    return radius\n"})
    ranker = Ranker("go", "func main(size int) {\n\tx := ", None, known)
    assert ranker.unseen("size + 1", True) == 0                   # in scope: the prompt's
    assert ranker.unseen("circle_area(size)", True) == OUT_OF_SCOPE  # known elsewhere
    assert ranker.unseen("invented_name(size)", True) == 1.0        # seen nowhere
    # Python resolves a bare name in its own file: known elsewhere but not imported is a
    # NameError; as an attribute of an imported module it is known elsewhere.
    python = Ranker("python", "import shapes\n\ndef main(size):\n    x = ", None, known)
    assert python.unseen("circle_area(size)", True) == 1.0
    assert python.unseen("shapes.circle_area(size)", True) == OUT_OF_SCOPE
