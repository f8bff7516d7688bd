"""``GET /tokenizer_info``: the tokenizer described as vLLM describes it, which is what
lm-evaluation-harness's ``tokenizer_backend=remote`` reads (lm_eval/utils.py,
``RemoteTokenizer`` and ``check_remote_tokenizer_support``) before it tokenizes through
``POST /tokenize`` (``{"prompt"}`` → ``{"tokens"}``) and ``POST /detokenize``
(``{"tokens"}`` → ``{"prompt"}``).

The vocabulary has no special tokens, so ``bos_token``, ``eos_token`` and ``pad_token`` are
null: the harness then stops generations only at each task's own ``until`` strings, and a
loglikelihood request with an empty context needs ``custom_prefix_token_id`` in its model
arguments. ``chat_template`` is a Jinja template equal to app/chat_template.py's (the
harness renders it itself for chat-templated tasks).
"""

from __future__ import annotations

import falcon

from app.api.runtime.engine_slot import EngineSlot

# app/chat_template.render in Jinja: each non-empty content, then a blank line.
CHAT_TEMPLATE = ("{% for message in messages %}{% if message['content'] %}"
                 "{{ message['content'] }}\n\n{% endif %}{% endfor %}")


class TokenizerInfoResource:
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
