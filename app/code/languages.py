"""The languages code intelligence understands, configured from ``grammars/<language>/``.

Each folder holds ``language.toml`` (which grammar wheel to load, how definitions nest, how
node kinds normalise across languages) and the tree-sitter queries we maintain:
``definitions.scm``, ``references.scm``, ``imports.scm`` and ``inheritance.scm``. The grammar
wheels' own ``tags.scm`` are too thin (C++ has no references, C#'s is not shipped), so these
queries are ours. Several detected languages may share one folder (``tsx`` uses the
``typescript`` queries with the TSX grammar).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tree_sitter as ts

from app.code.fingerprint import shaped_kinds
from app.errors import StoreError
from app.resources import data_dir

QUERY_FILES = ("definitions", "references", "imports", "inheritance")
# Queries read match by match; they run as one combined query (one walk of the tree), their
# capture names prefixed with the file's name. References are read capture by capture.
STRUCTURE_FILES = ("definitions", "imports", "inheritance")
_CAPTURE = re.compile(r"@([A-Za-z_][\w.\-]*)")

# Node kinds every grammar names alike; a language's [normalize] table adds or overrides.
_COMMON_NORMALIZED = {
    "identifier": "id", "property_identifier": "id", "field_identifier": "id",
    "shorthand_property_identifier": "id", "statement_identifier": "id",
    "package_identifier": "id", "namespace_identifier": "id",
    # Types are dropped: a Go or Java function and its Python twin differ mostly in them.
    "type_identifier": "", "primitive_type": "", "predefined_type": "", "integral_type": "",
    "floating_point_type": "", "boolean_type": "", "void_type": "", "type": "",
    "type_annotation": "", "type_arguments": "", "type_parameters": "",
    "type_argument_list": "", "type_parameter_list": "",
    "comment": "", "line_comment": "", "block_comment": "", "expression_statement": "",
    "parenthesized_expression": "", "escape_sequence": "",
}
# Subtrees left out of shapes altogether: types (with their <, >, *, & tokens) and modifiers
# are what typed languages add to the same logic; decorators and attributes are metadata.
_PRUNED = frozenset({
    "type_arguments", "type_parameters", "type_annotation", "type_argument_list",
    "type_parameter_list", "type_descriptor", "type_parameter_constraints_clause",
    "modifiers", "modifier", "visibility_modifier", "mutable_specifier",
    "accessibility_modifier", "storage_class_specifier", "type_qualifier", "decorator",
    "annotation", "marker_annotation", "attribute_list", "attribute_item", "type",
    "primitive_type", "predefined_type", "type_identifier", "generic_name",
    "return_type", "lifetime",
})

# Normalised kinds that only some languages spell out (Go and Java wrap each parameter,
# Python and JavaScript do not): dropped so the shapes line up.
_DROPPED = frozenset({"param"})
# Operators and keywords that mean the same in every language; other anonymous nodes
# (punctuation, keywords already implied by their named parent) are dropped.
_ANONYMOUS_KEPT = {
    "+": "+", "-": "-", "*": "*", "/": "/", "%": "%", "**": "**",
    "==": "==", "===": "==", "!=": "!=", "!==": "!=", "<": "<", ">": ">", "<=": "<=",
    ">=": ">=", "&&": "&&", "and": "&&", "||": "||", "or": "||", "!": "!", "not": "!",
    "&": "&", "|": "|", "^": "^", "<<": "<<", ">>": ">>", "=": "=",
    "+=": "+=", "-=": "-=", "*=": "*=", "/=": "/=", ":=": "=", "in": "in", "is": "==",
    "break": "break", "continue": "continue",
}
_SUFFIX_RULES = (
    ("_statement", ""), ("_expression", ""), ("_definition", ""), ("_declaration", ""),
    ("_literal", ""), ("_clause", ""),
)


@dataclass(frozen=True)
class LanguageSpec:
    """One language: its grammar, our queries, and the rules that shape its symbols."""

    name: str
    grammar: ts.Language
    queries: dict[str, ts.Query]
    structure: ts.Query  # definitions + imports + inheritance, see STRUCTURE_FILES
    structure_files: tuple[str, ...]  # pattern index of `structure` → its file
    separator: str
    # Definition kinds whose direct function children are methods (a class's functions).
    method_containers: frozenset[str]
    # Node kinds holding doc comments, and whether docs are docstrings inside the body.
    comment_kinds: frozenset[str]
    docstring: bool
    # Scope separators that may appear inside a captured name (C++ ``Foo::bar``).
    name_separators: tuple[str, ...]
    # Fold bodiless overload signatures into the definition that follows (TypeScript).
    merge_overloads: bool
    # Keywords a parser misled by a macro may take for a definition's name (C's
    # `Py_BEGIN_ALLOW_THREADS if (x) {…}` parses as a function named `if`).
    reserved_names: frozenset[str]
    normalized: np.ndarray = field(repr=False)  # node kind id → normalised kind code (0: drop)
    pruned: frozenset[int] = field(repr=False)  # node kind ids whose subtrees shapes skip
    shaped: frozenset[int] = field(repr=False)  # node kind ids with a code in ``normalized``

    def parser(self) -> ts.Parser:
        return ts.Parser(self.grammar)


def grammars_dir() -> Path:
    return data_dir("grammars")


def _load_grammar(reference: str) -> ts.Language:
    module_name, _, function = reference.partition(":")
    module = importlib.import_module(module_name)
    return ts.Language(getattr(module, function or "language")())


def kind_code(normalized: str) -> int:
    """A stable 31-bit code for a normalised node kind (stored fingerprints depend on it)."""
    digest = hashlib.blake2b(normalized.encode("utf-8"), digest_size=4).digest()
    return (int.from_bytes(digest, "little") & 0x7FFFFFFF) or 1


def _normalize(kind: str, named: bool, overrides: dict[str, str]) -> str:
    if kind in overrides:
        return "" if overrides[kind] in _DROPPED else overrides[kind]
    if not named:
        return _ANONYMOUS_KEPT.get(kind, "")
    if kind in _COMMON_NORMALIZED:
        return _COMMON_NORMALIZED[kind]
    if kind.endswith("_type"):
        return ""
    for suffix, replacement in _SUFFIX_RULES:
        if kind.endswith(suffix):
            return kind[: -len(suffix)] + replacement
    return kind


def _pruned_kinds(grammar: ts.Language, extra: list[str]) -> frozenset[int]:
    wanted = _PRUNED | set(extra)
    return frozenset(
        kind_id for kind_id in range(grammar.node_kind_count)
        if grammar.node_kind_is_named(kind_id) and (kind := grammar.node_kind_for_id(kind_id))
        and (kind in wanted or kind.endswith("_type")))


def _normalization_table(grammar: ts.Language, overrides: dict[str, str]) -> np.ndarray:
    table = np.zeros(grammar.node_kind_count, dtype=np.int64)
    for kind_id in range(grammar.node_kind_count):
        kind = grammar.node_kind_for_id(kind_id)
        if kind is None:
            continue
        normalized = _normalize(kind, grammar.node_kind_is_named(kind_id), overrides)
        table[kind_id] = kind_code(normalized) if normalized else 0
    return table


def _prefixed_captures(kind: str, source: str) -> str:
    """The query ``source`` with each capture ``@x`` renamed ``@kind.x``."""
    return _CAPTURE.sub(lambda m: f"@{kind}.{m.group(1)}", source)


@functools.cache
def language_spec(name: str) -> LanguageSpec | None:
    """The spec for a detected language name, or None when we do not parse it."""
    config_path = _config_path(name)
    if config_path is None:
        return None
    config = tomllib.loads(config_path.read_text("utf-8"))
    dialect = config.get("dialects", {}).get(name, {})
    try:
        grammar = _load_grammar(dialect.get("grammar", config["grammar"]))
    except (ImportError, AttributeError) as exc:
        raise StoreError(f"the tree-sitter grammar for {name} is not installed: {exc}") from exc
    queries, sources = {}, {}
    for kind in QUERY_FILES:
        # A dialect may add patterns of its own (TSX's JSX elements) to a query file.
        # A language may take a query file from another folder (TypeScript imports are
        # written exactly as JavaScript's) rather than keep a copy.
        paths = [config_path.parent / config.get("queries", {}).get(kind, f"{kind}.scm")]
        if kind in dialect.get("extra_queries", {}):
            paths.append(config_path.parent / dialect["extra_queries"][kind])
        try:
            sources[kind] = "\n".join(path.read_text("utf-8") for path in paths)
            queries[kind] = ts.Query(grammar, sources[kind])
        except (OSError, ts.QueryError) as exc:
            raise StoreError(f"{' + '.join(map(str, paths))} is unusable: {exc}") from exc
    structure = ts.Query(grammar, "\n".join(
        _prefixed_captures(kind, sources[kind]) for kind in STRUCTURE_FILES))
    structure_files = tuple(kind for kind in STRUCTURE_FILES
                            for _ in range(queries[kind].pattern_count))
    normalized = _normalization_table(grammar, config.get("normalize", {}))
    return LanguageSpec(
        name=name,
        grammar=grammar,
        queries=queries,
        structure=structure,
        structure_files=structure_files,
        separator=config.get("separator", "."),
        method_containers=frozenset(config.get("method_containers", [])),
        comment_kinds=frozenset(config.get("comment_kinds", ["comment"])),
        docstring=bool(config.get("docstring", False)),
        name_separators=tuple(config.get("name_separators", [])),
        merge_overloads=bool(config.get("merge_overloads", False)),
        reserved_names=frozenset(config.get("reserved_names", [])),
        normalized=normalized,
        pruned=_pruned_kinds(grammar, config.get("shape_prune", [])),
        shaped=shaped_kinds(normalized),
    )


@functools.cache
def _language_folders() -> dict[str, Path]:
    """Detected language name → its language.toml (a folder may serve several names)."""
    folders: dict[str, Path] = {}
    root = grammars_dir()
    for config_path in sorted(root.glob("*/language.toml")):
        config = tomllib.loads(config_path.read_text("utf-8"))
        for name in [config["name"], *config.get("dialects", {})]:
            folders[name] = config_path
    return folders


def _config_path(name: str) -> Path | None:
    return _language_folders().get(name)


def supported_languages() -> list[str]:
    return sorted(_language_folders())
