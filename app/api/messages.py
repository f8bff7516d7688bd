"""Reading a chat request's ``messages`` into :class:`app.chat_template.Message` values."""

from __future__ import annotations

from typing import Any

from app.api.body import Fields, json_type
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
    return Message(ROLES[role], _content(f), f.string("name"))


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
