"""Static rendering of a run: HTML for `RunResult._repr_html_` and saved notebooks, plain
text for terminals and logs.

Everything here is a pure function of events (or of the pieces they carry), so the same
trace always renders the same way. The live widget view reuses the small pieces
(`code_html`, `markdown_html`, `execution_outputs`, ...) so both look alike.

Nothing in an event is trusted: the HTML comes from autoescaping templates (`templates.py`),
and what the sandbox displayed is sanitised (`safe.py`) on every render, including the
bundles the live widgets hand to the front end.
"""

from __future__ import annotations

import math

from markupsafe import Markup

from ..events import (
    AttemptAnswer, BudgetUpdate, Check, Code, Continues, Decision, Error, Event, FinalAnswer, Observation, Plan,
    Rebuilt, Retry, RunStarted, Stopped, TallyEntry, Vote,
)
from ..execution import ErrorRecord, ExecutionRecord, ResultRecord
from ..result import RunFold, Step, fold
from .safe import clean_html, safe_bundle, shown_code, terminal_text
from .templates import count_text, number_text, render

# e2b `Result` fields -> MIME types, richest first (front ends pick the first they know).
RESULT_MIME = {
    "html": "text/html", "markdown": "text/markdown", "svg": "image/svg+xml",
    "png": "image/png", "jpeg": "image/jpeg", "latex": "text/latex",
    "json": "application/json", "text": "text/plain",
    "javascript": "application/javascript",  # read only to say it was not shown (safe.safe_bundle)
}

BUDGETS = (  # (field of Spent and Limits, label, RunStarted.config limit key)
    ("steps", "steps", "max_steps"),
    ("tokens", "tokens", "max_total_tokens"),
    ("seconds", "time", "max_seconds"),
    ("cost", "cost", "max_cost"),
)

_md = None


def markdown_html(text: str) -> Markup:
    """Markdown to HTML: raw HTML in the text escaped, the result sanitised (no script, no
    `javascript:` links, no remote images: model output is not trusted)."""
    global _md
    if _md is None:
        from markdown_it import MarkdownIt

        _md = MarkdownIt("commonmark", {"html": False}).enable("table")
    text = text if isinstance(text, str) else "" if text is None else str(text)
    return Markup(clean_html(_md.render(text)))


def code_html(code: str, language: str = "python") -> Markup:
    """Highlighted code with inline styles, so it looks right without any stylesheet."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    try:
        lexer = get_lexer_by_name(str(language))
    except Exception:
        lexer = get_lexer_by_name("text")
    formatter = HtmlFormatter(noclasses=True, style="default", cssclass="nbreason-code",
                              prestyles="margin:0;padding:6px;overflow-x:auto")
    code = code if isinstance(code, str) else "" if code is None else str(code)
    return Markup(highlight(shown_code(code), lexer, formatter))  # pygments escapes every token


def format_amount(key: str, value) -> str:
    if value is None:
        return "∞"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)  # a hand-crafted trace: shown as it is (and escaped where it is shown)
    if key == "cost":
        return "$" + number_text(value, 4)
    if key == "seconds":
        return number_text(value, 1) + " s"
    return count_text(value)  # 10**400 or Infinity from a trace's settings: as it is


def traceback_text(error: ErrorRecord) -> str:
    tb = error.traceback
    return "\n".join(map(str, tb)) if isinstance(tb, (list, tuple)) else "" if tb is None else str(tb)


def _joined(value) -> str:
    """Stream text as e2b keeps it (a sequence of pieces), or whatever a record holds, as text."""
    if isinstance(value, (list, tuple)):
        return "".join(v if isinstance(v, str) else str(v) for v in value)
    return "" if value is None else str(value)


def execution_outputs(execution: ExecutionRecord | None) -> list[dict]:
    """An execution record as nbformat output dicts (what `Output.outputs` holds).

    The display bundles are sanitised here (`safe.safe_bundle`): the live widgets hand them to
    the front end, whose own renderers treat an Output widget's content as trusted."""
    if not isinstance(execution, ExecutionRecord):
        return []
    outputs = []
    for name, pieces in (("stdout", execution.stdout), ("stderr", execution.stderr)):
        text = _joined(pieces)
        if text:
            outputs.append({"output_type": "stream", "name": name, "text": text})
    for result in execution.results:
        if not isinstance(result, ResultRecord):
            continue
        data = safe_bundle({mime: getattr(result, key) for key, mime in RESULT_MIME.items()
                            if getattr(result, key) is not None})
        if data:
            outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
    error = execution.error
    if isinstance(error, ErrorRecord):
        outputs.append({
            "output_type": "error", "ename": str(error.name), "evalue": str(error.value),
            "traceback": traceback_text(error).splitlines(),
        })
    return outputs


def execution_html(execution: ExecutionRecord | None) -> Markup:
    # The template sanitises `text/html` once more: the outputs are the boundary, not a promise.
    return render("outputs.html", outputs=execution_outputs(execution))


def check_html(check: Check) -> Markup:
    return render("check.html", check=check)


def stop_reason_text(final: FinalAnswer) -> str:
    return f"{final.stop_reason} · {confidence_text(final)} · reward {number_text(final.reward)} · {final.steps} step(s)"


def confidence_text(final: FinalAnswer) -> str:
    """'confidence 0.95, verified' / 'confidence 0.41, not verified' / 'unchecked'."""
    if not isinstance(final.confidence, (int, float)) or isinstance(final.confidence, bool):
        # Traces written before confidences existed say only whether the reward passed.
        return {True: "verified", False: "not verified"}.get(final.verified, "unchecked") \
            if isinstance(final.verified, bool) else "unchecked"
    return f"confidence {number_text(final.confidence)}, {'verified' if final.verified else 'not verified'}"


def competing_text(final: FinalAnswer) -> str:
    """Which method gave which value, when the methods disagreed ("program: 10.0 · prose: 30")."""
    from ..answers import key
    from ..policy.verification import solutions_text

    rows = [row for row in final.solutions if getattr(row, "method", None)]
    return solutions_text(rows) if len({key(r.answer) for r in rows if r.answer is not None}) > 1 else ""


def error_line(error: Error) -> str:
    return f"{error.source or 'error'}: {error.message}"


def step_title(step: Step) -> str:
    """'Step 2 · final · reward 1.00 · 120 tokens · 0.7 s' (also the live view's accordion titles)."""
    parts = [f"Step {step.step}"]
    if step.decision:
        parts.append(step.decision.action)
    if step.check:
        parts.append(f"reward {number_text(step.check.reward)}")
    if step.failed:
        parts.append("error")
    parts.append(f"{step.usage.total_tokens:,} tokens · {step.seconds:.1f} s")
    return " · ".join(str(part) for part in parts)


def budget_rows(started: RunStarted | None, budget: BudgetUpdate | None) -> list[tuple[str, str, object, object]]:
    """(key, label, spent, limit) per budget; limit None means unlimited."""
    config = started.config if started is not None and isinstance(started.config, dict) else {}
    rows = []
    for key, label, config_key in BUDGETS:
        spent = (getattr(budget.spent, key, None) if budget else None) or 0
        limits = budget.limits if budget else None
        limit = getattr(limits, key, None) if limits is not None else config.get(config_key)
        rows.append((key, label, spent, limit))
    return rows


def money(value) -> str | None:
    """'0.0240' for a positive, finite amount of USD; None for anything else a trace may hold."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        amount = float(value)
    except OverflowError:
        return None
    return f"{amount:.4f}" if math.isfinite(amount) and amount > 0 else None


def header_html(started: RunStarted | None) -> Markup:
    """The question, the model and sandbox, the checks and the most the run can spend, and for a
    follow-up a link to the run it continues."""
    config = started.config if started is not None and isinstance(started.config, dict) else {}
    continues = started.continues if started is not None and isinstance(started.continues, Continues) else None
    return render("header.html", started=started, config=config, continues=continues,
                  ceiling=money(config.get("cost_ceiling")))


def continues_text(continues: Continues) -> str:
    """'continues: Which city is warmest? → Cairo'."""
    question = continues.question if len(continues.question) <= 120 else continues.question[:119] + "…"
    return f"continues: {question} → {continues.answer if continues.answer is not None else 'no answer'}"


def notes_html(rebuilt: Rebuilt | None, started: RunStarted | None = None) -> Markup:
    """Notes under the header: a rebuilt state; in a saved view, the earlier run's code too."""
    notes = render("notes.html", notes=[rebuilt_text(rebuilt)] if rebuilt is not None else [])
    continues = started.continues if started is not None and isinstance(started.continues, Continues) else None
    if continues is not None and continues.code:
        code = code_html("\n\n".join(block.strip("\n") for block in continues.code))
        notes += render("earlier.html", code=code, blocks=len(continues.code))
    return Markup(notes)


def rebuilt_text(rebuilt: Rebuilt) -> str:
    return f"rebuilt: {rebuilt.message}"


def final_html(final: FinalAnswer) -> Markup:
    answer = markdown_html(final.answer) if final.answer else None
    return render("final.html", answer=answer, stopped=stop_reason_text(final), competing=competing_text(final))


def step_html(step: Step, *, open: bool = False) -> Markup:
    return render(
        "step.html", title=step_title(step), decision=step.decision, open=open,
        errors=[error_line(e) for e in step.errors],
        plan=markdown_html(step.plan) if step.plan else "",
        code=code_html(step.code) if step.code else "",
        outputs=execution_html(step.execution) if step.observation else "",
        check=check_html(step.check) if step.check else "",
    )


def vote_html(vote: Vote) -> Markup:
    """Several attempts side by side: each answer, its reward, and why the winner won."""
    rows = [r for r in vote.answers if isinstance(r, AttemptAnswer)] if isinstance(vote.answers, list) else []
    tally = [(e.key, e.votes) for e in vote.tally if isinstance(e, TallyEntry)] if isinstance(vote.tally, list) else []
    return render("vote.html", vote=vote, rows=rows, tally=tally)


def run_html(events, *, open_steps: bool = False) -> Markup:
    """A whole run as one self-contained HTML fragment (`open_steps`: every step unfolded)."""
    run = fold(events)
    if not run.attempts:
        return _part_html(run, 0, open_steps)
    # Several attempts: each as its own run, then the vote and the answer.
    parts = [render("attempt.html", number=n, final=run.part(n).final, body=_part_html(run, n, open_steps))
             for n in run.attempts]
    if run.vote is not None:
        parts.append(vote_html(run.vote))
    return render("run.html", header=header_html(run.started), budget=None, parts=parts,
                  notes=notes_html(run.part(0).rebuilt, run.started),
                  errors=[error_line(e) for e in run.errors], final=final_html(run.final) if run.final else "")


def _part_html(run: RunFold, attempt: int, open_steps: bool) -> Markup:
    """The run itself (0), or one attempt, as a run: header, budget, steps, errors, answer."""
    part = run.part(attempt)
    budget = " · ".join(
        f"{label} {format_amount(key, spent)} / {format_amount(key, limit)}"
        for key, label, spent, limit in budget_rows(part.started, part.budget)
    )
    return render("run.html", header=header_html(part.started), budget=budget,
                  notes=notes_html(part.rebuilt, part.started),
                  parts=[step_html(step, open=open_steps) for step in run.steps_of(attempt)],
                  errors=[error_line(e) for e in part.errors], final=final_html(part.final) if part.final else "")


def event_text(event: Event) -> str | None:
    """One event as a few lines of plain text (None: nothing worth printing), control
    characters from the model, the sandbox or a trace shown as visible escapes."""
    text = _event_text(event)
    return None if text is None else terminal_text(text)


def _event_text(event: Event) -> str | None:
    if isinstance(event, RunStarted):
        cfg = event.config if isinstance(event.config, dict) else {}
        text = f"? {event.question}\n  model {cfg.get('model')} · sandbox {cfg.get('sandbox')}"
        if isinstance(event.continues, Continues):
            text += f"\n  {continues_text(event.continues)}"
        return text
    if isinstance(event, Rebuilt):
        return rebuilt_text(event)
    if isinstance(event, Plan):
        return f"\n[step {event.step}] plan\n{event.text}"
    if isinstance(event, Code):
        return f"[step {event.step}] code\n{event.code}"
    if isinstance(event, Observation):
        lines = []
        for out in execution_outputs(event.execution):
            if out["output_type"] == "stream":
                lines.append(out["text"].rstrip("\n"))
            elif out["output_type"] == "error":
                lines.append(f"{out['ename']}: {out['evalue']}")
            else:
                lines.append(str(out["data"].get("text/plain", "[" + ", ".join(out["data"]) + "]")))
        return f"[step {event.step}] output\n" + "\n".join(lines)
    if isinstance(event, Check):
        return f"[step {event.step}] reward {number_text(event.reward)}"
    if isinstance(event, Decision):
        return f"[step {event.step}] {event.action}: {event.reason}"
    if isinstance(event, Retry):
        return f"retrying in {number_text(event.wait, 1)} s ({event.reason})"
    if isinstance(event, Error):
        return f"error ({event.source}): {event.message}"
    if isinstance(event, Stopped):
        return event.reason
    if isinstance(event, FinalAnswer):
        disagree = competing_text(event)
        return (f"\nAnswer: {event.answer if event.answer is not None else '(none)'}\n({stop_reason_text(event)})"
                + (f"\nthe methods disagree: {disagree}" if disagree else ""))
    return None


def run_text(events) -> str:
    return "\n".join(t for t in map(event_text, events) if t)


def render_result(result) -> str:
    """What `RunResult._repr_html_` returns."""
    return str(run_html(result.events))
