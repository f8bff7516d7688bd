"""Fill-in-the-middle over a left-to-right model.

The engine only continues text, so the middle is generated after the prefix and two things
tie it to the suffix: generation stops where the text starts repeating the suffix's first
line, and when several candidates are drawn, the one that makes prefix + middle + suffix most
probable wins (the suffix's tokens are scored after each candidate middle), which is the
definition of the best infill under the model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.api.generation import Choice
from app.engine.types import EngineProtocol

# Candidates drawn for one infill when the caller asks for a single answer.
CANDIDATES = 3


def suffix_stops(suffix: str) -> list[str]:
    """The suffix's first non-blank line, without its indentation: when the model writes it,
    the middle is over."""
    for line in suffix.splitlines():
        if line.strip():
            return [line.strip()]
    return []


def infill_rank(engine: EngineProtocol, prefix_ids: np.ndarray,
                suffix_ids: np.ndarray) -> Callable[[Choice], float]:
    """Log-probability of middle + suffix given the prefix."""
    def joint(choice: Choice) -> float:
        middle = [t.token_id for t in choice.tokens]
        ids = [*map(int, prefix_ids), *middle, *map(int, suffix_ids)]
        scored = engine.score(ids, 0)[len(prefix_ids):]
        return sum(t.logprob for t in scored if t.logprob is not None)
    return joint
