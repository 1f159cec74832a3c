"""Replaying a saved run with the live run's own widgets, one event at a time.

The replay feeds the trace's events into a fresh `RunView`, the same subscriber a live run
uses, so a replayed run looks exactly as it did live. Previous / Next step through events,
Play advances on its own at the chosen speed (driven by the browser, so the kernel stays free).
"""

from __future__ import annotations

import ipywidgets as w

from ..events import Event, ModelDelta
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


class ReplayView:
    """`ReplayView(read_trace(path))`; display it (or `.root`)."""

    def __init__(self, events: list[Event], *, interval_ms: int = 800):
        self.events = [e for e in events if not isinstance(e, ModelDelta)]
        self.position = 0
        self.view = self._fresh_view()
        total = len(self.events)
        self.slider = w.IntSlider(value=0, min=0, max=total, description="event", continuous_update=False,
                                  layout=w.Layout(width="420px"))
        self.play = w.Play(value=0, min=0, max=total, step=1, interval=interval_ms, description="Play")
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.previous = w.Button(description="Previous", icon="step-backward", layout=w.Layout(width="auto"))
        self.next = w.Button(description="Next", icon="step-forward", layout=w.Layout(width="auto"))
        self.speed = w.FloatLogSlider(value=1.0, base=2, min=-2, max=3, step=0.5, description="speed ×",
                                      readout_format=".2g")
        self.label = w.HTML()
        self.previous.on_click(lambda _: self.show(self.position - 1))
        self.next.on_click(lambda _: self.show(self.position + 1))
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.speed.observe(lambda change: setattr(self.play, "interval", max(20, int(interval_ms / change["new"]))),
                           names="value")
        self.controls = w.HBox([self.previous, self.next, self.play, self.slider, self.speed, self.label])
        self.controls.add_class("nbreason-replay-controls")
        self.body = w.VBox([self.view.root])
        self.root = w.VBox([self.controls, self.body])
        self.root.add_class("nbreason-replay")
        self._label()

    def _fresh_view(self) -> RunView:
        view = RunView()
        view.stop_button.layout.display = "none"  # nothing to stop in a replay
        return view

    def _label(self) -> None:
        event = self.events[self.position - 1] if self.position else None
        what = f"{event.kind} (step {event.step})" if event else "start"
        self.label.value = render("replay_position.html", position=self.position, total=len(self.events), what=what)

    def show(self, position: int) -> None:
        """Show the run as it was after `position` events."""
        position = max(0, min(len(self.events), position))
        if position < self.position:  # going back: rebuild from the start
            self.view = self._fresh_view()
            self.body.children = [self.view.root]
            self.position = 0
        for event in self.events[self.position:position]:
            self.view.on_event(event)
        self.position = position
        if self.slider.value != position:
            self.slider.value = position
        self._label()

    def show_all(self) -> "ReplayView":
        self.show(len(self.events))
        return self

    def _repr_mimebundle_(self, **kwargs):
        return self.root._repr_mimebundle_(**kwargs)
