"""Generation quality benchmark: how often sampled output falls into a loop, and how varied
it is, with the repetition (DRY) penalty off and on (a script, not a test).

    python tests/bench/bench_generation_quality.py [--db FILE] [--seeds 20] [--tokens 200]
                                                   [--json OUT]

Without ``--db`` it uses the embedded default hypercube (built on first use). For every
prompt in ``PROMPTS`` (code and prose) and every seed it generates ``--tokens`` tokens under
each setting in ``SETTINGS`` and reports, over all outputs of a setting:

* ``loop_rate``: the fraction of outputs that contain a loop, defined as some span of at
  least ``LOOP_SPAN`` (8) tokens repeated at least ``LOOP_REPEATS`` (3) times back to back
  (``abcdefgh abcdefgh abcdefgh``); a short period repeated often enough counts too, since
  a whole number of its periods makes a span of 8 or more (``ab`` × 12 = ``abababab`` × 3).
* ``looped_token_share``: the share of all generated tokens that lie inside such loops.
* ``distinct_1`` … ``distinct_4``: distinct n-grams / n-grams of each output, averaged.
* ``compression_ratio``: raw UTF-8 bytes / zlib level-9 bytes of each output, averaged
  (higher is more repetitive).
* ``mean_logprob``: the model's own mean log-probability of the chosen tokens (before any
  sampling transform); penalties lower it by moving away from loops the model finds likely.

The same diversity figures for 200-token windows of the corpus itself (human-written text)
are given as ``reference``: the aim is output that looks like real text, not maximal
diversity. Greedy decoding (temperature 0) is deterministic, so it is run once per prompt.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.compose import Root
from app.engine import Engine, SamplingParams, load_engine
from app.store import Store
from tests.bench.common import report

LOOP_SPAN = 8
LOOP_REPEATS = 3

PROMPTS = (
    "Write a function that parses a CSV file.\n\n",
    "import os\n\n\ndef main(argv):\n    ",
    "class ThreadPool:\n    def __init__(self, workers):\n        self._threads = []\n        ",
    "def total_count(value, count=3):\n    total = value + count",
    '"""Utilities for reading and writing configuration files.\n\n',
    "# This module provides",
    "    def __repr__(self):\n        return ",
    "try:\n    import json\nexcept ImportError:\n    ",
    "Return a new list containing",
    "Once upon a time, ",
)

# name -> sampling parameters besides max_tokens and seed. "off" turns the repetition
# penalty off (what the engine did before it had one).
SETTINGS: dict[str, dict[str, Any]] = {
    "t=1.0 off": {"temperature": 1.0, "dry_multiplier": 0.0},
    "t=1.0 default": {"temperature": 1.0},
    "t=0.7 off": {"temperature": 0.7, "dry_multiplier": 0.0},
    "t=0.7 default": {"temperature": 0.7},
    "greedy off": {"temperature": 0.0, "dry_multiplier": 0.0},
    "greedy default": {"temperature": 0.0},
}


def loop_spans(ids: Sequence[int], span: int = LOOP_SPAN,
               repeats: int = LOOP_REPEATS) -> list[tuple[int, int]]:
    """[start, stop) of every stretch where some block of >= ``span`` tokens repeats
    >= ``repeats`` times back to back.

    A stretch with period p (x[i] == x[i + p] throughout) of length n holds a block of
    L = p * ceil(span / p) tokens ``repeats`` times exactly when n >= repeats * L.
    """
    x = np.asarray(ids, dtype=np.int64)
    found: list[tuple[int, int]] = []
    for p in range(1, len(x) // repeats + 1):
        block = p * -(-span // p)
        equal = np.concatenate(([False], x[p:] == x[:-p], [False]))
        edges = np.flatnonzero(np.diff(equal.astype(np.int8)))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            # equal[start:stop] are positions i with x[i] == x[i + p]: the stretch is
            # x[start : stop + p].
            if stop - start + p >= repeats * block:
                found.append((int(start), int(stop + p)))
    return sorted(set(found))  # a multiple of a period finds the same stretch again


def has_loop(ids: Sequence[int]) -> bool:
    return bool(loop_spans(ids))


def looped_tokens(ids: Sequence[int]) -> int:
    covered = np.zeros(len(ids), dtype=bool)
    for start, stop in loop_spans(ids):
        covered[start:stop] = True
    return int(covered.sum())


def distinct_n(ids: Sequence[int], n: int) -> float:
    grams = [tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 1.0


def compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw, 9)) if raw else 1.0


def summarise(outputs: list[tuple[list[int], str]]) -> dict[str, float]:
    total = sum(len(ids) for ids, _ in outputs)
    figures = {
        "outputs": len(outputs),
        "loop_rate": sum(has_loop(ids) for ids, _ in outputs) / len(outputs),
        "looped_token_share": sum(looped_tokens(ids) for ids, _ in outputs) / max(total, 1),
    }
    for n in (1, 2, 3, 4):
        figures[f"distinct_{n}"] = statistics.mean(distinct_n(ids, n) for ids, _ in outputs)
    figures["compression_ratio"] = statistics.mean(compression_ratio(t) for _, t in outputs)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}


def reference_windows(engine: Engine, db: Path, tokens: int, count: int) -> list[
        tuple[list[int], str]]:
    """``count`` random windows of ``tokens`` tokens from the hypercube's own documents."""
    with Store(db, readonly=True) as store, store.snapshot() as conn:
        paths = [Path(row[0]) for row in conn.execute("SELECT path FROM documents ORDER BY path")]
    streams = [engine.tokenizer.encode(path.read_text(encoding="utf-8", errors="replace"))
               for path in paths if path.is_file()]
    streams = [ids for ids in streams if len(ids) > tokens]
    rng = np.random.Generator(np.random.PCG64(0))
    windows: list[tuple[list[int], str]] = []
    while streams and len(windows) < count:
        ids = streams[int(rng.integers(0, len(streams)))]
        start = int(rng.integers(0, len(ids) - tokens))
        window = ids[start:start + tokens].tolist()
        windows.append((window, engine.tokenizer.decode(window)))
    return windows


def run_setting(engine: Engine, overrides: dict[str, Any], seeds: int,
                tokens: int) -> tuple[dict[str, float], list[tuple[list[int], str]]]:
    greedy = overrides.get("temperature", 1.0) == 0.0
    outputs: list[tuple[list[int], str]] = []
    logprobs: list[float] = []
    generated = 0
    started = time.perf_counter()
    for prompt in PROMPTS:
        ids = engine.tokenizer.encode(prompt)
        for seed in range(1 if greedy else seeds):
            params = SamplingParams(max_tokens=tokens, seed=seed, logprobs=0, **overrides)
            done = engine.complete(ids, params)
            chosen = [t.token_id for t in done.tokens]
            outputs.append((chosen, done.text))
            logprobs.extend(t.logprob for t in done.tokens if t.logprob is not None)
            generated += len(chosen)
    seconds = time.perf_counter() - started
    figures = summarise(outputs)
    figures["mean_logprob"] = round(statistics.mean(logprobs), 4)
    figures["tokens_per_second"] = round(generated / seconds)
    return figures, outputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="hypercube (default: the embedded one)")
    parser.add_argument("--seeds", type=int, default=20, help="generations per prompt")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per generation")
    parser.add_argument("--setting", action="append", choices=sorted(SETTINGS),
                        help="run only these settings (repeatable)")
    parser.add_argument("--show", type=int, default=0,
                        help="print this many sample outputs per setting")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.db is None:
        args.db = Root.from_environment().ensure_default_hypercube()
    with Store(args.db, readonly=True) as store:
        engine = load_engine(store, Root.from_environment().kernels)
    results: dict[str, Any] = {"db": str(args.db), "prompts": len(PROMPTS),
                               "seeds": args.seeds, "tokens": args.tokens,
                               "loop": f"a span of >= {LOOP_SPAN} tokens repeated >= "
                                       f"{LOOP_REPEATS} times back to back"}
    results["reference"] = summarise(reference_windows(engine, args.db, args.tokens, 200))
    for name in args.setting or SETTINGS:
        figures, outputs = run_setting(engine, SETTINGS[name], args.seeds, args.tokens)
        results[name] = figures
        for ids, text in outputs[:: max(1, len(outputs) // max(args.show, 1))][:args.show]:
            print(f"--- {name} (loop: {has_loop(ids)})\n{text}\n", file=sys.stderr)
    report(results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
