"""Every limit a generation request is held to, named once.

The request contract (app/api/openai/contract.py) declares them on the wire fields, from which
the API's parsing, ``/openapi.json`` and the CLI's flags are all derived; the engine checks
the ones it depends on (stops, logprobs, the repetition penalty) again with these same
names, for callers that build a :class:`~app.engine.types.SamplingParams` themselves.
"""

from __future__ import annotations

from app.model.segment import KMAX

# A request's stop sequences. OpenAI allows 4; some clients send more to servers that
# accept them, and ours are cheap (a chat template or a dialect adds its own on top: see
# app/engine/policy.py MAX_STOPS).
MAX_STOP_SEQUENCES = 16
# Choices per prompt (n), and candidates ranked for them (best_of, /v1/completions only).
MAX_N = 128
MAX_BEST_OF = 20
# Alternatives per token: /v1/completions' legacy ``logprobs`` (OpenAI's limit is 5) and
# chat's ``top_logprobs`` (OpenAI's 20), which the engine caps for every caller.
MAX_LOGPROBS = 5
MAX_TOP_LOGPROBS = 20

# OpenAI's documented ranges of the sampling controls.
TEMPERATURE_RANGE = (0.0, 2.0)
PROBABILITY_RANGE = (0.0, 1.0)          # top_p, min_p
PENALTY_RANGE = (-2.0, 2.0)             # presence_penalty, frequency_penalty
LOGIT_BIAS_RANGE = (-100.0, 100.0)

# The repetition (DRY) penalty, our extension: the longest repeat the model's tables know
# is KMAX tokens, so a longer allowed length could never be reached.
DRY_MULTIPLIER_RANGE = (0.0, 100.0)
DRY_BASE_RANGE = (1.0, 16.0)
DRY_ALLOWED_LENGTH_RANGE = (1, KMAX)
DRY_MAX_BREAKERS = 32
DRY_MAX_BREAKER_CHARS = 32

# Functions a chat request may declare (app/api/openai/tools.py): each is compiled into a grammar.
MAX_TOOLS = 128
