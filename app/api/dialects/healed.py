"""What the dialects that show tokens one by one report for a healed completion.

Token healing (app/engine/healing.py) takes back the prompt's last tokens and lets the first
generated tokens re-write them, so those tokens' text starts inside the prompt: ``healed``
characters of it, which a choice's ``text`` leaves out. OpenAI's logprobs say so with text
offsets that start before the prompt's end; Ollama's and llama.cpp's per-token lists have no
offsets, and their clients join the tokens' text into the answer, so there each token shows
only the part of its text that is new. Ollama's ``context`` (the conversation's token ids,
sent back by the client on its next turn) drops the taken-back prompt tokens, so it decodes
to the prompt followed by the answer, with nothing said twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.tokenizer import Tokenizer


class HealedText:
    """Cuts the healed characters off the first tokens' texts, in the order they come
    (one choice's tokens, across every delta of a stream)."""

    def __init__(self, healed_chars: int = 0) -> None:
        self.chars = healed_chars  # how many the choice re-wrote, for context_ids
        self.left = healed_chars   # how many are still to be cut

    def start(self, healed_chars: int) -> None:
        """A stream learns the count from its first delta (later ones carry 0)."""
        if healed_chars and not self.chars:
            self.chars = self.left = healed_chars

    def visible(self, text: str) -> str:
        cut = min(self.left, len(text))
        self.left -= cut
        return text[cut:]


def context_ids(tokenizer: Tokenizer, prompt_ids: Sequence[int] | np.ndarray, healed_chars: int,
                generated: Sequence[int]) -> list[int]:
    """The prompt's ids without those healing took back, then the generated ones."""
    kept = len(prompt_ids)
    if healed_chars:
        prompt_text = tokenizer.decode_bytes(prompt_ids).decode("utf-8", errors="replace")
        healed = len(prompt_text[-healed_chars:].encode("utf-8"))
        taken = 0
        while kept and taken < healed:
            kept -= 1
            taken += len(tokenizer.token_bytes(int(prompt_ids[kept])))
    return [*map(int, prompt_ids[:kept]), *map(int, generated)]
