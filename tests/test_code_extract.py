"""Extraction per language: the exact definitions, calls, inheritance and imports of our
fixtures (tests/fixtures/code), through the real grammars and our queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app import geometry
from app.code.extract import FileFacts, _split_name, extract
from app.code.fingerprint import SIGNATURE_SIZE
from app.code.languages import language_spec, supported_languages
from app.code.names import _centroids, fold, words
from app.code.packing import pack_sites, unpack_sites
from app.detect import detect_language

FIXTURES = Path(__file__).parent / "fixtures" / "code"


def facts_of(relative: str) -> FileFacts:
    path = FIXTURES / relative
    language = detect_language(path, path.read_bytes()[:4096])
    spec = language_spec(language)
    assert spec is not None, f"{relative} detected as {language}"
    facts = extract(spec, path.read_text("utf-8"))
    assert facts.parse_errors == 0
    return facts


def definitions(facts: FileFacts) -> list[tuple[str, str, int]]:
    return [(d.kind, d.qualified_name, d.name_line) for d in facts.definitions]


def calls(facts: FileFacts) -> dict[str, list[int]]:
    return {g.name: sorted(int(line) for line in g.sites[:, 0])
            for g in facts.references if g.kind == "call"}


def inheritance(facts: FileFacts) -> list[tuple[str, str, str]]:
    return [(facts.definitions[i.symbol].qualified_name, i.base_name, i.kind)
            for i in facts.inheritance]


def imports(facts: FileFacts) -> list[tuple[str, str | None, str | None]]:
    return [(i.module, i.name, i.alias) for i in facts.imports]


def test_every_language_loads_its_grammar_and_queries() -> None:
    assert supported_languages() == ["c", "cpp", "csharp", "go", "java", "javascript",
                                     "python", "rust", "tsx", "typescript"]
    for name in supported_languages():
        spec = language_spec(name)
        assert spec is not None and spec.name == name
    assert language_spec("markdown") is None


def test_python() -> None:
    facts = facts_of("python/shapes.py")
    assert definitions(facts) == [
        ("class", "Shape", 9), ("method", "Shape.area", 12), ("method", "Shape.describe", 15),
        ("class", "Circle", 19), ("method", "Circle.__init__", 20), ("method", "Circle.area", 23),
        ("class", "Square", 27), ("method", "Square.__init__", 28),
        ("method", "Square.area", 31), ("function", "total_area", 35),
        ("function", "registry", 43),
    ]
    assert calls(facts) == {"OD": [44], "area": [16, 39], "clamp": [21], "type": [16]}
    assert inheritance(facts) == [("Circle", "Shape", "extends"), ("Square", "Shape", "extends")]
    assert imports(facts) == [("math", None, None), ("collections", "OrderedDict", "OD"),
                              ("geometry.util", "clamp", None)]
    shape = facts.definitions[0]
    assert (shape.doc, shape.signature) == ("A shape with an area.", "class Shape")
    assert (shape.start_line, shape.end_line, shape.start_col) == (9, 16, 1)
    area = facts.definitions[5]
    assert area.signature == "def area(self)" and area.parent == 3 and area.name_col == 9


def test_python_reference_sites_know_their_enclosing_definition() -> None:
    facts = facts_of("python/shapes.py")
    (total,) = [g for g in facts.references if g.name == "total" and g.kind == "reference"]
    enclosing = {facts.definitions[e - 1].qualified_name for e in total.sites[:, 2]}
    assert enclosing == {"total_area"}
    assert [tuple(map(int, site[:2])) for site in total.sites] == [(36, 5), (39, 13), (40, 12)]


def test_javascript() -> None:
    facts = facts_of("javascript/shapes.js")
    assert definitions(facts) == [
        ("class", "Shape", 5), ("method", "Shape.area", 6), ("class", "Circle", 11),
        ("method", "Circle.constructor", 12), ("method", "Circle.area", 17),
        ("function", "totalArea", 22), ("function", "describe", 32),
    ]
    assert calls(facts) == {"Error": [7], "area": [26, 32], "clamp": [14]}
    assert inheritance(facts) == [("Circle", "Shape", "extends")]
    assert imports(facts) == [("./util.js", "clamp", None)]
    assert facts.definitions[0].doc == "A shape with an area."


def test_typescript_folds_overloads_into_one_definition() -> None:
    facts = facts_of("typescript/shapes.ts")
    assert definitions(facts) == [
        ("interface", "Shape", 4), ("method", "Shape.area", 5), ("class", "Base", 8),
        ("method", "Base.area", 9), ("method", "Base.describe", 11), ("class", "Circle", 16),
        ("method", "Circle.constructor", 17), ("method", "Circle.area", 21),
        ("function", "scale", 26),
    ]
    scale = facts.definitions[-1]
    assert (scale.start_line, scale.end_line) == (26, 30)
    assert scale.signature == "function scale(value: number): number"
    assert inheritance(facts) == [("Base", "Shape", "implements"), ("Circle", "Base", "extends")]
    assert imports(facts) == [("./logger", "Logger", None)]


def test_tsx_components_used_in_jsx_are_calls() -> None:
    facts = facts_of("typescript/button.tsx")
    assert facts.language == "tsx"
    assert [d for d in definitions(facts) if d[0] != "field"] == [
        ("type", "Props", 3), ("function", "Button", 5), ("function", "Toolbar", 9)]
    assert calls(facts) == {"Button": [11]}


def test_csharp() -> None:
    facts = facts_of("csharp/Shapes.cs")
    assert definitions(facts) == [
        ("namespace", "Geometry", 5), ("interface", "Geometry.IShape", 7),
        ("method", "Geometry.IShape.Area", 9), ("class", "Geometry.Shape", 13),
        ("method", "Geometry.Shape.Area", 15), ("method", "Geometry.Shape.Describe", 17),
        ("class", "Geometry.Circle", 20), ("field", "Geometry.Circle.radius", 22),
        ("constructor", "Geometry.Circle.Circle", 24), ("method", "Geometry.Circle.Area", 29),
        ("class", "Geometry.Totals", 35), ("method", "Geometry.Totals.TotalArea", 37),
    ]
    assert calls(facts) == {"Area": [17, 42], "Max": [26]}
    assert inheritance(facts) == [("Geometry.Shape", "IShape", "extends"),
                                  ("Geometry.Circle", "Shape", "extends")]
    assert imports(facts) == [("System", None, None), ("System.Collections.Generic", None, None)]
    assert facts.definitions[3].doc == "A shape that can describe itself."


def test_go_methods_are_qualified_by_their_receiver() -> None:
    facts = facts_of("go/shapes.go")
    assert definitions(facts) == [
        ("interface", "Shape", 10), ("method", "Shape.Area", 11), ("method", "Shape.Name", 12),
        ("struct", "Circle", 15), ("field", "Circle.Radius", 16), ("method", "Circle.Area", 20),
        ("method", "Circle.Name", 24), ("struct", "Square", 28), ("field", "Square.Side", 29),
        ("method", "Square.Area", 32), ("function", "TotalArea", 36),
    ]
    assert calls(facts) == {"Area": [39], "Sprintf": [25]}
    assert imports(facts) == [("fmt", None, None), ("math", None, None)]
    assert facts.definitions[5].doc == "Area of the circle."


def test_rust_impl_blocks_and_trait_implementations() -> None:
    facts = facts_of("rust/shapes.rs")
    assert definitions(facts) == [
        ("trait", "Shape", 6), ("method", "Shape::area", 7), ("struct", "Circle", 10),
        ("field", "Circle::radius", 11), ("impl", "Circle", 14), ("method", "Circle::new", 15),
        ("impl", "Circle", 20), ("method", "Circle::area", 21), ("impl", "Circle", 26),
        ("method", "Circle::fmt", 27), ("function", "total_area", 32),
    ]
    assert inheritance(facts) == [("Shape", "Display", "extends"),
                                  ("Circle", "Shape", "implements"),
                                  ("Circle", "Display", "implements")]
    assert imports(facts) == [("std::f64::consts", "PI", None), ("std::fmt", "Display", None)]
    assert calls(facts) == {"area": [35], "write": [28]}


def test_java() -> None:
    facts = facts_of("java/Shapes.java")
    assert definitions(facts) == [
        ("interface", "Shape", 6), ("method", "Shape.area", 7), ("class", "Named", 11),
        ("method", "Named.name", 12), ("class", "Circle", 15), ("field", "Circle.radius", 16),
        ("constructor", "Circle.Circle", 18), ("method", "Circle.area", 23),
        ("method", "Circle.name", 28), ("class", "Shapes", 33),
        ("method", "Shapes.totalArea", 34),
    ]
    assert inheritance(facts) == [("Named", "Shape", "implements"), ("Circle", "Named", "extends")]
    assert calls(facts) == {"area": [37], "max": [19]}
    assert imports(facts) == [("java.util", "List", None)]


def test_c() -> None:
    facts = facts_of("c/shapes.c")
    assert definitions(facts) == [("macro", "SQUARE", 5), ("function", "circle_area", 8),
                                  ("function", "total_area", 13)]
    assert calls(facts) == {"SQUARE": [10], "circle_area": [17]}
    assert imports(facts) == [("math.h", None, None), ("shapes.h", None, None)]
    header = facts_of("c/shapes.h")
    assert definitions(header) == [("macro", "SHAPES_H", 2), ("struct", "circle", 4),
                                   ("field", "circle.radius", 5),
                                   ("prototype", "circle_area", 8),
                                   ("prototype", "total_area", 9)]


def test_a_declaration_without_a_name_is_no_definition() -> None:
    """Unnamed bit-fields (padding, as in the Linux kernel's ``int :32;``) name nothing."""
    facts = extract(language_spec("c"), "struct timex32 {\n\tint mode;\n"  # type: ignore[arg-type]
                    "\tint  :32; int  :32;\n\tlong tick;\n};\n")
    assert definitions(facts) == [("struct", "timex32", 1), ("field", "timex32.mode", 2),
                                  ("field", "timex32.tick", 4)]
    assert all(d.name for d in facts.definitions)


def test_cpp_out_of_line_members_are_qualified() -> None:
    facts = facts_of("cpp/shapes.cpp")
    assert definitions(facts) == [("namespace", "geometry", 3),
                                  ("function", "geometry::Circle::area", 5),
                                  ("function", "geometry::total_area", 9)]
    header = facts_of("cpp/shapes.hpp")
    assert inheritance(header) == [("geometry::Circle", "Shape", "extends")]
    assert ("class", "geometry::Circle", 13) in definitions(header)


def test_fingerprints_ignore_names_but_not_shape() -> None:
    spec = language_spec("python")
    assert spec is not None
    original = "def f(a, b):\n    total = a + b\n    for x in a:\n        total += x\n" \
               "    return total\n"
    renamed = original.replace("total", "acc").replace("f(", "g(").replace("a", "p")
    edited = original.replace("a + b", "a * b - 1")
    first, second, third = (extract(spec, t).definitions[0] for t in (original, renamed, edited))
    assert first.shape == second.shape and first.minhash == second.minhash
    assert first.shape != third.shape
    assert first.minhash is not None and len(first.minhash) == SIGNATURE_SIZE


def test_a_parse_error_is_counted_not_fatal() -> None:
    spec = language_spec("python")
    assert spec is not None
    facts = extract(spec, "def ok():\n    return 1\n\ndef broken(:\n    pass\n")
    assert facts.parse_errors > 0
    assert facts.definitions[0].name == "ok"


def test_non_ascii_columns_count_characters() -> None:
    spec = language_spec("python")
    assert spec is not None
    facts = extract(spec, "s = 'é'; x = 1\ndef f():\n    return s + 'ü' + g()\n")
    (call,) = [g for g in facts.references if g.kind == "call"]
    assert call.name == "g" and tuple(map(int, call.sites[0][:2])) == (3, 22)


def test_name_folding_and_words() -> None:
    assert fold("get_user_name") == fold("getUserName") == fold("GetUserName") == "getusername"
    assert words("parseHTTPResponse_v2") == ["parse", "http", "response", "v", "2"]


def test_reference_sites_pack_and_unpack_losslessly() -> None:
    small = np.array([[1, 2, 0], [65535, 7, 3]])
    large = np.array([[70000, 1, 2]])
    for sites in (small, large):
        assert np.array_equal(unpack_sites(pack_sites(sites)), sites)
    assert len(pack_sites(small)) == 1 + 6 * 2


def test_batched_centroids_equal_the_geometry_rule() -> None:
    rng = np.random.default_rng(3)
    points = geometry.atom_points(rng.integers(32, 0x3000, 12))
    weights = rng.integers(1, 5, 12).astype(np.float64)
    lengths = np.array([1, 3, 8])
    batched = _centroids(points, weights, lengths)
    starts = [0, 1, 4]
    for row, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        expected = geometry.composition_point(points[start:start + length],
                                              weights[start:start + length])
        assert np.array_equal(batched[row], expected)


@pytest.mark.parametrize("language", ["python", "javascript", "go", "rust", "java", "c", "cpp",
                                      "csharp", "typescript"])
def test_empty_files_have_no_facts(language: str) -> None:
    spec = language_spec(language)
    assert spec is not None
    facts = extract(spec, "")
    assert (facts.definitions, facts.references, facts.imports) == ([], [], [])


@pytest.mark.parametrize(("raw", "parts"), [
    ("A::f", ["A", "f"]),
    ("ns::A::operator()", ["ns", "A", "operator ()"]),
    ("A::operator std::string", ["A", "operator std::string"]),
    ("operator PyObject*() const", ["operator PyObject*"]),
    ("operator==", ["operator =="]),
    ("my_operator", ["my_operator"]),
    ("operatorName", ["operatorName"]),
    ("Vec<T>::push", ["Vec", "push"]),
])
def test_cpp_names_split_into_scope_and_name(raw: str, parts: list[str]) -> None:
    spec = language_spec("cpp")
    assert spec is not None
    assert _split_name(spec, raw) == parts
