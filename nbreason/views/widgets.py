"""The live view of a run in a notebook (ipywidgets 8).

`RunView.on_event` is a run subscriber: it only turns events into widget state. Widgets
change through traits and `Output.outputs` only, never `with output:` — the events arrive
from the run's task, and `with` would capture by whichever message is current.

The view folds events with the run's own fold (`result.RunFold`), so its step cards hold the
very `Step`s the static HTML and the exported notebook are made of.

An `HTML` widget's value becomes the page's markup as it is, and JupyterLab renders an
`Output` widget's bundles as trusted (scripts run, HTML is not sanitised): so every value
here comes from the autoescaping templates, and the bundles from `execution_outputs`, which
sanitises them.
"""

from __future__ import annotations

import asyncio
import math
import time

import ipywidgets as w

from ..events import (
    BudgetUpdate, Check, Code, Decision, Error, Event, FinalAnswer, ModelCall, ModelDelta,
    Observation, Plan, Rebuilt, Retry, RunStarted, Stopped, Vote,
)
from ..result import RunFold, Step
from . import html as static
from .templates import render

STREAM_INTERVAL = 0.1  # seconds between live text updates: at most 10 per second


class StepCard:
    """The widgets of one step inside the accordion, showing its `Step` as the fold fills it in."""

    def __init__(self, step: Step):
        self.step = step
        self.stream = w.HTML(layout=w.Layout(display="none"))
        self.stream.add_class("nbreason-stream")
        self.plan = w.HTML()
        self.code = w.HTML()
        self.outputs = w.Output()
        self.outputs.add_class("nbreason-outputs")
        self.check = w.HTML()
        self.footer = w.HTML()
        self.box = w.VBox([self.stream, self.plan, self.code, self.outputs, self.check, self.footer])
        self.box.add_class("nbreason-step")
        self.streamed = ""

    def show_stream(self, text: str) -> None:
        self.stream.value = render("stream.html", text=text)
        self.stream.layout.display = None

    def add(self, event: Event) -> None:
        """Show what `event` (already folded into the step) changed."""
        s = self.step
        if isinstance(event, ModelCall):
            # The reply is complete: its plan, code and answer events show it from here on,
            # so a live view ends up identical to a replay of the trace (which has no deltas).
            self.streamed = ""
            self.stream.value = ""
            self.stream.layout.display = "none"
        elif isinstance(event, Plan):
            self.stream.layout.display = "none"  # the plan and code say it better
            self.plan.value = static.markdown_html(event.text)
        elif isinstance(event, Code):
            self.stream.layout.display = "none"
            self.code.value = static.code_html(event.code, event.language)
        elif isinstance(event, Observation):
            self.outputs.outputs = tuple(static.execution_outputs(s.execution))
        elif isinstance(event, Check):
            self.check.value = static.check_html(event)
        self.footer.value = render("footer.html", usage=f"{s.usage.total_tokens:,} tokens · {s.seconds:.1f} s",
                                   decision=s.decision, errors=[static.error_line(e) for e in s.errors])


def _numeric(value) -> bool:
    """A number a progress bar can show: a trace's settings may hold 10**400, NaN or Infinity."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


class Gauge:
    """Spent / limit of one budget."""

    def __init__(self, key: str, label: str):
        self.key = key
        self.bar = w.FloatProgress(value=0, min=0, max=1, description=label,
                                   layout=w.Layout(width="260px"))
        self.text = w.HTML()
        self.box = w.HBox([self.bar, self.text])
        self.box.add_class(f"nbreason-gauge-{key}")

    def set(self, spent, limit) -> None:
        spent = spent or 0
        if _numeric(limit) and limit > 0:
            self.bar.max = float(limit)
            self.bar.value = min(float(spent), float(limit)) if _numeric(spent) else 0.0
            self.bar.bar_style = "danger" if _numeric(spent) and spent >= limit else ""
        else:  # unlimited, or not a number (a hand-crafted trace): an empty bar, the text says it
            self.bar.max, self.bar.value = 1.0, 0.0
        self.text.value = render("text.html", text=f"{static.format_amount(self.key, spent)} / "
                                                 f"{static.format_amount(self.key, limit)}")


class RunView:
    """A run as widgets. Pass `on_event` to the run's subscribers and display `root`."""

    def __init__(self, stop: asyncio.Event | None = None, on_export=None, *, nested: bool = False,
                 fold: RunFold | None = None):
        self.nested = nested  # the view of one attempt inside a run's view
        self.fold = fold if fold is not None else RunFold()  # an attempt's view shares its run's fold
        self.stop_event = stop
        self.on_export = on_export  # called with the list of code cells to insert
        self.started: RunStarted | None = None
        self.final: FinalAnswer | None = None
        self.cards: dict[int, StepCard] = {}  # by step number: a view shows one attempt's steps
        self._last_flush = 0.0
        self._flush_handle = None

        self.header = w.HTML(static.header_html(None))
        self.notes = w.HTML()  # a follow-up's rebuilt state
        self.notes.add_class("nbreason-notes")
        self.gauges = {key: Gauge(key, label) for key, label, _ in static.BUDGETS}
        self.status = w.HTML(render("status.html", text="starting…"))
        self.status.add_class("nbreason-status")
        self.steps = w.Accordion()
        self.steps.add_class("nbreason-steps")
        self.attempt_views: dict[int, RunView] = {}
        self.attempt_titles: dict[int, str] = {}  # kept here: setting children resets a Tab's titles
        self.attempts = w.Tab(layout=w.Layout(display="none"))
        self.attempts.add_class("nbreason-attempts")
        self.vote = w.HTML(layout=w.Layout(display="none"))
        self.vote.add_class("nbreason-vote")
        self.errors = w.HTML()
        self.answer = w.HTML(layout=w.Layout(display="none"))
        self.answer.add_class("nbreason-final")
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger",
                                    tooltip="End the run after the current action; keeps every step so far")
        self.stop_button.add_class("nbreason-stop")
        self.stop_button.on_click(self._stop_clicked)
        self.export_button = w.Button(description="Export code to cells", icon="download", disabled=True,
                                      layout=w.Layout(width="auto"),
                                      tooltip="Insert the code that ran without error as new cells below")
        self.export_button.add_class("nbreason-export")
        self.export_button.on_click(self._export_clicked)
        self.export_output = w.Output()
        self.root = w.VBox([
            self.header, self.notes,
            w.VBox([g.box for g in self.gauges.values()]),
            self.status, self.steps, self.attempts, self.vote, self.errors, self.answer,
            w.HBox([self.stop_button, self.export_button]),
            self.export_output,
        ])
        self.root.add_class("nbreason-run")

    def _repr_mimebundle_(self, **kwargs):
        return self.root._repr_mimebundle_(**kwargs)

    # --- the subscriber -------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        self._show(event, self.fold.add(event))

    def _show(self, event: Event, step: Step | None) -> None:
        """Show `event`, already folded (`step`: the step it went into, None for run-level events)."""
        if event.attempt > 0 and not self.nested:
            self._attempt_view(event.attempt)._show(event, step)
            if isinstance(event, FinalAnswer):
                self._title_attempt(event)
            return
        if isinstance(event, Vote):
            self.vote.value = static.vote_html(event)
            self.vote.layout.display = None
            return
        if isinstance(event, ModelDelta):
            if step is not None:
                self._card(step).streamed += event.text
                self._schedule_flush()
            return
        self._flush()
        if isinstance(event, RunStarted):
            self.started = event
            self.header.value = static.header_html(event)
            for key, _, spent, limit in static.budget_rows(event, None):
                self.gauges[key].set(spent, limit)
        elif isinstance(event, Rebuilt):
            self.notes.value = render("notes.html", notes=[static.rebuilt_text(event)])
        elif isinstance(event, BudgetUpdate):
            for key, _, spent, limit in static.budget_rows(self.started, event):
                self.gauges[key].set(spent, limit)
        elif isinstance(event, Retry):
            self._status(f"model busy, retry {event.number} in {static.number_text(event.wait, 1)} s: "
                         f"{event.reason}")
        elif isinstance(event, Stopped):
            self._status(event.reason)
        elif isinstance(event, FinalAnswer):
            self._finish(event)
        elif step is not None:
            card = self._card(step)
            card.add(event)
            self._title(card)
            self._status(self._doing(event))
        elif isinstance(event, Error):
            # As plain strings: adding a str to markup would escape the markup already shown.
            self.errors.value = str(self.errors.value) + str(render("error.html", message=event.message))

    # --- several attempts: one compact view each, side by side in tabs ---------------------
    def _attempt_view(self, attempt: int) -> "RunView":
        if attempt not in self.attempt_views:
            view = RunView(nested=True, fold=self.fold)
            for part in (view.header, view.notes, view.stop_button, view.export_button):
                part.layout.display = "none"
            self.attempt_views[attempt] = view
            self.attempt_titles.setdefault(attempt, f"attempt {attempt}")
            self.attempts.children = [v.root for _, v in sorted(self.attempt_views.items())]
            self.attempts.titles = tuple(self.attempt_titles[n] for n in sorted(self.attempt_views))
            self.attempts.layout.display = None
            self._status(f"{len(self.attempt_views)} attempt(s) running…")
        return self.attempt_views[attempt]

    def _title_attempt(self, final: FinalAnswer) -> None:
        answer = final.answer if final.answer is not None else "no answer"
        self.attempt_titles[final.attempt] = f"attempt {final.attempt}: {str(answer)[:24]}"
        self.attempts.titles = tuple(self.attempt_titles[n] for n in sorted(self.attempt_views))

    # --- pieces -----------------------------------------------------------------------
    def _card(self, step: Step) -> StepCard:
        if step.step not in self.cards:
            card = self.cards[step.step] = StepCard(step)
            self.steps.children = (*self.steps.children, card.box)
            self._title(card)
            # Opening the new step closes the finished one: the current step stays in view.
            self.steps.selected_index = len(self.steps.children) - 1
        return self.cards[step.step]

    def _title(self, card: StepCard) -> None:
        index = list(self.cards).index(card.step.step)
        self.steps.set_title(index, static.step_title(card.step))

    def _status(self, text: str) -> None:
        """Plain text (escaped here): retry reasons quote the model server's error messages."""
        self.status.value = render("status.html", text=text)

    @staticmethod
    def _doing(event: Event) -> str:
        step = f"step {event.step}: "
        if isinstance(event, ModelCall):
            return step + "model answered"
        if isinstance(event, Plan):
            return step + "writing code…"
        if isinstance(event, Code):
            return step + "running code…"
        if isinstance(event, Observation):
            return step + "checking…"
        if isinstance(event, Check):
            return step + f"reward {static.number_text(event.reward)}, deciding…"
        if isinstance(event, Decision):
            return step + str(event.action)
        if isinstance(event, Error):
            return step + f"error: {event.message}"
        return step + event.kind

    def _schedule_flush(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= STREAM_INTERVAL:
            self._flush()
            return
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop: the next non-delta event flushes
            self._flush_handle = loop.call_later(STREAM_INTERVAL - (now - self._last_flush), self._flush)

    def _flush(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._last_flush = time.monotonic()
        for card in self.cards.values():
            if card.streamed and not card.step.plan and not card.step.code:
                card.show_stream(card.streamed)
                self._status(f"step {card.step.step}: model writing…")

    def _finish(self, final: FinalAnswer) -> None:
        self.final = final
        self.answer.value = static.final_html(final)
        self.answer.layout.display = None
        self._status("finished: " + static.stop_reason_text(final))
        self.stop_button.disabled = True
        self.stop_button.description = "Stopped" if final.stop_reason == "stopped by user" else "Done"
        self.export_button.disabled = not final.code

    def _stop_clicked(self, _button=None) -> None:
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"
        self._status("stopping…")
        if self.stop_event is not None:
            self.stop_event.set()

    def _export_clicked(self, _button=None) -> None:
        if self.final is None or not self.final.code:
            return
        if self.on_export is not None:
            self.on_export(list(self.final.code))
        else:
            from ..export import javascript_output

            self.export_output.outputs = (javascript_output(self.final.code),)
