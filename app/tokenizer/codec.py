"""Encoding text to token ids and back, losslessly, for every Unicode string."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Sequence

import numpy as np
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models

from app.errors import InvalidText
from app.tokenizer.training import pre_tokenizer
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


class Tokenizer:
    """The hypercube's tokenizer: BPE merges with byte fallback, ids dense from 0."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        names = {vocab.hf_name(i): i for i in range(vocab.size)}
        merges = [(vocab.hf_name(a), vocab.hf_name(b)) for a, b, _ in vocab.merges]
        self._hf = HFTokenizer(models.BPE(vocab=names, merges=merges, byte_fallback=True))
        self._hf.pre_tokenizer = pre_tokenizer()
        self._bytes = vocab.token_bytes
        self.dtype = np.uint16 if vocab.size <= 65536 else np.uint32

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    def encode(self, text: str) -> np.ndarray:
        validate_text(text)
        return np.asarray(self._hf.encode(text, add_special_tokens=False).ids, dtype=self.dtype)

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        for text in texts:
            validate_text(text)
        encodings = self._hf.encode_batch(list(texts), add_special_tokens=False)
        return [np.asarray(e.ids, dtype=self.dtype) for e in encodings]

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
