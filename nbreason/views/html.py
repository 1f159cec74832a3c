"""Static rendering of a run: HTML for `RunResult._repr_html_` and saved notebooks, plain
text for terminals and logs.

Everything here is a pure function of events (or of the pieces they carry), so the same
trace always renders the same way. The live widget view reuses the small pieces
(`code_html`, `markdown_html`, `execution_outputs`, ...) so both look alike.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from ..events import (
    BudgetUpdate, Check, Code, Decision, Error, Event, FinalAnswer, ModelCall,
    Observation, Plan, Retry, RunStarted, Stopped, Usage, Vote,
)

# e2b `Result` fields -> MIME types, richest first (front ends pick the first they know).
RESULT_MIME = {
    "html": "text/html", "markdown": "text/markdown", "svg": "image/svg+xml",
    "png": "image/png", "jpeg": "image/jpeg", "latex": "text/latex",
    "json": "application/json", "text": "text/plain",
}

BUDGETS = (  # (key in BudgetUpdate dicts, label, RunStarted.config limit key)
    ("steps", "steps", "max_steps"),
    ("tokens", "tokens", "max_total_tokens"),
    ("seconds", "time", "max_seconds"),
    ("cost", "cost", "max_cost"),
)

_md = None


def markdown_html(text: str) -> str:
    """Markdown to HTML, raw HTML in the text escaped (model output is not trusted)."""
    global _md
    if _md is None:
        from markdown_it import MarkdownIt

        _md = MarkdownIt("commonmark", {"html": False}).enable("table")
    return _md.render(text or "")


def code_html(code: str, language: str = "python") -> str:
    """Highlighted code with inline styles, so it looks right without any stylesheet."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    try:
        lexer = get_lexer_by_name(language)
    except Exception:
        lexer = get_lexer_by_name("text")
    formatter = HtmlFormatter(noclasses=True, style="default", cssclass="nbreason-code",
                              prestyles="margin:0;padding:6px;overflow-x:auto")
    return highlight(code or "", lexer, formatter)


def format_amount(key: str, value) -> str:
    if value is None:
        return "∞"
    if key == "cost":
        return f"${value:.4f}"
    if key == "seconds":
        return f"{value:.1f} s"
    return f"{int(value):,}"


def traceback_text(error: dict) -> str:
    tb = error.get("traceback") or ""
    return "\n".join(tb) if isinstance(tb, list) else str(tb)


def execution_outputs(execution: dict) -> list[dict]:
    """An e2b-style execution dict as nbformat output dicts (what `Output.outputs` holds)."""
    execution = execution or {}
    logs = execution.get("logs") or execution  # e2b nests stdout/stderr in "logs"; the local sandbox may not
    outputs = []
    for name in ("stdout", "stderr"):
        text = "".join(logs.get(name) or [])
        if text:
            outputs.append({"output_type": "stream", "name": name, "text": text})
    for result in execution.get("results") or []:
        data = {mime: result[key] for key, mime in RESULT_MIME.items() if result.get(key) is not None}
        if data:
            outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
    error = execution.get("error")
    if error:
        outputs.append({
            "output_type": "error", "ename": error.get("name", "Error"),
            "evalue": error.get("value", ""), "traceback": traceback_text(error).splitlines(),
        })
    return outputs


def execution_html(execution: dict) -> str:
    parts = []
    for out in execution_outputs(execution):
        if out["output_type"] == "stream":
            color = "#b00" if out["name"] == "stderr" else "inherit"
            parts.append(f'<pre style="margin:2px 0;color:{color}">{html.escape(out["text"])}</pre>')
        elif out["output_type"] == "error":
            text = f'{out["ename"]}: {out["evalue"]}\n' + "\n".join(out["traceback"])
            parts.append(f'<pre class="nbreason-error" style="margin:2px 0;color:#b00">{html.escape(text)}</pre>')
        else:
            data = out["data"]
            if "text/html" in data:
                parts.append(f"<div>{data['text/html']}</div>")  # tables from the sandbox's pandas
            elif "image/png" in data:
                parts.append(f'<img src="data:image/png;base64,{data["image/png"]}"/>')
            elif "image/jpeg" in data:
                parts.append(f'<img src="data:image/jpeg;base64,{data["image/jpeg"]}"/>')
            elif "image/svg+xml" in data:
                parts.append(f"<div>{data['image/svg+xml']}</div>")
            elif "text/plain" in data:
                parts.append(f'<pre style="margin:2px 0">{html.escape(str(data["text/plain"]))}</pre>')
    return "".join(parts)


def check_html(check: Check) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(s.name)}</td><td>{s.value:.2f}</td><td>{html.escape(s.reason)}</td></tr>"
        for s in check.signals
    )
    table = f'<table class="nbreason-signals" style="font-size:90%">{rows}</table>' if rows else ""
    return f"<div><b>check</b>: reward {check.reward:.2f}{table}</div>"


def stop_reason_text(final: FinalAnswer) -> str:
    verified = {True: ", verified", False: ", verification failed", None: ""}[final.verified]
    return f"{final.stop_reason} · reward {final.reward:.2f}{verified} · {final.steps} step(s)"


@dataclass
class StepSummary:
    """What one step did, gathered from its events."""

    step: int
    plan: str = ""
    code: str = ""
    observation: Observation | None = None
    check: Check | None = None
    decision: Decision | None = None
    errors: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    start: float | None = None
    end: float = 0.0

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - (self.start or 0.0))

    def title(self) -> str:
        parts = [f"Step {self.step}"]
        if self.decision:
            parts.append(self.decision.action)
        if self.check:
            parts.append(f"reward {self.check.reward:.2f}")
        if self.observation and (not self.observation.ok or (self.observation.execution or {}).get("error")):
            parts.append("error")
        parts.append(f"{self.usage.total_tokens:,} tokens · {self.seconds:.1f} s")
        return " · ".join(parts)


def add_to_step(summary: StepSummary, event: Event) -> None:
    """Fold one event into its step's summary (shared with the live view)."""
    if summary.start is None:
        summary.start = event.elapsed
    summary.end = max(summary.end, event.elapsed)
    if isinstance(event, Plan):
        summary.plan = event.text
    elif isinstance(event, Code):
        summary.code = event.code
    elif isinstance(event, Observation):
        summary.observation = event
    elif isinstance(event, Check):
        summary.check = event
    elif isinstance(event, Decision):
        summary.decision = event
    elif isinstance(event, ModelCall):
        summary.usage = summary.usage + event.usage
    elif isinstance(event, Error):
        summary.errors.append(f"{event.source or 'error'}: {event.message}")


@dataclass
class RunSummary:
    started: RunStarted | None = None
    steps: dict[int, StepSummary] = field(default_factory=dict)
    budget: BudgetUpdate | None = None
    errors: list[str] = field(default_factory=list)
    final: FinalAnswer | None = None


def summarize(events) -> RunSummary:
    run = RunSummary()
    for event in events:
        if isinstance(event, RunStarted):
            run.started = event
        elif isinstance(event, BudgetUpdate):
            run.budget = event
        elif isinstance(event, FinalAnswer):
            run.final = event
        elif isinstance(event, (Stopped, Retry)):
            continue
        elif event.step > 0:
            add_to_step(run.steps.setdefault(event.step, StepSummary(event.step)), event)
        elif isinstance(event, Error):
            run.errors.append(f"{event.source or 'error'}: {event.message}")
    return run


def budget_rows(started: RunStarted | None, budget: BudgetUpdate | None) -> list[tuple[str, str, object, object]]:
    """(key, label, spent, limit) per budget; limit None means unlimited."""
    config = started.config if started else {}
    rows = []
    for key, label, config_key in BUDGETS:
        spent = (budget.spent.get(key) if budget else None) or 0
        limit = budget.limits.get(key) if budget and key in budget.limits else config.get(config_key)
        rows.append((key, label, spent, limit))
    return rows


def header_html(started: RunStarted | None) -> str:
    if started is None:
        return "<div><b>nbreason</b></div>"
    config = started.config
    return (
        f'<div class="nbreason-header"><div style="font-size:110%"><b>{html.escape(started.question)}</b></div>'
        f'<div style="color:#666">model <code>{html.escape(str(config.get("model", "")))}</code>'
        f' · sandbox <code>{html.escape(str(config.get("sandbox", "")))}</code></div></div>'
    )


def final_html(final: FinalAnswer) -> str:
    answer = markdown_html(final.answer) if final.answer else "<i>no answer</i>"
    return (
        f'<div class="nbreason-answer" style="border-left:4px solid #2a7;padding:4px 8px">'
        f"<div><b>Answer</b></div>{answer}"
        f'<div style="color:#666">stopped: {html.escape(stop_reason_text(final))}</div></div>'
    )


def step_html(step: StepSummary) -> str:
    parts = [f"<summary><b>{html.escape(step.title())}</b></summary>"]
    if step.plan:
        parts.append(markdown_html(step.plan))
    if step.code:
        parts.append(code_html(step.code))
    if step.observation:
        parts.append(execution_html(step.observation.execution))
    if step.check:
        parts.append(check_html(step.check))
    if step.decision:
        parts.append(f"<div><b>decision</b>: {html.escape(step.decision.action)}"
                     f" — {html.escape(step.decision.reason)}</div>")
    for error in step.errors:
        parts.append(f'<pre style="color:#b00">{html.escape(error)}</pre>')
    return f'<details class="nbreason-step">{"".join(parts)}</details>'


def vote_html(vote: Vote) -> str:
    """Several attempts side by side: each answer, its reward, and why the winner won."""
    rows = "".join(
        f"<tr style=\"{'font-weight:bold' if r['attempt'] == vote.winner_attempt else ''}\">"
        f"<td>{r['attempt']}</td><td>{html.escape(str(r['answer']))}</td><td>{r['reward']:.2f}</td>"
        f"<td>{'yes' if r['verified'] else 'no'}</td><td>{r['tokens']:,}</td><td>{html.escape(r['stop_reason'])}</td></tr>"
        for r in vote.answers)
    tally = ", ".join(f"{html.escape(k)}: {v:g}" for k, v in vote.tally.items())
    early = f"<div>sampling stopped early: {html.escape(vote.stopped_early)}</div>" if vote.stopped_early else ""
    return (f'<div class="nbreason-vote"><b>{html.escape(vote.strategy)} over {len(vote.answers)} attempts</b>'
            '<table><tr><th>attempt</th><th>answer</th><th>reward</th><th>verified</th><th>tokens</th>'
            f'<th>ended</th></tr>{rows}</table><div>tally: {tally}</div>'
            f'<div>winner: {html.escape(vote.why)}</div>{early}</div>')


def run_html(events) -> str:
    """A whole run as one self-contained HTML fragment."""
    events = list(events)
    attempts = sorted({e.attempt for e in events if e.attempt > 0})
    if attempts:  # several attempts: each as its own run, then the vote and the answer
        top = [e for e in events if e.attempt == 0]
        run = summarize(top)
        parts = [header_html(run.started)]
        for number in attempts:
            mine = [e for e in events if e.attempt == number]
            final = next((e for e in mine if isinstance(e, FinalAnswer)), None)
            label = f"attempt {number}: {html.escape(str(final.answer)) if final else '…'}"
            parts.append(f'<details class="nbreason-attempt"><summary>{label}</summary>{run_html_single(mine)}</details>')
        parts += [vote_html(e) for e in top if isinstance(e, Vote)]
        if run.final:
            parts.append(final_html(run.final))
        return f'<div class="nbreason-run">{"".join(parts)}</div>'
    return run_html_single(events)


def run_html_single(events) -> str:
    run = summarize(events)
    budget = " · ".join(
        f"{label} {format_amount(key, spent)} / {format_amount(key, limit)}"
        for key, label, spent, limit in budget_rows(run.started, run.budget)
    )
    parts = [header_html(run.started), f'<div style="color:#666">{html.escape(budget)}</div>']
    parts += [step_html(run.steps[n]) for n in sorted(run.steps)]
    parts += [f'<pre style="color:#b00">{html.escape(e)}</pre>' for e in run.errors]
    if run.final:
        parts.append(final_html(run.final))
    return f'<div class="nbreason-run">{"".join(parts)}</div>'


def event_text(event: Event) -> str | None:
    """One event as a few lines of plain text (None: nothing worth printing)."""
    if isinstance(event, RunStarted):
        return f"? {event.question}\n  model {event.config.get('model')} · sandbox {event.config.get('sandbox')}"
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
        return f"[step {event.step}] reward {event.reward:.2f}"
    if isinstance(event, Decision):
        return f"[step {event.step}] {event.action}: {event.reason}"
    if isinstance(event, Retry):
        return f"retrying in {event.wait:.1f} s ({event.reason})"
    if isinstance(event, Error):
        return f"error ({event.source}): {event.message}"
    if isinstance(event, Stopped):
        return event.reason
    if isinstance(event, FinalAnswer):
        return f"\nAnswer: {event.answer if event.answer is not None else '(none)'}\n({stop_reason_text(event)})"
    return None


def run_text(events) -> str:
    return "\n".join(t for t in map(event_text, events) if t)


def render_result(result) -> str:
    """What `RunResult._repr_html_` returns."""
    return run_html(result.events)
