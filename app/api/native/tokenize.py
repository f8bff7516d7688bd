"""``POST /tokenize`` and ``POST /detokenize``: the hypercube's tokenizer over HTTP.

``/tokenize`` takes ``prompt`` (text) or ``messages`` (a chat, rendered with the chat
template, so its count equals the ``prompt_tokens`` a chat completion reports) and returns
``{"tokens", "count", "max_model_len"}``, plus each token's text with ``with_pieces``.
``/detokenize`` takes ``tokens`` and returns ``{"prompt"}``.

llama.cpp's server has the same two routes with other names: ``/tokenize`` with ``content``
(and ``add_special``, ``parse_special``, which change nothing here: the vocabulary has no
special tokens) answers ``{"tokens": [ids]}``, or with ``with_pieces`` ``{"tokens": [{"id",
"piece"}]}`` (a piece that is not whole UTF-8 is its list of bytes); ``/detokenize`` answers
both ``prompt`` and llama.cpp's ``content``. Which shape a request gets is decided by its
fields, so the clients of both keep working.

``GET /tokenizer_info`` describes the tokenizer as vLLM does, which is what
lm-evaluation-harness's ``tokenizer_backend=remote`` reads (lm_eval/utils.py,
``RemoteTokenizer`` and ``check_remote_tokenizer_support``) before it tokenizes through
``POST /tokenize`` (``{"prompt"}`` → ``{"tokens"}``) and ``POST /detokenize``
(``{"tokens"}`` → ``{"prompt"}``). The vocabulary has no special tokens, so ``bos_token``,
``eos_token`` and ``pad_token`` are null: the harness then stops generations only at each
task's own ``until`` strings, and a loglikelihood request with an empty context needs
``custom_prefix_token_id`` in its model arguments. ``chat_template`` is a Jinja template
equal to app/chat_template.py's (the harness renders it itself for chat-templated tasks).
"""

from __future__ import annotations

import falcon

from app import chat_template
from app.api.http.body import Fields, read_json
from app.api.openai.contract import read
from app.api.openai.contract_aux import DetokenizeBody, TokenizeBody
from app.api.openai.messages import read_messages
from app.api.openai.models import resolve_model
from app.api.openai.prompts import read_prompts
from app.api.runtime.engine_slot import EngineSlot
from app.engine.types import EngineProtocol
from app.errors import InvalidRequest, InvalidText

# app/chat_template.render in Jinja: each non-empty content, then a blank line.
CHAT_TEMPLATE = ("{% for message in messages %}{% if message['content'] %}"
                 "{{ message['content'] }}\n\n{% endif %}{% endfor %}")


class TokenizeResource:
    def __init__(self, slot: EngineSlot) -> None:
        self.slot = slot

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req)
        asked = read(TokenizeBody, body)
        engine = self.slot.get()
        if asked.model is not None:
            resolve_model(Fields(body), engine)
        if asked.content is not None and asked.messages is None and asked.prompt is None:
            resp.media = llamacpp_tokens(asked.content, asked.with_pieces, engine)
            return
        if (asked.messages is None) == (asked.prompt is None):
            raise InvalidRequest("send exactly one of 'prompt' or 'messages'", param="prompt")
        if asked.messages is not None:
            text = chat_template.render(read_messages(asked.messages))
        else:
            text = asked.prompt or ""
        ids = engine.tokenizer.encode(text)
        result: dict[str, object] = {
            "tokens": [int(i) for i in ids],
            "count": len(ids),
            "max_model_len": engine.info.context_length,
        }
        if asked.with_pieces:
            result["pieces"] = engine.tokenizer.token_strings(ids)
        resp.media = result


class DetokenizeResource:
    def __init__(self, slot: EngineSlot) -> None:
        self.slot = slot

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = read_json(req)
        asked = read(DetokenizeBody, body)
        engine = self.slot.get()
        if asked.model is not None:
            resolve_model(Fields(body), engine)
        if not asked.tokens:
            resp.media = {"prompt": "", "content": ""}
            return
        (prompt,) = read_prompts(asked.tokens, "tokens", engine.tokenizer)
        resp.media = {"prompt": prompt.text, "content": prompt.text}


def llamacpp_tokens(text: str, with_pieces: bool,
                    engine: EngineProtocol) -> dict[str, object]:
    """llama.cpp's ``/tokenize`` answer for ``content``."""
    try:
        ids = [int(i) for i in engine.tokenizer.encode(text)]
    except InvalidText as exc:
        raise InvalidText(f"'content': {exc.message}", param="content") from exc
    if not with_pieces:
        return {"tokens": ids}
    pieces: list[dict[str, object]] = []
    for token_id in ids:
        data = engine.tokenizer.token_bytes(token_id)
        try:
            piece: object = data.decode("utf-8")
        except UnicodeDecodeError:
            piece = list(data)
        pieces.append({"id": token_id, "piece": piece})
    return {"tokens": pieces}


class TokenizerInfoResource:
    """``GET /tokenizer_info``: the tokenizer as vLLM describes it (for the harnesses)."""

    accepts = ()

    def __init__(self, slot: EngineSlot) -> None:
        self.slot = slot

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        engine = self.slot.get()
        resp.media = {
            "tokenizer_class": "HypercubeBPE",
            "vocab_size": engine.tokenizer.vocab_size,
            "model_max_length": engine.info.context_length,
            "bos_token": None, "eos_token": None, "pad_token": None, "unk_token": None,
            "add_bos_token": False, "add_eos_token": False,
            "chat_template": CHAT_TEMPLATE,
        }
