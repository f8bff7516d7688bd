"""A character-level JSON recogniser that knows whether a text can still become valid JSON.

Used by JSON mode to keep every generated token inside the language, and to finish a value
that ran out of tokens (:meth:`JsonPrefix.closing` is the shortest text that completes it).
The top level must be an object, as OpenAI's ``json_object`` mode promises.
"""

from __future__ import annotations

import copy

_WS = " \t\n\r"
_HEX = "0123456789abcdefABCDEF"
# Long runs of whitespace are valid JSON but never useful; forbidding them stops a model
# from spending its whole budget on blank lines. A newline plus four spaces of indentation per
# open container is allowed, so indented JSON still passes.
INDENT = 4
# Likewise a string may not run on forever: past this many characters it must end, which
# makes a statistical model of code write several short fields rather than one long one.
MAX_STRING = 64

# Modes: what the next character may be.
START, VALUE, VALUE_OR_END, KEY, KEY_OR_END, COLON, AFTER, STRING, NUMBER, LITERAL, DONE = (
    range(11))


class JsonPrefix:
    def __init__(self) -> None:
        self.stack: list[str] = []      # "{" or "[" for each open container
        self.mode = START
        self.key = False                # the open string is an object key
        self.escape = 0                 # 0: none; 1: after "\"; 2..5: hex digits left + 1
        self.number = ""                # state of the open number
        self.literal = ""               # rest of the open true/false/null
        self.whitespace = 0
        self.length = 0                 # characters in the open string

    @property
    def complete(self) -> bool:
        return self.mode == DONE

    def copy(self) -> JsonPrefix:
        clone = copy.copy(self)
        clone.stack = list(self.stack)
        return clone

    def feed(self, text: str) -> bool:
        """Advance over ``text``; False (and a state to throw away) if it cannot be JSON."""
        return all(self._char(ch) for ch in text)

    # -- one character ------------------------------------------------------------------

    def _char(self, ch: str) -> bool:
        mode = self.mode
        if mode == STRING:
            return self._string(ch)
        if mode == NUMBER:
            if self._number(ch):
                return True
            if self.number not in ("zero", "int", "frac", "exp"):
                return False
            self.mode = AFTER
            return self._char(ch)
        if mode == LITERAL:
            if not self.literal or ch != self.literal[0]:
                return False
            self.literal = self.literal[1:]
            if not self.literal:
                self.mode = AFTER
                self._after_value()
            return True
        if ch in _WS:
            if mode == DONE:
                return False
            self.whitespace += 1
            return self.whitespace <= 1 + INDENT * len(self.stack)
        self.whitespace = 0
        if mode == START:
            return self._open(ch) if ch == "{" else False
        if mode in (VALUE, VALUE_OR_END):
            if ch == "]" and mode == VALUE_OR_END:
                return self._close("[")
            return self._value(ch)
        if mode in (KEY, KEY_OR_END):
            if ch == "}" and mode == KEY_OR_END:
                return self._close("{")
            if ch == '"':
                self.mode, self.key = STRING, True
                return True
            return False
        if mode == COLON:
            if ch == ":":
                self.mode = VALUE
                return True
            return False
        if mode == AFTER:
            top = self.stack[-1]
            if ch == ",":
                self.mode = KEY if top == "{" else VALUE
                return True
            if (ch == "}" and top == "{") or (ch == "]" and top == "["):
                return self._close(top)
            return False
        return False

    def _value(self, ch: str) -> bool:
        if ch in "{[":
            return self._open(ch)
        if ch == '"':
            self.mode, self.key = STRING, False
            return True
        if ch == "-" or ch.isdigit():
            self.mode = NUMBER
            self.number = "sign" if ch == "-" else ("zero" if ch == "0" else "int")
            return ch.isascii()
        for word in ("true", "false", "null"):
            if ch == word[0]:
                self.mode, self.literal = LITERAL, word[1:]
                return True
        return False

    def _open(self, ch: str) -> bool:
        self.stack.append(ch)
        self.mode = KEY_OR_END if ch == "{" else VALUE_OR_END
        return True

    def _close(self, opener: str) -> bool:
        if not self.stack or self.stack[-1] != opener:
            return False
        self.stack.pop()
        self.mode = AFTER
        self._after_value()
        return True

    def _after_value(self) -> None:
        if not self.stack:
            self.mode = DONE

    def _string(self, ch: str) -> bool:
        if self.escape == 1:
            if ch == "u":
                self.escape = 5
                return True
            if ch in '"\\/bfnrt':
                self.escape = 0
                return True
            return False
        if self.escape > 1:
            if ch not in _HEX:
                return False
            self.escape = self.escape - 1 if self.escape > 2 else 0
            return True
        if ch == "\\":
            self.escape = 1
            return True
        if ch == '"':
            self.length = 0
            if self.key:
                self.mode = COLON
            else:
                self.mode = AFTER
                self._after_value()
            return True
        self.length += 1
        return ch >= " " and self.length <= MAX_STRING  # control characters must be escaped

    def _number(self, ch: str) -> bool:
        state = self.number
        digit = ch.isascii() and ch.isdigit()
        transitions = {
            "sign": {"digit": "int", "0": "zero"},
            "zero": {".": "dot", "e": "e"},
            "int": {"digit": "int", ".": "dot", "e": "e"},
            "dot": {"digit": "frac"},
            "frac": {"digit": "frac", "e": "e"},
            "e": {"sign": "esign", "digit": "exp"},
            "esign": {"digit": "exp"},
            "exp": {"digit": "exp"},
        }[state]
        if ch == "0" and "0" in transitions:
            self.number = transitions["0"]
        elif digit and "digit" in transitions:
            self.number = transitions["digit"]
        elif ch in "eE" and "e" in transitions:
            self.number = "e"
        elif ch == "." and "." in transitions:
            self.number = "dot"
        elif ch in "+-" and "sign" in transitions:
            self.number = "esign"
        else:
            return False
        return True

    # -- finishing ------------------------------------------------------------------------

    def nudge(self) -> str:
        """The one character that moves a stuck reply forward: open a key or a string value,
        write the colon, end the string, close the container."""
        if self.mode == START:
            return "{"
        if self.mode in (KEY, KEY_OR_END, VALUE, VALUE_OR_END):
            return '"'
        if self.mode == COLON:
            return ":"
        if self.mode == STRING:
            return {0: '"', 1: "n"}.get(self.escape, "0")
        if self.mode == AFTER:
            return "}" if self.stack[-1] == "{" else "]"
        return self.closing()[:1]

    def closing(self) -> str:
        """The shortest text that makes what was fed so far one complete JSON object."""
        out = []
        mode = self.mode
        if mode == START:
            return "{}"
        if mode == STRING:
            out.append({0: "", 1: "n"}.get(self.escape, "0" * (self.escape - 1)))
            out.append('"')
            if self.key:
                out.append(": null")
        elif mode == NUMBER:
            if self.number in ("sign", "dot", "e", "esign"):
                out.append("0")
        elif mode == LITERAL:
            out.append(self.literal)
        elif mode == COLON:
            out.append(": null")
        elif mode == VALUE:
            out.append("null")
        elif mode == KEY:
            out.append('"": null')
        out.extend("}" if opener == "{" else "]" for opener in reversed(self.stack))
        return "".join(out)
