"""The engine's public vocabulary: what a caller asks for and what it gets back.

The API server, the CLI and the UI speak to the engine only through these types and the
:class:`EngineProtocol` below, so each side can change inside without the other noticing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from app.tokenizer import Tokenizer

if TYPE_CHECKING:
    from app.engine.constrained import TokenConstraint

FinishReason = Literal["stop", "length"]
# Where a repeat may not continue through: a new line, a colon, a quote, an asterisk
# (text-generation-webui's choice, which also suits code: lines, blocks and strings).
DRY_SEQUENCE_BREAKERS = ("\n", ":", '"', "*")


@dataclass
class SamplingParams:
    """OpenAI's sampling controls, already validated (ranges as OpenAI documents them)."""

    max_tokens: int | None = 16          # None: until the context window is full
    temperature: float = 1.0             # 0 => greedy, deterministic
    top_p: float = 1.0
    top_k: int = 0                       # 0 => off
    min_p: float = 0.0                   # 0 => off
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] = field(default_factory=dict)   # token id -> bias in [-100, 100]
    stop: list[str] = field(default_factory=list)                # never in the output
    seed: int | None = None
    logprobs: int | None = None          # None: none; k >= 0: chosen token + k alternatives
    # The "don't repeat yourself" (DRY) penalty (an extension; see app/engine/sampling.py):
    # a token that would extend a repeat of earlier text (prompt included) to a run of
    # n >= dry_allowed_length tokens loses dry_multiplier * dry_base ** (n -
    # dry_allowed_length) from its log-probability before sampling. A copy does not reach
    # back over a token whose text contains one of dry_sequence_breakers; a loop (text
    # repeating the text right before it) counts in full. On by default, greedy too.
    dry_multiplier: float = 0.8          # 0 => off
    dry_base: float = 1.75
    dry_allowed_length: int = 3
    dry_sequence_breakers: list[str] = field(
        default_factory=lambda: list(DRY_SEQUENCE_BREAKERS))


@dataclass
class TokenLogprob:
    """One token with its true log-probability under the model and the top alternatives."""

    token_id: int
    text: str                            # the token's bytes decoded with errors="replace"
    bytes: list[int]
    logprob: float | None                # None only for the first token of a scored text
    top: list[tuple[int, str, float]] = field(default_factory=list)  # (id, text, logprob)


@dataclass
class Delta:
    """A piece of streamed output.

    ``text`` is new, stop-checked text (it may be "" while a possible stop sequence or a
    partial UTF-8 character is held back). ``tokens`` are the tokens whose text this delta
    completes. The last delta of a generation has ``finish_reason`` set.
    """

    text: str
    tokens: list[TokenLogprob]
    finish_reason: FinishReason | None = None


@dataclass
class Completion:
    text: str
    tokens: list[TokenLogprob]
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    logprob: float = 0.0                 # sum of the chosen tokens' log-probabilities (best_of)


@dataclass(frozen=True)
class ModelInfo:
    id: str
    created: int
    context_length: int
    vocab_size: int
    corpus_bytes: int
    corpus_tokens: int
    documents: int


class EngineProtocol(Protocol):
    tokenizer: Tokenizer
    info: ModelInfo

    def stream(self, prompt_ids: np.ndarray, params: SamplingParams, *,
               cancel: threading.Event | None = None,
               constraint: TokenConstraint | None = None) -> Iterator[Delta]:
        """Generate after ``prompt_ids``; stops early (finish_reason "stop") if ``cancel``
        is set; with ``constraint``, only tokens it allows are chosen and the generation
        ends (finish_reason "stop") once it is done. Raises ContextLengthExceeded if
        prompt + max_tokens exceed the window."""

    def complete(self, prompt_ids: np.ndarray, params: SamplingParams, *,
                 cancel: threading.Event | None = None) -> Completion:
        """:meth:`stream` collected into one result."""

    def score(self, token_ids: Sequence[int], top: int = 0) -> list[TokenLogprob]:
        """Log-probability of each token given the ones before it (the first has None)."""
