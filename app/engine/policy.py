"""The generation policy: one :class:`GenerationRequest` in, its choices out, for every
front end (``/v1/completions``, ``/v1/chat/completions``, ``hypercube complete``, the UI).

In order: the request is checked (context window, n/best_of, stops); its language is
resolved and the model's view for it taken; the prompt's last word is taken back (token
healing, app/engine/healing.py); the scope is resolved (app/engine/scope.py). Then:

- **search** (temperature 0, scope ``line`` or ``block``): a beam search for the most
  probable completions of the scope (app/engine/search.py), ranked length-aware with a
  parse check and the names in scope (app/engine/ranking.py); with a suffix, by the
  probability of healed text + middle + the suffix's first lines. ``n`` best are returned.
- **sampling** (everything else): ``best_of`` choices drawn token by token with derived
  seeds, each cut at the scope's end, the suffix's start and the stop sequences; the best
  ``n`` by mean log-probability (OpenAI's definition), or with a suffix by the probability
  of the join.

Usage counts the tokens of the returned choices, plus every other candidate the caller asked
for with ``best_of``; the candidates a search looks at and drops are the engine's business.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from app.engine import analogy
from app.engine.analogy import nearby_lines
from app.engine.ends import BlockTerminator, SuffixTerminator, TextEnd
from app.engine.healing import Healed, HealingConstraint, heal
from app.engine.indent_prior import indent_prior
from app.engine.language import resolve_language
from app.engine.ranking import Ranker, Scored, length_penalty
from app.engine.scope import (
    BlockEnd,
    body_indent,
    closer_indent,
    join_line,
    opener_line,
    opens_body,
    python_indent_limit,
    resolve_scope,
    suffix_first_line,
)
from app.engine.search import Found, SearchPlan, search, sessions_needed
from app.engine.stops import StopMatcher
from app.engine.types import (
    SCOPES,
    Choice,
    Delta,
    FinishReason,
    Generation,
    GenerationRequest,
    ModelInfo,
    TokenLogprob,
)
from app.errors import ContextLengthExceeded, InvalidRequest
from app.model import Model, Session

if TYPE_CHECKING:
    from app.engine.engine import Engine

_SEED_STEP = 0x9E3779B97F4A7C15  # golden-ratio increment: derived seeds share no low bits
_SEED_MASK = (1 << 63) - 1
# How much less likely (nats, scores) the best line with text may be than the line ending
# right at a mid-line cursor and still be offered first (see _text_first).
EMPTY_MARGIN = 10.0
# Beams kept by a line/block search (more cost more and rarely find a better line).
BEAM_WIDTH = 3
# The longest line or block a search writes (each token costs a step of every beam).
MAX_SEARCHED_TOKENS = 512
# A request's stop sequences (MAX_STOP_SEQUENCES) plus those a chat template or a dialect
# adds: a bound on the matcher's work, not a limit a client meets.
MAX_STOPS = 64
# The suffix's start that a fill-in-the-middle candidate is scored with.
SUFFIX_SCORED_CHARS = 96
SUFFIX_SCORED_LINES = 2
# Fill-in-the-middle candidates whose join with the suffix is scored.
JOINT_SCORED = 4
# When every block breaks the parse: a search this many times wider, and the candidates
# whose starts are tried for one that parses.
RETRY_WIDTH = 3
# A line search whose best candidate the ranker docks this much (two names nothing defines)
# is run again that much wider.
LINE_RETRY_PENALTY = 5.0
CLEAN_START_CANDIDATES = 3
# The suffix's tokens nearest the cursor that a fill-in-the-middle request's model reads
# before the prompt (see _Plan.history).
SUFFIX_READ_TOKENS = 1024


def check_context(info: ModelInfo, prompt_tokens: int, max_tokens: int | None,
                  param: str) -> None:
    """Refuse (never truncate) a prompt that, with the tokens asked for, overflows the window."""
    wanted = prompt_tokens + (max_tokens or 0)
    limit = info.context_length
    if wanted > limit or (max_tokens is None and prompt_tokens >= limit):
        asked = (f"{wanted} tokens ({prompt_tokens} in the prompt, {max_tokens} for the "
                 "completion)" if max_tokens else f"{prompt_tokens} tokens in the prompt")
        raise ContextLengthExceeded(
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{asked}. Please reduce the length of the prompt or the completion.",
            param=param,
        )


def choice_seeds(seed: int | None, count: int) -> list[int]:
    """One seed per choice: the caller's seed for the first, derived ones after it, so
    ``n`` choices differ and the same request with the same seed repeats exactly."""
    base = secrets.randbits(63) if seed is None else seed & _SEED_MASK
    return [(base + i * _SEED_STEP) & _SEED_MASK for i in range(count)]


@dataclass
class _Plan:
    """A request made ready: what every choice of it shares."""

    request: GenerationRequest
    model: Model
    language: str | None
    scope: str
    text: str
    healed: Healed
    suffix_ids: np.ndarray | None
    # What the model's session holds before the completion: the healed prompt, after the
    # suffix's start when there is one. The session's in-document cache then counts the
    # names and phrases written below the cursor as text of this document, which they are;
    # the ∞-gram context at the cursor (the last 64 tokens) is the prompt's either way.
    history: np.ndarray

    @functools.cached_property
    def block_end(self) -> BlockEnd:
        """The end tracker of the block at the cursor (copy it before feeding it)."""
        return BlockEnd.for_prompt(self.text, self.language)

    @property
    def searched(self) -> bool:
        # A constrained request (JSON, a grammar) is decoded token by token under it.
        return (self.request.params.temperature == 0.0 and self.scope in ("line", "block")
                and self.request.constraint is None)


def prepare(engine: Engine, request: GenerationRequest, param: str = "prompt") -> _Plan:
    """Check the request and resolve what its choices share."""
    params = request.params
    ids = engine.check_ids(np.asarray(request.prompt_ids), param)
    if request.n < 1 or request.best_of < request.n:
        raise InvalidRequest(f"'best_of' ({request.best_of}) must be at least 'n' "
                             f"({request.n})", param="best_of")
    if len(request.stops) > MAX_STOPS:
        raise InvalidRequest(f"at most {MAX_STOPS} stop sequences are allowed", param="stop")
    if request.scope is not None and request.scope not in SCOPES:
        raise InvalidRequest(f"scope must be one of {', '.join(SCOPES)}", param="scope")
    text = (request.prompt_text if request.prompt_text is not None
            else engine.tokenizer.decode(ids))
    suffix_ids = (None if request.suffix is None
                  else engine.tokenizer.encode(request.suffix))
    extra = 0 if suffix_ids is None else len(suffix_ids)
    check_context(engine.info, len(ids) + extra, params.max_tokens, param)
    language = resolve_language(request.language, request.filename, text)
    scope = resolve_scope(request.scope, text, request.suffix)
    healed = (heal(engine.tokenizer, ids, text) if request.heal
              else Healed(ids, b""))
    history = healed.ids
    if suffix_ids is not None and len(suffix_ids):
        history = np.concatenate([np.asarray(suffix_ids[:SUFFIX_READ_TOKENS], dtype=np.int64),
                                  np.asarray(healed.ids, dtype=np.int64)])
    return _Plan(request, engine.model_for(language, request.filename), language, scope,
                 text, healed, suffix_ids, history)


def generate(engine: Engine, request: GenerationRequest, *,
             cancel: threading.Event | None = None) -> Generation:
    plan = prepare(engine, request)
    prompt_tokens = len(request.prompt_ids) + (
        0 if plan.suffix_ids is None else len(plan.suffix_ids))
    if request.params.max_tokens == 0:
        choices = [Choice("", [], "length") for _ in range(request.n)]
        return Generation(choices, 0, prompt_tokens, plan.language, plan.scope)
    if plan.searched:
        ranked = _search(engine, plan, max(BEAM_WIDTH, request.best_of), cancel)
        kept = ranked[:request.best_of]
        # Fewer distinct completions than asked for: the last one again, as a stream of
        # that index gets it (``n`` choices are always ``n``).
        choices = [kept[min(i, len(kept) - 1)] for i in range(request.n)]
        generated = (sum(len(c.tokens) for c in choices)
                     + sum(len(c.tokens) for c in kept[request.n:]))
    else:
        candidates = [_collect(_sample(engine, plan, seed, cancel))
                      for seed in choice_seeds(request.params.seed, request.best_of)]
        generated = sum(len(c.tokens) for c in candidates)
        choices = candidates
        if request.best_of > request.n:
            choices = sorted(candidates, key=_sample_rank(engine, plan), reverse=True)
        choices = choices[:request.n]
    return Generation(choices, generated, prompt_tokens, plan.language, plan.scope)


def stream_choice(engine: Engine, request: GenerationRequest, seed: int, *, index: int = 0,
                  cancel: threading.Event | None = None) -> Iterator[Delta]:
    """One choice as it is generated: sampled live, or (a search) decided first and then
    sent token by token. ``index`` picks the search's ``index``-th best."""
    plan = prepare(engine, request)
    if request.params.max_tokens == 0:
        return iter([Delta("", [], "length")])
    if plan.searched:
        ranked = _search(engine, plan, max(BEAM_WIDTH, index + 1), cancel)
        choice = ranked[min(index, len(ranked) - 1)] if ranked else Choice("", [], "length")
        return _as_deltas(engine, choice)
    return _sample(engine, plan, seed, cancel)


# -- sampling ------------------------------------------------------------------------------

def _sample(engine: Engine, plan: _Plan, seed: int,
            cancel: threading.Event | None) -> Iterator[Delta]:
    request = plan.request
    params = dataclasses.replace(request.params, seed=seed, stop=[])
    ends: list[TextEnd] = []
    if request.stops:
        ends.append(StopMatcher(request.stops))
    suffix_line = suffix_first_line(request.suffix)
    if plan.scope == "line":
        ends.append(_LineEnd(request.suffix))
    elif plan.scope == "block":
        ends.append(BlockTerminator(plan.block_end.copy()))
    if plan.scope != "line" and suffix_line is not None:
        starts_line = (request.suffix or "").lstrip(" \t").startswith("\n")
        ends.append(SuffixTerminator(suffix_line, starts_line))
    healing = (HealingConstraint(engine.prefix_index, plan.healed.removed)
               if plan.healed.removed else None)
    constraint = request.constraint() if request.constraint is not None else None
    healed_chars = plan.healed.removed_chars
    deltas = engine.sample(plan.model, plan.history, params, heal=healing,
                           constraint=constraint, ends=ends, cancel=cancel)
    first = True
    for delta in deltas:
        if first and delta.tokens:
            first = False
            delta.healed = healed_chars
        yield delta


def goes_on_the_line(suffix: str | None) -> bool:
    """Whether ``suffix`` has text on the cursor's line (the middle then joins it there)."""
    return bool(suffix) and bool((suffix or "").split("\n", 1)[0].strip())


class _LineEnd:
    """The end of the line; with a suffix on the same line, the middle is cut where the
    suffix's text begins (the line is held until it is complete: it is short)."""

    def __init__(self, suffix: str | None) -> None:
        self.suffix = suffix
        self.joins = goes_on_the_line(suffix)
        self.text = ""
        self.stopped = False

    def push(self, text: str) -> str:
        newline = text.find("\n")
        if newline >= 0:
            self.stopped = True
            text = text[:newline]
        if not self.joins:
            return text
        self.text += text
        return join_line(self.text, self.suffix) if self.stopped else ""

    def flush(self) -> str:
        if not self.joins:
            return ""
        text, self.text = self.text, ""
        return join_line(text, self.suffix)


def _collect(deltas: Iterator[Delta]) -> Choice:
    texts: list[str] = []
    tokens: list[TokenLogprob] = []
    finish: FinishReason = "stop"
    healed = 0
    for delta in deltas:
        texts.append(delta.text)
        tokens.extend(delta.tokens)
        healed = max(healed, delta.healed)
        if delta.finish_reason is not None:
            finish = delta.finish_reason
    return Choice("".join(texts), tokens, finish, healed)


def _sample_rank(engine: Engine, plan: _Plan) -> Callable[[Choice], float]:
    if plan.request.suffix is None:
        return Choice.mean_logprob
    return lambda choice: _joint_logprob(engine, plan, choice.text)


# -- search --------------------------------------------------------------------------------

def _search(engine: Engine, plan: _Plan, width: int,
            cancel: threading.Event | None) -> list[Choice]:
    request = plan.request
    budget = min(engine.budget(len(plan.healed.ids), request.params.max_tokens),
                 MAX_SEARCHED_TOKENS)
    cursor_line = plan.text.rsplit("\n", 1)[-1]
    new_block = plan.scope == "block" and opener_line(plan.text) is not None
    search_plan = SearchPlan(
        scope=plan.scope, required=plan.healed.removed,
        block=plan.block_end if plan.scope == "block" else None,
        suffix_line=suffix_first_line(request.suffix) if plan.scope == "block" else None,
        stops=list(request.stops), width=width, budget=budget,
        at_line_start=not cursor_line.strip(),
        indented=bool(cursor_line) and not cursor_line.strip(),
        new_block=new_block,
        after_opener=new_block and bool(cursor_line.strip()) and opens_body(plan.text),
        body_indent=body_indent(plan.text, plan.language),
        indent_limit=(python_indent_limit(plan.text) if plan.language == "python" else None),
        line_head=cursor_line,
        closer_indent=(closer_indent(plan.text, plan.language) if plan.scope == "line"
                       else None),
        indent_prior=(indent_prior(plan.text, request.suffix)
                      if plan.scope == "line" and not cursor_line else None))
    with ExitStack() as stack:
        base = stack.enter_context(engine.sessions(plan.model))
        base.reset(plan.history)
        ranker = Ranker(plan.language, plan.text, request.suffix, engine.known_names,
                        whole=plan.scope == "block")
        scored = _scored(engine, plan, base, search_plan, cancel)
        ranked = ranker.rank(scored, wanted=request.best_of, consensus=plan.scope == "line")
        if plan.scope == "line" and ranked and ranked[0].penalty >= LINE_RETRY_PENALTY:
            # The likeliest lines are all junk the ranker sees through (a docstring's
            # quotes again, names nothing defines): lines that fit are further down, where
            # a wider search reaches (a corpus that knows little like this file's code).
            wider = dataclasses.replace(search_plan, width=RETRY_WIDTH * search_plan.width)
            seen = {item.text for item in scored}
            scored += [item for item in _scored(engine, plan, base, wider, cancel)
                       if item.text not in seen]
            ranked = ranker.rank(scored, wanted=request.best_of, consensus=True)
        if plan.scope == "line" and cursor_line.strip() and not goes_on_the_line(request.suffix):
            # Asked mid-line for the rest of the line, nothing is no answer: the line
            # ending where the cursor is (``  }`` as it stands, rather than ``  },``) is
            # what the model often likes best, but a client that asks wants text to accept
            # or ignore. (A suffix that goes on on the cursor's line may need nothing.)
            ranked = _text_first(ranked, ranker)
        reference = _clean_block(plan, ranker) if new_block else None
        if reference is not None and (not ranked or ranker.parse_errors(ranked[0].text)
                                      > ranker.parse_errors(reference)):
            # Every block breaks the parse: the model's likeliest few are code of some other
            # construct (match arms after an `if`, statements in a struct literal). A wider
            # search finds blocks that fit more often; failing that, the longest start of a
            # candidate that parses, closed (or the block closed empty) beats broken code.
            wider = dataclasses.replace(search_plan, width=RETRY_WIDTH * search_plan.width)
            more = _scored(engine, plan, base, wider, cancel, RETRY_WIDTH * JOINT_SCORED)
            seen = {item.text for item in scored}
            scored += [item for item in more if item.text not in seen]
            ranked = ranker.rank(scored, wanted=request.best_of)
            if not ranked or ranker.parse_errors(ranked[0].text) \
                    > ranker.parse_errors(reference):
                ranked = _clean_start(engine, plan, base, ranker, ranked, reference) + ranked
        top = request.params.logprobs or 0
        if not ranked:  # nothing the scope allows is likely at all
            return [Choice("", [], "stop", plan.healed.removed_chars)]
        return [_choice(engine, base, item.payload, plan, top)
                for item in ranked]


def _text_first(ranked: list[Scored[Found]], ranker: Ranker) -> list[Scored[Found]]:
    """``ranked`` with its best candidate that writes something first, when the best of
    all writes nothing and the other is at most EMPTY_MARGIN behind it and parses as well
    (the ranker parsed only the first when it parsed; with no grammar to tell, the line
    stays as it is)."""
    if not ranked or ranked[0].text.strip() or not ranker.parses:
        return ranked
    best = next((c for c in ranked if c.text.strip()), None)
    if best is None or best.score < ranked[0].score - EMPTY_MARGIN \
            or ranker.parse_errors(best.text) > ranker.parse_errors(ranked[0].text):
        return ranked
    return [best, *(c for c in ranked if c is not best)]


def _scored(engine: Engine, plan: _Plan, base: Session, search_plan: SearchPlan,
            cancel: threading.Event | None,
            joint: int = JOINT_SCORED) -> list[Scored[Found]]:
    """The search's finished candidates, their texts finished, scored for the ranker (with a
    suffix, by the probability of their join with it)."""
    request = plan.request
    with ExitStack() as stack:
        spare = [stack.enter_context(engine.sessions(plan.model))
                 for _ in range(sessions_needed(search_plan))]
        found = search(spare, base, engine.prefix_index, engine.token_table,
                       plan.model.kernels, search_plan, cancel)
    found = _finish_texts(found, plan)
    if plan.scope == "line":
        found += _analogies(engine, plan, base, found)
    found = _unique(found)
    scored = [Scored(f.text, f.logprob, len(f.tokens), f.finish == "stop", f)
              for f in found]
    if request.suffix is not None:
        # Scoring the join costs a pass over middle + suffix start: the leaders only.
        scored.sort(key=lambda item: -item.logprob / length_penalty(item.length))
        scored = scored[:max(joint, request.best_of)]
        for item in scored:
            # The search's penalties (a loop, a misplaced line, a bracket left open)
            # are not the model's: they carry over to the join's probability.
            penalties = item.payload.logprob - math.fsum(item.payload.logprobs)
            item.logprob = _joint_logprob(engine, plan, item.text, base) + penalties
    return scored


def _clean_block(plan: _Plan, ranker: Ranker) -> str | None:
    """A block that adds no parse error where the cursor's opens one, to measure candidates
    by: closed empty (a bracket's block), or Python's ``pass`` one step in; None when no
    parse is checked or the body's indentation is not known."""
    if not ranker.parses:
        return None
    end = plan.block_end
    if end.brackets:
        # (a closer the suffix starts with may be the block's or the code's around it)
        closed = {end.closed_empty(plan.request.suffix), end.closed_empty(None)}
        return min(sorted(closed), key=ranker.parse_errors)
    indent = body_indent(plan.text, plan.language)
    return None if indent is None else "\n" + " " * indent + "pass"


def _clean_start(engine: Engine, plan: _Plan, base: Session, ranker: Ranker,
                 ranked: list[Scored[Found]], reference: str) -> list[Scored[Found]]:
    """The longest start (whole lines) of the best candidates that, closed, parses as well
    as ``reference``; else, for a bracket's block, the block closed empty. The model's own
    tokens and log-probabilities for the text."""
    end = plan.block_end
    limit = ranker.parse_errors(reference)
    chosen = ""
    for item in ranked[:CLEAN_START_CANDIDATES]:
        lines = item.text.split("\n")
        for count in range(len(lines) - 1, 1, -1):
            text = end.closing("\n".join(lines[:count]).rstrip(" \t"), plan.request.suffix)
            if text.strip(" \t\n" + _CLOSING_BRACKETS) \
                    and ranker.parse_errors(text) <= limit:
                chosen = text
                break
        if chosen:
            break
    if not chosen:
        if not end.brackets:
            return []
        chosen = reference
    tokens, logprobs = _forced(engine, plan, base, chosen)
    found = Found(tokens, logprobs, chosen, "stop", math.fsum(logprobs))
    return [Scored(chosen, found.logprob, len(tokens), True, found)]


_CLOSING_BRACKETS = ")]};,"


def _analogies(engine: Engine, plan: _Plan, base: Session, found: list[Found]) -> list[Found]:
    """Lines that go on the way nearby lines of the same shape do (app/engine/analogy.py),
    each candidate that ended its line mixed with them: their scores are the mixture's."""
    nearby = nearby_lines(plan.text, plan.request.suffix)
    head = plan.text.rsplit("\n", 1)[-1]
    ended = sorted((f for f in found if f.finish == "stop"),
                   key=lambda f: -f.logprob)[:analogy.CANDIDATES]
    added: list[Found] = []
    for item in ended:
        found_here = analogy.analogy(head + item.text, nearby)
        if found_here is None:
            continue
        # The candidate's text without its ending (the token that broke the line).
        prefix = item.logprob - item.logprobs[-1]
        ends, goes_on = analogy.shares(found_here)
        for extension, share in goes_on.items():
            text = item.text + extension
            tokens, logprobs = _forced(engine, plan, base, text)
            added.append(Found(tokens, logprobs, text, "stop",
                               analogy.mixed(math.fsum(logprobs), prefix, share)))
        item.logprob = analogy.mixed(item.logprob, prefix, ends)
    return added


def _forced(engine: Engine, plan: _Plan, base: Session | None,
            text: str) -> tuple[list[int], list[float]]:
    """The tokens of the taken-back text + ``text`` and the model's log-probability of each
    after the healed prompt (``base``'s history when given, else read afresh)."""
    removed = plan.healed.removed.decode("utf-8", errors="replace")
    ids = engine.tokenizer.encode(removed + text).tolist()
    logprobs = []
    with engine.sessions(plan.model) as session:
        if base is not None:
            session.copy_from(base)
        else:
            session.reset(plan.history)
        for token in ids:
            logprobs.append(math.log(float(session.distribution()[token])))
            session.push(token)
    return ids, logprobs


def _finish_texts(found: list[Found], plan: _Plan) -> list[Found]:
    suffix = plan.request.suffix
    if plan.scope == "block" and opener_line(plan.text) is not None:
        # A braced block the model left for the code after it gets its closing line (its
        # text only: the last streamed piece carries it; no token of the model's stands
        # for it in logprobs).
        end = plan.block_end
        for item in found:
            item.text = end.closing(item.text, suffix)
    if suffix is None:
        return found
    if plan.scope == "line":
        for item in found:
            item.text = join_line(item.text, suffix)
    elif suffix.lstrip(" \t").startswith("\n"):
        for item in found:
            item.text = item.text.rstrip(" \t\n") if item.text.strip() else item.text
    else:
        # The suffix goes on the block's closing line (`}` + `);`): what the last line
        # wrote of it already is left to the suffix.
        for item in found:
            item.text = join_line(item.text, suffix)
    return found


def _unique(found: list[Found]) -> list[Found]:
    """One candidate per text (two tokenizations of one text: the likelier)."""
    best: dict[str, Found] = {}
    for item in found:
        held = best.get(item.text)
        if held is None or item.logprob > held.logprob:
            best[item.text] = item
    return list(best.values())


def _joint_logprob(engine: Engine, plan: _Plan, middle: str,
                   base: Session | None = None) -> float:
    """log P(taken-back text + middle + the suffix's start | the healed prompt): the
    probability of the filled-in text as the tokenizer writes it, joins included."""
    suffix = plan.request.suffix or ""
    head = "\n".join(suffix.split("\n")[:SUFFIX_SCORED_LINES])[:SUFFIX_SCORED_CHARS]
    return sum(_forced(engine, plan, base, middle + head)[1])


def _choice(engine: Engine, base: Session, found: Found, plan: _Plan, top: int) -> Choice:
    """The candidate's tokens with the model's log-probabilities (and ``top``
    alternatives), as far as its text reaches."""
    entries: list[TokenLogprob] = []
    if top:
        with engine.sessions(plan.model) as session:
            session.copy_from(base)
            for token in found.tokens:
                probs = session.distribution()
                entries.append(engine.entry(token, probs, top))
                session.push(token)
    else:
        for token, logprob in zip(found.tokens, found.logprobs, strict=True):
            data = engine.token_bytes(token)
            entries.append(TokenLogprob(token, engine.token_text(token), list(data), logprob, []))
    entries = _reaching(entries, found.text, plan.healed.removed)
    return Choice(found.text, entries, found.finish, plan.healed.removed_chars)


def _reaching(entries: list[TokenLogprob], text: str, removed: bytes) -> list[TokenLogprob]:
    """The tokens whose bytes reach into ``text`` (those wholly past its end are dropped)."""
    need = len(removed) + len(text.encode("utf-8"))
    kept: list[TokenLogprob] = []
    covered = 0
    for entry in entries:
        if covered >= need and kept:
            break
        kept.append(entry)
        covered += len(entry.bytes)
    return kept


def _as_deltas(engine: Engine, choice: Choice) -> Iterator[Delta]:
    if not choice.tokens:
        yield Delta(choice.text, [], choice.finish_reason)
        return
    sent = 0
    skip = choice.healed
    last = len(choice.tokens) - 1
    for number, token in enumerate(choice.tokens):
        piece = token.text
        if skip:
            taken = min(skip, len(piece))
            piece, skip = piece[taken:], skip - taken
        piece = choice.text[sent:sent + len(piece)] if number < last else choice.text[sent:]
        sent += len(piece)
        delta = Delta(piece, [token], choice.finish_reason if number == last else None)
        if number == 0:
            delta.healed = choice.healed
        yield delta
