"""What a `%%reason` cell does: read its line (settings, `--with`, `--check`, `--continue`,
`--return`), run the question with the live view, settle the output a saved notebook keeps, and
keep the kernel alive whatever the run throws. The magic itself (nbreason/magic.py) registers it.

A plain cell magic would block the kernel's thread, and a blocked kernel never sees the Stop
button's click. So an input transformer (`transform`) rewrites a `%%reason` cell into
`await nbreason.cell.run_cell(line, cell)`: the cell becomes an async cell awaited on the kernel's
own event loop, and ipykernel >= 7.4 keeps handling widget messages while it awaits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys

from IPython import get_ipython
from IPython.core.error import UsageError
from IPython.core.magic_arguments import parse_argstring

from . import config as nbconfig
from . import flags
from .config import RunConfig

MAGIC = "%%reason"
STOP_NEEDS = (7, 4)  # first ipykernel that dispatches comm messages while an async cell awaits


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


def _magics(shell):
    if shell is None:
        return None
    return shell.magics_manager.registry.get("ReasonMagics")


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
    args = parse_argstring(_magic_class().reason, line)
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


async def run_cell(line: str, cell: str):
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


def transform(lines: list[str]) -> list[str]:
    """Input transformer: a `%%reason` cell -> an awaited call on the kernel's loop."""
    if not lines or not lines[0].startswith(MAGIC):
        return lines
    first = lines[0].rstrip("\n")
    rest = first[len(MAGIC):]
    if rest[:1] not in ("", " ", "\t") or first.rstrip().endswith("?"):
        return lines  # another magic (%%reasonx), or %%reason? (help)
    body = "".join(lines[1:])
    return [f"await __import__('nbreason.cell').cell.run_cell({rest.strip()!r}, {body!r})\n"]




def _magic_class():
    from .magic import ReasonMagics  # the magic imports this module: not at import time

    return ReasonMagics
