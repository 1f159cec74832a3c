"""Showing the model layer's progress reports (nbreason.models.progress) to people.

The model layer only reports `Progress(stage, done, total)`; these turn the reports into
something to look at: a rich bar in the terminal, a widget in a notebook, plain lines where
neither works. Each shows nothing until the first report, so a run whose model is ready at
once shows nothing at all.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from .models.progress import Progress
from .views.safe import terminal_text

_TEXT_STEPS = 10  # plain lines: one per tenth


def amount(progress: Progress) -> str:
    """'196 / 491 MB', or '' for a stage counted in steps."""
    if progress.unit != "bytes":
        return ""
    return f"{progress.done / 1e6:,.0f} / {progress.total / 1e6:,.0f} MB"


class _Stages:
    """What live displays share: they go away once every stage they showed has finished."""

    _open: set[str]

    def _settle(self, progress: Progress) -> None:
        if progress.finished:
            self._open.discard(progress.stage)
        else:
            self._open.add(progress.stage)
        if not self._open:
            self.close()

    def close(self) -> None:
        raise NotImplementedError


class RichProgress(_Stages):
    """Progress bars on a rich console (the `nbreason` command), one per stage. The bars stop
    once every stage has finished: a console has one live display at a time, and the run's own
    view needs it next.

        with RichProgress(Console(stderr=True)) as show:
            await reason(question, config=config, on_progress=show)
    """

    def __init__(self, console=None):
        self.console = console
        self._bars = None
        self._tasks: dict[str, Any] = {}
        self._open: set[str] = set()

    def __enter__(self) -> "RichProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __call__(self, progress: Progress) -> None:
        if self._bars is None:
            from rich.progress import BarColumn, Progress as Bars, TaskProgressColumn, TextColumn, TimeRemainingColumn

            # The stage is text, not markup: it names a model file (`--model local:PATH`), which
            # anyone may have named, `[link=…]` and escape sequences included.
            self._bars = Bars(TextColumn("{task.description}", style="bold", markup=False), BarColumn(),
                              TaskProgressColumn(),
                              TextColumn("{task.fields[amount]}"), TimeRemainingColumn(), console=self.console)
            self._bars.start()
        task = self._tasks.get(progress.stage)
        if task is None:
            task = self._tasks[progress.stage] = self._bars.add_task(terminal_text(progress.stage),
                                                                      total=progress.total, amount="")
        self._bars.update(task, completed=progress.done, total=progress.total, amount=amount(progress))
        self._settle(progress)

    def close(self) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None
            self._tasks.clear()


class TextProgress:
    """Plain lines: when a stage starts, at every tenth, and when it is done."""

    def __init__(self, write: Callable[[str], Any] | None = None):
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._shown: dict[str, int] = {}

    def __call__(self, progress: Progress) -> None:
        step = int(progress.fraction * _TEXT_STEPS)
        if self._shown.get(progress.stage) == step:
            return
        self._shown[progress.stage] = step
        stage = terminal_text(progress.stage)  # these lines go to a terminal or a log, escapes shown
        if progress.unit == "bytes":
            self.write(f"{stage}: {progress.fraction:.0%} ({amount(progress)})")
        else:
            self.write(f"{stage}: {'done' if progress.finished else '…'}")

    def close(self) -> None:
        pass  # lines stay where they were written


class WidgetProgress(_Stages):
    """A progress bar widget in the cell's output, shown at the first report and removed when
    every stage has finished (a saved notebook keeps no half-filled bar)."""

    def __init__(self, display: Callable[[Any], Any] | None = None):
        self._display = display
        self._box = None
        self._open: set[str] = set()

    def __call__(self, progress: Progress) -> None:
        import ipywidgets as widgets

        if self._box is None:
            self._bar = widgets.FloatProgress(min=0.0, max=1.0)
            self._label = widgets.Label()
            self._box = widgets.HBox([self._bar, self._label])
            if self._display is None:
                from IPython.display import display

                self._display = display
            self._display(self._box)
        self._bar.value = progress.fraction
        self._label.value = f"{progress.stage} {amount(progress)}".strip()
        self._settle(progress)

    def close(self) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None
