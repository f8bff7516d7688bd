"""Learning the vocabulary: deterministic byte-pair merging with Hugging Face ``tokenizers``.

The Rust trainer counts pairs and merges far faster than Python could, and breaks ties by
pair order, so the same texts always give the same merges. We only keep its output (the
alphabet and the ordered merges) and store that as compositions; the trainer is not needed to
encode later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

from app.tokenizer.vocabulary import BYTE_TOKENS, Vocabulary

# GPT-2's split, on codepoints rather than bytes: words with their leading space, short digit
# runs, punctuation runs, and whitespace runs that leave the last space to the next word (so
# an indented line's "    def" keeps " def" together). The last branch takes any character
# the others miss, so splitting can never drop one. Encoding uses Python's regex engine; the
# trainer runs the same split in Rust (Oniguruma spelling of the same classes: Python's
# letters are \p{L} plus the non-decimal numbers).
_WORD = re.compile(
    r"""'(?:s|t|re|ve|m|ll|d)| ?[^\W\d_]+| ?\d{1,3}| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+|[\s\S]"""
)
TRAINING_PATTERN = (
    r"""'(?:s|t|re|ve|m|ll|d)| ?[\p{L}\p{Nl}\p{No}]+| ?\p{Nd}{1,3}| ?[^\s\p{L}\p{N}]+"""
    r"""|\s+(?!\S)|\s+|[\s\S]"""
)


def split_words(text: str) -> list[str]:
    """The pre-tokenizer: ``"".join(split_words(t)) == t`` for every string."""
    return _WORD.findall(text)


# 8,192 tokens: on the Python standard library 8k and 4k byte-level vocabularies model code
# equally well while 8k spends fewer tokens per byte (see tests/bench/bench_tokenizer.py).
DEFAULT_VOCAB_SIZE = 8192
MIN_VOCAB_SIZE = BYTE_TOKENS + 1
MAX_VOCAB_SIZE = 65536  # token streams are stored as uint16
# Rare characters beyond the most frequent ones fall back to bytes rather than each taking
# a slot the merges could use.
ALPHABET_LIMIT = 1000


def training_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Split(Regex(TRAINING_PATTERN), behavior="isolated")


def train_vocabulary(texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE) -> Vocabulary:
    """Learn ``vocab_size`` tokens (256 byte fallbacks included) from ``texts``."""
    if not MIN_VOCAB_SIZE <= vocab_size <= MAX_VOCAB_SIZE:
        raise ValueError(
            f"vocabulary size must be between {MIN_VOCAB_SIZE} and {MAX_VOCAB_SIZE}, "
            f"not {vocab_size}"
        )
    trainer_tokenizer = Tokenizer(models.BPE())
    trainer_tokenizer.pre_tokenizer = training_pre_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - BYTE_TOKENS,
        min_frequency=2,
        limit_alphabet=min(ALPHABET_LIMIT, vocab_size - BYTE_TOKENS),
        show_progress=False,
    )
    trainer_tokenizer.train_from_iterator(texts, trainer)
    model = json.loads(trainer_tokenizer.to_str())["model"]
    symbols = [name for name, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1])]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1))
              for m in model["merges"]]
    return Vocabulary.from_trained(symbols, merges)
