"""Encoding text to token ids and back, losslessly, for every Unicode string."""

from __future__ import annotations

import codecs
import itertools
from collections.abc import Iterable, Sequence

import numpy as np
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models

from app.errors import InvalidText
from app.tokenizer.training import split_words
from app.tokenizer.vocabulary import Vocabulary


def validate_text(text: str) -> bytes:
    """Return ``text`` as UTF-8, or raise :class:`InvalidText` naming the offending position."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidText(
            f"text is not valid Unicode: lone surrogate U+{ord(text[exc.start]):04X} "
            f"at character {exc.start}"
        ) from exc


def decode_utf8(data: bytes) -> str:
    """Decode bytes that must be UTF-8, or raise :class:`InvalidText` with the byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidText(f"input is not valid UTF-8: bad byte at offset {exc.start}") from exc


# Distinct words kept encoded; past this the cache starts afresh (code reuses few words, so
# it rarely fills).
_WORD_CACHE_LIMIT = 400_000


class Tokenizer:
    """The hypercube's tokenizer: BPE merges with byte fallback, ids dense from 0.

    Text is split into words by our own pre-tokenizer (Python's C regex engine), each distinct
    word is encoded once by the Hugging Face BPE model and cached: code repeats its words so
    much that this is several times faster than running the whole text through the library.
    """

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        names = {vocab.hf_name(i): i for i in range(vocab.size)}
        merges = [(vocab.hf_name(a), vocab.hf_name(b)) for a, b, _ in vocab.merges]
        # No pre-tokenizer: it is handed one word at a time.
        self._hf = HFTokenizer(models.BPE(vocab=names, merges=merges, byte_fallback=True))
        self._bytes = vocab.token_bytes
        self._cache: dict[str, list[int]] = {}
        self.dtype = np.uint16 if vocab.size <= 65536 else np.uint32

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    def encode(self, text: str) -> np.ndarray:
        validate_text(text)
        return self._encode_words(split_words(text))

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [self.encode(text) for text in texts]

    def _encode_words(self, words: list[str]) -> np.ndarray:
        cache = self._cache
        if len(cache) > _WORD_CACHE_LIMIT:
            # Swap rather than clear: a concurrent caller keeps using the dict it holds.
            cache = self._cache = {}
        missing = list(set(words).difference(cache))
        if missing:
            encodings = self._hf.encode_batch(missing, add_special_tokens=False)
            cache.update(zip(missing, (e.ids for e in encodings), strict=True))
        ids = itertools.chain.from_iterable(map(cache.__getitem__, words))
        return np.fromiter(ids, dtype=self.dtype)

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def token_bytes(self, token_id: int) -> bytes:
        return self._bytes[token_id]

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        table = self._bytes
        return b"".join(table[int(i)] for i in ids)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; a byte sequence that is not UTF-8 (only possible for ids no
        encoding produced) shows as U+FFFD rather than failing."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def token_strings(self, ids: Iterable[int]) -> list[str]:
        """Each token's share of the text, decoding incrementally: a character split over
        byte tokens appears on the token that completes it, so the strings concatenate back
        to exactly :meth:`decode` of the ids."""
        decoder = IncrementalDecoder(self)
        pieces = [decoder.push(int(i)) for i in ids]
        tail = decoder.flush()
        if tail and pieces:
            pieces[-1] += tail
        return pieces


class IncrementalDecoder:
    """Turns a stream of token ids into text as soon as whole characters are available."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        return self._decoder.decode(self._tokenizer.token_bytes(token_id))

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)
