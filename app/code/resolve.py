"""Ranking candidate definitions of a name for a position in a file (go to definition).

Without type inference we rank by what the file itself says: lexical scope (a definition in
an enclosing scope of the same file wins, shadowing outer ones), the receiver (``self.m`` /
``this.m`` looks in the enclosing class and its bases), imports (``from a.b import f``,
``import x.y as z`` then ``z.f``, ``#include "f.h"``, ``use crate::a::f``), and proximity
(same language, same folder).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import cast

import apsw

from app.code.locate import Document
from app.code.symbols import StoredSymbol, site_groups

CALLABLE_KINDS = frozenset({"function", "method", "constructor", "macro"})
TYPE_KINDS = frozenset({"class", "struct", "interface", "trait", "enum", "type", "union",
                        "namespace", "module"})
MEMBER_KINDS = frozenset({"method", "field", "property", "constructor"})
SELF_NAMES = frozenset({"self", "this", "cls", "Self", "base", "super"})

_RECEIVER = re.compile(r"([A-Za-z_$][\w$]*)\s*(?:\.|->|::|\?\.)\s*$")
_MEMBER = re.compile(r"(?:\.|->|::|\?\.)\s*$")
_IGNORED_SEGMENTS = frozenset({"", ".", "..", "crate", "self", "super", "@", "~"})
_SOURCE_SUFFIX = re.compile(r"\.[A-Za-z+]+$")
_MODULE_FILES = frozenset({"__init__", "index", "mod", "lib", "main"})


@dataclass
class Context:
    """What the file says around the position being resolved."""

    doc: Document
    line: int
    column: int | None
    name: str
    site_kind: str | None = None
    enclosing: list[StoredSymbol] = field(default_factory=list)  # innermost first
    receiver: str | None = None
    member: bool = False
    imports: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    bases: set[str] = field(default_factory=set)  # base names of enclosing classes
    # Set when the name at the position is an import alias (`import x as y`, then y):
    # the (module, name) it stands for.
    alias_of: tuple[str, str | None] | None = None


def build_context(conn: apsw.Connection, doc: Document, line: int, column: int | None,
                  name: str, line_text: str, enclosing: list[StoredSymbol]) -> Context:
    context = Context(doc, line, column, name, enclosing=enclosing)
    if column is not None:
        before = line_text[:max(0, column - 1)]
        receiver = _RECEIVER.search(before)
        context.member = bool(_MEMBER.search(before))
        context.receiver = receiver.group(1) if receiver else None
    for group in site_groups(conn, "r.doc_id = ? AND n.name = ?", (doc.id, name)):
        if any(int(ln) == line for ln in group.lines):
            context.site_kind = group.kind
            break
    context.imports = cast(list[tuple[str, str | None, str | None]], conn.execute(
        "SELECT module, name, alias FROM code_imports WHERE doc_id = ?", (doc.id,)).fetchall())
    class_ids = [s.id for s in enclosing if s.symbol.kind in TYPE_KINDS]
    context.bases = _base_closure(conn, class_ids)
    return context


def _base_closure(conn: apsw.Connection, class_ids: list[int]) -> set[str]:
    """Names of the classes' bases, and of their bases (by name), a few levels up."""
    names: set[str] = set()
    frontier = [
        name for (name,) in conn.execute(
            "SELECT n.name FROM code_inherits i JOIN code_names n ON n.id = i.base_name_id"
            f" WHERE i.symbol_id IN ({','.join('?' * len(class_ids))})", tuple(class_ids))
    ] if class_ids else []
    for _ in range(4):
        new = [n for n in frontier if n not in names]
        if not new:
            break
        names.update(new)
        frontier = [name for (name,) in conn.execute(
            "SELECT n2.name FROM code_symbols s JOIN code_names n1 ON n1.id = s.name_id"
            " JOIN code_inherits i ON i.symbol_id = s.id"
            " JOIN code_names n2 ON n2.id = i.base_name_id"
            f" WHERE n1.name IN ({','.join('?' * len(new))})", tuple(new))]
    return names


def module_matches(module: str, imported: str | None, path: str, qualified: str) -> bool:
    """Whether an import of ``module`` (and ``imported`` from it) can name a symbol in
    ``path`` with the qualified name ``qualified``."""
    segments = [s for s in re.split(r"[./:\\]+", module) if s not in _IGNORED_SEGMENTS]
    if not segments:
        return False
    stem = _SOURCE_SUFFIX.sub("", path)
    parts = [p for p in PurePosixPath(stem).parts if p != "/"]
    if parts and parts[-1] in _MODULE_FILES:
        parts = parts[:-1]
    directories = [p for p in PurePosixPath(path).parent.parts if p != "/"]
    for wanted in (segments, [*segments, imported] if imported else None):
        if wanted and (_is_suffix(wanted, parts) or _is_suffix(wanted, directories)):
            return True
    # Namespaces that are not paths (C#, C++): the symbol's qualified name starts there.
    dotted = qualified.replace("::", ".")
    return dotted.startswith(".".join(segments) + ".")


def _is_suffix(wanted: list[str], parts: list[str]) -> bool:
    return len(wanted) <= len(parts) and parts[len(parts) - len(wanted):] == wanted


def score(candidate: StoredSymbol, context: Context) -> float:
    """Higher is a better guess for what the name at the context's position refers to."""
    symbol = candidate.symbol
    points = 0.0
    chain = [s.id for s in context.enclosing]
    if symbol.language == context.doc.language:
        points += 20
    if candidate.doc_id == context.doc.id:
        points += 40
        if candidate.parent_id is None or candidate.parent_id in chain:
            depth = chain.index(candidate.parent_id) if candidate.parent_id in chain \
                else len(chain)
            # Lexically visible; an inner scope shadows an outer one.
            points += 60 + 5 * (len(chain) - depth)
        if candidate.id in chain:
            points += 10
    owner = symbol.qualified_name.replace("::", ".").rsplit(".", 1)[0] \
        if "." in symbol.qualified_name.replace("::", ".") else ""
    owner_name = owner.rsplit(".", 1)[-1]
    if context.member:
        points += 15 if symbol.kind in MEMBER_KINDS else -10
        if context.receiver in SELF_NAMES:
            class_names = {s.symbol.name for s in context.enclosing
                           if s.symbol.kind in TYPE_KINDS}
            if candidate.parent_id in chain or owner_name in class_names:
                points += 120
            elif owner_name in context.bases:
                points += 100
        elif context.receiver and owner_name == context.receiver:
            points += 90  # Type.member / Namespace::member
    if context.alias_of is not None and module_matches(
            context.alias_of[0], context.alias_of[1], symbol.path, symbol.qualified_name):
        points += 150
    for module, imported, alias in context.imports:
        # The name an import binds in this file: `import a.b` binds b, `from a import c as d`
        # binds d.
        local = alias or imported or module.replace("::", ".").split(".")[-1].split("/")[-1]
        names_it = context.name == local or (context.member and context.receiver == local)
        if names_it and module_matches(module, imported, symbol.path, symbol.qualified_name):
            points += 90
        elif imported in (None, "*") and module_matches(module, None, symbol.path,
                                                        symbol.qualified_name):
            points += 30  # a wildcard or package import that could bring it in
    if PurePosixPath(symbol.path).parent == PurePosixPath(context.doc.path).parent:
        points += 15
    if context.site_kind == "call" and symbol.kind in CALLABLE_KINDS | {"class", "struct"}:
        points += 5
    if context.site_kind == "type" and symbol.kind in TYPE_KINDS:
        points += 5
    return points
