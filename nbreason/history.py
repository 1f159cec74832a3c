"""The conversation the model sees, kept inside its context window.

The rule, stated once:
  * one observation is cut to `observation_chars` (head and tail kept, with a note of
    how many characters were cut);
  * while the whole history is longer than `context_chars`, the oldest observation not
    among the last two steps is replaced by a one-line digest, then the oldest code;
  * the system prompt, the question and the last two steps are always kept verbatim.
Nothing is dropped from the trace: it records every observation in full (bounded by the
sandbox's own output cap).
"""

from __future__ import annotations

from dataclasses import dataclass, field

KEEP_RECENT = 2


def cut(text: str, limit: int) -> tuple[str, int]:
    """Keep the head and tail of `text` within `limit` characters; return (text, chars cut)."""
    if len(text) <= limit:
        return text, 0
    head = int(limit * 0.6)
    tail = max(0, limit - head - 60)
    dropped = len(text) - head - tail
    note = f"\n… {dropped} characters cut …\n"
    return text[:head] + note + (text[-tail:] if tail else ""), dropped


@dataclass
class History:
    context_chars: int = 12_000
    messages: list[dict] = field(default_factory=list)
    # index into messages -> step number, for messages that may be digested
    _steps: dict[int, int] = field(default_factory=dict)
    digested: int = 0

    def add(self, message: dict, step: int | None = None) -> None:
        if step is not None:
            self._steps[len(self.messages)] = step
        self.messages.append(message)

    def size(self) -> int:
        return sum(len(str(m.get("content") or "")) + len(str(m.get("tool_calls") or "")) for m in self.messages)

    def fit(self) -> list[dict]:
        """Digest old steps until the history fits, then return it."""
        if self.size() <= self.context_chars:
            return self.messages
        last_step = max(self._steps.values(), default=0)
        old = [i for i, s in sorted(self._steps.items()) if s <= last_step - KEEP_RECENT]
        # observations (user / tool messages) first, then the model's own replies
        order = [i for i in old if self.messages[i]["role"] != "assistant"]
        order += [i for i in old if self.messages[i]["role"] == "assistant"]
        for i in order:
            if self.size() <= self.context_chars:
                break
            self._digest(i)
        return self.messages

    def _digest(self, index: int) -> None:
        message = dict(self.messages[index])
        content = str(message.get("content") or "")
        if content.startswith("[step ") and content.endswith("(see the trace)]"):
            return
        step = self._steps[index]
        first = next((line.strip() for line in content.splitlines() if line.strip()), "")[:80]
        what = "reply" if message["role"] == "assistant" else "output"
        message["content"] = f"[step {step} {what}, {len(content)} chars, shortened: {first!r} (see the trace)]"
        self.messages[index] = message
        self.digested += 1

    def shrink(self) -> None:
        """The server said the prompt is too long: allow half of what was sent, and refit."""
        self.context_chars = max(1_000, min(self.context_chars, self.size()) // 2)
        self.fit()

    def truncate(self, length: int) -> None:
        """Forget everything after the first `length` messages (backtracking)."""
        del self.messages[length:]
        self._steps = {i: step for i, step in self._steps.items() if i < length}
