"""The terminal view: renders the event stream with rich. Decides nothing."""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from ..events import (BudgetUpdate, Check, Code, Decision, Error, Event, FinalAnswer, ModelCall, ModelDelta,
                      Observation, Plan, Retry, RunStarted, Stopped)

STREAM_TAIL = 400  # characters of streaming text shown while the model writes


def _limit(spent, limit, fmt="{}") -> str:
    shown = "?" if spent is None else fmt.format(spent)
    return shown if limit is None else f"{shown}/{fmt.format(limit)}"


class ConsoleView:
    """Subscriber: `reason(..., subscribers=[ConsoleView()])`."""

    def __init__(self, console: Console | None = None, *, quiet: bool = False):
        self.console = console or Console(highlight=False)
        self.quiet = quiet
        self._stream = ""
        self._live: Live | None = None
        self._last_refresh = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, ModelDelta):
            self._delta(event.text)
            return
        self._end_stream()
        handler = getattr(self, "_on_" + event.kind, None)
        if self.quiet and not isinstance(event, (FinalAnswer, Error)):
            return
        if event.attempt and not isinstance(event, (FinalAnswer, RunStarted)) and handler:
            self.console.print(Text(f"── attempt {event.attempt}", style="dim cyan"), end=" ")
        if event.attempt and isinstance(event, (FinalAnswer, RunStarted)):
            if isinstance(event, FinalAnswer):
                self.console.print(Text(f"attempt {event.attempt} answered {event.answer!r} ({event.stop_reason}, "
                                        f"reward {event.reward:.2f})", style="cyan"))
            return
        if handler:
            handler(event)

    # streaming text: a transient live line that vanishes once the reply is parsed
    def _delta(self, text: str) -> None:
        if self.quiet or not self.console.is_terminal:
            return
        self._stream += text
        if self._live is None:
            self._live = Live(console=self.console, transient=True, auto_refresh=False)
            self._live.start()
        now = time.monotonic()
        if now - self._last_refresh > 0.1:  # ≤ 10 redraws a second
            self._last_refresh = now
            self._live.update(Text(self._stream[-STREAM_TAIL:], style="dim"), refresh=True)

    def _end_stream(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self._stream = ""

    def _on_run_started(self, e: RunStarted) -> None:
        cfg = e.config
        self.console.print(Panel(Text(e.question), title="nbreason", subtitle=(
            f"model {cfg.get('model')} · sandbox {cfg.get('sandbox')} · protocol {cfg.get('protocol')}")))

    def _on_model_call(self, e: ModelCall) -> None:
        u = e.usage
        extra = f" + {u.reasoning_tokens} reasoning" if u.reasoning_tokens else ""
        self.console.print(Text(f"step {e.step} · model {e.duration:.1f}s · {u.prompt_tokens} prompt + "
                                f"{u.completion_tokens} completion tokens{extra}", style="dim"))

    def _on_plan(self, e: Plan) -> None:
        self.console.print(Panel(Markdown(e.text), title=f"step {e.step} · plan", border_style="blue"))

    def _on_code(self, e: Code) -> None:
        self.console.print(Panel(Syntax(e.code, "python", theme="ansi_dark", line_numbers=False),
                                 title=f"step {e.step} · code", border_style="cyan"))

    def _on_observation(self, e: Observation) -> None:
        style = "green" if e.ok else "red"
        self.console.print(Panel(Text(e.summary or "(no output)"), title=f"step {e.step} · output "
                                 f"({e.duration:.2f}s)", border_style=style))

    def _on_check(self, e: Check) -> None:
        lines = [Text(f"reward {e.reward:.2f}" + (f" for answer {e.answer!r}" if e.answer else ""), style="bold")]
        lines += [Text(f"  {s.name} = {s.value:.2f}: {s.reason}", style="dim") for s in e.signals]
        self.console.print(Group(*lines))

    def _on_decision(self, e: Decision) -> None:
        self.console.print(Text(f"→ {e.action}: {e.reason}", style="magenta"))

    def _on_budget(self, e: BudgetUpdate) -> None:
        s, lim = e.spent, e.limits
        cost = "cost unknown" if s.get("cost") is None else f"${s['cost']:.4f}"
        self.console.print(Text(
            f"budget: steps {_limit(s['steps'], lim['steps'])} · tokens {_limit(s['tokens'], lim['tokens'])} · "
            f"{s['seconds']:.1f}s" + (f"/{lim['seconds']:.0f}s" if lim.get("seconds") else "") + f" · {cost}",
            style="dim"))

    def _on_retry(self, e: Retry) -> None:
        self.console.print(Text(f"retry {e.number} in {e.wait:.1f}s: {e.reason}", style="yellow"))

    def _on_error(self, e: Error) -> None:
        self.console.print(Text(("error: " if e.fatal else "note: ") + e.message, style="red" if e.fatal else "yellow"))

    def _on_stopped(self, e: Stopped) -> None:
        self.console.print(Text(e.reason, style="bold yellow"))

    def _on_vote(self, e) -> None:
        from rich.table import Table

        table = Table(title=f"{e.strategy} over {len(e.answers)} attempts", title_justify="left")
        for column in ("attempt", "answer", "reward", "tokens", "ended"):
            table.add_column(column)
        for r in e.answers:
            style = "bold green" if r["attempt"] == e.winner_attempt else ""
            table.add_row(str(r["attempt"]), str(r["answer"]), f"{r['reward']:.2f}", f"{r['tokens']:,}",
                          r["stop_reason"], style=style)
        self.console.print(table)
        self.console.print(Text(f"winner: {e.why}" + (f" · stopped early: {e.stopped_early}" if e.stopped_early
                                                        else ""), style="green"))

    def _on_final(self, e: FinalAnswer) -> None:
        verified = {True: "verified", False: "not verified", None: "unchecked"}[e.verified]
        cost = "cost unknown" if e.usage.cost is None else f"${e.usage.cost:.4f}"
        body = Text(str(e.answer) if e.answer is not None else "(no answer)", style="bold")
        self.console.print(Panel(body, title="final answer", border_style="green" if e.verified else "yellow",
                                 subtitle=f"{e.stop_reason} · reward {e.reward:.2f} ({verified}) · {e.steps} steps · "
                                 f"{e.usage.total_tokens} tokens · {cost} · {e.elapsed:.1f}s"))
