"""Code queries over a real ingest of the fixtures (tests/fixtures/code) in every language."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.code import CodeIndex
from app.code.similar import swap_words
from app.errors import InvalidRequest, NotFound
from app.ingest import IngestOptions, IngestRun
from app.store import Store
from tests.conftest import make_root

FIXTURES = Path(__file__).parent / "fixtures" / "code"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("code") / "src"
    shutil.copytree(FIXTURES, root)
    # A renamed, lightly edited copy of total_area, for clone detection.
    (root / "python" / "copy.py").write_text(
        "def sum_of_areas(figures):\n"
        "    acc = 0\n"
        "    for fig in figures:\n"
        "        if fig is not None:\n"
        "            acc += fig.area()\n"
        "    return acc\n", encoding="utf-8")
    return root.resolve()


@pytest.fixture(scope="module")
def index(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodeIndex]:
    db = tmp_path_factory.mktemp("db") / "h.db"
    with Store(db) as store:
        summary = IngestRun(store, IngestOptions(roots=[source]),
                            analyzers=make_root().analyzers()).run()
        assert summary.status == "done"
        yield CodeIndex(store)


def where(symbols: list, source: Path) -> list[tuple[str, str, int]]:
    return [(str(Path(s.path).relative_to(source)), s.qualified_name, s.name_line)
            for s in symbols]


def test_defs_by_name_and_by_qualified_name(index: CodeIndex, source: Path) -> None:
    assert where(index.defs("Circle", kind="class"), source) == [
        ("cpp/shapes.hpp", "geometry::Circle", 13), ("csharp/Shapes.cs", "Geometry.Circle", 20),
        ("java/Shapes.java", "Circle", 15),
        ("javascript/shapes.js", "Circle", 11), ("python/shapes.py", "Circle", 19),
        ("typescript/shapes.ts", "Circle", 16)]
    # A qualified name narrows by scope, whatever the language's separator.
    assert where(index.defs("Circle.area", language="python"), source) == [
        ("python/shapes.py", "Circle.area", 23)]
    assert where(index.defs("Circle::area"), source) == [
        ("cpp/shapes.cpp", "geometry::Circle::area", 5),
        ("cpp/shapes.hpp", "geometry::Circle::area", 16),
        ("java/Shapes.java", "Circle.area", 23), ("javascript/shapes.js", "Circle.area", 17),
        ("python/shapes.py", "Circle.area", 23), ("rust/shapes.rs", "Circle::area", 21),
        ("typescript/shapes.ts", "Circle.area", 21)]
    (found,) = index.defs("TotalArea", language="go")
    record = found.to_dict()
    assert {k: record[k] for k in ("name", "qualified_name", "kind", "start_line", "end_line",
                                   "language")} == {
        "name": "TotalArea", "qualified_name": "TotalArea", "kind": "function",
        "start_line": 36, "end_line": 42, "language": "go"}
    assert index.defs("NoSuchName") == []


def test_defs_at_a_call_site_resolves_through_scope_and_imports(index: CodeIndex,
                                                                source: Path) -> None:
    local = source / "python" / "local_clamp.py"
    # `clamp(1)` on line 11 is the module's own clamp …
    best = index.defs(at=f"{local}:11:9")[0]
    assert where([best], source) == [("python/local_clamp.py", "clamp", 6)]
    # … while `limit(5, 0, 3)` is geometry.util's clamp imported under another name.
    best = index.defs("clamp", at=f"{local}:12")[0]
    assert where([best], source) == [("python/local_clamp.py", "clamp", 6)]
    shapes = source / "python" / "shapes.py"
    best = index.defs(at=f"{shapes}:21:23")[0]
    assert where([best], source) == [("python/geometry/util.py", "clamp", 4)]
    # self.area() inside Shape.describe is Shape's own method, not a subclass's.
    best = index.defs(at=f"{shapes}:16:58")[0]
    assert where([best], source) == [("python/shapes.py", "Shape.area", 12)]
    # shape.area() in total_area: some method named area, never a JavaScript one.
    assert index.defs(at=f"{shapes}:39:28")[0].language == "python"
    # JavaScript: the imported clamp from ./util.js.
    best = index.defs(at=f"{source / 'javascript' / 'shapes.js'}:14:19")[0]
    assert where([best], source) == [("javascript/util.js", "clamp", 1)]
    # A path given as a unique suffix works too.
    assert index.defs(at="python/local_clamp.py:11:9")[0].name == "clamp"


def test_defs_errors_are_clear(index: CodeIndex) -> None:
    with pytest.raises(InvalidRequest, match="FILE:LINE"):
        index.defs("x", at="no-line-number")
    with pytest.raises(NotFound, match="not in the hypercube"):
        index.defs("x", at="missing/file.py:3")
    with pytest.raises(InvalidRequest, match="NAME"):
        index.defs()


def test_refs_list_each_use_with_its_enclosing_definition(index: CodeIndex,
                                                          source: Path) -> None:
    sites = index.refs("clamp", language="python")
    assert [(str(Path(s.path).relative_to(source)), s.line, s.column, s.kind, s.enclosing)
            for s in sites] == [
        ("python/local_clamp.py", 3, 27, "reference", None),
        ("python/local_clamp.py", 11, 9, "call", "use"),
        ("python/shapes.py", 6, 27, "reference", None),
        ("python/shapes.py", 21, 23, "call", "Circle.__init__")]
    assert sites[-1].snippet == "self.radius = clamp(radius, 0, 100)"
    calls = index.refs("Area", kind="call", language="go")
    assert [(s.line, s.enclosing) for s in calls] == [(39, "TotalArea")]


def test_callers_and_callees(index: CodeIndex) -> None:
    callers = index.callers("circle_area")
    assert [(c.caller.qualified_name if c.caller else None, c.lines) for c in callers] == [
        ("total_area", [17])]
    (callees,) = index.callees("Circle.__init__")
    assert [(c.name, c.count, c.definition.qualified_name if c.definition else None)
            for c in callees.callees] == [("clamp", 1, "clamp")]
    (go_total,) = index.callees("TotalArea", language="go")
    assert [(c.name, c.lines) for c in go_total.callees] == [("Area", [39])]


def test_implementations_in_each_language(index: CodeIndex) -> None:
    def names(found: list) -> set[tuple[str, str, str]]:
        return {(i.symbol.language, i.symbol.qualified_name, i.relation) for i in found}

    assert names(index.implementations("Shape")) >= {
        ("python", "Circle", "extends"), ("python", "Square", "extends"),
        ("javascript", "Circle", "extends"), ("cpp", "geometry::Circle", "extends"),
        ("rust", "Circle", "implements"), ("java", "Named", "implements"),
        ("java", "Circle", "extends"), ("csharp", "Geometry.Circle", "extends"),
        ("go", "Circle", "implements"),
    }
    # Go: only Circle has both of Shape's methods; Square lacks Name().
    go = {i.symbol.qualified_name for i in index.implementations("Shape")
          if i.symbol.language == "go"}
    assert go == {"Circle"}
    # Transitive: Circle extends Named which implements Shape (Java), depth 2.
    java = {(i.symbol.qualified_name, i.depth) for i in index.implementations("Shape")
            if i.symbol.language == "java"}
    assert java == {("Named", 1), ("Circle", 2)}
    overrides = names(index.implementations("IShape.Area"))
    assert ("csharp", "Geometry.Shape.Area", "overrides") in overrides
    assert ("csharp", "Geometry.Circle.Area", "overrides") in overrides
    assert ("python", "Circle.area", "overrides") in names(index.implementations("Shape.area"))


def test_search_substring_regex_and_identifier(index: CodeIndex, source: Path) -> None:
    hits = index.search("radius ** 2")
    assert {(str(Path(h.path).relative_to(source)), h.line) for h in hits} == {
        ("python/shapes.py", 24), ("javascript/shapes.js", 18), ("typescript/shapes.ts", 22)}
    assert all(h.snippet.startswith("return") for h in hits)
    by_path = {str(Path(h.path).relative_to(source)): h for h in hits}
    assert by_path["python/shapes.py"].symbol == "Circle.area"
    regex = index.search(r"func \(\w+ \*?\w+\) Area", mode="regex")
    assert [(h.line, h.match) for h in regex] == [(20, "func (c *Circle) Area"),
                                                  (32, "func (s Square) Area")]
    # One identifier query finds every naming convention.
    found = index.search("total_area", mode="identifier")
    assert {(h.language, h.match) for h in found} >= {
        ("python", "total_area"), ("javascript", "totalArea"), ("go", "TotalArea"),
        ("csharp", "TotalArea"), ("rust", "total_area"), ("java", "totalArea"),
        ("c", "total_area")}
    with pytest.raises(InvalidRequest, match="regular expression"):
        index.search("(unclosed", mode="regex")
    context = index.search("def registry", context=1)
    assert context[0].context == ["", "    return OD(circle=Circle, square=Square)"]


def test_similar_finds_a_renamed_copy_and_other_languages(index: CodeIndex,
                                                          source: Path) -> None:
    result = index.similar(f"{source / 'python' / 'shapes.py'}:37")
    assert result.query.qualified_name == "total_area"
    best = result.hits[0]
    assert (best.symbol.qualified_name, best.exact, best.score) == ("sum_of_areas", True, 1.0)
    assert "sum_areas" in {h.symbol.name for h in result.hits}
    cross = index.similar(f"{source / 'python' / 'shapes.py'}:37", cross_language=True,
                          min_score=0.3)
    # The same loop in JavaScript, C# and Rust (types, modifiers and syntax aside) is close.
    close = {h.symbol.language for h in cross.hits
             if h.score >= 0.5 and h.symbol.name in ("totalArea", "TotalArea", "total_area")}
    assert close >= {"javascript", "csharp", "rust"}
    assert "python" not in {h.symbol.language for h in cross.hits}
    with pytest.raises(NotFound, match="no function"):
        index.similar(f"{source / 'python' / 'shapes.py'}:2")


def test_similar_accepts_a_file_that_is_not_ingested(index: CodeIndex, tmp_path: Path) -> None:
    outside = tmp_path / "scratch.py"
    outside.write_text("def add_up(things):\n    s = 0\n    for t in things:\n"
                       "        if t is not None:\n            s += t.area()\n    return s\n")
    with pytest.raises(NotFound):  # by default (the API) only ingested files are read
        index.similar(f"{outside}:3")
    local = CodeIndex(index.store, read_local_files=True)  # the CLI's user owns the machine
    result = local.similar(f"{outside}:3")
    assert result.query.name == "add_up"
    assert {h.symbol.name for h in result.hits if h.exact} >= {"total_area", "sum_of_areas"}


def test_analogy_swaps_the_type(index: CodeIndex, source: Path) -> None:
    result = index.analogy(f"{source / 'python' / 'shapes.py'}:24", "Square")
    assert (result.example.qualified_name, result.from_type, result.expected_name) == (
        "Circle.area", "Circle", "Square.area")
    best = result.hits[0].symbol
    assert (best.qualified_name, best.language) == ("Square.area", "python")
    rust = index.analogy("Circle::new", "Square", from_type="Circle")
    assert rust.expected_name == "Square::new"
    assert swap_words("save_user_record", "User", "Order") == "save_order_record"
    assert swap_words("UserView", "User", "OrderItem") == "OrderItemView"
    assert swap_words("USER_KEY", "user", "order") == "ORDER_KEY"


def test_every_result_is_json_ready(index: CodeIndex) -> None:
    import orjson

    for value in (index.defs("clamp"), index.refs("clamp"), index.callers("area"),
                  index.callees("total_area"), index.implementations("Shape"),
                  index.search("area"), [index.analogy("Circle.area", "Square")]):
        orjson.dumps([v.to_dict() for v in value])
