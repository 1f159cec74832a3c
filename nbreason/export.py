"""Turning a run's working code into notebook cells.

Three routes, because front ends differ:
- `export_cells` builds nbformat cells (for writing notebooks, `RunResult.export_cells()`);
- `insert_below` asks the front end for a new cell below the running one via IPython's
  `set_next_input` (works in every Jupyter front end, but only while a cell executes,
  so it backs `%reason_export`);
- `javascript_output` is what the Export button shows: a script that inserts one cell per
  code block where the page exposes an application object (classic Notebook, JupyterLab
  started with `--LabApp.expose_app_in_browser`), and says what to run otherwise.
"""

from __future__ import annotations

import json

import nbformat.v4 as v4

from .views.safe import code_span, fenced, markdown_text as text

FALLBACK = "Run %reason_export in a new cell to insert the code below it."


def solution_script(code: list[str]) -> str:
    """The code blocks as one script, in the order they ran (they share one namespace)."""
    return "\n\n".join(block.strip("\n") for block in code if block.strip()) + "\n"


def export_cells(code: list[str], question: str | None = None, answer: str | None = None) -> list:
    """nbformat v4 cells: an optional markdown cell with question and answer, then the code.
    Text from a run is escaped in Markdown: some renderers (nbconvert) let raw HTML through."""
    cells = []
    if question:
        heading = f"**Question:** {text(question)}"
        if answer:
            heading += f"\n\n**Answer:** {text(answer)}"
        cells.append(v4.new_markdown_cell(heading))
    cells += [v4.new_code_cell(block.strip("\n")) for block in code if block.strip()]
    return cells


def cells_from_result(result) -> list:
    """`RunResult.export_cells()`: the question and answer, then the code that ran cleanly."""
    final = result.final
    code = list(final.code) if final else [s.code for s in result.steps if s.code]
    return export_cells(code, result.question, result.answer)


def insert_below(code: list[str], shell=None) -> bool:
    """Put the code in a new cell below the executing one. False outside IPython."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None or not code:
        return False
    shell.set_next_input(solution_script(code), replace=False)
    return True


_SCRIPT = """
(function (blocks, element) {
  var say = function (text) { try { element.textContent = text; } catch (e) {} };
  var app = window.jupyterapp;
  if (app && app.commands && app.shell && app.shell.currentWidget && app.shell.currentWidget.content) {
    var notebook = app.shell.currentWidget.content;
    // Wait until this output is attached, then insert below the cell that holds it.
    setTimeout(function () {
      var index = notebook.widgets.findIndex(function (cell) { return element && cell.node.contains(element); });
      if (index >= 0) { notebook.activeCellIndex = index; }
      var chain = Promise.resolve();
      blocks.forEach(function (source) {
        chain = chain.then(function () {
          return app.commands.execute('notebook:insert-cell-below');
        }).then(function () {
          notebook.activeCell.model.sharedModel.setSource(source);
        });
      });
      chain.then(function () { say('Inserted ' + blocks.length + ' cell(s) below.'); });
    }, 50);
    return;
  }
  if (window.Jupyter && window.Jupyter.notebook) {
    var nb = window.Jupyter.notebook;
    blocks.slice().reverse().forEach(function (source) {
      nb.insert_cell_below('code', nb.get_selected_index()).set_text(source);
    });
    say('Inserted ' + blocks.length + ' cell(s) below.');
    return;
  }
  say(%(fallback)s);
})(%(blocks)s, typeof element !== 'undefined' ? element : null);
"""


def javascript_output(code: list[str]) -> dict:
    """A raw display_data output dict (append it to `Output.outputs`) that inserts the cells."""
    blocks = [block.strip("\n") for block in code if block.strip()]
    script = _SCRIPT % {"blocks": json.dumps(blocks), "fallback": json.dumps(FALLBACK)}
    return {
        "output_type": "display_data",
        "data": {"application/javascript": script, "text/plain": FALLBACK},
        "metadata": {},
    }


# --- whole runs: a notebook that re-runs without nbreason, and a one-file HTML report ----------

def notebook_from_events(events):
    """A run as a notebook: markdown for the question, plans, checks and answer; code cells for
    the code that ran cleanly (failed tries appear as markdown, so Run All reproduces the answer).

    With several attempts, each gets a section of its own. Only the winning attempt's clean code
    becomes code cells: the attempts ran in separate sandboxes, so the others' code is shown as
    markdown, where running it cannot disturb the winner's state.

    A follow-up (a run that continued an earlier one) opens with the earlier run's question and
    answer, and its code as code cells: the follow-up's session already held that state."""
    return notebook_from_runs([events])


def notebook_from_runs(runs):
    """Several runs, in order, as one notebook: a chain of follow-ups (`nbreason export a.jsonl
    b.jsonl`) shares one session, so a run whose predecessor is the run before it in the list
    does not repeat that run's code."""
    import nbformat

    from .result import fold

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    before = None
    for events in runs:
        run = fold(events)
        nb.cells += _run_cells(run, follows_previous=before is not None and run.started is not None
                               and run.started.continues is not None and run.started.continues.run_id == before,
                               first=before is None)
        before = run.started.run_id if run.started is not None else None
    nbformat.validate(nb)
    return nb


def _run_cells(run, *, follows_previous: bool, first: bool) -> list:
    cells = _opening_cells(run.started, follows_previous=follows_previous, first=first)
    if run.part(0).rebuilt is not None:
        cells.append(v4.new_markdown_cell(f"*{text(run.part(0).rebuilt.message)}.*"))
    if not run.attempts:
        cells += _step_cells(run.steps_of(0), runnable=True)
    for number in run.attempts:
        won = run.vote is not None and run.vote.winner is not None and number == run.winner
        final = run.part(number).final
        heading = f"## Attempt {number}"
        if final is not None:
            heading += (f": answered {code_span(final.answer)} ({text(final.stop_reason)}, "
                        f"reward {_number(final.reward, '.2f')})")
        note = ("*The answer given: its clean code runs below.*" if won else
                "*Its code is shown, not run: it ran in a sandbox of its own.*")
        cells.append(v4.new_markdown_cell(f"{heading}\n\n{note}"))
        cells += _step_cells(run.steps_of(number), runnable=won, attempt=number)
    if run.vote is not None:
        vote = run.vote
        tally = ", ".join(f"{code_span(entry.key)}: {_number(entry.votes, 'g')}" for entry in vote.tally
                          if hasattr(entry, "key"))
        cells.append(v4.new_markdown_cell(f"**Vote** ({text(vote.strategy)} over {len(vote.answers)} attempts): "
                                          f"{tally or 'no answers'}. {text(vote.why)}"))
    if run.final is not None:
        final = run.final
        cells.append(v4.new_markdown_cell(
            f"**Answer:** {text(final.answer)}\n\n*{text(final.stop_reason)} after {text(final.steps)} steps, "
            f"{text(final.usage.total_tokens)} tokens.*"))
    return cells


def _opening_cells(started, *, follows_previous: bool = False, first: bool = True) -> list:
    if started is None:
        return []
    cfg = started.config if isinstance(started.config, dict) else {}
    question = started.question.strip()
    continues = started.continues
    title = question.splitlines()[0][:120] if question else "nbreason run"
    heading = f"# {text(title)}" if first else f"## Follow-up: {text(title)}"
    # A trace can be edited by hand: even the question and settings are escaped.
    body = _paragraphs(started.question)
    cells = [v4.new_markdown_cell(
        f"{heading}\n\n"
        f"{body}\n\n*Solved by nbreason with model {code_span(cfg.get('model'))} in a "
        f"{code_span(cfg.get('sandbox'))} sandbox. The code cells below re-run without nbreason.*")]
    if continues is not None:
        cells.append(v4.new_markdown_cell(
            f"*This run continues an earlier one:* **{text(continues.question.strip())}** → "
            f"{code_span(continues.answer)}" + ("" if follows_previous else
                                       "\n\nThe earlier run's code comes first: this run's session held its state.")))
        if not follows_previous:
            cells += [v4.new_code_cell(block.strip("\n"))
                      for block in [*continues.setup, *continues.code] if block.strip()]
    if started.files:
        from pathlib import PurePath

        names = ", ".join(code_span(PurePath(path).name) for path in started.files)
        cells.append(v4.new_markdown_cell(f"The run was given these data files: {names} (put them beside this "
                                          "notebook first)."))
    if started.context.strip():
        cells.append(v4.new_markdown_cell("The run had these variables (recreate them first):\n\n"
                                          + fenced(started.context.strip())))
    return cells


def _step_cells(steps, *, runnable: bool, attempt: int = 0) -> list:
    """One attempt's steps: its plans, its code (as code cells when `runnable` and clean) and checks."""
    cells = []
    where = f"Attempt {attempt}, step" if attempt else "Step"
    for step in steps:
        if step.plan:
            cells.append(v4.new_markdown_cell(f"**{where} {step.step}.** {_paragraphs(step.plan)}"))
        if step.code is not None:
            code = step.code.strip("\n")
            error = step.execution.error if step.execution is not None else None
            if step.observation is None:
                cells.append(v4.new_markdown_cell(f"{where} {step.step} was stopped while running this:\n\n"
                                                  + fenced(code, "python")))
            elif step.failed:
                failure = code_span(f"{error.name}: {error.value}") if error is not None else "an error"
                cells.append(v4.new_markdown_cell(f"{where} {step.step} tried this, which failed with {failure}:\n\n"
                                                  + fenced(code, "python")))
            elif runnable:
                cells.append(v4.new_code_cell(code))
            else:
                cells.append(v4.new_markdown_cell(f"{where} {step.step} ran:\n\n" + fenced(code, "python")))
        check = step.check
        if check is not None and check.answer is not None:
            signals = "; ".join(f"{text(s.name)} {_number(s.value, '.2f')} ({text(s.reason)})" for s in check.signals)
            cells.append(v4.new_markdown_cell(f"*Check of answer {code_span(check.answer)}: reward {_number(check.reward, '.2f')}: "
                                              f"{signals}.*"))
    return cells


def _paragraphs(value) -> str:
    """Untrusted text as escaped Markdown paragraphs (blank lines kept, lines joined within one)."""
    return "\n\n".join(text(part) for part in str(value).split("\n\n") if part.strip())


def _number(value, spec: str) -> str:
    """A number as `spec` formats it; anything else a hand-edited trace put there, as text."""
    try:
        return format(value, spec) if isinstance(value, (int, float)) else text(value)
    except (TypeError, ValueError, OverflowError):  # 10**400 fits no float
        return text(value)


REPORT_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; }
details { border: 1px solid #ddd; border-radius: 4px; padding: .4rem .8rem; margin: .5rem 0; }
details[open] summary { margin-bottom: .5rem; }
img { max-width: 100%; }
.nbreason-html table { border-collapse: collapse; }
.nbreason-html th, .nbreason-html td { border: 1px solid #ccc; padding: .15rem .5rem; }
"""


def report_html(events, title: str | None = None) -> str:
    """One self-contained HTML page (images inline) for sharing a run.

    Its content is sanitised like every other view; the page also forbids scripts, remote
    loads and forms (Content-Security-Policy), so a browser would refuse anything that slipped by."""
    return report_html_runs([events], title)


def report_html_runs(runs, title: str | None = None) -> str:
    """Several runs (a chain of follow-ups), one after the other, in one page."""
    from markupsafe import Markup

    from .views.html import run_html
    from .views.templates import render

    body = Markup("").join(run_html(events, open_steps=True) for events in runs)
    return str(render("report.html", title=title or "nbreason run", style=Markup(REPORT_STYLE), body=body))


def write_comparison(left, right, path, labels: tuple[str, str] = ("A", "B")) -> str:
    """Write two runs side by side to `path`, an .html page (sanitised like every other view)."""
    from pathlib import Path

    from .views.compare import compare_report

    target = Path(path)
    if target.suffix not in (".html", ".htm"):
        raise ValueError(f"{path}: two runs compared export to .html")
    _replace_with(target, compare_report(left, right, labels))
    return str(target)


def write_export(events, path) -> str:
    """Write a run to `path`: .ipynb (notebook) or .html (report)."""
    return write_runs([events], path)


def write_runs(runs, path) -> str:
    """Write runs, in order, to one .ipynb or .html file."""
    from pathlib import Path

    import nbformat

    target = Path(path)
    if target.suffix == ".ipynb":
        written = nbformat.writes(notebook_from_runs(runs))
        _replace_with(target, written if written.endswith("\n") else written + "\n")
    elif target.suffix in (".html", ".htm"):
        _replace_with(target, report_html_runs(runs))
    else:
        raise ValueError(f"{path}: export to .ipynb or .html")
    return str(target)


def _replace_with(target, text: str) -> None:
    """Write `text` to a new file beside `target`, then rename it over `target`: an export that
    fails half-way (a full disk, text that cannot be encoded) leaves an earlier export whole."""
    import os
    import secrets
    import stat

    from .events import clean_text

    data = clean_text(text).encode("utf-8")  # events built in memory may still hold a lone surrogate
    if target.is_symlink():  # written through the link, as writing in place did; the link stays
        target = target.resolve()
    temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
    # 0o666 less the umask, as a file written in place would get; an earlier export keeps its own mode.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            try:
                os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
            except FileNotFoundError:
                pass
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
