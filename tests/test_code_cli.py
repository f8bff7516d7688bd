"""The code commands through the real CLI: exit codes, JSON shapes, one-line errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from app.ingest import IngestOptions, IngestRun
from app.store import Store
from tests.conftest import make_root

FIXTURES = Path(__file__).parent / "fixtures" / "code"
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "src"
    shutil.copytree(FIXTURES, root)
    path = root.parent / "h.db"
    with Store(path) as store:
        IngestRun(store, IngestOptions(roots=[root]), analyzers=make_root().analyzers()).run()
    return path


def test_defs_json_has_the_documented_fields(cli: Cli, db: Path) -> None:
    code, out, err = cli("defs", "total_area", "--language", "python", "--db", db, "--json")
    assert (code, err) == (0, "")
    (found,) = json.loads(out)
    assert {k: found[k] for k in ("name", "qualified_name", "kind", "start_line", "end_line",
                                  "language")} == {
        "name": "total_area", "qualified_name": "total_area", "kind": "function",
        "start_line": 35, "end_line": 40, "language": "python"}
    assert found["path"].endswith("python/shapes.py")


def test_defs_at_position_prints_the_best_first(cli: Cli, db: Path) -> None:
    target = Path(json.loads(cli("defs", "use", "--db", db, "--json")[1])[0]["path"])
    code, out, _ = cli("defs", "--at", f"{target}:12:9", "--db", db)
    assert code == 0
    first = out.splitlines()[0]
    assert first.endswith("function  clamp  def clamp(value, low, high)")
    assert "geometry/util.py:4:5" in first


def test_every_command_answers(cli: Cli, db: Path) -> None:
    shapes = json.loads(cli("defs", "total_area", "--language", "python", "--db", db,
                            "--json")[1])[0]["path"]
    commands = [
        ("refs", "clamp"), ("callers", "area"), ("callees", "total_area"),
        ("implementations", "Shape"), ("search", "radius"), ("search", "--regex", r"area\(\)"),
        ("search", "--mode", "identifier", "totalArea"), ("similar", f"{shapes}:37"),
        ("analogy", f"{shapes}:24", "--to", "Square"),
    ]
    for command in commands:
        code, out, err = cli(*command, "--db", db, "--json")
        assert (code, err) == (0, ""), command
        assert json.loads(out), command
        code, out, err = cli(*command, "--db", db)
        assert code == 0 and out.strip(), command


def test_errors_are_one_line(cli: Cli, db: Path) -> None:
    code, out, err = cli("similar", "nowhere.py:3", "--db", db)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "hypercube: error: nowhere.py is not in the hypercube: ingest it first"]
    code, _, err = cli("search", "--regex", "(", "--db", db)
    assert code == 1 and err.startswith("hypercube: error: invalid regular expression")
    code, _, err = cli("defs", "--db", db)
    assert code == 1 and "give a NAME" in err


def test_no_results_is_not_an_error(cli: Cli, db: Path) -> None:
    assert cli("defs", "NoSuchThing", "--db", db, "--json")[:2] == (0, "[]\n")
    code, out, err = cli("refs", "NoSuchThing", "--db", db)
    assert (code, out, err) == (0, "", "hypercube: no results\n")
