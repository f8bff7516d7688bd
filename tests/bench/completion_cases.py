"""CodeXGLUE-style completion cases cut from held-out files, and the word-completion baseline.

Kinds of case, all drawn with a seeded generator so every run asks the same questions:

- ``mid``: a random cut inside a line's text (at least one character typed after the
  indentation, at least one left); the target is the rest of the line.
- ``start``: a cut at the line's first non-blank character or at the line's start, right
  after the previous newline (a coin flip); the target is the rest of the line.
- ``block``: the cursor right after a block opener that ends its line (Python's ``:`` before
  an indented block; ``{`` of a multi-line braced block elsewhere, found with tree-sitter);
  the target is the block, up to the end of its last statement (Python) or its closing
  bracket.

Each case keeps the whole file around the target (``prefix``, ``suffix``); the client decides
how much of it fits the engine's context. Line cases are asked twice, with the prefix only
("plain") and with the suffix too ("fim"); blocks are asked with the suffix, as an editor
would.

The baseline is an editor's word completion: the most recent earlier line of the prefix that
starts with what was typed on the current line (ignoring indentation when something was
typed) gives its rest; for a block, the body of the most recent earlier block whose opener
line reads the same, re-indented.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import tree_sitter as ts

from app.code.languages import language_spec

MAX_LINE_CHARS = 160  # longer lines are data, not code a person types
MAX_BLOCK_CHARS = 600
MAX_BLOCK_LINES = 12
LINE_KINDS = ("mid", "start")


@dataclass(frozen=True)
class Case:
    language: str
    path: str  # inside its project, for reports
    filename: str  # what the client sends as `filename`
    kind: str  # "mid" | "start" | "block"
    prefix: str  # the file before the cursor
    target: str
    suffix: str  # the file after the target (a line case's suffix starts with its newline)
    typed: str  # what the cursor's line holds before the cursor
    baseline: str  # the word-completion baseline's prediction
    file_errors: int = 0  # ERROR/MISSING nodes of the original file (block cases)


@dataclass(frozen=True)
class Block:
    opener_line: int  # index of the line the opener ends
    start: int  # character offset of the cursor (right after the opener)
    end: int  # character offset of the block's end


@dataclass
class SourceFile:
    language: str
    path: str
    filename: str
    text: str
    lines: list[str] = field(init=False)
    starts: list[int] = field(init=False)  # character offset of each line

    def __post_init__(self) -> None:
        self.lines = self.text.split("\n")
        self.starts, offset = [], 0
        for line in self.lines:
            self.starts.append(offset)
            offset += len(line) + 1

    def line_of(self, offset: int) -> int:
        low, high = 0, len(self.starts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self.starts[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        return low


def parse(language: str, text: str) -> ts.Tree:
    spec = language_spec(language)
    if spec is None:
        raise SystemExit(f"no tree-sitter grammar for {language}")
    return spec.parser().parse(text.encode("utf-8"))


def syntax_errors(tree: ts.Tree) -> int:
    """ERROR and MISSING nodes, descending only where tree-sitter says there are some."""
    count, stack = 0, [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        stack.extend(child for child in node.children if child.has_error or child.is_missing)
    return count


def blocks(source: SourceFile, tree: ts.Tree) -> list[Block]:
    """Every block whose opener ends its line, in the order of their openers."""
    data = source.text.encode("utf-8")
    ascii_only = len(data) == len(source.text)

    def offset(byte: int) -> int:
        return byte if ascii_only else len(data[:byte].decode("utf-8", errors="replace"))

    found: list[Block] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.has_error:
            continue
        opener: ts.Node | None = None
        if source.language == "python":
            previous = node.prev_sibling
            if node.type == "block" and previous is not None and previous.type == ":":
                opener = previous
        elif node.child_count >= 2 and node.children[0].type == "{" \
                and node.children[-1].type == "}":
            opener = node.children[0]
        if opener is None:
            continue
        start, end = offset(opener.end_byte), offset(node.end_byte)
        line = source.line_of(start)
        if source.lines[line][start - source.starts[line]:].strip():
            continue  # something follows the opener on its line
        if source.line_of(end) > line:
            found.append(Block(line, start, end))
    # One block per cursor: a node and its wrapper may share the opener; the outer one counts.
    outer: dict[int, Block] = {}
    for block in found:
        if block.start not in outer or block.end > outer[block.start].end:
            outer[block.start] = block
    return sorted(outer.values(), key=lambda b: b.start)


def _line_baseline(lines: list[str], index: int, typed: str) -> str:
    key = typed.lstrip()
    for earlier in reversed(lines[:index]):
        if key:
            text = earlier.lstrip()
            if text.startswith(key) and len(text.rstrip()) > len(key):
                return text[len(key):]
        elif earlier.strip() and earlier.startswith(typed):
            return earlier[len(typed):]
    return ""


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def _block_baseline(source: SourceFile, all_blocks: list[Block], block: Block) -> str:
    opener = source.lines[block.opener_line]
    here = source.starts[block.opener_line]
    for earlier in reversed(all_blocks):
        if earlier.end > here or earlier.start >= block.start:
            continue
        before = source.lines[earlier.opener_line]
        if before.strip() != opener.strip():
            continue
        body = source.text[earlier.start:earlier.end]
        old, new = _indent(before), _indent(opener)
        return body.replace("\n" + old, "\n" + new)
    return ""


def _line_candidates(source: SourceFile, kind: str) -> list[int]:
    wanted = 2 if kind == "mid" else 1
    return [i for i, line in enumerate(source.lines)
            if len(line.strip()) >= wanted and len(line.rstrip()) <= MAX_LINE_CHARS]


def _line_case(source: SourceFile, kind: str, index: int, seed: int) -> Case:
    # Each cut has its own generator, so a case is the same whatever else is drawn.
    rng = random.Random(f"{seed}/{source.path}/{index}/{kind}")
    line = source.lines[index]
    indent, end = len(_indent(line)), len(line.rstrip())
    cut = rng.randint(indent + 1, end - 1) if kind == "mid" else rng.choice((0, indent))
    start = source.starts[index]
    typed = line[:cut]
    return Case(source.language, source.path, source.filename, kind,
                source.text[:start + cut], line[cut:], source.text[start + len(line):],
                typed, _line_baseline(source.lines, index, typed))


def _block_cases(source: SourceFile) -> tuple[list[Block], list[Block], int]:
    tree = parse(source.language, source.text)
    every = blocks(source, tree)
    usable = [b for b in every
              if b.end - b.start <= MAX_BLOCK_CHARS
              and source.text.count("\n", b.start, b.end) <= MAX_BLOCK_LINES
              and source.text[b.start:b.end].strip(" \t\n{}")]
    return every, usable, syntax_errors(tree)


def load_sources(language: str, files: list[tuple[Path, str, str]]) -> list[SourceFile]:
    """(path on disk, path in project, filename to send) → source files, undecodable skipped."""
    sources = []
    for disk, relative, filename in files:
        try:
            text = disk.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        sources.append(SourceFile(language, relative, filename, text.replace("\r\n", "\n")))
    return sources


def _draw(spots: list[tuple[int, int]], count: int, seed: str) -> list[tuple[int, int]]:
    """``count`` spots in file order; a smaller count draws a subset of a larger one's."""
    order = list(spots)
    random.Random(seed).shuffle(order)
    return sorted(order[:count])


def make_cases(sources: list[SourceFile], count: int, seed: int) -> dict[str, list[Case]]:
    """Up to ``count`` cases of each kind from one language's held-out files."""
    if not sources:
        return {kind: [] for kind in (*LINE_KINDS, "block")}
    language = sources[0].language
    cases: dict[str, list[Case]] = {}
    for kind in LINE_KINDS:
        spots = [(f, i) for f, source in enumerate(sources)
                 for i in _line_candidates(source, kind)]
        chosen = _draw(spots, count, f"{seed}/{language}/{kind}")
        cases[kind] = [_line_case(sources[f], kind, i, seed) for f, i in chosen]
    parsed = [_block_cases(source) for source in sources]
    spots = [(f, b) for f, (_, usable, _) in enumerate(parsed) for b in range(len(usable))]
    chosen = _draw(spots, count, f"{seed}/{language}/block")
    cases["block"] = []
    for f, b in chosen:
        source, (every, usable, errors) = sources[f], parsed[f]
        block = usable[b]
        opener = source.lines[block.opener_line]
        cases["block"].append(Case(
            language, source.path, source.filename, "block", source.text[:block.start],
            source.text[block.start:block.end], source.text[block.end:],
            opener[:block.start - source.starts[block.opener_line]],
            _block_baseline(source, every, block), errors))
    return cases
