"""Text filters that end a streamed choice: stop sequences, the end of the scope, the
start of the suffix. Each takes new text and returns what is safe to emit now, holding back
what may still turn out to be past the end; ``stopped`` turns true at the end."""

from __future__ import annotations

from typing import Protocol

from app.engine.scope import BlockEnd, SuffixLine
from app.engine.stops import StopMatcher


class TextEnd(Protocol):
    stopped: bool

    def push(self, text: str) -> str: ...

    def flush(self) -> str: ...


class BlockTerminator:
    """The end of the block the cursor opens (see :class:`BlockEnd`); trailing blank lines
    are held back until the next line shows whether it is still inside the block."""

    def __init__(self, end: BlockEnd) -> None:
        self.end = end
        self.sent = 0
        self.stopped = False

    def push(self, text: str) -> str:
        cut = self.end.feed(text)
        full = self.end.text
        if cut is not None:
            self.stopped = True
            stop = max(len(full[:cut].rstrip(" \t\n")), self.sent)
            return self._release(stop)
        return self._release(len(full.rstrip(" \t\n")))

    def _release(self, upto: int) -> str:
        if upto <= self.sent:
            return ""
        piece = self.end.text[self.sent:upto]
        self.sent = upto
        return piece

    def flush(self) -> str:
        return self._release(self.end.finish())


class SuffixTerminator:
    """Ends a multi-line fill-in-the-middle where the middle writes the suffix's first
    non-blank line (that line and the blank ones before it are dropped)."""

    def __init__(self, first_line: SuffixLine, suffix_starts_line: bool) -> None:
        self.first_line = first_line
        self.trim = suffix_starts_line
        self.text = ""
        self.sent = 0
        self.judged = 0
        self.stopped = False

    def push(self, text: str) -> str:
        self.text += text
        # Complete lines are judged; the line being written is held back.
        while True:
            newline = self.text.find("\n", self.judged)
            if newline < 0:
                break
            if self.first_line.matches(self.text[self.judged:newline], whole=self.judged > 0):
                self.stopped = True
                return self._release(self._cut(self.judged))
            self.judged = newline + 1
        # Blank lines wait with the line being written: the suffix may follow them.
        safe = len(self.text[:self.judged].rstrip(" \t\n")) if self.trim else self.judged
        return self._release(max(safe, self.sent))

    def _cut(self, line_start: int) -> int:
        head = self.text[:line_start]
        return max(len(head.rstrip(" \t\n")) if self.trim else line_start, self.sent)

    def _release(self, upto: int) -> str:
        if upto <= self.sent:
            return ""
        piece = self.text[self.sent:upto]
        self.sent = upto
        return piece

    def flush(self) -> str:
        if self.stopped:
            return ""
        last = self.text[self.text.rfind("\n") + 1:]
        if self.first_line.matches(last, whole=len(self.text) > len(last)):
            self.stopped = True
            return self._release(self._cut(len(self.text) - len(last)))
        return self._release(len(self.text))


def line_end() -> StopMatcher:
    return StopMatcher(["\n"])
