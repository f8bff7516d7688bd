"""``response_format: {"type": "json_object"}``: replies that are always one valid JSON object.

Constrained decoding on top of the engine's public contract: at each step the engine scores
the text so far and returns its most likely next tokens (:meth:`EngineProtocol.score` with
``top``); tokens whose text would break JSON are dropped (:class:`JsonPrefix` decides), and
one of the rest is chosen with the request's temperature and seed. When no likely token fits,
the one character that moves the object forward is written instead (open a key, end a string,
close the object: see :meth:`JsonPrefix.nudge`), and when the token budget runs out the
shortest text that completes the object is appended. The
reply's tokens are finally scored once more so their log-probabilities are the model's own.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from app.api.body import Fields
from app.api.generation import Choice, ClientWatch
from app.api.json_prefix import JsonPrefix
from app.engine.types import Delta, EngineProtocol, SamplingParams
from app.errors import ClientDisconnected, InvalidRequest

# Next-token alternatives examined per step (the most the engine reports).
CANDIDATES = 20
# Budget when the caller sets none: a JSON reply needs no more, and each step rescans.
DEFAULT_MAX_TOKENS = 256


def requested(fields: Fields) -> bool:
    """Whether the request asks for JSON mode (``text`` is the default; schemas are refused
    rather than silently not enforced)."""
    response_format = fields.nested("response_format")
    if response_format is None:
        return False
    kind = response_format.string("type", "text",
                                  choices=("text", "json_object", "json_schema"))
    if kind == "json_schema":
        raise InvalidRequest("response_format 'json_schema' is not supported; use "
                             "{\"type\": \"json_object\"} for valid JSON",
                             param="response_format.type")
    return kind == "json_object"


def generate(engine: EngineProtocol, prompt_ids: np.ndarray, params: SamplingParams,
             watch: ClientWatch) -> Choice:
    tokenizer = engine.tokenizer
    budget = params.max_tokens if params.max_tokens is not None else DEFAULT_MAX_TOKENS
    rng = np.random.default_rng(params.seed)
    state = JsonPrefix()
    context = [int(i) for i in prompt_ids]
    # The reply is an object: its first character is not the model's to choose.
    out = [int(i) for i in tokenizer.encode("{")]
    state.feed("{")
    while not state.complete and len(out) < budget:
        if watch.gone():
            raise ClientDisconnected("the client closed the connection")
        # The last position's alternatives are the next-token distribution; the appended
        # token itself (any id) is not used.
        top = engine.score([*context, *out, 0], CANDIDATES)[-1].top
        options = []
        for token_id, _, logprob in top:
            trial = state.copy()
            if trial.feed(tokenizer.decode([token_id])):
                options.append((token_id, logprob, trial))
        if options:
            token_id, _, state = _choose(options, params.temperature, rng)
            out.append(token_id)
        else:
            forced = state.nudge()
            state.feed(forced)
            out.extend(int(i) for i in tokenizer.encode(forced))
    finish = "stop" if state.complete else "length"
    if not state.complete:
        out.extend(int(i) for i in tokenizer.encode(state.closing()))
    tokens = engine.score([*context, *out], params.logprobs or 0)[len(context):]
    return Choice(tokenizer.decode(out), tokens, finish)


def _choose(options: list[tuple[int, float, JsonPrefix]], temperature: float,
            rng: np.random.Generator) -> tuple[int, float, JsonPrefix]:
    if temperature <= 0:
        return max(options, key=lambda o: o[1])
    logits = np.array([o[1] for o in options]) / temperature
    weights = np.exp(logits - logits.max())
    return options[int(rng.choice(len(options), p=weights / weights.sum()))]


def as_deltas(choice: Choice) -> Iterator[Delta]:
    yield Delta(choice.text, choice.tokens, choice.finish_reason)  # type: ignore[arg-type]
