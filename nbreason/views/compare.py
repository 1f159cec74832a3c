"""Two runs side by side: as widgets stepping together, as an HTML page, and in a terminal.

What is aligned and where the runs part ways comes from `nbreason.compare` (pure); this module
only draws it. Each side is drawn by the same pieces as a single run (`RunView`, `step_html`,
`event_text`), so everything from a trace goes through the same escaping and sanitising.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import ipywidgets as w
from markupsafe import Markup

from ..compare import Comparison, Row, compare, whole
from ..events import Check, Event, FinalAnswer, ModelDelta
from ..result import Step, fold
from . import html as static
from .replay import Stepper, replay_run_view
from .safe import terminal_text
from .templates import count_text, number_text, render

NAMES = ("A", "B")


def _settings(comparison: Comparison) -> Markup:
    return render("compare_settings.html", settings=comparison.settings, names=NAMES)


def banner_html(comparison: Comparison, reached: bool) -> Markup:
    """The settings that differ, and the first divergence once the replay has reached it."""
    return render("compare_banner.html", questions=comparison.questions, settings=_settings(comparison),
                  first=comparison.first, reached=reached)


def ends_html(comparison: Comparison, labels: tuple[str, str]) -> Markup:
    return render("compare_ends.html", runs=list(zip(NAMES, labels)), ends=comparison.ends)


# --- widgets --------------------------------------------------------------------------------

class CompareView(Stepper):
    """`CompareView(read_trace("a.jsonl"), read_trace("b.jsonl"), labels=("a.jsonl", "b.jsonl"))`.

    One position is one aligned moment: both sides advance together, a side with nothing at that
    moment stays as it is. From the first divergence on, the step where it happened is marked on
    both sides and named above them; at the end, each run's answer, reward and cost."""

    def __init__(self, left: list[Event], right: list[Event], *, labels: tuple[str, str] = NAMES,
                 speed: float = 1.0, presenter: bool = False):
        self.labels = tuple(str(label) for label in labels)
        self.comparison = compare(left, right, NAMES)
        first = self.comparison.first
        super().__init__(len(self.comparison.rows), speed=speed, presenter=presenter,
                         mark=first.row + 1 if first else -1)
        self.titles = [w.HTML(render("compare_title.html", run=name, label=label))
                       for name, label in zip(NAMES, self.labels)]
        self.views = [replay_run_view(), replay_run_view()]
        self.panes = [w.VBox([title, view.root], layout=w.Layout(width="50%", min_width="0"))
                      for title, view in zip(self.titles, self.views)]
        self.columns = w.HBox(self.panes, layout=w.Layout(width="100%", align_items="flex-start"))
        self.banner = w.HTML()
        self.ends = w.HTML(ends_html(self.comparison, self.labels), layout=w.Layout(display="none"))
        self.root.children = [self.controls, self.label, self.banner, self.columns, self.ends]
        self.root.add_class("nbreason-compare")
        self.show(0)

    @property
    def rows(self) -> list[Row]:
        return self.comparison.rows

    def _reset(self) -> None:
        self.views = [replay_run_view(), replay_run_view()]
        for pane, title, view in zip(self.panes, self.titles, self.views):
            pane.children = [title, view.root]

    def _advance(self, start: int, end: int) -> None:
        for row in self.rows[start:end]:
            for view, event in zip(self.views, (row.left, row.right)):
                if event is not None:
                    view.on_event(event)

    def show(self, position: int) -> "CompareView":
        super().show(position)
        reached = self.comparison.first is not None and self.position > self.comparison.first.row
        self.banner.value = banner_html(self.comparison, reached)
        if reached:
            self._mark(self.comparison.first)
        self.ends.layout.display = None if self.position == self.total else "none"
        return self

    def _mark(self, first) -> None:
        """Mark where the runs part ways, on both sides (a class for the page's style, a border for any page)."""
        for view in self.views:
            if first.kind == "answer":
                parts = [view.answer]
            else:
                inner = view.attempt_views.get(first.attempt) if first.attempt else view
                card = inner.cards.get(first.step) if inner is not None else None
                parts = [card.box] if card is not None else []
            for part in parts:
                part.add_class("nbreason-diverged")
                part.layout.border = "3px solid #d97706"

    def _what(self) -> str:
        if not self.position:
            return "start"
        row = self.rows[self.position - 1]
        event = row.left or row.right
        where = f"attempt {row.attempt} · " if row.attempt else ""
        where += f"step {row.step} · " if row.step and not isinstance(event, FinalAnswer) else ""
        side = "" if row.left is not None and row.right is not None else f" (only {NAMES[row.left is None]})"
        return f"{where}{event.kind}{side}"


# --- one HTML page ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _StepRow:
    attempt: int
    step: int
    cells: tuple[Markup | str, Markup | str]
    diverged: bool


def _step_keys(rows: list[Row]) -> list[tuple[int, int]]:
    keys: list[tuple[int, int]] = []
    for row in rows:
        event = row.left or row.right
        if row.step > 0 and not isinstance(event, FinalAnswer) and (row.attempt, row.step) not in keys:
            keys.append((row.attempt, row.step))
    return keys


def _summaries(events: list[Event]) -> dict[tuple[int, int], Step]:
    """Each (attempt, step) of a run, folded once (result.fold)."""
    return {(whole(a), whole(n)): step for (a, n), step in fold(events).steps.items()}


def compare_html(left: list[Event], right: list[Event], labels: tuple[str, str] = NAMES) -> Markup:
    """Both runs as one HTML fragment: the steps in aligned rows, every step unfolded, the one where
    the runs first part ways marked, then each run's answer and the table of their ends."""
    left = [e for e in left if not isinstance(e, ModelDelta)]
    right = [e for e in right if not isinstance(e, ModelDelta)]
    comparison = compare(left, right, NAMES)
    first = comparison.first
    sides = (_summaries(left), _summaries(right))
    steps = []
    for attempt, number in _step_keys(comparison.rows):
        cells = tuple(static.step_html(side[(attempt, number)], open=True) if (attempt, number) in side else ""
                      for side in sides)
        diverged = first is not None and first.kind != "answer" and (first.attempt, first.step) == (attempt, number)
        steps.append(_StepRow(attempt, number, cells, diverged))
    finals = []
    for events in (left, right):
        final = next((e for e in reversed(events) if isinstance(e, FinalAnswer) and whole(e.attempt) == 0), None)
        finals.append(static.final_html(final) if final else Markup("<i>no final answer in this trace</i>"))
    started = next((e for e in left if e.kind == "run_started"), None)
    return render("compare.html", header=static.header_html(started), banner=banner_html(comparison, True),
                  runs=list(zip(NAMES, labels)), steps=steps, finals=finals, ends=ends_html(comparison, labels))


def compare_report(left: list[Event], right: list[Event], labels: tuple[str, str] = NAMES) -> str:
    """One self-contained page (the same page, style and script ban as a single run's report)."""
    from ..export import REPORT_STYLE

    return str(render("report.html", title=f"nbreason: {labels[0]} vs {labels[1]}",
                      style=Markup(REPORT_STYLE + COMPARE_STYLE), body=compare_html(left, right, labels)))


COMPARE_STYLE = """
body { max-width: 90rem; }
.nbreason-compare-steps > tbody > tr > td, .nbreason-compare-steps > tr > td { border-top: 1px solid #ddd; }
.nbreason-compare-steps pre { white-space: pre-wrap; word-break: break-word; }
"""


# --- the terminal ------------------------------------------------------------------------------

def _event_text(event: Event) -> str | None:
    """`html.event_text`, with the answer a check judged (where two runs often differ)."""
    if isinstance(event, Check) and event.answer is not None:
        return static.event_text(event) + terminal_text(f" for answer {event.answer!r}")
    return static.event_text(event)


def print_comparison(left: list[Event], right: list[Event], labels: tuple[str, str] = NAMES, *,
                     console=None, delay: float = 0.0) -> Comparison:
    """Both runs in two columns, moment by moment; the first divergence marked with a rule, each
    run's end in a table. Text from the traces reaches the terminal with control characters shown
    as escapes (`html.event_text`), as rich `Text`, never as markup."""
    from rich.console import Console
    from rich.rule import Rule
    from rich.table import Table
    from rich.text import Text

    console = console or Console(highlight=False)
    comparison = compare(left, right, NAMES)
    first = comparison.first
    names = [f"{n} · {terminal_text(label)}" for n, label in zip(NAMES, labels)]
    console.print(Rule(Text(f"{names[0]}  vs  {names[1]}"), style="bold"))
    for question in dict.fromkeys(comparison.questions):
        console.print(Text(terminal_text(question), style="bold"))
    for name, a, b in comparison.settings:
        console.print(Text(terminal_text(f"setting {name}: {a} (A) vs {b} (B)"), style="cyan"))
    if first is None:
        console.print(Text("The two runs do the same at every step.", style="green"))

    for index, row in enumerate(comparison.rows):
        texts = [_event_text(e) if e is not None else None for e in (row.left, row.right)]
        if not any(texts):
            continue
        if first is not None and index == first.row:
            console.print(Rule(Text(terminal_text(f"≠ first divergence: {first.what}"), style="bold yellow"),
                               style="yellow"))
        grid = Table.grid(expand=True, padding=(0, 2))
        grid.add_column(width=2)
        grid.add_column(ratio=1, overflow="fold")
        grid.add_column(ratio=1, overflow="fold")
        mark = "≠" if row.differs else " "
        style = "yellow" if row.differs else ""
        grid.add_row(Text(mark, style="bold yellow"),
                     *(Text(t.strip("\n"), style=style) if t else Text("·", style="dim") for t in texts))
        console.print(grid)
        if delay:
            time.sleep(delay)

    table = Table(title="how each run ended", title_justify="left")
    table.add_column("")
    for name in names:
        table.add_column(Text(name))
    ends = comparison.ends

    def cells(fn):
        return [Text(terminal_text(fn(e))) for e in ends]

    table.add_row(Text("answer", style="bold"), *cells(
        lambda e: e.answer if e.answer is not None else ("no answer" if e.finished else "unfinished")))
    table.add_row(Text("checked"), *cells(
        lambda e: f"{ {True: 'verified', False: 'not verified'}.get(e.verified, 'unchecked')} · {e.stop_reason}"))
    table.add_row(Text("reward"), *cells(lambda e: number_text(e.reward) if e.reward is not None else "–"))
    table.add_row(Text("cost"), *cells(
        lambda e: ("$" + number_text(e.cost, 4) if isinstance(e.cost, (int, float)) else "unknown")
        + f" · {count_text(e.tokens)} tokens"))
    table.add_row(Text("took"), *cells(lambda e: f"{count_text(e.steps)} step(s) · {number_text(e.seconds, 1)} s"))
    console.print(table)
    return comparison
