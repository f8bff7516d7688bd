"""Definition accuracy against Universal Ctags (used by bench_code.py).

Both sides are reduced to (file, name, line, group) where group is ``callable`` (functions,
methods, constructors) or ``type`` (classes, structs, interfaces, traits) — the kinds the
accuracy target covers. A definition matches when file, name and group agree and the lines
are within one of each other (ctags and tree-sitter disagree on where a multi-line header
"is").
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from app.code.extract import Definition, extract
from app.code.languages import language_spec
from app.detect import detect_language

CTAGS_LANGUAGE = {
    "python": "Python", "javascript": "JavaScript", "typescript": "TypeScript",
    "tsx": "TypeScript", "csharp": "C#", "go": "Go", "rust": "Rust", "java": "Java",
    "c": "C", "cpp": "C++",
}
# ctags kind names (long form) per language → our comparison group.
CTAGS_GROUPS: dict[str, dict[str, str]] = {
    "Python": {"class": "type", "function": "callable", "member": "callable"},
    "JavaScript": {"class": "type", "function": "callable", "method": "callable",
                   "generator": "callable", "getter": "callable", "setter": "callable"},
    "TypeScript": {"class": "type", "interface": "type", "function": "callable",
                   "method": "callable", "generator": "callable"},
    "C#": {"class": "type", "struct": "type", "interface": "type", "method": "callable"},
    "Go": {"func": "callable", "methodSpec": "callable", "struct": "type",
           "interface": "type"},
    "Rust": {"function": "callable", "method": "callable", "struct": "type",
             "interface": "type"},
    "Java": {"class": "type", "interface": "type", "method": "callable"},
    "C": {"function": "callable", "struct": "type"},
    "C++": {"function": "callable", "class": "type", "struct": "type"},
}
OUR_GROUPS = {
    "function": "callable", "method": "callable", "constructor": "callable",
    "delegate": "callable",  # ctags calls a C# delegate declaration a method
    "class": "type", "struct": "type", "interface": "type", "trait": "type",
}


@dataclass(frozen=True)
class Tag:
    path: str
    name: str
    line: int
    group: str
    kind: str
    # Why ctags may not report one of ours (for spot-checking): see _cause.
    cause: str = field(default="", compare=False)


@dataclass
class Comparison:
    language: str
    files: int = 0
    ctags: int = 0
    ours: int = 0
    matched_ctags: int = 0
    matched_ours: int = 0
    missed: list[Tag] = field(default_factory=list)  # ctags found, we did not
    extra: list[Tag] = field(default_factory=list)  # we found, ctags did not
    # Ours confirmed by a ctags tag of another kind at the same place: ctags' TypeScript
    # parser calls `const f = () => …` a constant, its JavaScript parser a function.
    kind_differs: int = 0

    @property
    def precision_known_gaps_excluded(self) -> float:
        """Precision once definitions in ctags' known blind spots (see _cause) are set aside:
        they are spot-checked, not wrong."""
        excused = sum(1 for tag in self.extra if tag.cause != "other")
        return self.matched_ours / (self.ours - excused) if self.ours > excused else 1.0

    @property
    def extra_by_cause(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for tag in self.extra:
            counts[tag.cause] += 1
        return dict(counts)

    @property
    def recall(self) -> float:
        return self.matched_ctags / self.ctags if self.ctags else 1.0

    @property
    def precision(self) -> float:
        return self.matched_ours / self.ours if self.ours else 1.0


# ctags' JavaScript/TypeScript parsers call every object literal bound to a name a "class"
# and its function-valued keys "methods" (but only sometimes: not inside call arguments).
# Neither is a class or method, so both sides leave object-literal members out.
_OBJECT_LITERAL_LANGUAGES = frozenset({"JavaScript", "TypeScript"})
_CLASS_KEYWORD = re.compile(r"\bclass\b")
_VALUE_KINDS = frozenset({"constant", "variable", "property", "field"})


def ctags_tags(files: list[Path], language: str) -> list[Tag]:
    ctags_language = CTAGS_LANGUAGE[language]
    groups = CTAGS_GROUPS[ctags_language]
    tags: list[Tag] = []
    objects = ctags_language in _OBJECT_LITERAL_LANGUAGES
    for start in range(0, len(files), 200):
        chunk = files[start:start + 200]
        output = subprocess.run(
            ["ctags", "--output-format=json", "--fields=+nK", f"--language-force={ctags_language}",
             "-f", "-", *map(str, chunk)],
            capture_output=True, text=True, check=True).stdout
        entries = [json.loads(line) for line in output.splitlines()]
        object_scopes = {
            (e["path"], ".".join(filter(None, [e.get("scope"), e["name"]])))
            for e in entries if objects and e.get("kind") == "class"
            and not _CLASS_KEYWORD.search(e.get("pattern", ""))
        }
        for entry in entries:
            group = groups.get(entry.get("kind", ""))
            full = ".".join(filter(None, [entry.get("scope"), entry["name"]]))
            if (entry["path"], full) in object_scopes or (
                    entry.get("scopeKind") == "class"
                    and (entry["path"], entry.get("scope")) in object_scopes):
                continue
            if group is None and entry.get("kind") in _VALUE_KINDS:
                group = "value"
            # Anonymous structs, classes and functions get invented names: nothing to compare.
            if group and not entry["name"].startswith(("__anon", "AnonymousFunction")):
                # ctags names C# explicit interface members IFoo.Bar; the member is Bar.
                name = entry["name"].rsplit(".", 1)[-1] if language == "csharp" \
                    else entry["name"]
                tags.append(Tag(str(Path(entry["path"]).resolve()), name,
                                entry["line"], group, entry["kind"]))
    return tags


def our_tags(files: list[Path], language: str) -> list[Tag]:
    tags: list[Tag] = []
    for path in files:
        text = path.read_text("utf-8", errors="replace")
        spec = language_spec(language)
        assert spec is not None
        lines = text.splitlines()
        definitions = extract(spec, text).definitions
        for d in definitions:
            group = OUR_GROUPS.get(d.kind)
            if group and d.container != "object":
                header = " ".join(lines[d.name_line - 1:d.name_line + 1])
                # JavaScript private names are written #name; ctags drops the #.
                tags.append(Tag(str(path.resolve()), d.name.lstrip("#"), d.name_line, group,
                                d.kind, _cause(_is_local(d, definitions), d.container, header)))
    return tags


def _is_local(definition: Definition, definitions: list[Definition]) -> bool:
    parent = definition.parent
    while parent >= 0:
        if definitions[parent].kind in LOCAL_CONTAINERS:
            return True
        parent = definitions[parent].parent
    return False


LOCAL_CONTAINERS = frozenset({"function", "method", "constructor"})


def _cause(local: bool, container: str, header: str) -> str:
    """The known ctags gap a definition falls in, if any: defined inside a function or
    method (local functions and types, members of anonymous classes), or an
    expression-bodied member (C#'s `int F() => …`)."""
    if local or container in LOCAL_CONTAINERS:
        return "inside a function"
    if "=>" in header and "{" not in header.split("=>", 1)[0]:
        return "expression-bodied"
    return "other"


def _match(left: Iterable[Tag], right: Iterable[Tag], group: str | None = None) -> set[Tag]:
    """Tags of ``left`` with a counterpart in ``right`` (same file and name, line ±1, and the
    same group, or ``group`` on the right side when given)."""
    index: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for tag in right:
        index[tag.path, tag.name, tag.group].append(tag.line)
    return {tag for tag in left
            if any(abs(line - tag.line) <= 1 for line in index.get(
                (tag.path, tag.name, group or tag.group), ()))}


def compare(files: list[Path], language: str) -> Comparison:
    everything = ctags_tags(files, language)
    theirs = [t for t in everything if t.group != "value"]
    values = [t for t in everything if t.group == "value"]
    ours = our_tags(files, language)
    matched_theirs = _match(theirs, ours)
    matched_ours = _match(ours, theirs)
    by_value = _match([t for t in ours if t not in matched_ours], values, "value")
    return Comparison(
        language=language, files=len(files), ctags=len(theirs), ours=len(ours),
        matched_ctags=len(matched_theirs), matched_ours=len(matched_ours) + len(by_value),
        missed=[t for t in theirs if t not in matched_theirs],
        extra=[t for t in ours if t not in matched_ours and t not in by_value],
        kind_differs=len(by_value),
    )


def source_files(root: Path, language: str, patterns: Iterable[str]) -> list[Path]:
    found = sorted({p for pattern in patterns for p in root.glob(pattern) if p.is_file()})
    return [p for p in found if detect_language(p, p.read_bytes()[:4096]) == language]
