"""Capped: a stream's text kept up to a limit, so runaway output cannot fill memory."""

from __future__ import annotations


class Capped:
    """Stream text kept up to a limit: the head and the tail, with a note of what was dropped.
    Both ends are kept because the start says what ran and the end usually says how it ended."""

    def __init__(self, limit: int):
        self.half = max(1, limit // 2)
        self.head: list[str] = []
        self.head_size = 0
        self.tail: list[str] = []
        self.tail_size = 0
        self.dropped = 0

    @property
    def full(self) -> bool:
        return self.head_size >= self.half

    def add(self, text: str) -> str:
        """Keep `text`; return the part that went into the head (what may be shown live)."""
        shown = ""
        if not self.full:
            room = self.half - self.head_size
            shown = text[:room]
            self.head.append(shown)
            self.head_size += len(shown)
            text = text[room:]
        if text:
            self.tail.append(text)
            self.tail_size += len(text)
            while self.tail_size > self.half and self.tail:
                extra = self.tail_size - self.half
                first = self.tail[0]
                if len(first) <= extra:
                    self.tail.pop(0)
                    cut = len(first)
                else:
                    self.tail[0] = first[extra:]
                    cut = extra
                self.tail_size -= cut
                self.dropped += cut
        return shown

    def chunks(self) -> list[str]:
        if not self.dropped:
            return self.head + self.tail
        note = f"\n[… {self.dropped} characters of output dropped …]\n"
        return self.head + [note] + self.tail
