"""The engine: generation, streaming and scoring over the statistical model.

The window (``CONTEXT_LENGTH`` tokens, prompt plus completion) is an API limit that keeps
requests bounded; the model itself conditions on the whole document so far (its cache is
the document), which is how ``hypercube eval`` scores files of any length.

Thread safety: the model is read-only; every call gets its own session (history and
scratch buffers) from a pool. The per-token kernels run for microseconds and keep the GIL
(a release per call cost more than it let run in parallel, see jit/compiler.py); setting
up a prompt releases it.

Per request the engine does a fixed amount of work besides the kernels (a pooled session,
one kernel call to take in the whole prompt, tables looked up rather than built), and per
token one call each for the distribution, the choice (repetition penalty included) and the
history, plus the token's text looked up for whole-UTF-8 tokens.
"""

from __future__ import annotations

import codecs
import contextlib
import math
import threading
from collections.abc import Iterator, Sequence

import numpy as np

from app.engine import policy
from app.engine.ends import TextEnd
from app.engine.healing import HealingConstraint, TokenPrefixIndex
from app.engine.limits import MAX_STOP_SEQUENCES, MAX_TOP_LOGPROBS
from app.engine.names import KnownNames
from app.engine.sampling import Sampler, breaker_mask, make_rng, repetition_factors
from app.engine.stops import StopMatcher
from app.engine.types import (
    DRY_SEQUENCE_BREAKERS,
    Completion,
    Delta,
    FinishReason,
    Generation,
    GenerationRequest,
    ModelInfo,
    SamplingParams,
    TokenConstraint,
    TokenLogprob,
)
from app.errors import ContextLengthExceeded, InvalidRequest
from app.model import Model, RepetitionTables, Session
from app.model.context import ProjectContext
from app.model.projects import ProjectFocus
from app.tokenizer import Tokenizer

# 16k tokens (~60 KB of code): larger than almost every source file, so evaluation
# harnesses can score whole files with echo + logprobs.
CONTEXT_LENGTH = 16384
MODEL_ID = "hypercube"
_POOL_LIMIT = 32
# Language views of the model whose sessions are pooled (one per language in use).
_MODELS_POOLED = 16
# Repetition penalty tables kept for reuse; requests almost always use the defaults.
_TABLES_LIMIT = 64
# The mask of a generation without constraints: never read.
_NO_MASK = np.zeros(0, dtype=bool)


class Engine:
    """Satisfies :class:`app.engine.types.EngineProtocol`."""

    def __init__(self, model: Model, tokenizer: Tokenizer, info: ModelInfo,
                 known_names: KnownNames | None = None,
                 focus: ProjectFocus | None = None) -> None:
        if tokenizer.vocab_size != model.vocab_size:
            raise ValueError("the tokenizer and the model disagree on the vocabulary size")
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        # Sessions by the model (the engine's, or a language view of it) they query.
        self._pools: dict[Model, list[Session]] = {}
        self._pool_lock = threading.Lock()
        self._bytes = [tokenizer.token_bytes(i) for i in range(tokenizer.vocab_size)]
        self.known_names = known_names
        self.focus = focus
        self.prefix_index = TokenPrefixIndex(self._bytes)
        self._texts = [data.decode("utf-8", errors="replace") for data in self._bytes]
        self._whole = [_is_utf8(data) for data in self._bytes]
        self._tables: dict[tuple[float, float, int, tuple[str, ...]], RepetitionTables] = {}
        self._breakers: dict[tuple[str, ...], np.ndarray] = {
            DRY_SEQUENCE_BREAKERS: breaker_mask(self._texts, DRY_SEQUENCE_BREAKERS)}
        self._tables_lock = threading.Lock()

    # -- the protocol -------------------------------------------------------------------

    def stream(self, prompt_ids: np.ndarray, params: SamplingParams, *,
               cancel: threading.Event | None = None,
               constraint: TokenConstraint | None = None) -> Iterator[Delta]:
        prompt = self._check_ids(prompt_ids, "prompt")
        budget = self._budget(len(prompt), params.max_tokens)
        top = self._check_top(params.logprobs)
        # The request contract refuses more first; this guards direct callers.
        if len(params.stop) > MAX_STOP_SEQUENCES:
            raise InvalidRequest(f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed",
                                 param="stop")
        # Greedy decoding draws nothing: it needs no generator (seeding one costs ~5 µs).
        rng = None if params.temperature == 0.0 else make_rng(params.seed)
        sampler = Sampler(params, rng, self.model.kernels, self.model.vocab_size)
        tables = self._repetition_tables(params)
        ends: list[TextEnd] = [StopMatcher(params.stop)] if params.stop else []
        return self._generate(self.model, prompt, budget, sampler, tables, top, cancel, ends,
                              None, constraint)

    def complete(self, prompt_ids: np.ndarray, params: SamplingParams, *,
                 cancel: threading.Event | None = None,
                 constraint: TokenConstraint | None = None) -> Completion:
        texts: list[str] = []
        tokens: list[TokenLogprob] = []
        finish: FinishReason = "length"
        for delta in self.stream(prompt_ids, params, cancel=cancel, constraint=constraint):
            texts.append(delta.text)
            tokens.extend(delta.tokens)
            if delta.finish_reason is not None:
                finish = delta.finish_reason
        return Completion(
            text="".join(texts), tokens=tokens, finish_reason=finish,
            prompt_tokens=len(prompt_ids), completion_tokens=len(tokens),
            logprob=float(sum(t.logprob for t in tokens if t.logprob is not None)),
        )

    def score(self, token_ids: Sequence[int] | np.ndarray, top: int = 0,
              ) -> list[TokenLogprob]:
        ids = self._check_ids(np.asarray(token_ids, dtype=np.int64), "prompt")
        if len(ids) > CONTEXT_LENGTH:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {CONTEXT_LENGTH} tokens. However, "
                f"you asked to score {len(ids)} tokens.", param="prompt")
        top = self._check_top(top) or 0
        result: list[TokenLogprob] = []
        with self._session() as session:
            if not top:
                # No alternatives asked for: each token's own probability, by one kernel
                # call that computes no other token's (the same values to the bit).
                # (The first token's is computed too, and dropped: the contract below.)
                probs = session.score(ids).tolist()
                return [self._token_entry(token, math.log(p) if index else None, [])
                        for index, (token, p) in enumerate(zip(ids.tolist(), probs,
                                                               strict=True))]
            for index, token in enumerate(ids.tolist()):
                if index == 0:
                    # The contract: the first token of a scored text has no log-probability.
                    result.append(self._entry(token, None, None, 0))
                else:
                    probs = session.distribution()
                    result.append(self._entry(token, probs, probs, top))
                session.push(token)
        return result

    # -- used by `hypercube eval` -------------------------------------------------------

    def document_logprobs(self, token_ids: np.ndarray, top: int = 5,
                          context: ProjectContext | None = None) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        """Natural-log probability of every token of a document from its start (the first
        one too), and the rank-0..top-1 hits: ``hits[i]`` is the rank of the true token
        among the model's ``top`` most likely, or -1. With ``context``, the model also
        counts the project's documents indexed there."""
        ids = self._check_ids(np.asarray(token_ids, dtype=np.int64), "prompt")
        logprobs = np.zeros(len(ids))
        hits = np.full(len(ids), -1, dtype=np.int64)
        scope = (self._session() if context is None or not context.segments
                 else contextlib.nullcontext(context.model(self.model).session(len(ids) + 2)))
        with scope as session:
            for index, token in enumerate(ids.tolist()):
                probs = session.distribution()
                p = probs[token]
                logprobs[index] = math.log(p)
                higher = int(np.count_nonzero(probs > p))
                if higher < top:
                    hits[index] = higher
                session.push(token)
        return logprobs, hits

    # -- internals ----------------------------------------------------------------------

    def sample(self, model: Model, prompt: np.ndarray, params: SamplingParams, *,
               heal: HealingConstraint | None = None,
               constraint: TokenConstraint | None = None,
               ends: Sequence[TextEnd] = (),
               cancel: threading.Event | None = None) -> Iterator[Delta]:
        """One choice drawn token by token under ``model`` (the engine's own or a view of
        it) after ``prompt`` (checked ids): the generation policy's loop. ``heal`` makes the
        first tokens re-write the text taken back from the prompt (not emitted again);
        ``constraint`` restricts every token while it is not done (its end ends the
        choice); ``ends`` cut the text (stop sequences, the scope, the suffix)."""
        budget = self._budget(len(prompt), params.max_tokens)
        top = self._check_top(params.logprobs)
        rng = None if params.temperature == 0.0 else make_rng(params.seed)
        sampler = Sampler(params, rng, model.kernels, model.vocab_size)
        tables = self._repetition_tables(params)
        return self._generate(model, prompt, budget, sampler, tables, top, cancel,
                              list(ends), heal, constraint)

    def _generate(self, model: Model, prompt: np.ndarray, budget: int, sampler: Sampler,
                  tables: RepetitionTables | None, top: int | None,
                  cancel: threading.Event | None, ends: list[TextEnd],
                  heal: HealingConstraint | None = None,
                  constraint: TokenConstraint | None = None) -> Iterator[Delta]:
        # One loop with everything it calls per token held in locals: a 16-token request
        # is mostly this loop's overhead around the kernels, so it is kept lean.
        session = self._acquire(prompt, model)
        try:
            sampler.attach(session, tables)
            # Most tokens are whole UTF-8 text: their text is looked up; a token holding
            # part of a character goes through the incremental decoder, as does every
            # token while it holds a partial character.
            utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
            pending = False
            texts, whole, data = self._texts, self._whole, self._bytes
            dist, push, choose = session.bound.dist, session.push, sampler.picker()
            probs = session.probs
            log = math.log
            last = budget - 1
            # The constraints still acting: healing until it is done, the constraint until
            # it is (None once over, so each check is one comparison).
            healing = heal if heal is not None and not heal.done() else None
            allowed = (np.zeros(len(probs), dtype=bool)
                       if healing is not None or constraint is not None else _NO_MASK)
            for step in range(budget):
                if cancel is not None and cancel.is_set():
                    yield Delta(_flush(ends, utf8.decode(b"", final=True))[0], [], "stop")
                    return
                dist()
                alternatives = probs
                constrained = (constraint if constraint is not None and not constraint.done()
                               else None)
                if healing is not None or constrained is not None:
                    # The one place constraints act: they zero what may not come next
                    # (logprobs stay the model's own: the values kept are untouched).
                    if top:
                        alternatives = probs.copy()
                    _restrict(probs, allowed, healing, constrained)
                if constrained is not None:
                    # A repetition penalty may zero every allowed token (a forced token that
                    # repeats earlier text): then the most likely allowed one is taken.
                    with np.errstate(invalid="ignore"):
                        token = choose()
                    if not allowed[token]:
                        token = int(np.argmax(np.where(allowed, alternatives, -1.0)))
                else:
                    token = choose()
                if top:
                    entry = self._entry(token, alternatives, alternatives, top)
                else:
                    entry = TokenLogprob(token, texts[token], list(data[token]),
                                         log(alternatives[token]), [])
                push(token)
                piece = data[token]
                if healing is not None:
                    piece = healing.advance_bytes(piece)
                    if healing.done():
                        healing = None
                    text = utf8.decode(piece)
                    pending = bool(utf8.getstate()[0])
                elif pending or not whole[token]:
                    text = utf8.decode(piece)
                    pending = bool(utf8.getstate()[0])
                else:
                    text = texts[token]
                if constrained is not None:
                    constrained.advance(token)
                for end in ends:
                    text = end.push(text)
                    if end.stopped:
                        yield Delta(text, [entry], "stop")
                        return
                finished = constrained is not None and constrained.done()
                if step == last or finished:
                    tail, stopped = _flush(ends, utf8.decode(b"", final=True))
                    yield Delta(text + tail, [entry],
                                "stop" if finished or stopped else "length")
                    return
                yield Delta(text, [entry])
            yield Delta("", [], "length")  # budget 0: nothing to generate
        finally:
            self._release(session, model)

    def _repetition_tables(self, params: SamplingParams) -> RepetitionTables | None:
        """The repetition penalty's tables for these (validated) parameters, or None if off."""
        if params.dry_multiplier == 0.0:
            return None
        breakers = tuple(params.dry_sequence_breakers)
        key = (float(params.dry_multiplier), float(params.dry_base),
               int(params.dry_allowed_length), breakers)
        tables = self._tables.get(key)
        if tables is not None:
            return tables
        mask = self._breakers.get(breakers)
        if mask is None:
            mask = breaker_mask(self._texts, breakers)
        tables = RepetitionTables(mask, repetition_factors(*key[:3]), key[2])
        with self._tables_lock:
            if len(self._tables) >= _TABLES_LIMIT:
                self._tables.clear()
            if len(self._breakers) >= _TABLES_LIMIT:
                self._breakers = {DRY_SEQUENCE_BREAKERS: self._breakers[DRY_SEQUENCE_BREAKERS]}
            self._breakers[breakers] = tables.breakers
            self._tables[key] = tables
        return tables

    @contextlib.contextmanager
    def _session(self, prompt: np.ndarray | None = None,
                 model: Model | None = None) -> Iterator[Session]:
        """A session of our own for one call."""
        session = self._acquire(prompt, model)
        try:
            yield session
        finally:
            self._release(session, model)

    def _acquire(self, prompt: np.ndarray | None, model: Model | None = None) -> Session:
        """A pooled session (creating one allocates buffers) holding ``prompt``."""
        model = model or self.model
        with self._pool_lock:
            pool = self._pools.get(model)
            session = pool.pop() if pool else None
        if session is None:
            session = model.session(4096)
        session.reset(() if prompt is None else prompt)
        return session

    def _release(self, session: Session, model: Model | None = None) -> None:
        model = model or self.model
        with self._pool_lock:
            pool = self._pools.get(model)
            if pool is None:
                if len(self._pools) >= _MODELS_POOLED:
                    self._pools = {self.model: self._pools.get(self.model, [])}
                pool = self._pools.setdefault(model, [])
            if len(pool) < _POOL_LIMIT:
                pool.append(session)

    def model_for(self, language: str | None, filename: str | None) -> Model:
        """The model a completion of ``filename`` in ``language`` is predicted with: the
        language's view, counting the file's project more when it is known."""
        if self.focus is not None:
            return self.focus.model_for(language, filename)
        return self.model.for_language(language)

    def sessions(self, model: Model) -> contextlib.AbstractContextManager[Session]:
        """A pooled session of ``model`` for the generation policy's searches."""
        return self._session(None, model)

    def check_ids(self, ids: np.ndarray, param: str = "prompt") -> np.ndarray:
        return self._check_ids(ids, param)

    def budget(self, prompt_tokens: int, max_tokens: int | None) -> int:
        return self._budget(prompt_tokens, max_tokens)

    def token_bytes(self, token: int) -> bytes:
        return self._bytes[token]

    def token_text(self, token: int) -> str:
        return self._texts[token]

    @property
    def token_table(self) -> list[bytes]:
        """Every token's bytes, by id."""
        return self._bytes

    def entry(self, token: int, probs: np.ndarray, top: int) -> TokenLogprob:
        return self._entry(token, probs, probs, top)

    # -- the generation policy (app/engine/policy.py) -------------------------------------

    def generate(self, request: GenerationRequest, *,
                 cancel: threading.Event | None = None) -> Generation:
        return policy.generate(self, request, cancel=cancel)

    def stream_choice(self, request: GenerationRequest, seed: int, *, index: int = 0,
                      cancel: threading.Event | None = None) -> Iterator[Delta]:
        return policy.stream_choice(self, request, seed, index=index, cancel=cancel)

    def _entry(self, token: int, probs: np.ndarray | None, alternatives: np.ndarray | None,
               top: int) -> TokenLogprob:
        logprob = None if probs is None else math.log(float(probs[token]))
        best: list[tuple[int, str, float]] = []
        if alternatives is not None and top > 0:
            ids = np.argpartition(-alternatives, top - 1)[:top]
            ids = ids[np.lexsort((ids, -alternatives[ids]))]
            best = [(int(i), self._texts[int(i)], math.log(float(alternatives[i])))
                    for i in ids]
        return self._token_entry(token, logprob, best)

    def _token_entry(self, token: int, logprob: float | None,
                     best: list[tuple[int, str, float]]) -> TokenLogprob:
        data = self.tokenizer.token_bytes(token)
        return TokenLogprob(token, self._texts[token], list(data), logprob, best)

    def _check_ids(self, ids: np.ndarray, param: str) -> np.ndarray:
        given = np.asarray(ids)
        ids = given.astype(np.int64, copy=False).ravel()
        # The tokenizer's ids are unsigned: only their maximum needs checking.
        if len(ids) and ((given.dtype.kind != "u" and ids.min() < 0)
                         or ids.max() >= self.model.vocab_size):
            raise InvalidRequest(f"token ids must be between 0 and {self.model.vocab_size - 1}",
                                 param=param)
        return ids

    def _budget(self, prompt_tokens: int, max_tokens: int | None) -> int:
        if max_tokens is not None and max_tokens < 0:
            raise InvalidRequest("max_tokens must not be negative", param="max_tokens")
        wanted = prompt_tokens + (max_tokens or 0)
        if wanted > CONTEXT_LENGTH or (max_tokens is None and prompt_tokens >= CONTEXT_LENGTH):
            raise ContextLengthExceeded(
                f"This model's maximum context length is {CONTEXT_LENGTH} tokens. However, "
                f"you requested {wanted} tokens ({prompt_tokens} in the prompt, "
                f"{max_tokens} for the completion).", param="max_tokens")
        return CONTEXT_LENGTH - prompt_tokens if max_tokens is None else max_tokens

    def _check_top(self, top: int | None) -> int | None:
        if top is not None and not 0 <= top <= MAX_TOP_LOGPROBS:
            raise InvalidRequest(f"logprobs must be between 0 and {MAX_TOP_LOGPROBS}",
                                 param="logprobs")
        return top


def _restrict(probs: np.ndarray, allowed: np.ndarray, heal: HealingConstraint | None,
              constraint: TokenConstraint | None) -> None:
    """Zero the probability of every token the active constraints (one at least) do not
    allow."""
    if constraint is None:
        if heal is not None:
            # Healing allows a handful of tokens: keep theirs rather than mask the vocabulary.
            ids = heal.allowed_ids()
            kept = probs[ids]
            probs.fill(0.0)
            probs[ids] = kept
        return
    allowed.fill(False)
    constraint.mask(allowed)
    if heal is not None:
        healing = np.zeros_like(allowed)
        heal.mask(healing)
        allowed &= healing
    np.multiply(probs, allowed, out=probs)


def _flush(ends: Sequence[TextEnd], tail: str) -> tuple[str, bool]:
    """The text every end still holds, passed down the chain; and whether one stopped."""
    for end in ends:
        tail = end.push(tail)
        if end.stopped:
            return tail, True
        tail += end.flush()
        if end.stopped:
            return tail, True
    return tail, False


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def model_info(model: Model, documents: int, corpus_bytes: int, created: float) -> ModelInfo:
    return ModelInfo(id=MODEL_ID, created=int(created), context_length=CONTEXT_LENGTH,
                     vocab_size=model.vocab_size, corpus_bytes=corpus_bytes,
                     corpus_tokens=model.tokens, documents=documents)
