"""`%load_ext nbreason`: the `%%reason` cell magic, `%reason_config`, `%reason_export` and `%reason_replay`.

A plain cell magic would block the kernel's thread, and a blocked kernel never sees the
Stop button's click. So an input transformer rewrites a `%%reason` cell into
`await nbreason.magic._run_cell(line, cell)`: the cell becomes an async cell awaited on the
kernel's own event loop. It still blocks (Run All and nbclient wait for it), while
ipykernel >= 7.4 keeps handling widget messages, so Stop works mid-run.

Defaults come from the `Reason` configurable (`%config Reason.model = "..."`, or
`c.Reason.max_steps = 4` in an IPython config file) on top of nbreason's own config file and
NBREASON_* variables; options on the `%%reason` line win over all of them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import sys

from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import (ArgDecorator, argument, construct_parser, kwds, magic_arguments,
                                          parse_argstring)
from traitlets import TraitError, TraitType
from traitlets.config import Configurable

from . import config as nbconfig
from . import flags
from .allowed import Allowed
from .config import RunConfig, allowed

REPLAY_SPEED = Allowed(float, low=0, above=True)

MAGIC = "%%reason"
STOP_NEEDS = (7, 4)  # first ipykernel that dispatches comm messages while an async cell awaits


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


def _kernel_version() -> tuple[int, ...] | None:
    try:
        import ipykernel
    except ImportError:
        return None
    return tuple(int(p) for p in ipykernel.__version__.split(".")[:2] if p.isdigit())


def stop_warning(version: tuple[int, ...] | None) -> str | None:
    """What to tell users whose kernel cannot see a click while the cell runs."""
    if version is None or version >= STOP_NEEDS:
        return None
    return (f"nbreason: ipykernel {'.'.join(map(str, version))} cannot handle button clicks while the cell "
            "runs, so Stop will not respond; interrupt the kernel instead (or upgrade to ipykernel >= 7.4).")


def _widgets_possible(shell) -> bool:
    if getattr(shell, "kernel", None) is None:  # terminal IPython: nothing renders widgets
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


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
        coro = _run_cell(line, cell)
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
    @argument("--speed", type=float, default=1.0, metavar="N",
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


def _set_defaults(defaults) -> dict:
    return {f.name: getattr(defaults, f.name) for f in dataclasses.fields(RunConfig)
            if getattr(defaults, f.name) is not None}


def _solution_code(result) -> list[str]:
    for event in reversed(getattr(result, "events", None) or []):
        if getattr(event, "kind", "") == "final":
            return list(event.code)
    return [s.code for s in getattr(result, "steps", []) if s.code]


def parse_options(line: str, shell=None, defaults=None):
    """The `%%reason` line as (RunConfig, run keyword arguments). Bad input -> UsageError."""
    shell = shell or get_ipython()
    args = parse_argstring(ReasonMagics.reason, line)
    overrides = _set_defaults(defaults) if defaults is not None else {}
    labels = {name: f"Reason.{name}" for name in overrides}  # set with %config or %reason_config
    given, given_labels = flags.given(args, flags.MAGIC)
    overrides.update(given)
    labels.update(given_labels)
    try:
        config = nbconfig.load(overrides, labels=labels)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.output and not args.output.isidentifier():
        raise UsageError(f"-o: {args.output!r} is not a valid variable name")
    namespace = shell.user_ns if shell is not None else {}
    kwargs = {}
    if args.with_:
        names = [n.strip() for n in args.with_.split(",") if n.strip()]
        missing = [n for n in names if n not in namespace]
        if missing:
            raise UsageError(f"--with: no variable named {', '.join(missing)} in this notebook")
        kwargs["variables"] = {n: namespace[n] for n in names}
    if args.check:
        fn = namespace.get(args.check)
        if not callable(fn):
            raise UsageError(f"--check: {args.check!r} is not a function in this notebook")
        kwargs["check"] = fn
    if args.return_ is not None:
        from .returns import ReturnError, check_names

        try:
            kwargs["returns"] = check_names(args.return_)
        except ReturnError as exc:
            raise UsageError(str(exc)) from None
    if args.continue_ is not None:
        kwargs["follows"] = _earlier(args.continue_, namespace, _magics(shell))
    return config, kwargs, args


def _earlier(name: str, namespace: dict, magics):
    """The run `--continue [NAME]` continues: the RunResult in NAME, else the notebook's last run."""
    from .result import RunResult

    if not name:
        earlier = magics.last if magics is not None else None
        if earlier is None:
            raise UsageError("--continue: no earlier %%reason run in this notebook to continue; run one first "
                             "(or name a result kept with -o: --continue NAME)")
        return earlier
    if name not in namespace:
        raise UsageError(f"--continue: no variable named {name} in this notebook")
    if not isinstance(namespace[name], RunResult):
        raise UsageError(f"--continue: {name} is a {type(namespace[name]).__name__}, not the result of a run "
                         "(keep one with -o NAME)")
    return namespace[name]


def _given_again(kwargs: dict, namespace: dict) -> None:
    """A follow-up that will rebuild its earlier state needs the notebook variables that state was
    built from: pass those still in the notebook again."""
    from .followup import continues_of

    earlier = kwargs.get("follows")
    if earlier is None or getattr(earlier, "sandbox", None) is not None:
        return
    variables = kwargs.setdefault("variables", {})
    for name in continues_of(earlier).variables:
        if name not in variables and name in namespace:
            variables[name] = namespace[name]
    if not variables:
        del kwargs["variables"]


async def _run_cell(line: str, cell: str):
    """What a `%%reason` cell becomes. Returns None: the view (or text) already shows the run."""
    shell = get_ipython()
    magics = _magics(shell)
    config, kwargs, args = parse_options(line, shell, magics.defaults if magics else None)
    question = cell.strip()
    if not question:
        raise UsageError("write the question in the cell, below the %%reason line")

    from .runner import reason

    from .progress_display import TextProgress, WidgetProgress

    stop = asyncio.Event()
    events = []
    subscribers = [events.append]
    view = handle = show_progress = None
    if args.quiet:
        pass
    elif _widgets_possible(shell):
        from IPython.display import display

        from .views.widgets import RunView

        show_progress = WidgetProgress()  # preparing the model: shown only while it happens
        view = RunView(stop)
        warning = stop_warning(_kernel_version())
        if warning:
            print(warning, file=sys.stderr)
        handle = display(view.root, display_id=True)
        subscribers.append(view.on_event)
    else:
        show_progress = TextProgress()
        subscribers.append(_terminal_view())

    from .datafiles import DataFileError
    from .followup import FollowupError
    from .redact import Redactor
    from .returns import ReturnError
    from .runner import QuestionError
    from .trace import TraceInUse
    from .variables import VariableError

    earlier, refused = (magics.last if magics is not None else None), False
    try:
        _given_again(kwargs, shell.user_ns if shell is not None else {})
        # The run's sandbox stays open for a follow-up (--continue) until the next run ends.
        result = await _drive(reason(question, config=config, subscribers=subscribers, stop=stop,
                                     on_progress=show_progress, keep_sandbox=True, **kwargs), stop)
    except (QuestionError, VariableError, TraceInUse, FollowupError, ReturnError, DataFileError) as exc:
        refused = True  # nothing ran: the last run's sandbox stays open for a corrected follow-up
        raise UsageError(str(exc)) from None  # the user's input: one line, no traceback
    except Exception as exc:  # the kernel must survive anything the run throws
        text = Redactor.for_config(config).text(f"{type(exc).__name__}: {exc}")
        print(f"nbreason: the run failed: {text}", file=sys.stderr)
        return None
    finally:
        if isinstance(show_progress, WidgetProgress):
            show_progress.close()  # a run that failed while preparing leaves no bar behind
        if view is not None and handle is not None and events:
            _settle(view, handle, events)
        if earlier is not None and not refused:
            await _close_quietly(earlier)  # no longer the last run (a follow-up took its sandbox over)

    if magics is not None:
        magics.last = result
    if args.output:
        shell.user_ns[args.output] = result
    if result.returned:
        shell.user_ns.update(result.returned)
    if args.quiet:
        from .events import Error, Rebuilt
        from .views.safe import terminal_text

        for event in result.events:  # what the quiet view leaves out and the user must still hear
            if isinstance(event, Rebuilt) or (isinstance(event, Error) and event.source == "returns"):
                print(f"nbreason: {terminal_text(getattr(event, 'message', ''))}", file=sys.stderr)
        print(terminal_text(result.answer))  # the model's text: no escape sequences into a terminal
    return None


async def _close_quietly(result) -> None:
    try:
        await asyncio.wait_for(result.close(), timeout=10)
    except Exception:
        pass


async def _drive(coro, stop: asyncio.Event):
    """Await the run; on Ctrl-C or cancellation, ask it to stop and keep what it did."""
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except (KeyboardInterrupt, asyncio.CancelledError):
        stop.set()
        try:
            return await asyncio.wait_for(asyncio.shield(task), 30)
        except BaseException:
            task.cancel()
            raise


def _settle(view, handle, events) -> None:
    """Keep the live widget, and add a static HTML copy for viewers without widgets (GitHub, nbviewer)."""
    from .views.html import run_html

    try:
        bundle = dict(view.root._repr_mimebundle_())
        bundle["text/html"] = str(run_html(events))
        handle.update(bundle, raw=True)
    except Exception as exc:
        print(f"nbreason: could not save the static view: {exc}", file=sys.stderr)


def _terminal_view():
    try:
        from .views.console import ConsoleView

        return ConsoleView()
    except ImportError:  # rich missing: plain text
        from .views.html import event_text

        def show(event) -> None:
            text = event_text(event)
            if text:
                print(text, flush=True)

        return show


def _magics(shell):
    if shell is None:
        return None
    return shell.magics_manager.registry.get("ReasonMagics")


def _transform(lines: list[str]) -> list[str]:
    """Input transformer: a `%%reason` cell -> an awaited call on the kernel's loop."""
    if not lines or not lines[0].startswith(MAGIC):
        return lines
    first = lines[0].rstrip("\n")
    rest = first[len(MAGIC):]
    if rest[:1] not in ("", " ", "\t") or first.rstrip().endswith("?"):
        return lines  # another magic (%%reasonx), or %%reason? (help)
    body = "".join(lines[1:])
    return [f"await __import__('nbreason.magic').magic._run_cell({rest.strip()!r}, {body!r})\n"]


def load_ipython_extension(shell) -> None:
    if _magics(shell) is not None:
        return  # already loaded
    defaults = Reason(parent=shell)
    shell.configurables.append(defaults)
    _refresh_help(defaults)
    defaults.observe(lambda change: _refresh_help(defaults))  # %config Reason.x, %reason_config
    shell.register_magics(ReasonMagics(shell, defaults))
    if _transform not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(_transform)


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
    if _transform in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(_transform)
    if magics is not None:
        if magics.defaults in shell.configurables:
            shell.configurables.remove(magics.defaults)
        for kind, names in magics.magics.items():
            for name in names:
                shell.magics_manager.magics[kind].pop(name, None)
        shell.magics_manager.registry.pop("ReasonMagics", None)
