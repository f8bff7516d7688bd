"""Constrained decoding: only tokens a grammar allows may come next (contract 4).

The engine's per-token loop takes an optional :class:`TokenConstraint`. Before each choice it
asks the constraint which token ids may come next (:meth:`TokenConstraint.mask`), zeroes the
others in the model's distribution, lets the sampler choose as usual (temperature, top_p,
seed, the repetition penalty: all of it applies among the allowed tokens), puts the
distribution back (reported log-probabilities stay the model's own), and tells the constraint
which token was chosen (:meth:`TokenConstraint.advance`). The generation ends with
finish_reason ``"stop"`` once the constraint is :meth:`TokenConstraint.done`.

:class:`GrammarConstraint` is the implementation: llguidance's ``LLMatcher`` over our own
vocabulary (byte-level BPE with 256 byte fallbacks, handed to llguidance as the bytes of each
token), compiled from a JSON schema by llguidance's own JSON-schema compiler; nothing here
parses JSON. Grammars are compact JSON (``", "`` and ``": "`` separators, no other
whitespace outside strings), so a statistical model of code cannot spend its budget on blank
lines. Our vocabulary has no end-of-text token; llguidance needs one, so an extra id
``vocab_size`` stands for it and is never offered to the model: a grammar is done when it
allows nothing else.

A statistical model of code rarely closes a string or an array of its own accord, so
strings and arrays the schema leaves unbounded are bounded here (:func:`bounded`: at most
:data:`MAX_STRING` characters, :data:`MAX_ITEMS` items); anything valid under the bounded
schema is valid under the caller's, and objects finish within a small token budget. For the
same reason an object schema that names its properties gets no others (JSON Schema would
allow any; a model of code would fill them with noise).

A budget can still run out mid-object. A constraint made with ``budget`` keeps an estimate of
how many tokens the shortest way to finish takes (:meth:`GrammarConstraint._finish_path`:
follow the grammar taking a closing token — only ``"``, ``]``, ``}`` in it — where one is
allowed, else a separator, else the longest allowed token (a single digit in a number), on
the matcher itself, then roll back). Near the end (within :data:`SLACK`), a token that opens
structure (another item, a key, a nested value) is allowed only if the way to finish after it
still fits; once the tokens left are within :data:`MARGIN` of the estimate, the reply follows
that path. So it closes within the budget whenever the budget can hold it; otherwise (a
budget too small for the shortest object) it ends with finish_reason ``"length"``.

Bounds: a schema's JSON text may be at most :data:`MAX_SCHEMA_BYTES`; compiling and every
mask step run under llguidance's parser limits (:func:`limits`), which cap the lexer states,
Earley items and grammar size, so no schema can take unbounded time or memory.
"""

from __future__ import annotations

import functools
import json
import threading
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from app.errors import InvalidRequest
from app.tokenizer import Tokenizer

if TYPE_CHECKING:
    import llguidance

# A schema larger than this is refused before it is compiled (OpenAI's own limits are of the
# same order: 5,000 properties, 15,000 characters of names and enum values).
MAX_SCHEMA_BYTES = 64 * 1024


def _llguidance() -> Any:
    """llguidance, imported on first use: the engine (and so every command's start) need not
    pay for it until a request asks for a grammar."""
    import llguidance

    return llguidance


@functools.cache
def limits() -> llguidance.LLParserLimits:
    return _llguidance().LLParserLimits(max_grammar_size=200_000, max_lexer_states=100_000,
                                        verbose_errors=False)


MAX_STRING = 32
MAX_ITEMS = 8
# Compact JSON: the separators a model of Python source has seen in dicts, nothing else.
COMPILE_OPTIONS: dict[str, Any] = {
    "item_separator": ", ", "key_separator": ": ", "whitespace_flexible": False}


_CLOSERS = frozenset(b'"]}')
_SEPARATORS = frozenset(b", :")
# Tokens that can open structure: another item, a key, a nested value or a string. One of
# them can lengthen the way to finish by more than MARGIN (``,`` in an object needs a key,
# ``: ``, a value and the closer: seven tokens here), so near the end each is tried before
# it is allowed. Other tokens (letters, digits inside a string or a number) lengthen it by
# a token or two at most.
_OPENERS = frozenset(b',:{["')
# The finishing estimate is redone at every token once the tokens left come within SLACK of
# it (a path being followed stays valid as it is), now and then before that; within SLACK,
# openers that would leave too little budget to finish are refused.
SLACK = 12
# The path is taken this many tokens early: the free choices that are not openers can
# lengthen it by a token or two each.
MARGIN = 4


class _Vocabulary:
    """Our tokenizer as llguidance's ``TokenizerWrapper`` expects it."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        size = tokenizer.vocab_size
        # 0xFF starts no UTF-8 text: llguidance's marker for a special token.
        self.tokens = [tokenizer.token_bytes(i) for i in range(size)] + [b"\xff<|end|>"]
        self.eos_token_id = size
        self.bos_token_id = None
        self.special_token_ids = [size]
        self._tokenizer = tokenizer

    def __call__(self, text: str | bytes) -> list[int]:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        return [int(i) for i in self._tokenizer.encode(text)]


def _finish_rank(token: bytes) -> int:
    """How much the finishing path likes a token: closing ones most, then separators, then
    the longest text (fewest tokens for a forced key or word), except digits: one digit
    ends a number soonest."""
    if not token:
        return -1
    if _CLOSERS.issuperset(token):
        return 3000 + len(token)
    if _SEPARATORS.issuperset(token):
        return 2000 + len(token)
    if token.isdigit():
        return 1000 - len(token)
    return 1000 + len(token)


class _GrammarVocabulary:
    """What every grammar over one tokenizer shares."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        vocabulary = _Vocabulary(tokenizer)
        # JSON slices: llguidance's token-trie partition for JSON strings, which cut the mask
        # of a bounded string several times over here.
        llg = _llguidance()
        self.tokenizer = llg.LLTokenizer(llg.TokenizerWrapper(vocabulary),
                                         slices=llg.LLTokenizer.json_slices())
        self.finish_rank = np.array([_finish_rank(t) for t in vocabulary.tokens[:-1]],
                                    dtype=np.int64)
        self.opens = np.array([not _OPENERS.isdisjoint(t) for t in vocabulary.tokens[:-1]],
                              dtype=bool)


_vocabularies: weakref.WeakKeyDictionary[Tokenizer, _GrammarVocabulary] = (
    weakref.WeakKeyDictionary())
_lock = threading.Lock()


def _vocabulary(tokenizer: Tokenizer) -> _GrammarVocabulary:
    with _lock:
        found = _vocabularies.get(tokenizer)
        if found is None:
            found = _vocabularies[tokenizer] = _GrammarVocabulary(tokenizer)
        return found


def grammar_tokenizer(tokenizer: Tokenizer) -> llguidance.LLTokenizer:
    """llguidance's view of ``tokenizer`` (built once per tokenizer, ~50 ms for 8k tokens)."""
    return _vocabulary(tokenizer).tokenizer


class Grammar:
    """A compiled, checked grammar; :meth:`constraint` starts one generation under it."""

    def __init__(self, tokenizer: Tokenizer, text: str) -> None:
        self._vocabulary = _vocabulary(tokenizer)
        self._vocab_size = tokenizer.vocab_size
        self._text = text

    def constraint(self, budget: int | None = None) -> GrammarConstraint:
        """A fresh constraint; with ``budget`` (the generation's max_tokens), its last tokens
        close what is open (see the module)."""
        matcher = _llguidance().LLMatcher(self._vocabulary.tokenizer, self._text,
                                          limits=limits(), log_level=0)
        return GrammarConstraint(matcher, self._vocab_size, budget,
                                 self._vocabulary.finish_rank, self._vocabulary.opens)


def json_schema_grammar(schema: Any, tokenizer: Tokenizer, param: str) -> Grammar:
    """The grammar of JSON texts valid under ``schema``.

    Raises:
        InvalidRequest: naming ``param``, if the schema is not an object, too large, or
            not one llguidance can compile (invalid, or using an unsupported keyword).
    """
    if not isinstance(schema, dict):
        raise InvalidRequest(f"'{param}' must be a JSON schema object", param=param)
    text = json.dumps(schema)
    if len(text.encode("utf-8")) > MAX_SCHEMA_BYTES:
        raise InvalidRequest(f"'{param}' is too large: at most {MAX_SCHEMA_BYTES} bytes of "
                             "JSON schema are accepted", param=param)
    try:
        grammar = _llguidance().LLMatcher.grammar_from_json_schema(json.dumps(bounded(schema)),
                                                                overrides=COMPILE_OPTIONS)
    except ValueError as exc:
        raise InvalidRequest(f"'{param}' is not a valid JSON schema: {exc}",
                             param=param) from exc
    llg_tokenizer = grammar_tokenizer(tokenizer)
    failed, messages = _llguidance().LLMatcher.validate_grammar_with_warnings(
        grammar, llg_tokenizer, limits=limits())
    if failed:
        raise InvalidRequest(f"'{param}' cannot be enforced: {messages[0]}", param=param)
    return Grammar(tokenizer, grammar)


def _any_object() -> dict[str, Any]:
    # Keys look like names (a model of code writes identifiers there anyway) and are short.
    return {"type": "object", "additionalProperties": False, "maxProperties": MAX_ITEMS,
            "patternProperties": {"^[A-Za-z_][A-Za-z0-9_ -]{0,31}$": {"$ref": "#/$defs/value"}}}


# Any JSON object, as bounded as the schemas of :func:`bounded`.
ANY_OBJECT: dict[str, Any] = {
    "$defs": {"value": {"anyOf": [
        {"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"},
        {"type": "array", "items": {"$ref": "#/$defs/value"}}, _any_object()]}},
    **_any_object()}


def json_object_grammar(tokenizer: Tokenizer) -> Grammar:
    """Any JSON object (``response_format: json_object``)."""
    return json_schema_grammar(ANY_OBJECT, tokenizer, "response_format")


# Keywords whose values are data, not schemas: never rewritten.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "example"})
_FIXED_STRING = ("maxLength", "enum", "const", "pattern", "format")


def bounded(schema: Any, combined: bool = False) -> Any:
    """``schema`` with every unbounded string and array bounded, and no properties beyond
    those an object schema names (a copy; see the module). Objects under ``allOf`` keep
    their ``additionalProperties`` as they are (closing one would refuse its siblings')."""
    if isinstance(schema, list):
        return [bounded(item, combined) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: value if key in _DATA_KEYWORDS else bounded(value, key == "allOf")
           for key, value in schema.items()}
    kinds = schema.get("type")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds) if isinstance(kinds, list) else set()
    if "string" in kinds and not any(k in schema for k in _FIXED_STRING):
        minimum = schema.get("minLength")
        out["maxLength"] = max(MAX_STRING, minimum if isinstance(minimum, int) else 0)
    if "array" in kinds and "maxItems" not in schema:
        minimum = schema.get("minItems")
        out["maxItems"] = max(MAX_ITEMS, minimum if isinstance(minimum, int) else 0)
    if (isinstance(schema.get("properties"), dict) and not combined
            and "allOf" not in schema
            and not any(k in schema for k in ("additionalProperties", "patternProperties"))):
        out["additionalProperties"] = False
    return out


class GrammarConstraint:
    """:class:`TokenConstraint` backed by one llguidance ``LLMatcher``."""

    def __init__(self, matcher: llguidance.LLMatcher, vocab_size: int,
                 budget: int | None = None, finish_rank: np.ndarray | None = None,
                 opens: np.ndarray | None = None) -> None:
        if matcher.is_error():
            raise InvalidRequest(f"the grammar cannot be enforced: {matcher.get_error()}",
                                 param="response_format")
        self._matcher = matcher
        self._size = vocab_size
        # One bit per token id, the end-of-text id included, as llguidance writes it.
        self._bits = np.zeros((vocab_size + 1 + 31) // 32, dtype=np.int32)
        self._allowed: np.ndarray | None = None  # the mask for the next token, once computed
        self._budget = budget if finish_rank is not None else None
        self._rank = finish_rank
        self._opens = opens if opens is not None else np.zeros(vocab_size, dtype=bool)
        self._count = 0                          # tokens taken so far
        self._path: list[int] = []               # the shortest-looking way to finish
        self._needed = 0                         # tokens it takes (estimated when stale)
        self._finishes = False                   # whether the path reaches the end
        self._valid = False                      # whether it starts from the current state
        self._check_at = 0                       # when to look again while far from the end

    def _compute(self) -> np.ndarray:
        bits = self._bits
        self._matcher.unsafe_compute_mask_ptr(bits.ctypes.data, bits.nbytes)
        return np.unpackbits(bits.view(np.uint8), bitorder="little")[:self._size].view(bool)

    def _next(self) -> np.ndarray:
        if self._allowed is None:
            self._allowed = self._compute()
        return self._allowed

    def _finish_path(self, limit: int, allowed: np.ndarray) -> tuple[list[int], bool]:
        """The tokens of the shortest-looking way to finish (at most ``limit``) from the
        matcher's state, whose mask is ``allowed``, and whether they do finish; the matcher
        is left as it was."""
        matcher, rank = self._matcher, self._rank
        assert rank is not None
        finishes = False
        path: list[int] = []
        while len(path) < limit:
            if matcher.is_stopped() or matcher.is_error():
                finishes = True
                break
            if path:
                allowed = self._compute()
            if not allowed.any():
                finishes = True
                break
            token = int(np.argmax(np.where(allowed, rank, -1)))
            if not matcher.consume_token(token):
                break
            path.append(token)
        if path:
            matcher.rollback(len(path))
        return path, finishes

    def mask(self, allowed: np.ndarray) -> None:
        allowed[:] = self._next()
        if self._budget is None:
            return
        left = self._budget - self._count
        if not self._valid and (self._count >= self._check_at
                                or left <= self._needed + SLACK):
            self._path, self._finishes = self._finish_path(left + 1, self._next())
            self._needed = len(self._path) if self._finishes else left + 1
            self._valid = True
            # Far from the end, look again only once the budget could have run down to it
            # (a free token lengthens the way to finish by two tokens or so).
            self._check_at = self._count + max(1, (left - self._needed - SLACK) // 2)
        if self._valid and self._path and left <= self._needed + MARGIN:
            # Only just enough budget left: finish the shortest way.
            allowed[:] = False
            allowed[self._path[0]] = True
        elif self._valid and self._finishes and left <= self._needed + SLACK:
            self._refuse_dead_ends(allowed, left)

    def _refuse_dead_ends(self, allowed: np.ndarray, left: int) -> None:
        """Refuse the openers after which the way to finish no longer fits the budget (each
        is taken on the matcher, its path walked, then rolled back)."""
        matcher = self._matcher
        for token in np.flatnonzero(allowed & self._opens).tolist():
            if token == self._path[0]:
                continue
            fits = False
            if matcher.consume_token(token):
                path, finishes = self._finish_path(left - 1, self._compute())
                fits = finishes and len(path) <= left - 1
                matcher.rollback(1)
            allowed[token] = fits

    def advance(self, token_id: int) -> None:
        if not self._matcher.consume_token(token_id):
            raise InvalidRequest(f"token {token_id} does not fit the grammar: "
                                 f"{self._matcher.get_error()}", param="response_format")
        self._allowed = None
        self._count += 1
        if self._valid and self._path and self._path[0] == token_id:
            # The path's first token taken: the rest of it is still the way to finish.
            self._path.pop(0)
            self._needed -= 1
        else:
            self._valid = False

    def done(self) -> bool:
        matcher = self._matcher
        return (matcher.is_stopped() or matcher.is_error()
                or not self._next().any())
