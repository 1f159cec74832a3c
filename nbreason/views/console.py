"""The terminal view: renders the event stream with rich. Decides nothing.

Text from the model, the sandbox, the question or a trace can carry terminal escape sequences
(clear the screen, set the window title, hide a hyperlink, overwrite a line). Each such string
goes through `safe.terminal_text`, which shows control characters as visible escapes, and
reaches rich as `Text`, never as markup: `[link=...]` in an answer stays text. Markdown links
show their address instead of becoming terminal hyperlinks.
"""

from __future__ import annotations

import time

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from ..events import (AttemptAnswer, BudgetUpdate, Check, Code, Continues, Decision, Error, Event, FinalAnswer,
                      ModelCall, ModelDelta, Observation, Plan, Rebuilt, Retry, RunStarted, Stopped, Vote)
from .safe import terminal_text
from .templates import count_text, number_text
from .html import competing_text, confidence_text, continues_text, money, rebuilt_text

STREAM_TAIL = 400  # characters of streaming text shown while the model writes


def _limit(spent, limit, fmt="{}") -> str:
    shown = "?" if spent is None else fmt.format(spent)
    return shown if limit is None else f"{shown}/{fmt.format(limit)}"


def _text(value, style: str = "") -> Text:
    """Untrusted text as a rich `Text` (no markup), control characters made visible."""
    return Text(terminal_text(value), style=style)


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
        if self.quiet and not isinstance(event, (FinalAnswer, Error, Rebuilt)):
            return
        if event.attempt and not isinstance(event, (FinalAnswer, RunStarted)) and handler:
            self.console.print(_text(f"── attempt {event.attempt}", style="dim cyan"), end=" ")
        if event.attempt and isinstance(event, (FinalAnswer, RunStarted)):
            if isinstance(event, FinalAnswer):
                self.console.print(_text(f"attempt {event.attempt} answered {event.answer!r} ({event.stop_reason}, "
                                         f"reward {number_text(event.reward)})", style="cyan"))
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
            self._live.update(_text(self._stream[-STREAM_TAIL:], style="dim"), refresh=True)

    def _end_stream(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self._stream = ""

    def _on_run_started(self, e: RunStarted) -> None:
        cfg = e.config if isinstance(e.config, dict) else {}
        body = _text(e.question)
        if isinstance(e.continues, Continues):
            body = Group(body, _text(continues_text(e.continues), style="dim"))
        self.console.print(Panel(body, title="nbreason", subtitle=_text(
            f"model {cfg.get('model')} · sandbox {cfg.get('sandbox')} · protocol {cfg.get('protocol')}"
            + (f" · checks {cfg['checks']}" if cfg.get("checks") else "")
            + (f" · spends at most ${money(cfg.get('cost_ceiling'))}" if _number(cfg.get("cost_ceiling")) else ""))))

    def _on_rebuilt(self, e: Rebuilt) -> None:
        self.console.print(_text(rebuilt_text(e), style="yellow"))

    def _on_model_call(self, e: ModelCall) -> None:
        u = e.usage
        extra = f" + {u.reasoning_tokens} reasoning" if u.reasoning_tokens else ""
        self.console.print(_text(f"step {e.step} · model {number_text(e.duration, 1)}s · {u.prompt_tokens} prompt + "
                                 f"{u.completion_tokens} completion tokens{extra}", style="dim"))

    def _on_plan(self, e: Plan) -> None:
        self.console.print(Panel(Markdown(terminal_text(e.text), hyperlinks=False),
                                 title=_text(f"step {e.step} · plan"), border_style="blue"))

    def _on_code(self, e: Code) -> None:
        self.console.print(Panel(Syntax(terminal_text(e.code), "python", theme="ansi_dark", line_numbers=False),
                                 title=_text(f"step {e.step} · code"), border_style="cyan"))

    def _on_observation(self, e: Observation) -> None:
        style = "green" if e.ok else "red"
        self.console.print(Panel(_text(e.summary or "(no output)"), border_style=style,
                                 title=_text(f"step {e.step} · output ({number_text(e.duration)}s)")))

    def _on_check(self, e: Check) -> None:
        lines = [_text(f"reward {number_text(e.reward)}" + (f" for answer {e.answer!r}" if e.answer else ""),
                       style="bold")]
        lines += [_text(f"  {s.name} = {number_text(s.value)}: {s.reason}", style="dim") for s in e.signals]
        self.console.print(Group(*lines))

    def _on_decision(self, e: Decision) -> None:
        self.console.print(_text(f"→ {e.action}: {e.reason}", style="magenta"))

    def _on_budget(self, e: BudgetUpdate) -> None:
        s, lim = e.spent, e.limits

        def limit(key):
            return getattr(lim, key, None) if lim is not None else None

        cost = "cost unknown" if s.cost is None else f"${number_text(s.cost, 4)}"
        seconds = f"{number_text(s.seconds, 1)}s"
        if limit("seconds"):
            seconds += f"/{number_text(limit('seconds'), 0)}s"
        self.console.print(_text(
            f"budget: steps {_limit(s.steps, limit('steps'))} · "
            f"tokens {_limit(s.tokens, limit('tokens'))} · {seconds} · {cost}", style="dim"))

    def _on_retry(self, e: Retry) -> None:
        self.console.print(_text(f"retry {e.number} in {number_text(e.wait, 1)}s: {e.reason}", style="yellow"))

    def _on_error(self, e: Error) -> None:
        self.console.print(_text(("error: " if e.fatal else "note: ") + str(e.message),
                                 style="red" if e.fatal else "yellow"))

    def _on_stopped(self, e: Stopped) -> None:
        self.console.print(_text(e.reason, style="bold yellow"))

    def _on_vote(self, e: Vote) -> None:
        from rich.table import Table

        table = Table(title=_text(f"{e.strategy} over {len(e.answers)} attempts"), title_justify="left")
        for column in ("attempt", "answer", "reward", "tokens", "ended"):
            table.add_column(column)
        for r in (r for r in e.answers if isinstance(r, AttemptAnswer)):
            style = "bold green" if r.attempt == e.winner_attempt else ""
            # Text cells: a str cell would be read as rich markup ("[link=...]").
            table.add_row(_text(r.attempt), _text(r.answer), _text(number_text(r.reward)),
                          _text(count_text(r.tokens)), _text(r.stop_reason), style=style)
        self.console.print(table)
        self.console.print(_text(f"winner: {e.why}" + (f" · stopped early: {e.stopped_early}" if e.stopped_early
                                                         else ""), style="green"))

    def _on_final(self, e: FinalAnswer) -> None:
        cost = "cost unknown" if e.usage.cost is None else f"${e.usage.cost:.4f}"
        body = _text(e.answer if e.answer is not None else "(no answer)", style="bold")
        disagree = competing_text(e)
        if disagree:
            body = Group(body, _text(f"the methods disagree: {disagree}", style="yellow"))
        self.console.print(Panel(body, title="final answer", border_style="green" if e.verified else "yellow",
                                 subtitle=_text(f"{e.stop_reason} · {confidence_text(e)} · reward "
                                                f"{number_text(e.reward)} · "
                                                f"{e.steps} steps · {e.usage.total_tokens} tokens · {cost} · "
                                                f"{number_text(e.elapsed, 1)}s")))


def _number(value) -> bool:
    """A positive finite number (a trace may hold anything in its config, 400-digit integers too)."""
    return money(value) is not None
