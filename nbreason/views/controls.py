"""The replay's control bar, with its keyboard: a small anywidget (ESM + CSS shipped beside this file).

ipywidgets has no key events and its buttons cut their labels when a row gets tight, so the bar
is drawn by `controls.js`: Start, Back, Play/Pause, Next, End, a position slider, the speed and,
when two runs are compared, a jump to where they first differ. Keys (while the replay has focus):
← / → one event, space play/pause, Home / End, D the first divergence.

Python and the browser meet only in the traits below. The browser moves `position` (a click, a
key, Play's timer); the replay observes it and shows that many events. The bar never shows text
from a trace: its labels are fixed strings.
"""

from __future__ import annotations

from pathlib import Path

import anywidget
from traitlets import Bool, Float, Int, TraitError, validate

HERE = Path(__file__).parent
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # the choices the bar offers; any other speed is added to them


def speed_text(speed: float) -> str:
    """How the bar shows a speed (the same number the option took): 2 -> "2/s", 0.5 -> "0.5/s"."""
    return f"{float(f'{speed:.3g}'):g}/s"


class ReplayControls(anywidget.AnyWidget):
    # Read here, not handed over as paths: anywidget would watch the files in a thread.
    _esm = (HERE / "controls.js").read_text(encoding="utf-8")
    _css = (HERE / "controls.css").read_text(encoding="utf-8")

    position = Int(0, help="events shown").tag(sync=True)
    total = Int(0, help="events in the replay").tag(sync=True)
    playing = Bool(False).tag(sync=True)
    speed = Float(1.0, help="events per second while playing").tag(sync=True)
    mark = Int(-1, help="the position that shows the first divergence; -1: none").tag(sync=True)

    @validate("position")
    def _clamp(self, proposal):
        return max(0, min(self.total, proposal["value"]))

    @validate("speed")
    def _positive(self, proposal):
        value = proposal["value"]
        if not value > 0:
            raise TraitError(f"speed must be a positive number of events per second, not {value}")
        return value
