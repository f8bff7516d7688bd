"""The request bodies of ``/v1/completions`` and ``/v1/chat/completions``, declared once.

Each field is declared here with its type, its limits (the named constants of
app/engine/limits.py) and its description, and everything else is derived from that: the
API reads bodies with :func:`read` (a broken limit is a 400 naming the field, worded by
app/api/openai/contract_errors.py), ``/openapi.json`` publishes :func:`schemas`, and the CLI's
generation flags are made from these fields (app/cli/sampling_flags.py).

The structured fields (``prompt``, ``messages``, ``tools``, ``tool_choice``,
``response_format``; their shapes in app/api/openai/contract_parts.py) are validated here
too; the modules that read them receive the validated values and check only what needs the
model or the rest of the request: ``prompt`` and ``messages`` are tokenized
(app/api/openai/prompts.py, messages.py; a token id outside the vocabulary, a prompt over the
context window), ``tools`` and ``response_format`` compiled into grammars (tools.py,
json_mode.py; an invalid schema, a tool declared twice), ``tool_choice`` matched against
the tools (tools.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, cast

from pydantic import Field, GetJsonSchemaHandler, ValidationError
from pydantic.json_schema import JsonSchemaValue, models_json_schema
from pydantic_core import CoreSchema, PydanticCustomError

from app.api.openai.contract_errors import invalid_request, phrase
from app.api.openai.contract_parts import SCHEMA_NOTE, Message, ResponseFormat, Tool, ToolChoice
from app.api.openai.contract_types import (
    Body,
    Checked,
    Integer,
    OneOf,
    WholeNumber,
    an_item,
    on_the_field,
)
from app.engine.language import LANGUAGES
from app.engine.limits import (
    DRY_ALLOWED_LENGTH_RANGE,
    DRY_BASE_RANGE,
    DRY_MAX_BREAKER_CHARS,
    DRY_MAX_BREAKERS,
    DRY_MULTIPLIER_RANGE,
    LOGIT_BIAS_RANGE,
    MAX_BEST_OF,
    MAX_LOGPROBS,
    MAX_N,
    MAX_STOP_SEQUENCES,
    MAX_TOOLS,
    MAX_TOP_LOGPROBS,
    PENALTY_RANGE,
    PROBABILITY_RANGE,
    TEMPERATURE_RANGE,
)
from app.engine.types import SCOPES, SamplingParams
from app.errors import InvalidRequest

_DEFAULTS = SamplingParams()


def _bias_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    loc = error["loc"]
    if not loc:
        return phrase(error)
    if loc[-1] == "[key]":
        return f"keys must be token ids, not {loc[0]!r}"
    return f"for token {loc[0]} {phrase(error)}"


TokenKey = Annotated[str, Field(pattern=r"^-?[0-9]+$")]
Bias = Annotated[float, Field(ge=LOGIT_BIAS_RANGE[0], le=LOGIT_BIAS_RANGE[1])]
Breaker = Annotated[str, Field(min_length=1, max_length=DRY_MAX_BREAKER_CHARS)]


class StreamOptions(Body):
    include_usage: bool = Field(False, description="end the stream with a chunk of usage "
                                                   "and no choices")


class Sampling(Body):
    """The sampling controls completions and chat share (OpenAI's ranges), and our
    repetition (DRY) penalty."""

    temperature: float = Field(
        _DEFAULTS.temperature, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1],
        description="0 is greedy (deterministic); higher is more varied")
    top_p: float = Field(_DEFAULTS.top_p, ge=PROBABILITY_RANGE[0], le=PROBABILITY_RANGE[1],
                         description="nucleus sampling: the smallest set of tokens holding "
                                     "this much probability")
    top_k: Integer = Field(_DEFAULTS.top_k, ge=0,
                           description="sample from the K most likely tokens; 0 turns it off")
    min_p: float = Field(_DEFAULTS.min_p, ge=PROBABILITY_RANGE[0], le=PROBABILITY_RANGE[1],
                         description="drop tokens less likely than this fraction of the best")
    presence_penalty: float = Field(
        _DEFAULTS.presence_penalty, ge=PENALTY_RANGE[0], le=PENALTY_RANGE[1],
        description="taken off every token already generated")
    frequency_penalty: float = Field(
        _DEFAULTS.frequency_penalty, ge=PENALTY_RANGE[0], le=PENALTY_RANGE[1],
        description="taken off a generated token once per time it was generated")
    logit_bias: Annotated[dict[TokenKey, Bias], on_the_field(_bias_problem)] | None = Field(
        None, description="token id -> a bias added to its log-probability")
    seed: Integer | None = Field(None, description="same seed and request, same output")
    stop: str | Annotated[list[str], Field(max_length=MAX_STOP_SEQUENCES)] | None = Field(
        None, description="text that ends a choice (never in its text)")
    stream: bool = Field(False, description="answer with server-sent events")
    stream_options: StreamOptions | None = None
    n: Integer = Field(1, ge=1, le=MAX_N, description="choices per prompt")
    dry_multiplier: float = Field(
        _DEFAULTS.dry_multiplier, ge=DRY_MULTIPLIER_RANGE[0], le=DRY_MULTIPLIER_RANGE[1],
        description="repetition (DRY) penalty strength; 0 turns it off")
    dry_base: float = Field(_DEFAULTS.dry_base, ge=DRY_BASE_RANGE[0], le=DRY_BASE_RANGE[1],
                            description="how fast the penalty grows with a repeat's length")
    dry_allowed_length: Integer = Field(
        _DEFAULTS.dry_allowed_length, ge=DRY_ALLOWED_LENGTH_RANGE[0],
        le=DRY_ALLOWED_LENGTH_RANGE[1],
        description="the longest repeat (in tokens) that is not penalized")
    dry_sequence_breakers: Annotated[list[Breaker], Field(max_length=DRY_MAX_BREAKERS)] = (
        Field(default_factory=lambda: list(_DEFAULTS.dry_sequence_breakers),
              description="a repeat does not reach back over a token holding one of these"))

    def params(self, *, vocab_size: int, max_tokens: int | None,
               logprobs: int | None) -> SamplingParams:
        """The engine's parameters. Stop sequences are matched by the API (see
        :func:`app.api.openai.generation.generate`), so they are :meth:`stops`, not passed here."""
        return SamplingParams(
            max_tokens=max_tokens, temperature=self.temperature, top_p=self.top_p,
            top_k=self.top_k, min_p=self.min_p, presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty, logit_bias=self._bias(vocab_size),
            stop=[], seed=self.seed, logprobs=logprobs, dry_multiplier=self.dry_multiplier,
            dry_base=self.dry_base, dry_allowed_length=self.dry_allowed_length,
            dry_sequence_breakers=list(self.dry_sequence_breakers))

    def _bias(self, vocab_size: int) -> dict[int, float]:
        result: dict[int, float] = {}
        for key, value in (self.logit_bias or {}).items():
            token = int(key)
            if not 0 <= token < vocab_size:
                # The vocabulary is the model's: the one limit the contract cannot know.
                raise InvalidRequest(f"'logit_bias' token id {token} is outside the "
                                     f"vocabulary (0–{vocab_size - 1})", param="logit_bias")
            result[token] = value
        return result

    def stops(self) -> list[str]:
        """The stop sequences asked for (an empty one stops nothing: dropped)."""
        if self.stop is None:
            return []
        return [s for s in ([self.stop] if isinstance(self.stop, str) else self.stop) if s]

    def include_usage(self) -> bool:
        """Whether the stream ends with a usage chunk. OpenAI rejects ``stream_options``
        without ``stream``; some clients send it anyway, harmlessly."""
        return self.stream and self.stream_options is not None and (
            self.stream_options.include_usage)


# One prompt is a string or token ids; several, an array of those.
TokenIds = Annotated[list[int], Field(min_length=1)]  # ids, not whole floats
# Each of several prompts is reported as itself ('prompt[1]'), a prompt of its own.
_PromptItem = Annotated[str | TokenIds, an_item(
    "must be a string or a non-empty array of token ids")]
PromptValue = str | TokenIds | Annotated[list[_PromptItem], Field(min_length=1)]


@dataclass(frozen=True)
class SeveralAtMost(Checked):
    """At most ``limit`` prompts in a :data:`PromptValue` that is an array of several
    (``Annotated[PromptValue, SeveralAtMost(n)]``), published as that branch's ``maxItems``.
    Counted once the value has matched, so a long array is reported as too long, not as
    token ids that are strings."""

    limit: int

    def __get_pydantic_json_schema__(self, schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        found = handler(schema)
        for branch in found["anyOf"]:
            if "anyOf" in branch.get("items", {}):  # prompts, not one prompt's token ids
                branch["maxItems"] = self.limit
        return found

    def _check(self, value: Any) -> Any:
        several = isinstance(value, list) and not all(isinstance(v, int) for v in value)
        if several and len(value) > self.limit:
            raise PydanticCustomError("too_long", "may hold at most {max_length} items",
                                      {"max_length": self.limit})
        return value


class CompletionBody(Sampling):
    """``POST /v1/completions``: OpenAI's fields and our extensions ``filename``,
    ``language`` and ``scope``."""

    model: str
    prompt: PromptValue = Field(description="a string, an array of strings, an array of "
                                            "token ids or an array of token-id arrays")
    suffix: str | None = Field(None, description="text after the cursor: fill in the "
                                                 "middle between the prompt and it")
    echo: bool = Field(False, description="the prompt, then its completion")
    best_of: Annotated[int, Field(ge=1, le=MAX_BEST_OF), WholeNumber] | None = Field(
        None, description="candidates drawn, the best n returned (at least n; not with "
                          "stream)")
    logprobs: Annotated[int, Field(ge=0, le=MAX_LOGPROBS), WholeNumber] | None = Field(
        None, description="each token's log-probability and this many alternatives")
    max_tokens: Integer = Field(16, ge=0, description="most tokens to generate (0, with "
                                                      "echo and logprobs, scores the prompt)")
    filename: str | None = Field(None, description="path of the file being edited: its "
                                 "language (unless `language` is given) and its project, "
                                 "whose code counts more")
    language: Annotated[str, OneOf(LANGUAGES)] | None = Field(
        None, description="the document's language (default: from `filename`, else "
                          "detected from the prompt)")
    scope: Annotated[str, OneOf(SCOPES)] | None = Field(None, description=(
        "where a choice ends: `free` at `max_tokens` or a stop (the default without "
        "`suffix`); `line` at the end of the line (never a newline); `block` at the end of "
        "the block the cursor opens (the dedent or the closing bracket); `auto` (the "
        "default with `suffix`) block after an opener (`:`, `{`, `=>`…) else line. At "
        "temperature 0, `line` and `block` are searched for the most probable completion "
        "(n-best)"))


Messages = Annotated[list[Message], Field(min_length=1)]


class ChatBody(Sampling):
    """``POST /v1/chat/completions``."""

    model: str
    messages: Messages = Field(description="the conversation, oldest first")
    max_tokens: Annotated[int, Field(ge=0), WholeNumber] | None = Field(
        None, description="most tokens a reply gets")
    max_completion_tokens: Annotated[int, Field(ge=0), WholeNumber] | None = Field(
        None, description="OpenAI's newer max_tokens")
    logprobs: bool = Field(False, description="each token's log-probability")
    top_logprobs: Annotated[int, Field(ge=0, le=MAX_TOP_LOGPROBS), WholeNumber] | None = (
        Field(None, description="alternatives per token (needs logprobs)"))
    response_format: ResponseFormat | None = Field(
        None, description="json_object: any JSON object (under the JSON Schema a system "
                          "message spells out, if one does). json_schema: " + SCHEMA_NOTE)
    tools: Annotated[list[Tool], Field(max_length=MAX_TOOLS)] | None = Field(
        None, description="Functions the reply may call. A call's arguments are decoded "
                          "under the function's parameters: " + SCHEMA_NOTE)
    tool_choice: Literal["none", "auto", "required"] | ToolChoice | None = Field(
        None, description=(
        "none: text. auto (the default with tools): a call only if a tool's name, "
        "parameter names or description match the last user message's words, else text. "
        "required: the best-matching tool (the first if none matches). A named function: "
        "that one. A call answers with message.tool_calls (one call, content null) and "
        "finish_reason 'tool_calls'; streamed, the first delta carries the role and the "
        "call's index, id, type and name, the next ones fragments of its arguments."))
    parallel_tool_calls: bool = Field(True, description="Accepted; one call is made per "
                                                        "choice.")


B = TypeVar("B", bound=Body)


def read(model: type[B], body: dict[str, Any]) -> B:
    """The body as ``model`` declares it, or the 400 naming what is wrong."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise invalid_request(exc, body) from None


REQUESTS: dict[str, type[Body]] = {"CompletionRequest": CompletionBody,
                                   "ChatCompletionRequest": ChatBody}


def schemas(requests: Mapping[str, type[Body]] = REQUESTS,
            ref_prefix: str = "#/components/schemas/") -> dict[str, Any]:
    """The request bodies' JSON schemas and the ones they refer to, by name: each body
    under the name it is published as (``CompletionRequest``, not ``CompletionBody``), and
    so are the references to it (a batch's items are completion requests)."""
    keyed, top = models_json_schema([(m, "validation") for m in requests.values()],
                                    ref_template=ref_prefix + "{model}")
    found: dict[str, Any] = dict(top.get("$defs", {}))
    renamed = {ref_prefix + body.__name__: ref_prefix + name for name, body in requests.items()}
    for name, body in requests.items():
        schema = keyed[(body, "validation")]
        found[name] = found.pop(body.__name__, schema) if "$ref" in schema else schema
    return cast("dict[str, Any]", _renamed(found, renamed))


def _renamed(node: Any, refs: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: refs.get(v, v) if k == "$ref" else _renamed(v, refs)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, refs) for v in node]
    return node
