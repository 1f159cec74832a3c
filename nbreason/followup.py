"""Follow-up questions: a run that continues an earlier one in the same Python session.

    first = await reason("Which city is warmest?", config=config, keep_sandbox=True)
    second = await reason("Now per season", config=config, follows=first)

The follow-up runs in the earlier run's sandbox, so the variables it made are still there (the
same objects). The model is reminded of the earlier run by a short digest: its question, its
answer and its code that ran cleanly, not its whole history (small models have small context
windows). The follow-up's `RunStarted.continues` records that run, so a trace says what it
continued and can be continued in turn.

When the earlier sandbox is gone (closed, expired, a restarted kernel, a run in another process:
`nbreason run --continue TRACE`), its state is rebuilt in a fresh sandbox by re-running the
chain's clean code, and a `Rebuilt` event says so.

A sandbox kept for a follow-up is marked with the id of the run that left it (`MARKER`), so a
follow-up can tell a sandbox that still holds that run's state from one whose kernel restarted.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from .events import Continues, FinalAnswer, RunStarted
from .rebuild import run_again

MARKER = "__nbreason_run__"
DIGEST_CODE_CHARS = 1_500  # the earlier code the model sees; the newest blocks are kept
DIGEST_TEXT_CHARS = 300  # the earlier question, and its answer
PROBE_SECONDS = 10.0


class FollowupError(ValueError):
    """A run cannot be continued as asked (no earlier run, a file that is not a trace)."""


def continues_of(previous: Any) -> Continues:
    """What a follow-up of `previous` records: a RunResult, a `Continues`, or a trace file."""
    if isinstance(previous, Continues):
        return previous
    if isinstance(previous, (str, os.PathLike)):
        previous = from_trace(previous)
    events = getattr(previous, "events", None)
    if events is None:
        raise FollowupError(f"cannot continue a {type(previous).__name__}: give the RunResult of the earlier run "
                            "(or, in the terminal, its trace file)")
    started = next((e for e in events if isinstance(e, RunStarted) and e.attempt == 0), None)
    if started is None:
        raise FollowupError("the earlier run ended before it started (see its error): there is nothing to continue")
    final = next((e for e in reversed(events) if isinstance(e, FinalAnswer) and e.attempt == 0), None)
    if final is not None:
        code = list(final.code)
    else:  # a run killed before its end: the code that ran cleanly, step by step
        code = [s.code for s in getattr(previous, "steps", []) if s.code and s.observation and not s.failed]
    before = started.continues
    return Continues(
        run_id=started.run_id, question=started.question, answer=final.answer if final else None,
        trace=str(getattr(previous, "trace_path", None) or "") or None, code=code,
        setup=[*before.setup, *before.code] if before else [],
        variables=_union(before.variables if before else [], started.variables),
        files=_union(before.files if before else [], started.files))


def from_trace(path: str | os.PathLike):
    """The RunResult of a trace file, to continue it. FollowupError (one line) when it cannot be read."""
    from .result import RunResult
    from .trace import TraceError, load_trace

    try:
        contents = load_trace(path)
    except TraceError as exc:
        raise FollowupError(f"--continue {exc}") from None
    if not any(isinstance(e, RunStarted) for e in contents.events):
        raise FollowupError(f"--continue {path}: no run in this trace to continue")
    return RunResult.from_events(contents.events, trace_path=str(Path(path).resolve()))


def digest(continues: Continues) -> str:
    """The short reminder the model gets of the earlier run."""
    lines = ["This question follows an earlier one, asked in this same Python session.",
             f"Earlier question: {_cut(continues.question.strip(), DIGEST_TEXT_CHARS)}",
             f"Its answer: {_cut(str(continues.answer), DIGEST_TEXT_CHARS) if continues.answer is not None else '(none)'}"]
    code = _newest(continues.code, DIGEST_CODE_CHARS)
    if code:
        lines.append("Its code already ran here, so its variables are defined:")
        lines.append(f"```python\n{code}\n```")
    return "\n".join(lines)


def _newest(blocks: list[str], limit: int) -> str:
    """The newest code blocks that fit in `limit` characters, in order, with a note of the rest."""
    kept: list[str] = []
    size = 0
    for block in reversed([b.strip("\n") for b in blocks if b.strip()]):
        if size + len(block) > limit:
            if not kept:  # one long block: its end, where its results are named
                kept.append("# …\n" + block[-limit:])
            break
        kept.append(block)
        size += len(block) + 1
    left = len([b for b in blocks if b.strip()]) - len(kept)
    note = [f"# ({left} earlier block{'s' if left != 1 else ''} not shown)"] if left > 0 else []
    return "\n".join(note + list(reversed(kept)))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


# --- the sandbox -------------------------------------------------------------------------------

def take_sandbox(previous: Any):
    """The earlier run's kept sandbox, handed over to the follow-up (None: there is none)."""
    sandbox = getattr(previous, "sandbox", None)
    if sandbox is not None:
        previous.sandbox = None  # the follow-up owns it now: one owner closes it
    return sandbox


# Data files the user gave to a run of this process (resolved paths). A trace is data anyone can
# write: a crafted one could name ~/.ssh/id_rsa, and a copy would put it where the model's code
# reads it and prints it into the trace. So a rebuild copies again only files given here, not
# files a chain of runs names (a chain may have started from a trace).
_GIVEN: set[str] = set()


def given(paths) -> None:
    """Record data files the user gave to a run of this process."""
    _GIVEN.update(str(p) for p in paths)


def gone_reason(previous: Any) -> str:
    """Why a follow-up of `previous` cannot use the earlier run's own sandbox."""
    if isinstance(previous, (str, os.PathLike, Continues)):
        return "the earlier run ran in another process"
    return "the earlier run's sandbox was closed"


async def mark(sandbox, run_id: str) -> bool:
    """Leave the run's id in the sandbox, for a follow-up to recognise its state. False: it did not answer."""
    try:
        execution = await sandbox.run_code(f"{MARKER} = {run_id!r}", timeout=PROBE_SECONDS)
    except Exception:
        return False
    return execution.error is None


async def holds(sandbox, run_id: str) -> bool:
    """Whether `sandbox` still holds the state run `run_id` left (not a restarted or expired kernel)."""
    try:
        execution = await asyncio.wait_for(
            sandbox.run_code(f"print(globals().get({MARKER!r}))", timeout=PROBE_SECONDS), PROBE_SECONDS + 5)
    except Exception:
        return False
    printed = "".join(execution.logs.stdout).strip() if execution.error is None else ""
    return printed == run_id


async def rebuild(sandbox, continues: Continues, why: str, *, timeout: float, given_files: list[str],
                  given_variables: list[str]) -> dict:
    """Re-run the chain's clean code in `sandbox`; the fields of the `Rebuilt` event that says so.

    Data files the chain used are copied again where they still exist, if the user gave them to a
    run of this process (`_GIVEN`); otherwise, like notebook variables, they must be given again:
    the notes say what was not. A file given again under the same name (a newer version) is kept."""
    from . import datafiles

    notes = []
    names = {Path(p).name for p in given_files}
    for path in continues.files:
        if Path(path).name in names:  # given again (maybe a newer version): placed already
            continue
        if path not in _GIVEN:
            notes.append(f"data file {Path(path).name} not copied again: a trace cannot choose files to copy; "
                         f"give it again with --with {path}")
            continue
        try:
            await datafiles.place(sandbox, datafiles.describe(path, with_sample=False))
        except (datafiles.DataFileError, OSError) as exc:
            notes.append(f"data file not copied again: {exc}")
    missing = [name for name in continues.variables if name not in given_variables]
    if missing:
        notes.append(f"variable{'s' if len(missing) > 1 else ''} {', '.join(missing)} not given again")
    blocks = [*continues.setup, *continues.code]
    rerun = await run_again(sandbox, blocks, timeout)
    return {"why": why, "blocks": len(blocks), "ran": rerun.ran, "failed": rerun.failed, "notes": notes}


def continues_from(later: list, earlier: list) -> bool:
    """Whether the run of `later` events continues the run of `earlier` (a chain of follow-ups)."""
    from .events import RunStarted

    first = next((e for e in earlier if isinstance(e, RunStarted)), None)
    then = next((e for e in later if isinstance(e, RunStarted)), None)
    link = getattr(then, "continues", None) if then is not None else None
    run_id = getattr(link, "run_id", None) if link is not None and not isinstance(link, dict) else \
        (link or {}).get("run_id")
    return first is not None and run_id is not None and run_id == first.run_id
