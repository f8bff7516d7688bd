"""Grounded chat benchmark: is the right definition or call site the first source, and how fast.

Projects from the package registries (the pinned ones of tests/bench/code_projects.py,
fetched with npm, pip and apt-get; the shared-corpus Python project is left out, being the
default hypercube's own kind of code) are ingested on top of a copy of the default
hypercube. Questions are generated from what the index holds, at least ``--per-kind`` of
each kind, spread over the projects' languages:

- defined-where, from the symbol table: "where is NAME defined?" in several wordings
  (the qualified name when the short one has several definitions; a fifth of them with the
  name in another naming convention, a fifth with a one-letter typo). Right: the first
  source is a definition with that qualified name.
- who-calls, from the reference table: "who calls NAME?" for a called name the index
  defines. Right: the first source is a call site of NAME.
- what-does, from docstrings: "which code DOCSTRING PHRASE?" / "explain the code that …",
  the phrase being the first sentence of a docstring that no other definition shares and
  that does not spell the definition's own name (the docstring is the question, so it cannot
  be the answer: the answer must be the definition). Right: the first source is that
  definition.
- how-do-I, from docstring phrases (other definitions than what-does's): "how do I PHRASE?".
  Right: the first source is that definition.

Latency is GroundedChat's whole answer (routing, retrieval, Markdown) plus counting its
tokens with the real tokenizer, one question at a time after a warm-up question (the first
question of a hypercube builds its word index, which a server does as it starts; that
time is reported apart).

The same questions are also generated about, and asked of, the default hypercube alone (its
starter corpus), for the latency target there.

Usage: python tests/bench/bench_chat.py [--cache DIR] [--languages go,rust] [--per-kind 200]
       [--work DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.chat_template import Message
from app.code.names import fold
from app.code.packing import CALL
from app.compose import Root
from app.grounded import GroundedChat
from app.grounded.answer import summary
from app.grounded.textindex import terms
from app.ingest import IngestOptions, IngestRun
from app.store import Store
from app.store.backup import copy_hypercube
from app.store.segfiles import move_hypercube
from app.tokenizer import Tokenizer, load_vocabulary
from tests.bench.code_ctags import source_files
from tests.bench.code_projects import PROJECTS, copy_sources, fetch_all
from tests.bench.common import report

KINDS = ("defined-where", "who-calls", "what-does", "how-do-i")
TARGETS = {"defined-where": 0.90, "who-calls": 0.90, "what-does": 0.70, "how-do-i": 0.70}
IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
DEFINED_KINDS = ("function", "method", "class", "interface", "struct", "trait", "enum",
                 "type", "macro", "constant", "variable", "field")


def build(work: Path, cache: Path, languages: set[str] | None) -> Path:
    """The default hypercube with the registry projects ingested on top (kept in ``work``)."""
    db = work / "chat.hypercube"
    if db.exists():
        return db
    registry = {p.language for p in PROJECTS if p.source != "shared/corpora"}
    projects = fetch_all(cache, (languages or registry) & registry)
    files = {p.language: source_files(root, p.language, p.patterns) for p, root in projects}
    sources = copy_sources(projects, files, work / "projects")
    partial = work / "chat.hypercube.part"
    copy_hypercube(Root.from_environment().ensure_default_hypercube(), partial)
    with Store(partial) as store:
        summary_ = IngestRun(store, IngestOptions(roots=[sources]),
                             analyzers=Root.from_environment().analyzers(), listeners=[]).run()
    assert summary_.status == "done", summary_
    move_hypercube(partial, db)  # with its segment files
    return db


# -- questions --------------------------------------------------------------------------------


def _typo(name: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    if len(name) < 7 or len(letters) < 4:
        return name
    i = rng.choice(letters[1:-1])
    return name[:i] + name[i + 1:]  # one letter dropped


def _other_convention(name: str) -> str:
    if "_" in name.strip("_"):
        head, *rest = name.strip("_").split("_")
        return head + "".join(w[:1].upper() + w[1:] for w in rest)
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", name)
    return "_".join(w.lower() for w in words) if len(words) > 1 else name


def defined_where(conn, docs: set[int], rng: random.Random, count: int) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = conn.execute(
        "SELECT s.doc_id, n.name, s.qualified_name, s.kind, f.language FROM code_symbols s"
        " JOIN code_names n ON n.id = s.name_id JOIN code_files f ON f.doc_id = s.doc_id"
        ).fetchall()
    defined = Counter(r[1] for r in rows)
    spellings = Counter(fold(n) for n in defined)
    # Names as a user would type them: identifiers (not `"eol-last"` keys or `operator <<`).
    candidates = [r for r in rows if r[0] in docs and r[3] in DEFINED_KINDS
                  and IDENTIFIER.fullmatch(r[1]) and len(r[1]) >= 3
                  and not r[1].startswith("__")
                  and all(IDENTIFIER.fullmatch(p) for p in re.split(r"\.|::", r[2]))]
    wordings = ["Where is `{n}` defined?", "where is {n} defined", "Where's the {k} {n}?",
                "Show me the definition of {n}", "go to {n}", "Find the definition of `{n}`.",
                "where is {n} declared?"]
    questions = []
    for _, name, qualified, kind, language in _spread(candidates, rng, count, key=4):
        asked = name if defined[name] == 1 else qualified.replace("::", ".")
        roll = rng.random()
        if defined[name] == 1 and spellings[fold(name)] == 1 and roll < 0.2:
            asked = _other_convention(name)
        elif defined[name] == 1 and roll < 0.4:
            asked = _typo(name, rng)
        question = rng.choice(wordings).format(n=asked, k=kind)
        questions.append({"kind": "defined-where", "language": language, "question": question,
                          "expect": qualified.replace("::", "."), "asked": asked})
    return questions


def who_calls(conn, docs: set[int], rng: random.Random, count: int) -> list[dict]:  # type: ignore[no-untyped-def]
    rows = conn.execute(
        "SELECT DISTINCT n.name, f.language FROM code_refs r JOIN code_names n"
        " ON n.id = r.name_id JOIN code_files f ON f.doc_id = r.doc_id"
        f" WHERE r.kind = {CALL} AND r.doc_id IN (SELECT value FROM json_each(?))"
        " AND EXISTS (SELECT 1 FROM code_symbols s WHERE s.name_id = r.name_id)",
        (_json(docs),)).fetchall()
    candidates = [r for r in rows if len(r[0]) >= 3 and not r[0].startswith("__")
                  and IDENTIFIER.fullmatch(r[0])]
    wordings = ["Who calls `{n}`?", "who calls {n}", "Where is {n} called?",
                "Find the callers of {n}", "what calls {n}?", "Show me the call sites of `{n}`"]
    return [{"kind": "who-calls", "language": language, "expect": name,
             "question": rng.choice(wordings).format(n=name)}
            for name, language in _spread(candidates, rng, count, key=1)]


def docstring_questions(conn, paths: set[str], rng: random.Random,  # type: ignore[no-untyped-def]
                        count: int) -> tuple[list[dict], list[dict]]:
    rows = conn.execute(
        "SELECT s.id, n.name, s.qualified_name, s.doc, f.language, d.path, s.start_line"
        " FROM code_symbols s JOIN code_names n ON n.id = s.name_id"
        " JOIN code_files f ON f.doc_id = s.doc_id JOIN documents d ON d.id = s.doc_id"
        " WHERE s.doc <> ''").fetchall()
    firsts = Counter(_sentence(r[3]) for r in rows)
    candidates = []
    for symbol_id, name, qualified, doc, language, path, line in rows:
        phrase = _sentence(doc)
        if not phrase or firsts[phrase] > 1 or len(set(terms(phrase))) < 3:
            continue
        if name.lower() in phrase.lower() or re.search(r"[`@{}<>]", phrase):
            continue  # the phrase would spell the answer, or is markup
        if len(phrase.split()) > 16:
            continue
        candidates.append((symbol_id, qualified, phrase, language, path, line))
    candidates = [c for c in candidates if c[4] in paths]
    chosen = _spread(candidates, rng, 2 * count, key=3)
    what_wordings = ["Which code {p}?", "Explain the code that {p}.", "What function {p}?",
                     "what does the code that {p} do?"]
    how_wordings = ["How do I {p}?", "how can I {p}", "How to {p}?", "Is there a way to {p}?"]
    what, how = [], []
    for i, (_, qualified, phrase, language, path, line) in enumerate(chosen):
        third = phrase[:1].lower() + phrase[1:]
        if i % 2 == 0:
            what.append({"kind": "what-does", "language": language, "expect_at": [path, line],
                         "expect": qualified,
                         "question": rng.choice(what_wordings).format(p=_third_person(third))})
        else:
            how.append({"kind": "how-do-i", "language": language, "expect_at": [path, line],
                        "expect": qualified,
                        "question": rng.choice(how_wordings).format(p=_imperative(third))})
    return what, how


def _sentence(doc: str) -> str:
    first = summary(doc)
    first = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    return first.rstrip(".:;, ").strip()


def _imperative(phrase: str) -> str:
    """``returns the loop`` → ``return the loop`` (how-do-I asks in the imperative)."""
    head, _, rest = phrase.partition(" ")
    if head.endswith("ies") and len(head) > 4:
        head = head[:-3] + "y"
    elif head.endswith(("sses", "shes", "ches", "xes")):
        head = head[:-2]
    elif head.endswith("s") and not head.endswith("ss"):
        head = head[:-1]
    return f"{head} {rest}".strip()


def _third_person(phrase: str) -> str:
    head, _, rest = phrase.partition(" ")
    if not head.endswith("s") and head.isalpha():
        head = head + ("es" if head.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{head} {rest}".strip()


def _spread(rows: list, rng: random.Random, count: int, key: int) -> list:  # type: ignore[type-arg]
    """``count`` rows, as evenly spread over the languages (``row[key]``) as they allow."""
    by_language: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    for row in rows:
        by_language[row[key]].append(row)
    for group in by_language.values():
        rng.shuffle(group)
    chosen: list = []  # type: ignore[type-arg]
    while len(chosen) < count and any(by_language.values()):
        for language in sorted(by_language):
            if by_language[language] and len(chosen) < count:
                chosen.append(by_language[language].pop())
    return chosen


def _json(ids: set[int]) -> str:
    return "[" + ",".join(map(str, sorted(ids))) + "]"


# -- running ----------------------------------------------------------------------------------


def right(question: dict, sources: list) -> bool:  # type: ignore[type-arg]
    if not sources:
        return False
    first = sources[0]
    if question["kind"] == "defined-where":
        return first.kind == "definition" and (first.name or "").replace("::", ".") == \
            question["expect"]
    if question["kind"] == "who-calls":
        return first.kind == "call" and question["sites"].get(first.path, set()) >= {first.line}
    return first.kind == "definition" and [first.path, first.line] == question["expect_at"]


def call_sites(conn, name: str) -> dict[str, set[int]]:  # type: ignore[no-untyped-def]
    from app.code.symbols import site_groups

    found: dict[str, set[int]] = defaultdict(set)
    for group in site_groups(conn, f"n.name = ? AND r.kind = {CALL}", (name,)):
        found[group.path].update(int(x) for x in group.lines)
    return found


def questions_for(db: Path, paths: set[str] | None, rng: random.Random,
                  per_kind: int) -> tuple[list[dict], Tokenizer]:  # type: ignore[type-arg]
    """Questions about the documents at ``paths`` (None: every document) of ``db``."""
    with Store(db, readonly=True) as store:
        conn = store.conn
        ours = {i: p for i, p in conn.execute("SELECT id, path FROM documents")
                if paths is None or p in paths}
        docs = set(ours)
        questions = defined_where(conn, docs, rng, per_kind)
        questions += who_calls(conn, docs, rng, per_kind)
        what, how = docstring_questions(conn, set(ours.values()), rng, per_kind)
        questions += what + how
        for question in questions:
            if question["kind"] == "who-calls":
                question["sites"] = call_sites(conn, question["expect"])
        vocabulary = load_vocabulary(conn)
        assert vocabulary is not None
    return questions, Tokenizer(vocabulary)


def ask_all(db: Path, questions: list[dict], tokenizer: Tokenizer) -> dict:  # type: ignore[type-arg]
    chat = GroundedChat.open(db)
    warm = time.perf_counter()
    # The first question needing the word index builds it (a server builds it at start-up).
    chat.answer([Message("user", "how do I read a file?")])
    warm_seconds = time.perf_counter() - warm
    outcomes: dict[str, list[bool]] = defaultdict(list)
    by_language: dict[tuple[str, str], list[bool]] = defaultdict(list)
    latencies: list[float] = []
    misses: dict[str, list[str]] = defaultdict(list)
    try:
        for question in questions:
            begin = time.perf_counter()
            answer = chat.answer([Message("user", question["question"])])
            tokenizer.count(answer.text)
            latencies.append(time.perf_counter() - begin)
            ok = right(question, answer.sources)
            outcomes[question["kind"]].append(ok)
            by_language[question["kind"], question["language"]].append(ok)
            if not ok and len(misses[question["kind"]]) < 8:
                got = answer.sources[0] if answer.sources else None
                misses[question["kind"]].append(
                    f"{question['question']!r} → expected {question['expect']}, got "
                    + (f"{got.kind} {got.name} {got.display_path}:{got.line}" if got
                       else "nothing"))
    finally:
        chat.close()
    return {
        "hypercube": str(db), "first_question_seconds": round(warm_seconds, 3),
        "questions": len(questions),
        "kinds": {kind: {"questions": len(outcomes[kind]),
                         "first_source_right": round(sum(outcomes[kind]) /
                                                     max(1, len(outcomes[kind])), 4),
                         "target": TARGETS[kind],
                         "by_language": {lang: round(sum(v) / len(v), 4) for (k, lang), v
                                         in sorted(by_language.items()) if k == kind}}
                  for kind in KINDS},
        "latency_ms": {"p50": round(statistics.median(latencies) * 1000, 2),
                       "p90": round(statistics.quantiles(latencies, n=10)[-1] * 1000, 2),
                       "max": round(max(latencies) * 1000, 2)},
        "misses_sample": misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "hypercube-bench-code",
                        help="where fetched projects are kept between runs")
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "hypercube-bench-chat",
                        help="where the built hypercube is kept between runs")
    parser.add_argument("--languages", help="comma-separated subset (default: all)")
    parser.add_argument("--per-kind", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also save the figures here")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    languages = set(args.languages.split(",")) if args.languages else None
    started = time.perf_counter()
    db = build(args.work, args.cache, languages)
    build_seconds = time.perf_counter() - started
    projects_root = str((args.work / "projects").resolve()) + "/"
    with Store(db, readonly=True) as store:
        paths = {p for (p,) in store.conn.execute("SELECT path FROM documents")
                 if p.startswith(projects_root)}
    questions, tokenizer = questions_for(db, paths, random.Random(args.seed), args.per_kind)
    results = {"build_seconds": round(build_seconds, 1),
               "projects": ask_all(db, questions, tokenizer)}
    # The same kinds of question about the default hypercube alone (its starter corpus).
    default = Root.from_environment().ensure_default_hypercube()
    questions, tokenizer = questions_for(default, None, random.Random(args.seed),
                                         args.per_kind)
    results["default_hypercube"] = ask_all(default, questions, tokenizer)

    for label in ("projects", "default_hypercube"):
        part = results[label]
        print(f"\n{label}: {part['questions']} questions")  # type: ignore[index]
        print(f"{'kind':<15} {'questions':>9} {'first source right':>19} {'target':>7}")
        for kind in KINDS:
            row = part["kinds"][kind]  # type: ignore[index]
            print(f"{kind:<15} {row['questions']:>9} {row['first_source_right']:>19.1%} "
                  f"{row['target']:>7.0%}")
        latency = part["latency_ms"]  # type: ignore[index]
        print(f"latency p50 {latency['p50']} ms, p90 {latency['p90']} ms (first question, "
              f"building the word index: {part['first_question_seconds']:.2f} s)")  # type: ignore[index]
    report(results, args.json)


if __name__ == "__main__":
    main()
