"""Code a chat message asks to continue, completed the way an editor would complete it.

Grounded chat does not answer such a message from the index: the completion engine
continues the code, to the end of the block it opens (else freely, to a stop or the budget),
in its language, its last word healed. The reply shows the code and its continuation in one
fenced block, so a chat window renders it as code; usage and logprobs count the generated
tokens only. The HTTP chat, its dialects and ``hypercube chat`` share this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.language import resolve_language
from app.engine.scope import opener_line
from app.engine.types import GenerationRequest, SamplingParams, Scope
from app.errors import InvalidRequest


@dataclass(frozen=True)
class Continuation:
    code: str
    language: str | None
    scope: Scope
    opening: str          # the fence and the code, shown before the generated text
    closing: str = "\n```"

    @classmethod
    def of(cls, code: str, tag: str | None) -> Continuation:
        """``tag``: the language tag of the fence the code came in, if any."""
        try:
            language = resolve_language(tag, None, code)
        except InvalidRequest:  # a fence tag that names no language we know
            language = resolve_language(None, None, code)
        scope: Scope = "block" if opener_line(code) is not None else "free"
        return cls(code, language, scope, f"```{tag or language or ''}\n{code}")

    def request(self, prompt_ids: np.ndarray, params: SamplingParams, stops: list[str],
                n: int = 1) -> GenerationRequest:
        """The engine's request; ``prompt_ids`` are the code's tokens (or their end)."""
        return GenerationRequest(prompt_ids=prompt_ids, params=params, stops=stops, n=n,
                                 best_of=n, scope=self.scope, language=self.language)

    def show(self, text: str) -> str:
        return self.opening + text + self.closing
