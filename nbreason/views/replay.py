"""Replaying a saved run with the live run's own widgets, one event at a time.

The replay feeds the trace's events into a fresh `RunView`, the same subscriber a live run
uses, so a replayed run looks exactly as it did live. The control bar (`controls.py`) steps
through the events with buttons or the keyboard, and Play advances on its own at `speed`
events per second (driven by the browser, so the kernel stays free). Going back rebuilds the
picture from the start, so every position always looks the same.
"""

from __future__ import annotations

import ipywidgets as w

from ..events import Event, ModelDelta
from .controls import ReplayControls
from .templates import render
from .widgets import RunView


def snapshot(widget: w.Widget) -> list:
    """What a widget tree shows: each widget's kind, visible value and outputs, in order.

    Used to compare a live rendering with its replay."""
    shown = []

    def walk(node):
        if not isinstance(node, w.Widget):
            return
        entry = [type(node).__name__]
        for name in ("value", "description", "disabled", "selected_index", "titles"):
            if name in node.keys and name != "layout":
                entry.append((name, getattr(node, name)))
        if isinstance(node, w.Output):
            entry.append(("outputs", [dict(o) for o in node.outputs]))
        display = getattr(getattr(node, "layout", None), "display", None)
        entry.append(("display", display))
        shown.append(entry)
        for child in getattr(node, "children", ()):
            walk(child)

    walk(widget)
    return shown


def replay_run_view() -> RunView:
    """A `RunView` for a replay: nothing to stop."""
    view = RunView()
    view.stop_button.layout.display = "none"
    return view


class Stepper:
    """Positions 0..total, shown through the control bar. Subclasses say what a position looks like:
    `_reset` (back to nothing shown) and `_advance(start, end)` (show what lies between)."""

    def __init__(self, total: int, *, speed: float = 1.0, presenter: bool = False, mark: int = -1):
        self.position = 0
        self.controls = ReplayControls(total=total, speed=float(speed), mark=mark, layout=w.Layout(width="100%"))
        self.controls.add_class("nbreason-replay-controls")
        self.controls.observe(self._moved, names="position")
        self.label = w.HTML()  # where the replay is, on its own line: the bar keeps its width for the controls
        self.root = w.VBox([self.controls, self.label])
        self.root.add_class("nbreason-replay")
        if presenter:
            self.root.add_class("nbreason-presenter")

    def _moved(self, change) -> None:  # the bar moved (a click, a key, Play)
        if change["new"] != self.position:
            self.show(change["new"])

    @property
    def total(self) -> int:
        return self.controls.total

    @property
    def speed(self) -> float:
        """Events per second while playing: what `--speed` set and what the bar shows."""
        return self.controls.speed

    def _reset(self) -> None:
        raise NotImplementedError

    def _advance(self, start: int, end: int) -> None:
        raise NotImplementedError

    def _what(self) -> str:
        return "start"

    def show(self, position: int) -> "Stepper":
        """Show the run(s) as they were after `position` steps of the replay."""
        position = max(0, min(self.total, position))
        if position < self.position:  # going back: rebuild from the start
            self._reset()
            self.position = 0
        self._advance(self.position, position)
        self.position = position
        if self.controls.position != position:
            self.controls.position = position
        self.label.value = render("replay_position.html", position=position, total=self.total, what=self._what())
        return self

    def next(self) -> "Stepper":
        return self.show(self.position + 1)

    def previous(self) -> "Stepper":
        return self.show(self.position - 1)

    def show_all(self) -> "Stepper":
        return self.show(self.total)

    def _repr_mimebundle_(self, **kwargs):
        return self.root._repr_mimebundle_(**kwargs)


class ReplayView(Stepper):
    """`ReplayView(read_trace(path), speed=2)`; display it (or `.root`)."""

    def __init__(self, events: list[Event], *, speed: float = 1.0, presenter: bool = False):
        self.events = [e for e in events if not isinstance(e, ModelDelta)]
        super().__init__(len(self.events), speed=speed, presenter=presenter)
        self.view = replay_run_view()
        self.body = w.VBox([self.view.root])
        self.root.children = [self.controls, self.label, self.body]
        self.show(0)

    def _reset(self) -> None:
        self.view = replay_run_view()
        self.body.children = [self.view.root]

    def _advance(self, start: int, end: int) -> None:
        for event in self.events[start:end]:
            self.view.on_event(event)

    def _what(self) -> str:
        event = self.events[self.position - 1] if self.position else None
        return f"{event.kind} (step {event.step})" if event else "start"
