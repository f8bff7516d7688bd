"""Line-completion latency and quality of the engine's generation policy, in process (a
script, not a test).

    python tests/bench/bench_decoding.py [--db FILE] [--cuts 200] [--source DIR]
                                         [--max-tokens 24] [--modes raw line fim]
                                         [--json OUT]

Without ``--db`` it uses the embedded default hypercube. Cut points are drawn with a fixed
seed from the ``.py`` files under ``--source`` (default: this repository's own ``app/``,
which the default hypercube does not hold): half inside a line ("mid"), half at the start
of a line's code ("start"); the target is the rest of the line. Each cut is completed as a
plain line completion (``scope: line``), as fill-in-the-middle (the rest of the file as
the suffix, ``scope: auto``) and, for comparison, as greedy tokens after the prompt without
the policy (``raw``, cut at the newline). Reported per mode: p50/p99 latency, exact match and
edit similarity (Levenshtein, 0–100) against the target, the median CPU time, and the same
quality figures for the word-completion baseline (the most recent earlier line that starts
with what was typed).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rapidfuzz.distance import Levenshtein

from app.compose import Root
from app.engine import Engine, SamplingParams, load_engine
from app.engine.types import GenerationRequest
from app.store import Store
from tests.bench.common import REPO, report


def cut_points(files: list[Path], count: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """(prompt, target, suffix) for ``count`` cuts, half mid-line, half at a line start."""
    rng = random.Random(seed)
    texts = [t for t in (f.read_text("utf-8") for f in sorted(files)) if t.count("\n") > 2]
    cuts: list[tuple[str, str, str]] = []
    while len(cuts) < count:
        text = rng.choice(texts)
        lines = text.split("\n")
        number = rng.randrange(1, len(lines))
        line = lines[number]
        code = line.strip()
        if len(code) < 4:
            continue
        start = sum(len(x) + 1 for x in lines[:number])
        indent = len(line) - len(line.lstrip())
        # Odd cuts at the start of the line's code, even ones inside it.
        column = indent if len(cuts) % 2 else rng.randrange(indent + 1, len(line))
        prompt = text[:start + column]
        target = line[column:].rstrip()
        suffix = text[start + len(line):]
        cuts.append((prompt, target, suffix))
    return cuts


def baseline(prompt: str) -> str:
    """The most recent earlier line that starts with what was typed on this one."""
    typed = prompt.rsplit("\n", 1)[-1]
    for line in reversed(prompt.split("\n")[:-1]):
        if line.startswith(typed) and line.strip() != typed.strip():
            return line[len(typed):].rstrip()
    return ""


def similarity(a: str, b: str) -> float:
    return 100.0 * Levenshtein.normalized_similarity(a, b)


def run(engine: Engine, cuts: list[tuple[str, str, str]], mode: str,
        max_tokens: int) -> dict[str, Any]:
    latencies, cpu, exact, edit, base_exact, base_edit = [], [], [], [], [], []
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0)
    for prompt, target, suffix in cuts:
        ids = engine.tokenizer.encode(prompt)
        started, started_cpu = time.perf_counter(), time.process_time()
        if mode == "raw":
            # What the engine did before the policy: greedy tokens after the prompt as is.
            text = engine.complete(ids, params).text
        else:
            request = GenerationRequest(ids, params, prompt_text=prompt,
                                        suffix=suffix if mode == "fim" else None,
                                        scope="auto" if mode == "fim" else "line",
                                        filename="cut.py")
            text = engine.generate(request).choices[0].text
        latencies.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        got = text.split("\n", 1)[0].rstrip()
        exact.append(got == target)
        edit.append(similarity(got, target))
        guess = baseline(prompt)
        base_exact.append(guess == target)
        base_edit.append(similarity(guess, target))
    latencies.sort()
    return {
        "cuts": len(cuts),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1,
                                             int(0.99 * len(latencies)))], 2),
        # CPU time of this process: what the latency is on an idle machine (the wall-clock
        # figures grow with whatever else the cores run).
        "cpu_p50_ms": round(1000 * statistics.median(cpu), 2),
        "exact_match": round(100 * sum(exact) / len(exact), 1),
        "edit_similarity": round(statistics.mean(edit), 1),
        "baseline_exact_match": round(100 * sum(base_exact) / len(base_exact), 1),
        "baseline_edit_similarity": round(statistics.mean(base_edit), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path)
    parser.add_argument("--cuts", type=int, default=200)
    parser.add_argument("--source", type=Path, default=REPO / "app")
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--modes", nargs="+", default=["raw", "line", "fim"],
                        choices=["raw", "line", "fim"],
                        help="raw: greedy tokens without the policy (for comparison)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.db is None:
        args.db = Root.from_environment().ensure_default_hypercube()
    with Store(args.db) as store:
        engine = load_engine(store, Root.from_environment().kernels)
    cuts = cut_points(list(args.source.rglob("*.py")), args.cuts)
    run(engine, cuts[:5], "line", args.max_tokens)  # warm up: parsers, pooled sessions
    report({mode: run(engine, cuts, mode, args.max_tokens) for mode in args.modes},
           args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
