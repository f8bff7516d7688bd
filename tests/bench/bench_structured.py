"""Structured-output benchmark: what constrained decoding costs (a script, not a test).

    python tests/bench/bench_structured.py [--db FILE] [--seeds 20] [--tokens 64] [--json OUT]

Without ``--db`` it uses the embedded default hypercube (built on first use). For a few
schemas (a small object, an object with nested arrays and enums, any JSON object) it reports:

* ``compile_ms``: compiling the schema to a checked llguidance grammar (once per request);
* ``reply_ms_p50`` / ``reply_ms_p90``: one whole constrained reply of at most ``--tokens``
  tokens, at temperature 1 over ``--seeds`` seeds, matcher creation included (wall time);
* ``per_token_us``: that reply's process CPU time per generated token (CPU time, so that
  other work on a shared machine counts less), and ``unconstrained_per_token_us`` the same
  prompt and parameters without a constraint: their difference is the mask's cost;
* ``complete_share``: the share of replies that finished as complete JSON (``stop``) within
  the budget, and ``valid_share``: the share of those that validate (always 1.0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.compose import Root
from app.engine import SamplingParams, load_engine
from app.engine.constrained import ANY_OBJECT, json_schema_grammar
from app.store import Store
from tests.bench.common import report

SCHEMAS: dict[str, dict[str, Any]] = {
    "person": {"type": "object", "additionalProperties": False,
               "required": ["name", "age", "email"],
               "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                              "email": {"type": "string"}}},
    "order": {"type": "object", "required": ["id", "status", "items", "paid"],
              "properties": {
                  "id": {"type": "integer", "minimum": 1},
                  "status": {"enum": ["open", "shipped", "closed"]},
                  "items": {"type": "array", "maxItems": 3, "items": {
                      "type": "object", "required": ["sku", "quantity"],
                      "properties": {"sku": {"type": "string", "maxLength": 12},
                                     "quantity": {"type": "integer"}}}},
                  "paid": {"type": "boolean"}, "note": {"type": ["string", "null"]}}},
    "any_object": ANY_OBJECT,
}
PROMPT = "Extract the record from: Ann Lee, 42, ann@example.com, order 7 of 2 chairs.\n\n"


def measure(engine: Any, name: str, schema: dict[str, Any], seeds: int,
            tokens: int) -> dict[str, Any]:
    started = time.perf_counter()
    grammar = json_schema_grammar(schema, engine.tokenizer, name)
    compile_ms = (time.perf_counter() - started) * 1e3
    prompt = engine.tokenizer.encode(PROMPT)
    replies, per_token, plain_per_token = [], [], []
    complete = valid = 0
    for seed in range(seeds):
        params = SamplingParams(max_tokens=tokens, temperature=1.0, seed=seed)
        started, cpu = time.perf_counter(), time.process_time()
        result = engine.complete(prompt, params, constraint=grammar.constraint(tokens))
        replies.append((time.perf_counter() - started) * 1e3)
        per_token.append((time.process_time() - cpu) / max(1, len(result.tokens)) * 1e6)
        cpu = time.process_time()
        plain = engine.complete(prompt, params)
        plain_per_token.append((time.process_time() - cpu) / max(1, len(plain.tokens)) * 1e6)
        if result.finish_reason == "stop":
            complete += 1
            try:
                jsonschema.validate(json.loads(result.text), schema)
                valid += 1
            except (ValueError, jsonschema.ValidationError):
                pass
    replies.sort()
    return {"compile_ms": round(compile_ms, 2),
            "reply_ms_p50": round(statistics.median(replies), 2),
            "reply_ms_p90": round(replies[int(0.9 * (len(replies) - 1))], 2),
            "per_token_us": round(statistics.median(per_token), 1),
            "unconstrained_per_token_us": round(statistics.median(plain_per_token), 1),
            "complete_share": complete / seeds,
            "valid_share": valid / complete if complete else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.db is None:
        args.db = Root.from_environment().ensure_default_hypercube()
    # Writable, as `serve` opens it: a model older than its documents is brought up to date.
    with Store(args.db) as store:
        engine = load_engine(store, Root.from_environment().kernels)
    results = {"db": str(args.db), "seeds": args.seeds, "tokens": args.tokens,
               "schemas": {name: measure(engine, name, schema, args.seeds, args.tokens)
                           for name, schema in SCHEMAS.items()}}
    report(results, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
