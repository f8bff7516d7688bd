"""Facts about one source file, from its tree-sitter parse and our queries.

:func:`extract` is pure: text in, :class:`FileFacts` out, no database. It parses once, runs
the language's four queries, and derives qualified names, enclosing definitions, doc
comments, signatures and shape fingerprints with as little per-node Python as it can (the
reference sites, the bulk of the facts, are grouped with numpy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import tree_sitter as ts

from app.code import fingerprint
from app.code.languages import STRUCTURE_FILES, LanguageSpec

# Kinds whose shape is fingerprinted (variables and fields are too small to be clones).
FINGERPRINTED_KINDS = frozenset({
    "function", "method", "constructor", "class", "struct", "interface", "trait", "impl",
    "enum", "module",
})
SIGNATURE_CHARS = 240
DOC_CHARS = 600
# Reference kinds in decreasing specificity: a node captured as both keeps the first.
REFERENCE_KINDS = ("call", "type", "reference")

_WS = re.compile(r"\s+")
_XML_TAG = re.compile(r"</?(?:summary|remarks|returns|param|paramref|typeparam|see|seealso|c|code|"
                      r"para|value|example|exception|inheritdoc)\b[^>]*>")
_DOCSTRING_QUOTES = re.compile(r"^[rRbBuUfF]{0,2}(\"\"\"|'''|\"|')(.*?)(\1)?\s*$", re.DOTALL)
_COMMENT_MARKERS = re.compile(r"^\s*(?:///?!?|/\*\*?|\*/|\*|#+|--)?\s?")


@dataclass
class Definition:
    kind: str
    name: str
    qualified_name: str
    signature: str
    doc: str
    start_line: int  # 1-based
    start_col: int  # 1-based, in characters
    end_line: int
    end_col: int
    name_line: int
    name_col: int
    start_byte: int
    end_byte: int
    name_byte: int
    parent: int = -1  # index of the enclosing definition in FileFacts.definitions
    container: str = ""  # kind of the innermost enclosing definition or scope ("" at top)
    node: ts.Node | None = field(default=None, repr=False, compare=False)
    shape: int | None = None
    minhash: bytes | None = None


@dataclass
class Import:
    module: str
    name: str | None
    alias: str | None
    line: int


@dataclass
class Inheritance:
    symbol: int  # index into FileFacts.definitions
    base: str  # as written
    base_name: str  # its last segment, without type arguments
    kind: str  # "extends" or "implements"


@dataclass
class ReferenceGroup:
    """Every use of one name with one kind in the file."""

    name: str
    kind: str
    # int32 rows (line, column, enclosing definition index + 1; 0 at file level)
    sites: np.ndarray


@dataclass
class FileFacts:
    language: str
    definitions: list[Definition] = field(default_factory=list)
    references: list[ReferenceGroup] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    inheritance: list[Inheritance] = field(default_factory=list)
    parse_errors: int = 0


@dataclass
class _Entry:
    """A definition or a naming scope (a Rust ``impl``) while qualified names are built."""

    kind: str
    node: ts.Node
    name_node: ts.Node
    body: ts.Node | None
    qualifier: list[str]
    is_scope: bool
    name: str = ""
    parts: list[str] = field(default_factory=list)
    # What the entry is as a container of others: a variable bound to an object literal
    # contains its members as an object does.
    container_kind: str = ""
    anonymous: bool = False
    overloads: list[_Entry] = field(default_factory=list)  # signatures folded into this one


class _Columns:
    """Byte offset → 1-based character column; a no-op for ASCII files."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ascii = data.isascii()

    def __call__(self, row_start_byte: int, byte_col: int) -> int:
        if self.ascii:
            return byte_col + 1
        line = self.data[row_start_byte:row_start_byte + byte_col]
        return len(line.decode("utf-8", "replace")) + 1


def extract(spec: LanguageSpec, text: str) -> FileFacts:
    """Everything we store about one file of ``spec``'s language."""
    data = text.encode("utf-8")
    tree = spec.parser().parse(data)
    root = tree.root_node
    facts = FileFacts(language=spec.name, parse_errors=_count_errors(root))
    columns = _Columns(data)
    structure = _structure_matches(spec, root)
    entries = _definition_entries(structure["definitions"], data)
    definitions, entry_index = _build_definitions(spec, entries, data, columns)
    facts.definitions = definitions
    facts.references = _references(spec, root, data, definitions, columns)
    facts.imports = _imports(structure["imports"], data)
    facts.inheritance = _inheritance(spec, structure["inheritance"], data, entry_index)
    _fingerprint(spec, definitions)
    return facts


def _count_errors(root: ts.Node) -> int:
    if not root.has_error:
        return 0
    # Walk only into subtrees that contain an error; clean files cost nothing here.
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        stack.extend(child for child in node.children if child.has_error or child.is_missing)
    return count


def _text(data: bytes, node: ts.Node) -> str:
    return data[node.start_byte:node.end_byte].decode("utf-8", "replace")


Match = tuple[int, dict[str, list[ts.Node]]]


def _structure_matches(spec: LanguageSpec, root: ts.Node) -> dict[str, list[Match]]:
    """The matches of definitions.scm, imports.scm and inheritance.scm, from one walk."""
    found: dict[str, list[Match]] = {kind: [] for kind in STRUCTURE_FILES}
    for pattern, captures in ts.QueryCursor(spec.structure).matches(root):
        kind = spec.structure_files[pattern]
        cut = len(kind) + 1
        found[kind].append((pattern, {name[cut:]: nodes for name, nodes in captures.items()}))
    return found


# -- definitions ------------------------------------------------------------------------------


def _definition_entries(matches: list[Match], data: bytes) -> list[_Entry]:
    # One definition per name position: when several patterns match the same name, the one
    # written first in definitions.scm (the most specific) wins.
    chosen: dict[int, tuple[int, _Entry]] = {}
    for pattern, captures in matches:
        kind, node, is_scope = "", None, False
        for capture, nodes in captures.items():
            if capture.startswith("definition."):
                kind, node = capture[len("definition."):], nodes[0]
            elif capture.startswith("scope."):
                kind, node, is_scope = capture[len("scope."):], nodes[0], True
        names = captures.get("name")
        if node is None or not (names or is_scope):
            continue
        # An anonymous scope (an object literal passed as an argument) names nothing.
        name_node = names[0] if names else node
        key = name_node.start_byte * 2 + is_scope
        if key in chosen and chosen[key][0] <= pattern:
            continue
        qualifier = [_text(data, n) for n in captures.get("qualifier", ())]
        body = captures.get("body", [None])[0]
        entry = _Entry(kind, node, name_node, body, qualifier, is_scope)
        entry.anonymous = not names
        chosen[key] = (pattern, entry)
    return [entry for _, entry in chosen.values()]


def _split_name(spec: LanguageSpec, raw: str) -> list[str]:
    """``Foo::bar`` → [Foo, bar]: C++ out-of-line members and C# explicit implementations."""
    head, operator, tail = raw.partition("operator")
    # A C++ operator (`A::operator std::string`) keeps its type's `::`; `my_operator` and
    # `operatorName` are ordinary names.
    is_operator = bool(operator) and (head == "" or head.endswith(("::", ".", " "))) and (
        not tail or not (tail[0].isalnum() or tail[0] == "_") or tail[0].isspace())
    prefix, last = (head, "operator" + tail) if is_operator else (raw, "")
    parts = [prefix]
    for separator in spec.name_separators:
        parts = [piece for part in parts for piece in part.split(separator)]
    parts = [_strip_type_arguments(p.strip()) for p in parts if p.strip()]
    if last:
        parts.append(_strip_type_arguments(last.strip()))
    return parts or [raw]


_OPERATOR = re.compile(r"^operator(?:\s+|(?=[^\w])|$)(.*)$", re.DOTALL)


def _strip_type_arguments(name: str) -> str:
    operator = _OPERATOR.match(name)
    if operator:
        # C++ operators keep their symbol, spelt as ctags does: `operator !=`, `operator ()`,
        # and conversions their type: `operator PyObject*`.
        rest = operator.group(1)
        if rest[:1].isalpha() or rest[:1] == "_":
            converted = _WS.sub(" ", rest.split("(", 1)[0]).strip()
            return "operator " + re.sub(r"\s+(?=[*&])", "", converted)
        return "operator " + _WS.sub("", rest) if rest else name
    for opener in "<[(":
        cut = name.find(opener)
        if cut > 0:
            name = name[:cut]
    return name.strip()


def _build_definitions(spec: LanguageSpec, entries: list[_Entry], data: bytes,
                       columns: _Columns) -> tuple[list[Definition], dict[int, int]]:
    """Nest entries by span, qualify their names, and keep the real definitions.

    Returns the definitions and a map from each name node's start byte to its index.
    """
    definition_spans = {(e.node.start_byte, e.node.end_byte): e for e in entries
                        if not e.is_scope}
    merged = []
    for entry in entries:
        entry.container_kind = entry.container_kind or entry.kind
        twin = definition_spans.get((entry.node.start_byte, entry.node.end_byte))
        if entry.is_scope and twin is not None:
            twin.container_kind = entry.kind  # one node, one entry: the definition
            continue
        merged.append(entry)
    entries = sorted(merged, key=lambda e: (e.node.start_byte, -e.node.end_byte, not e.is_scope))
    if spec.merge_overloads:
        entries = _merge_overloads(entries, data)
    definitions: list[Definition] = []
    index_of: dict[int, int] = {}
    stack: list[tuple[_Entry, int]] = []  # (entry, definition index or -1 for scopes)
    for entry in entries:
        start, end = entry.node.start_byte, entry.node.end_byte
        while stack and stack[-1][0].node.end_byte <= start:
            stack.pop()
        outer = stack[-1][0] if stack else None
        parent = next((i for _, i in reversed(stack) if i >= 0), -1)
        parts = [] if entry.anonymous else _split_name(spec, _text(data, entry.name_node))
        entry.name = parts[-1] if parts else ""
        entry.parts = [*(outer.parts if outer else []), *entry.qualifier, *parts]
        kind = entry.kind
        if kind == "function" and (entry.qualifier or (
                outer is not None and outer.container_kind in spec.method_containers)):
            kind = "method"
        if entry.is_scope:
            stack.append((entry, -1))
            continue
        if not entry.name or entry.name in spec.reserved_names:
            # A declaration that names nothing (an unnamed bit-field, a declarator the
            # grammar could not name) defines nothing anyone could look up.
            continue
        node, name_node = entry.node, entry.name_node
        first = entry.overloads[0] if entry.overloads else entry
        start, name_node = first.node.start_byte, first.name_node
        start_row, start_col = first.node.start_point
        end_row, end_col = node.end_point
        name_row, name_col = name_node.start_point
        definition = Definition(
            kind=kind,
            name=entry.name,
            qualified_name=spec.separator.join(entry.parts),
            signature=_signature(data, first.node, first.body),
            doc=_doc(spec, first.node, entry.body, data),
            start_line=start_row + 1,
            start_col=columns(start - start_col, start_col),
            end_line=end_row + 1,
            end_col=columns(end - end_col, end_col),
            name_line=name_row + 1,
            name_col=columns(name_node.start_byte - name_col, name_col),
            start_byte=start,
            end_byte=end,
            name_byte=name_node.start_byte,
            parent=parent,
            container=outer.container_kind if outer is not None else "",
            node=node,
        )
        index_of[name_node.start_byte] = len(definitions)
        stack.append((entry, len(definitions)))
        definitions.append(definition)
    return definitions, index_of


def _merge_overloads(entries: list[_Entry], data: bytes) -> list[_Entry]:
    """Fold overload signatures (TypeScript ``f(a: string): void;`` lines before the body)
    into the definition they announce: one symbol spanning from the first signature (where
    ctags, and readers, expect it) to the end of the implementation."""
    result: list[_Entry] = []
    for entry in entries:
        previous = result[-1] if result else None
        if (previous is not None and previous.body is None and not previous.is_scope
                and not entry.is_scope and previous.kind == entry.kind
                and previous.node.end_byte <= entry.node.start_byte
                and _text(data, previous.name_node) == _text(data, entry.name_node)):
            entry.overloads = [*previous.overloads, previous]
            result[-1] = entry
            continue
        result.append(entry)
    return result


def _signature(data: bytes, node: ts.Node, body: ts.Node | None) -> str:
    end = body.start_byte if body is not None else node.end_byte
    raw = data[node.start_byte:min(end, node.start_byte + 4 * SIGNATURE_CHARS)]
    if body is None:
        raw = raw.split(b"\n", 1)[0]
    signature = _WS.sub(" ", raw.decode("utf-8", "replace")).strip().rstrip("{:;").rstrip()
    return signature[:SIGNATURE_CHARS]


def _doc(spec: LanguageSpec, node: ts.Node, body: ts.Node | None, data: bytes) -> str:
    if spec.docstring and body is not None:
        first = body.named_child(0)
        if first is not None and first.type == "expression_statement":
            string = first.named_child(0)
            if string is not None and string.type == "string":
                return _clean_docstring(_text(data, string))
    return _leading_comments(spec, node, data)


def _clean_docstring(literal: str) -> str:
    match = _DOCSTRING_QUOTES.match(literal)
    body = match.group(2) if match else literal
    lines = body.strip().splitlines()
    paragraph: list[str] = []
    for line in lines:
        if not line.strip():
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    return " ".join(paragraph)[:DOC_CHARS]


def _leading_comments(spec: LanguageSpec, node: ts.Node, data: bytes) -> str:
    # Wrappers that start where the definition starts (export, decorators, templates) hold
    # the comments as their own siblings.
    while node.parent is not None and node.parent.start_byte == node.start_byte \
            and node.parent.type not in ("module", "program", "source_file", "translation_unit"):
        node = node.parent
    comments: list[str] = []
    line = node.start_point[0]
    sibling = node.prev_sibling
    while sibling is not None:
        if sibling.type in spec.comment_kinds and sibling.end_point[0] >= line - 1:
            comments.append(_text(data, sibling))
            line = sibling.start_point[0]
        elif sibling.type not in ("attribute_item", "decorator", "annotation",
                                  "attribute_list", "marker_annotation"):
            break
        sibling = sibling.prev_sibling
    if not comments:
        return ""
    lines = []
    for comment in reversed(comments):
        for raw in comment.splitlines():
            cleaned = _COMMENT_MARKERS.sub("", raw, count=1).rstrip()
            cleaned = cleaned.removesuffix("*/").rstrip()
            if cleaned:
                lines.append(cleaned)
    # XML doc comments (C#'s /// <summary>…</summary>) keep their text, not their tags.
    return _WS.sub(" ", _XML_TAG.sub(" ", " ".join(lines))).strip()[:DOC_CHARS]


# -- references ------------------------------------------------------------------------------


def _references(spec: LanguageSpec, root: ts.Node, data: bytes,
                definitions: list[Definition], columns: _Columns) -> list[ReferenceGroup]:
    captures = ts.QueryCursor(spec.queries["references"]).captures(root)
    skip = {d.name_byte for d in definitions}
    group_of: dict[tuple[bytes, str], int] = {}
    groups: list[int] = []
    offsets: list[int] = []
    rows: list[int] = []
    cols: list[int] = []
    for kind in REFERENCE_KINDS:
        # The binding's capture lists are not in document order (and their order changes
        # with the process's string hash seed): sorted, the groups and so the stored rows
        # come out the same in every process.
        # Each node's offsets are read once (every read builds a Python int); the capture's
        # index breaks ties as a stable sort of the nodes by (start, end) would.
        nodes = sorted((node.start_byte, node.end_byte, i, node)
                       for i, node in enumerate(captures.get(kind, ())))
        for start, end, _, node in nodes:
            if start in skip:
                continue
            skip.add(start)
            key = (data[start:end], kind)
            group = group_of.get(key)
            if group is None:
                group = group_of[key] = len(group_of)
            row, col = node.start_point
            groups.append(group)
            offsets.append(start)
            rows.append(row)
            cols.append(col if columns.ascii else columns(start - col, col) - 1)
    if not groups:
        return []
    enclosing = _enclosing(definitions, np.asarray(offsets, dtype=np.int64))
    sites = np.stack([np.asarray(rows, dtype=np.int32) + 1, np.asarray(cols, dtype=np.int32) + 1,
                      enclosing + 1], axis=1)
    group_ids = np.asarray(groups, dtype=np.int64)
    order = np.lexsort((np.asarray(offsets, dtype=np.int64), group_ids))
    bounds = np.concatenate([[0], np.cumsum(np.bincount(group_ids, minlength=len(group_of)))])
    sites = sites[order]
    result = []
    for (name, kind), group in group_of.items():
        result.append(ReferenceGroup(name.decode("utf-8", "replace"), kind,
                                     sites[bounds[group]:bounds[group + 1]]))
    return result


def _enclosing(definitions: list[Definition], offsets: np.ndarray) -> np.ndarray:
    """Index of the innermost definition containing each offset (-1 for none), vectorised."""
    if not definitions:
        return np.full(len(offsets), -1, dtype=np.int32)
    starts = np.array([d.start_byte for d in definitions], dtype=np.int64)
    ends = np.array([d.end_byte for d in definitions], dtype=np.int64)
    parents = np.array([d.parent for d in definitions], dtype=np.int64)
    # Definitions are in start order and nest, so the last one starting at or before an
    # offset either contains it or one of its ancestors does.
    candidate = np.searchsorted(starts, offsets, side="right") - 1
    while True:
        outside = (candidate >= 0) & (ends[np.maximum(candidate, 0)] <= offsets)
        if not outside.any():
            return candidate.astype(np.int32)
        candidate[outside] = parents[candidate[outside]]


# -- imports and inheritance ------------------------------------------------------------------


def _unquote(module: str) -> str:
    return module.strip().strip("\"'`<>").strip()


def _imports(matches: list[Match], data: bytes) -> list[Import]:
    found: dict[tuple[int, int, int], Import] = {}
    for _, captures in matches:
        modules = captures.get("module")
        names = captures.get("name")
        aliases = captures.get("alias")
        if modules:
            anchor = modules[0]
        elif names:
            anchor = names[0]
        else:
            continue
        module = _unquote(_text(data, modules[0])) if modules else ""
        name = _text(data, names[0]) if names else None
        alias = _text(data, aliases[0]) if aliases else None
        key = (anchor.start_byte, names[0].start_byte if names else -1,
               aliases[0].start_byte if aliases else -1)
        found[key] = Import(module, name, alias, anchor.start_point[0] + 1)
    # A statement matched both as a whole and name by name keeps only the names.
    named = {start for start, name, alias in found if name >= 0 or alias >= 0}
    return [imp for (start, name, alias), imp in found.items()
            if name >= 0 or alias >= 0 or start not in named]


def _inheritance(spec: LanguageSpec, matches: list[Match], data: bytes,
                 index_of: dict[int, int]) -> list[Inheritance]:
    found: list[Inheritance] = []
    seen: set[tuple[int, int]] = set()
    for _, captures in matches:
        names = captures.get("name")
        if not names:
            continue
        symbol = index_of.get(names[0].start_byte)
        if symbol is None:
            continue
        for kind in ("extends", "implements"):
            for base_node in captures.get(kind, ()):
                if (symbol, base_node.start_byte) in seen:
                    continue
                seen.add((symbol, base_node.start_byte))
                base = _WS.sub(" ", _text(data, base_node)).strip()
                parts = _split_name(spec, _strip_type_arguments(base).replace("::", "."))
                base_name = parts[-1].split(".")[-1]
                found.append(Inheritance(symbol, base, base_name, kind))
    return found


# -- fingerprints -----------------------------------------------------------------------------


def _fingerprint(spec: LanguageSpec, definitions: list[Definition]) -> None:
    targets = [d for d in definitions if d.kind in FINGERPRINTED_KINDS]
    # Walk only the outermost targets' subtrees: module-level code is never fingerprinted.
    # Targets are in start order, so each outermost one is followed by those it contains.
    i = 0
    while i < len(targets):
        outer = targets[i]
        j = i + 1
        while j < len(targets) and targets[j].start_byte < outer.end_byte:
            j += 1
        if outer.node is not None:
            codes, starts = fingerprint.node_stream(outer.node, spec.normalized, spec.pruned,
                                                    spec.shaped)
            hashes = fingerprint.shingle_hashes(codes)
            for inner in targets[i:j]:
                _sign(inner, codes, starts, hashes)
        i = j


def _sign(definition: Definition, codes: np.ndarray, starts: np.ndarray,
          hashes: np.ndarray) -> None:
    first = int(np.searchsorted(starts, definition.start_byte, side="left"))
    last = int(np.searchsorted(starts, definition.end_byte, side="left"))
    definition.shape = fingerprint.shape_hash(codes[first:last])
    shingles = hashes[first:max(first, last - fingerprint.SHINGLE + 1)]
    if len(shingles) >= fingerprint.MIN_SHINGLES:
        # A minimum ignores repeats: the multiset of shingles signs like the set.
        definition.minhash = fingerprint.minhash(shingles).tobytes()
