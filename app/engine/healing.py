"""Token healing: start a completion on a token boundary the model has seen.

The tokenizer merges a newline with the indentation after it and a space with the word after
it (``"\\n    return"`` is ``"\\n   "`` + ``" return"``), so a prompt that stops at a line
start, after an indent, after a space or inside a word ends on a token that the training
text almost never continues that way: after a lone ``"\\n"`` the corpus has no ``"    "``.
The cure is to take the prompt's last word back (its tokens) and let the model write it
again, constrained to text that starts with what was taken back; the completion the caller
sees is what follows the prompt, never the re-written part.

The same index answers "which tokens fit" for any required text: a token fits if its bytes
start with the text still required (the constraint is then met) or are a prefix of it (the
constraint continues with the rest).
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass

import numpy as np

from app.tokenizer import Tokenizer
from app.tokenizer.training import split_words

# At most this many tokens and bytes are taken back: a prompt's last word is rarely longer,
# and every one taken back is one more constrained step.
MAX_HEALED_TOKENS = 6
MAX_HEALED_BYTES = 48
_CACHE_LIMIT = 4096


class TokenPrefixIndex:
    """The tokens compatible with a required text, looked up by bisection (built once per
    vocabulary; thread-safe)."""

    def __init__(self, token_bytes: list[bytes]) -> None:
        self.token_bytes = token_bytes
        order = sorted(range(len(token_bytes)), key=lambda i: token_bytes[i])
        self._sorted = [token_bytes[i] for i in order]
        self._ids = np.array(order, dtype=np.int64)
        self._by_bytes: dict[bytes, list[int]] = {}
        for i, data in enumerate(token_bytes):
            if data:
                self._by_bytes.setdefault(data, []).append(i)
        self.vocab_size = len(token_bytes)
        self._cache: dict[bytes, np.ndarray] = {}
        self._lock = threading.Lock()

    def compatible(self, required: bytes) -> np.ndarray:
        """Sorted ids of the tokens that start with ``required`` or are a prefix of it."""
        cached = self._cache.get(required)
        if cached is not None:
            return cached
        lo = bisect.bisect_left(self._sorted, required)
        upper = _successor(required)
        hi = len(self._sorted) if upper is None else bisect.bisect_left(self._sorted, upper)
        starting = self._ids[lo:hi]
        prefixes = [i for k in range(1, len(required))
                    for i in self._by_bytes.get(required[:k], ())]
        ids = np.unique(np.concatenate([starting, np.array(prefixes, dtype=np.int64)]))
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[required] = ids
        return ids


def _successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``."""
    data = bytearray(prefix)
    while data and data[-1] == 0xFF:
        data.pop()
    if not data:
        return None
    data[-1] += 1
    return bytes(data)


@dataclass(frozen=True)
class Healed:
    """A prompt with its last word taken back: ``ids`` to condition on and the ``removed``
    bytes every completion must start with."""

    ids: np.ndarray
    removed: bytes

    @property
    def removed_chars(self) -> int:
        return len(self.removed.decode("utf-8", errors="replace"))


def heal(tokenizer: Tokenizer, prompt_ids: np.ndarray, prompt_text: str) -> Healed:
    """Take back the tokens that lie inside the prompt's last word (by the tokenizer's own
    word split), at least the last token, within the limits above."""
    ids = np.asarray(prompt_ids)
    if not len(ids) or not prompt_text:
        return Healed(ids, b"")
    words = split_words(prompt_text[-MAX_HEALED_BYTES:])
    word = len(words[-1].encode("utf-8")) if words else 0
    removed = 0
    count = 0
    while count < min(len(ids), MAX_HEALED_TOKENS):
        size = len(tokenizer.token_bytes(int(ids[len(ids) - 1 - count])))
        if count and removed + size > word:
            break
        removed += size
        count += 1
        if removed >= word or removed >= MAX_HEALED_BYTES:
            break
    kept = ids[:len(ids) - count]
    return Healed(kept, tokenizer.decode_bytes(ids[len(ids) - count:]))


class HealingConstraint:
    """:class:`~app.engine.types.TokenConstraint` for the text taken back: the first tokens
    must re-write it (each one a prefix of what is left, or starting with all of it)."""

    def __init__(self, index: TokenPrefixIndex, required: bytes) -> None:
        self.index = index
        self.required = required

    def mask(self, allowed: np.ndarray) -> None:
        allowed[self.index.compatible(self.required)] = True

    def allowed_ids(self) -> np.ndarray:
        return self.index.compatible(self.required)

    def advance_bytes(self, data: bytes) -> bytes:
        """Take a token's bytes; return the part of them past the required text."""
        required = self.required
        if data.startswith(required):
            self.required = b""
            return data[len(required):]
        self.required = required[len(data):]
        return b""

    def advance(self, token_id: int) -> None:
        self.advance_bytes(self.index.token_bytes[token_id])

    def done(self) -> bool:
        return not self.required
