"""`%load_ext nbreason`: the `%%reason` cell magic, `%reason_config`, `%reason_export` and `%reason_replay`.

What a `%%reason` cell does once it runs (and why it is rewritten into an awaited call so that
Stop works mid-run) is in nbreason/cell.py; this module registers the magics and their options.

Defaults come from the `Reason` configurable (`%config Reason.model = "..."`, or
`c.Reason.max_steps = 4` in an IPython config file) on top of nbreason's own config file and
NBREASON_* variables; options on the `%%reason` line win over all of them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import sys

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import (ArgDecorator, argument, construct_parser, kwds, magic_arguments,
                                          parse_argstring)
from traitlets import TraitError, TraitType
from traitlets.config import Configurable

from . import config as nbconfig
from . import flags
from .allowed import Allowed
from .cell import _close_quietly, _magics, _set_defaults, _solution_code, run_cell, transform
from .config import RunConfig, allowed

REPLAY_SPEED = Allowed(float, low=0, above=True)



NONE = "none"  # a Reason value meaning the setting's own none ("no limit"); None means "not set here"


class Setting(TraitType):
    """One RunConfig field as a trait, checked by the field's own declaration when it is set
    (`%config Reason.max_steps = 0` fails at once, naming `Reason.max_steps`).

    None means "not set here": the value comes from nbreason's config file, the environment or
    the built-in default. To clear a limit from here, set the text "none" (`Reason.max_seconds
    = "none"`, `%reason_config max_seconds=none`); the trait keeps it as NONE."""

    def __init__(self, name: str, **kwargs):
        self.spec = allowed(name)
        self.info_text = self.spec.describe()
        super().__init__(default_value=None, allow_none=True, **kwargs)

    def validate(self, obj, value):
        if value is None:
            return None
        try:
            checked = nbconfig._coerce(self.name, value, f"Reason.{self.name}")
        except nbconfig.ConfigError as exc:
            raise TraitError(str(exc)) from None
        return NONE if checked is None else checked


def _trait(f: dataclasses.Field):
    help = f"{allowed(f.name).describe()}; default {f.default!r}; environment NBREASON_{f.name.upper()}"
    return Setting(f.name, help=help).tag(config=True)


# One trait per RunConfig field; None means "not set here".
Reason = type("Reason", (Configurable,), {
    "__doc__": "Defaults for %%reason. Unset (None) fields come from nbreason's config file, "
               "NBREASON_* environment variables, then built-in defaults; \"none\" clears a limit.",
    **{f.name: _trait(f) for f in dataclasses.fields(RunConfig)},
})


_REASON_DOC = """Answer the question in the cell by planning, writing and running code, step by step.

The cell body is the question. Example::

    %%reason --with df --max-steps 4
    Which region had the highest total sales?

A run setting not given here comes from %config Reason / %reason_config, nbreason's config
file, NBREASON_* variables, then the built-in default; the defaults shown are those in effect."""


class _Settings(ArgDecorator):
    """The run-setting flags of the one table (nbreason.flags), as %%reason arguments."""

    current: RunConfig | None = None  # the defaults in effect, shown in the help

    def add_to_parser(self, parser, group):
        flags.add_flags(parser.add_argument_group("run settings"), flags.MAGIC, self.current)


_SETTINGS = _Settings()


def _refresh_help(defaults=None) -> None:
    """Rebuild the %%reason parser, so `%%reason?` shows the defaults now in effect."""
    try:
        _SETTINGS.current = nbconfig.load(_set_defaults(defaults) if defaults is not None else {})
    except ValueError:
        _SETTINGS.current = None  # the built-in defaults; the next run says what is wrong
    function = ReasonMagics.reason
    function.parser = construct_parser(function)


@magics_class
class ReasonMagics(Magics):
    def __init__(self, shell, defaults):
        super().__init__(shell)
        self.defaults = defaults
        self.last = None  # the last RunResult, for %reason_export

    @magic_arguments()
    @kwds(description=_REASON_DOC)
    @argument("--with", dest="with_", metavar="NAME[,NAME...]",
              help="copy these variables from this notebook into the sandbox")
    @argument("--check", metavar="FN",
              help="a function in this notebook, check(answer) -> bool, that verifies the answer")
    @argument("--continue", dest="continue_", nargs="?", const="", metavar="NAME",
              help="a follow-up: continue the last %%%%reason run of this notebook (or the RunResult in NAME) "
                   "in its Python session, its variables still there")
    @argument("--return", dest="return_", metavar="NAME[,NAME...]",
              help="bring these variables back from the sandbox into this notebook when the run ends")
    @argument("-o", "--output", metavar="NAME", help="store the RunResult in this variable")
    @argument("--quiet", action="store_true", help="show only the final answer")
    @_SETTINGS
    @cell_magic
    def reason(self, line, cell):
        # Reached only when the input transformer is not active (e.g. run_cell_magic).
        coro = run_cell(line, cell)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the kernel's loop is busy with us
            return pool.submit(asyncio.run, coro).result()

    @line_magic
    def reason_config(self, line):
        """Show the effective %%reason settings, or set defaults: %reason_config max_steps=4 model=auto
        (`max_seconds=none`: no time limit)."""
        names = {f.name for f in dataclasses.fields(RunConfig)}
        for item in line.split():
            key, sep, value = item.partition("=")
            key = key.replace("-", "_")
            if not sep or key not in names:
                raise UsageError(f"expected name=value with a name from: {', '.join(sorted(names))}")
            try:
                setattr(self.defaults, key, value)  # the trait reads the text: "none" clears a limit
            except TraitError as exc:
                raise UsageError(str(exc)) from None
        if line.strip():
            return
        try:
            effective = nbconfig.load(_set_defaults(self.defaults)).public()
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        mine = _set_defaults(self.defaults)
        for key, value in effective.items():
            mark = "  (Reason)" if key in mine else ""
            print(f"{key:18} = {value!r}{mark}")

    @magic_arguments()
    @argument("trace", nargs="+", metavar="TRACE",
              help="a trace (.jsonl) to replay; two traces: the two runs side by side, stepping together")
    @argument("--speed", default="1", metavar="N",  # text: our own check names the flag and the range
              help="events per second while playing (default 1); the speed control shows the same number")
    @argument("--presenter", action="store_true", help="larger text, for a projector")
    @argument("--export", metavar="FILE",
              help="write FILE.ipynb or FILE.html instead of showing the replay (two traces: FILE.html)")
    @line_magic
    def reason_replay(self, line):
        """Replay a saved run step by step with the live run's widgets, or compare two runs side by side.

        Click the replay, then: ← / → one event, space play / pause, Home / End the start / end,
        D the first point where two compared runs differ. Examples::

            %reason_replay lesson.jsonl --speed 2
            %reason_replay checked.jsonl unchecked.jsonl --presenter
            %reason_replay lesson.jsonl --export lesson.html
        """
        from pathlib import Path

        from .trace import TraceError, load_trace

        args = parse_argstring(ReasonMagics.reason_replay, line)
        if len(args.trace) > 2:
            raise UsageError("%reason_replay takes one trace, or two to compare")
        try:
            speed = REPLAY_SPEED.check(args.speed, "--speed")
        except ValueError as exc:
            raise UsageError(f"{exc} (events per second, e.g. 2)") from None
        runs = []
        for path in args.trace:
            try:
                contents = load_trace(path)
            except TraceError as exc:
                raise UsageError(str(exc)) from None
            if contents.note():
                print(f"nbreason: {path}: {contents.note()}", file=sys.stderr)
            runs.append(contents.events)
        labels = tuple(Path(path).name for path in args.trace)
        if args.export:
            from .export import write_comparison, write_export

            try:
                written = write_export(runs[0], args.export) if len(runs) == 1 else \
                    write_comparison(*runs, args.export, labels=labels)
            except (OSError, ValueError) as exc:
                raise UsageError(f"--export: {exc}") from None
            print("written:", written)
            return
        if len(runs) == 1:
            from .views.replay import ReplayView

            view = ReplayView(runs[0], speed=speed, presenter=args.presenter)
        else:
            from .views.compare import CompareView

            view = CompareView(*runs, labels=labels, speed=speed, presenter=args.presenter)
        from IPython.display import display

        display(view)
        return None

    @line_magic
    def reason_export(self, line):
        """Insert the code of the last run (or of the RunResult named here) as a new cell below."""
        from .export import insert_below

        result = self.shell.user_ns[line.strip()] if line.strip() else self.last
        if result is None:
            raise UsageError("no run yet: run a %%reason cell first")
        code = _solution_code(result)
        if not code:
            print("The run has no code that ran without error.")
            return
        insert_below(code, self.shell)


def load_ipython_extension(shell) -> None:
    if _magics(shell) is not None:
        return  # already loaded
    defaults = Reason(parent=shell)
    shell.configurables.append(defaults)
    _refresh_help(defaults)
    defaults.observe(lambda change: _refresh_help(defaults))  # %config Reason.x, %reason_config
    shell.register_magics(ReasonMagics(shell, defaults))
    if transform not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(transform)


def _release(result) -> None:
    """Close the sandbox a run kept open for a follow-up, from synchronous code (unloading)."""
    if getattr(result, "sandbox", None) is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:  # in a kernel: unloading runs inside its loop; the close finishes there
        _closing.add(task := loop.create_task(_close_quietly(result)))
        task.add_done_callback(_closing.discard)
        return
    from IPython.core.async_helpers import get_asyncio_loop  # where terminal IPython awaited the run

    get_asyncio_loop().run_until_complete(_close_quietly(result))


_closing: set = set()  # closes under way (a task nobody holds can be collected before it ends)


def unload_ipython_extension(shell) -> None:
    magics = _magics(shell)
    if magics is not None:
        _release(magics.last)
    if transform in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(transform)
    if magics is not None:
        if magics.defaults in shell.configurables:
            shell.configurables.remove(magics.defaults)
        for kind, names in magics.magics.items():
            for name in names:
                shell.magics_manager.magics[kind].pop(name, None)
        shell.magics_manager.registry.pop("ReasonMagics", None)
