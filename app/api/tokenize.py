"""``POST /tokenize`` and ``POST /detokenize``: the hypercube's tokenizer over HTTP.

``/tokenize`` takes ``prompt`` (text) or ``messages`` (a chat, rendered with the chat
template, so its count equals the ``prompt_tokens`` a chat completion reports) and returns
``{"tokens", "count", "max_model_len"}``, plus each token's text with ``with_pieces``.
``/detokenize`` takes ``tokens`` and returns ``{"prompt"}``.
"""

from __future__ import annotations

import falcon

from app import chat_template
from app.api.body import Fields, read_json
from app.api.engine_slot import EngineSlot
from app.api.messages import read_messages
from app.api.models import resolve_model
from app.api.prompts import read_prompts
from app.errors import InvalidRequest


class TokenizeResource:
    def __init__(self, slot: EngineSlot) -> None:
        self.slot = slot

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        f = Fields(read_json(req))
        engine = self.slot.get()
        if f.present("model"):
            resolve_model(f, engine)
        if f.present("messages") == f.present("prompt"):
            raise InvalidRequest("send exactly one of 'prompt' or 'messages'", param="prompt")
        if f.present("messages"):
            text = chat_template.render(read_messages(f))
        else:
            text = f.string("prompt", required=True) or ""
        ids = engine.tokenizer.encode(text)
        result: dict[str, object] = {
            "tokens": [int(i) for i in ids],
            "count": len(ids),
            "max_model_len": engine.info.context_length,
        }
        if f.boolean("with_pieces"):
            result["pieces"] = engine.tokenizer.token_strings(ids)
        resp.media = result


class DetokenizeResource:
    def __init__(self, slot: EngineSlot) -> None:
        self.slot = slot

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        f = Fields(read_json(req))
        engine = self.slot.get()
        if f.present("model"):
            resolve_model(f, engine)
        tokens = f.array("tokens", required=True)
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens or []):
            raise f.fail("tokens", "must be an array of token ids")
        if not tokens:
            resp.media = {"prompt": ""}
            return
        (prompt,) = read_prompts(f, "tokens", engine.tokenizer)
        resp.media = {"prompt": prompt.text}
