"""Reading a chat request's ``messages`` into :class:`app.chat_template.Message` values.

Tool use in the history is accepted: an assistant message may carry ``tool_calls`` (and no
content), written into the conversation as ``name(arguments)`` lines so the model sees what
was called; a ``tool`` message (with its ``tool_call_id``) contributes its content, the
tool's result.
"""

from __future__ import annotations

from typing import Any

from app.api.http.body import Fields, json_type
from app.chat_template import ROLES, Message
from app.errors import InvalidRequest

TEXT_PARTS = {"text", "input_text", "refusal"}


def read_messages(fields: Fields, name: str = "messages") -> list[Message]:
    raw = fields.array(name, required=True)
    assert raw is not None
    if not raw:
        raise fields.fail(name, "must hold at least one message")
    return [_message(item, f"{name}[{i}]") for i, item in enumerate(raw)]


def _message(item: Any, where: str) -> Message:
    if not isinstance(item, dict):
        raise InvalidRequest(f"'{where}' must be an object, not {json_type(item)}", param=where)
    f = Fields(item, where)
    role = f.string("role", required=True)
    if role not in ROLES:
        raise f.fail("role", f"must be one of {', '.join(map(repr, ROLES))}, not {role!r}")
    if role == "tool":
        f.string("tool_call_id")
    content = _content(f)
    if role == "assistant":
        calls = _tool_calls(f)
        content = "\n".join(part for part in (content, *calls) if part)
    return Message(ROLES[role], content, f.string("name"))


def _tool_calls(f: Fields) -> list[str]:
    """An assistant message's earlier calls, one ``name(arguments)`` each."""
    raw = f.array("tool_calls") or []
    calls = []
    for j, item in enumerate(raw):
        where = f"{f.path('tool_calls')}[{j}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"'{where}' must be an object, not {json_type(item)}",
                                 param=where)
        call = Fields(item, where)
        function = call.nested("function")
        if function is None:
            raise call.fail("function", "is required")
        name = function.string("name", required=True)
        calls.append(f"{name}({function.string('arguments', '') or ''})")
    return calls


def _content(f: Fields) -> str:
    value = f.raw("content")
    if value is None or isinstance(value, str):
        return value or ""
    if not isinstance(value, list):
        raise f.fail("content", f"must be a string or an array of parts, not {json_type(value)}")
    texts = []
    for j, part in enumerate(value):
        where = f"{f.path('content')}[{j}]"
        if not isinstance(part, dict):
            raise InvalidRequest(f"'{where}' must be an object", param=where)
        part_fields = Fields(part, where)
        kind = part_fields.string("type", required=True)
        if kind not in TEXT_PARTS:
            raise part_fields.fail("type", f"{kind!r} parts are not supported: this model "
                                           "reads text only")
        texts.append(part_fields.string("refusal" if kind == "refusal" else "text",
                                        required=True))
    return "".join(t for t in texts if t)
