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
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Float, Int, Unicode
from traitlets.config import Configurable

from . import config as nbconfig
from .config import RunConfig

MAGIC = "%%reason"
STOP_NEEDS = (7, 4)  # first ipykernel that dispatches comm messages while an async cell awaits


def _trait(f: dataclasses.Field):
    help = f"default {f.default!r}; environment NBREASON_{f.name.upper()}"
    kind = str(f.type)
    if "bool" in kind:
        trait = Bool(None, allow_none=True, help=help)
    elif "int" in kind:
        trait = Int(None, allow_none=True, help=help)
    elif "float" in kind:
        trait = Float(None, allow_none=True, help=help)
    else:
        trait = Unicode(None, allow_none=True, help=help)
    return trait.tag(config=True)


# One trait per RunConfig field; None means "not set here".
Reason = type("Reason", (Configurable,), {
    "__doc__": "Defaults for %%reason. Unset (None) fields come from nbreason's config file, "
               "NBREASON_* environment variables, then built-in defaults.",
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


@magics_class
class ReasonMagics(Magics):
    def __init__(self, shell, defaults):
        super().__init__(shell)
        self.defaults = defaults
        self.last = None  # the last RunResult, for %reason_export

    @magic_arguments()
    @argument("--model", help="model name, 'auto', 'local', 'local-small' or 'local:/path.gguf'")
    @argument("--base-url", help="OpenAI-compatible endpoint")
    @argument("--sandbox", choices=["local", "e2b"], help="where the code runs")
    @argument("--max-steps", type=int, help="budget: steps")
    @argument("--max-tokens", type=int, help="budget: total tokens over the run")
    @argument("--max-seconds", type=float, help="budget: wall-clock seconds")
    @argument("--max-cost", type=float, help="budget: dollars")
    @argument("--temperature", type=float)
    @argument("--seed", type=int)
    @argument("--with", dest="with_", metavar="NAME[,NAME...]",
              help="copy these variables from this notebook into the sandbox")
    @argument("-o", "--output", metavar="NAME", help="store the RunResult in this variable")
    @argument("--trace", metavar="FILE", help="write the run's events to this JSONL file")
    @argument("--quiet", action="store_true", help="show only the final answer")
    @argument("--check", metavar="FN",
              help="a function in this notebook, check(answer) -> bool, that verifies the answer")
    @argument("--timeout", type=float, help="seconds per code execution in the sandbox")
    @argument("--self-check", choices=["auto", "off", "verify", "recompute"],
              help="before accepting an answer: verify = the model writes a check that must print True; "
                   "recompute = solve again from scratch until two solutions agree; auto = recompute for "
                   "the embedded models")
    @argument("--attempts", type=int, help="several attempts, each in its own sandbox, then a vote")
    @argument("--strategy", choices=["vote", "wvote", "adaptive"],
              help="with --attempts: majority vote, reward-weighted vote, or adaptive (stop once settled)")
    @cell_magic
    def reason(self, line, cell):
        """Answer the question in the cell by planning, writing and running code, step by step.

        The cell body is the question. Example::

            %%reason --with df --max-steps 4
            Which region had the highest total sales?
        """
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
        """Show the effective %%reason settings, or set defaults: %reason_config max_steps=4 model=auto"""
        names = {f.name for f in dataclasses.fields(RunConfig)}
        for item in line.split():
            key, sep, value = item.partition("=")
            key = key.replace("-", "_")
            if not sep or key not in names:
                raise UsageError(f"expected name=value with a name from: {', '.join(sorted(names))}")
            try:
                setattr(self.defaults, key, nbconfig._coerce(key, value))
            except Exception as exc:
                raise UsageError(f"{key}: {exc}") from None
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
        import math
        from pathlib import Path

        from .trace import read_trace

        args = parse_argstring(ReasonMagics.reason_replay, line)
        if len(args.trace) > 2:
            raise UsageError("%reason_replay takes one trace, or two to compare")
        if not (args.speed > 0 and math.isfinite(args.speed)):
            raise UsageError("--speed expects a positive number of events per second, e.g. 2")
        runs = []
        for path in args.trace:
            try:
                runs.append(read_trace(path))
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read the trace {path}: {exc}") from None
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

            view = ReplayView(runs[0], speed=args.speed, presenter=args.presenter)
        else:
            from .views.compare import CompareView

            view = CompareView(*runs, labels=labels, speed=args.speed, presenter=args.presenter)
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
    options = {
        "model": args.model, "base_url": args.base_url, "sandbox": args.sandbox,
        "max_steps": args.max_steps, "max_total_tokens": args.max_tokens,
        "max_seconds": args.max_seconds, "max_cost": args.max_cost,
        "temperature": args.temperature, "seed": args.seed, "trace": args.trace,
        "exec_timeout": args.timeout, "attempts": args.attempts, "strategy": args.strategy,
        "self_check": args.self_check,
    }
    overrides.update({k: v for k, v in options.items() if v is not None})
    try:
        config = nbconfig.load(overrides)
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
    return config, kwargs, args


async def _run_cell(line: str, cell: str):
    """What a `%%reason` cell becomes. Returns None: the view (or text) already shows the run."""
    shell = get_ipython()
    magics = _magics(shell)
    config, kwargs, args = parse_options(line, shell, magics.defaults if magics else None)
    question = cell.strip()
    if not question:
        raise UsageError("write the question in the cell, below the %%reason line")

    from .runner import reason

    stop = asyncio.Event()
    events = []
    subscribers = [events.append]
    view = handle = None
    if args.quiet:
        pass
    elif _widgets_possible(shell):
        from IPython.display import display

        from .views.widgets import RunView

        view = RunView(stop)
        warning = stop_warning(_kernel_version())
        if warning:
            print(warning, file=sys.stderr)
        handle = display(view.root, display_id=True)
        subscribers.append(view.on_event)
    else:
        subscribers.append(_terminal_view())

    from .runner import QuestionError
    from .variables import VariableError

    try:
        result = await _drive(reason(question, config=config, subscribers=subscribers, stop=stop, **kwargs), stop)
    except (QuestionError, VariableError) as exc:  # the user's input: one line, no traceback
        raise UsageError(str(exc)) from None
    except Exception as exc:  # the kernel must survive anything the run throws
        print(f"nbreason: the run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    finally:
        if view is not None and handle is not None and events:
            _settle(view, handle, events)

    if magics is not None:
        magics.last = result
    if args.output:
        shell.user_ns[args.output] = result
    if args.quiet:
        from .views.safe import terminal_text

        print(terminal_text(result.answer))  # the model's text: no escape sequences into a terminal
    return None


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
    shell.register_magics(ReasonMagics(shell, defaults))
    if _transform not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(_transform)


def unload_ipython_extension(shell) -> None:
    magics = _magics(shell)
    if _transform in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(_transform)
    if magics is not None:
        if magics.defaults in shell.configurables:
            shell.configurables.remove(magics.defaults)
        for kind, names in magics.magics.items():
            for name in names:
                shell.magics_manager.magics[kind].pop(name, None)
        shell.magics_manager.registry.pop("ReasonMagics", None)
