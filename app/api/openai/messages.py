"""Reading a chat request's ``messages`` into :class:`app.chat_template.Message` values.

Their shape is the request contract's (app/api/openai/contract_parts.py, validated before they
get here: the roles, the text-only parts). Tool use in the history is accepted: an
assistant message may carry ``tool_calls`` (and no content), written into the conversation
as ``name(arguments)`` lines so the model sees what was called; a ``tool`` message (with
its ``tool_call_id``) contributes its content, the tool's result.
"""

from __future__ import annotations

from app.api.openai import contract_parts as parts
from app.chat_template import ROLES, Message


def read_messages(messages: list[parts.Message]) -> list[Message]:
    return [_message(m) for m in messages]


def _message(message: parts.Message) -> Message:
    content = message.content
    text = "".join(p.value for p in content) if isinstance(content, list) else content or ""
    if message.role == "assistant":
        calls = [f"{c.function.name}({c.function.arguments or ''})"
                 for c in message.tool_calls or []]
        text = "\n".join(part for part in (text, *calls) if part)
    return Message(ROLES[message.role], text, message.name)
