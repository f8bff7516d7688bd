"""Ingest and tokenizer benchmark on the shared corpus's train split.

Prints: ingest throughput (MB/s, one core for tokenization), database size ÷ corpus size,
tokenizer encode speed next to Hugging Face ``tokenizers`` on the same text in the same run,
and bytes per token on the held-out split for several vocabulary sizes.

Usage: python tests/bench/bench_ingest.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# One core for the Rust tokenizer too: the target is single-core throughput.
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("RAYON_RS_NUM_CPUS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from app.compose import Root
from app.ingest import IngestOptions, IngestRun
from app.store import Store
from app.tokenizer import Tokenizer, load_vocabulary, train_vocabulary
from app.tokenizer.training import training_pre_tokenizer
from tests.bench.common import corpus_bytes, extract_corpus, median_seconds


def texts_of(root: Path) -> list[str]:
    return [p.read_text("utf-8") for p in sorted(root.rglob("*.py"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus = extract_corpus()
    train, test = corpus / "train", corpus / "test"
    train_mb = corpus_bytes(train) / 1e6
    results: dict[str, object] = {"train_mb": round(train_mb, 2)}

    with tempfile.TemporaryDirectory() as tmp:
        # Text ingestion alone (what the 2 MB/s target is about), then the full default ingest.
        db = Path(tmp) / "text.db"
        start = time.perf_counter()
        with Store(db) as store:
            IngestRun(store, IngestOptions(roots=[train])).run()
        seconds = time.perf_counter() - start
        results["ingest_text_seconds"] = round(seconds, 2)
        results["ingest_text_mb_per_s"] = round(train_mb / seconds, 2)
        results["db_text_ratio"] = round(db.stat().st_size / (train_mb * 1e6), 3)

        full = Path(tmp) / "full.db"
        start = time.perf_counter()
        root = Root.from_environment()
        with Store(full) as store:
            IngestRun(store, IngestOptions(roots=[train]), analyzers=root.analyzers(),
                      listeners=root.listeners()).run()
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds = time.perf_counter() - start
        results["ingest_full_seconds"] = round(seconds, 2)
        results["ingest_full_mb_per_s"] = round(train_mb / seconds, 2)
        results["db_full_ratio"] = round(full.stat().st_size / (train_mb * 1e6), 3)

        with Store(db) as store:
            vocab = load_vocabulary(store.conn)
        assert vocab is not None
        ours = Tokenizer(vocab)

    test_texts = texts_of(test)
    train_texts = texts_of(train)
    test_bytes = sum(len(t.encode()) for t in test_texts)
    big = "".join(train_texts)
    big_mb = len(big.encode()) / 1e6

    # The same vocabulary encoded by raw Hugging Face tokenizers, and a GPT-2 style byte-level
    # BPE of the same size trained on the same text: what a reader would compare us with.
    raw = HFTokenizer.from_str(ours._hf.to_str())
    raw.pre_tokenizer = training_pre_tokenizer()
    byte_level = HFTokenizer(models.BPE())
    byte_level.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    byte_level.decoder = decoders.ByteLevel()
    byte_level.train_from_iterator(train_texts, trainers.BpeTrainer(
        vocab_size=vocab.size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    results["encode_mb_per_s"] = {
        # A fresh tokenizer each time: its word cache starts cold, as in a new process.
        "hypercube": round(big_mb / median_seconds(lambda: Tokenizer(vocab).encode(big), 3), 2),
        "hf_same_vocab": round(big_mb / median_seconds(lambda: raw.encode(big), 3), 2),
        "hf_byte_level_bpe": round(big_mb / median_seconds(lambda: byte_level.encode(big), 3),
                                   2),
    }
    results["encode_ratio_vs_hf_byte_level"] = round(
        results["encode_mb_per_s"]["hypercube"]  # type: ignore[index]
        / results["encode_mb_per_s"]["hf_byte_level_bpe"], 2)  # type: ignore[index]
    results["bytes_per_token_test"] = {
        "hypercube_8192": round(test_bytes / sum(len(ours.encode(t)) for t in test_texts), 3),
        "hf_byte_level_8192": round(
            test_bytes / sum(len(byte_level.encode(t).ids) for t in test_texts), 3),
    }
    for size in (4096, 16384):
        other = Tokenizer(train_vocabulary(train_texts, size))
        results["bytes_per_token_test"][f"hypercube_{size}"] = round(  # type: ignore[index]
            test_bytes / sum(len(other.encode(t)) for t in test_texts), 3)

    if args.json:
        print(json.dumps(results, indent=2))
        return
    for key, value in results.items():
        print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
