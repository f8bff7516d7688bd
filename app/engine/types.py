"""The engine's public vocabulary: what a caller asks for and what it gets back.

The API server, the CLI and the UI speak to the engine only through these types and the
:class:`EngineProtocol` below, so each side can change inside without the other noticing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from app.tokenizer import Tokenizer

FinishReason = Literal["stop", "length"]
# How far a completion runs (see app/engine/scope.py): to max_tokens/stop ("free"), to the
# end of the current line, to the end of the block the cursor opens, or whichever of the
# last two the cursor calls for ("auto").
Scope = Literal["free", "line", "block", "auto"]
SCOPES: tuple[str, ...] = ("free", "line", "block", "auto")
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
    # Characters at the start of the first token's text that re-write the end of the
    # prompt (token healing) and so are not in ``text``; set on a choice's first delta.
    healed: int = 0


@dataclass
class Completion:
    text: str
    tokens: list[TokenLogprob]
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    logprob: float = 0.0                 # sum of the chosen tokens' log-probabilities (best_of)


class TokenConstraint(Protocol):
    """What may come next, applied to the distribution before each choice (greedy,
    sampled or searched): ``mask`` marks the allowed token ids (``allowed`` arrives all
    False), ``advance`` takes the chosen token, ``done`` says the constraint is over."""

    def mask(self, allowed: np.ndarray) -> None:
        """Fill ``allowed`` (bool, one entry per token id) with which tokens may come next."""

    def advance(self, token_id: int) -> None:
        """Take the token that was chosen (always one :meth:`mask` allowed)."""

    def done(self) -> bool:
        """True once the text so far is complete and nothing may follow it."""


@dataclass
class GenerationRequest:
    """One generation as every front end asks for it (HTTP, CLI, UI): the only input of
    the engine's generation policy (app/engine/policy.py).

    ``prompt_ids`` are the prompt's tokens as the caller gave them (``prompt_text`` is
    their text, decoded when not given). ``stops`` are all the strings that end a choice
    (the caller's, a chat template's). ``heal`` rolls the prompt's last word back so the
    completion starts on a token boundary the model knows (app/engine/healing.py).
    ``language`` / ``filename`` name the document's language (else it is detected from the
    prompt); ``scope`` says where a choice ends (None: ``auto`` with a suffix, else
    ``free``). ``constraint`` makes a fresh :class:`TokenConstraint` per choice.
    """

    prompt_ids: np.ndarray
    params: SamplingParams
    prompt_text: str | None = None
    suffix: str | None = None
    stops: list[str] = field(default_factory=list)
    n: int = 1
    best_of: int = 1
    scope: Scope | None = None
    language: str | None = None
    filename: str | None = None
    heal: bool = True
    constraint: Callable[[], TokenConstraint] | None = None


@dataclass
class Choice:
    """One finished choice. ``tokens`` are the tokens whose text it holds (the first may
    also hold the end of the prompt that healing rolled back: ``healed`` characters of
    it, which are not in ``text``)."""

    text: str
    tokens: list[TokenLogprob]
    finish_reason: FinishReason
    healed: int = 0

    def mean_logprob(self) -> float:
        values = [t.logprob for t in self.tokens if t.logprob is not None]
        return sum(values) / len(values) if values else 0.0


@dataclass
class Generation:
    """The choices of one request, best first, and the tokens generated to make them
    (what the usage reports: the returned choices' tokens, and every candidate's when the
    caller asked for ``best_of`` > ``n``)."""

    choices: list[Choice]
    completion_tokens: int
    prompt_tokens: int
    language: str | None = None
    scope: str = "free"


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

    def score(self, token_ids: Sequence[int] | np.ndarray, top: int = 0,
              ) -> list[TokenLogprob]:
        """Log-probability of each token given the ones before it (the first has None)."""

    def generate(self, request: GenerationRequest, *,
                 cancel: threading.Event | None = None) -> Generation:
        """The request's choices under the generation policy (app/engine/policy.py)."""

    def stream_choice(self, request: GenerationRequest, seed: int, *, index: int = 0,
                      cancel: threading.Event | None = None) -> Iterator[Delta]:
        """Choice ``index`` of the request (drawn with ``seed``) as it is generated."""
