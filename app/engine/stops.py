"""Stop sequences matched across token boundaries.

Text that could still turn out to be the start of a stop sequence is held back until it
either completes one (then it is dropped with everything after it) or cannot any more.
"""

from __future__ import annotations

from collections.abc import Sequence


class StopMatcher:
    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self._held = ""
        self.stopped = False

    def push(self, text: str) -> str:
        """Feed new text; return what is safe to emit now (sets ``stopped`` on a match)."""
        if not self.stops:
            return text
        buffer = self._held + text
        hits = [i for i in (buffer.find(s) for s in self.stops) if i >= 0]
        if hits:
            self.stopped = True
            self._held = ""
            return buffer[:min(hits)]
        keep = 0
        for stop in self.stops:
            for length in range(min(len(stop) - 1, len(buffer)), keep, -1):
                if buffer.endswith(stop[:length]):
                    keep = length
                    break
        self._held = buffer[len(buffer) - keep:] if keep else ""
        return buffer[:len(buffer) - keep]

    def flush(self) -> str:
        """The held-back text, at the end of a generation that did not stop on a match."""
        held, self._held = self._held, ""
        return held
