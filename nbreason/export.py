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

FALLBACK = "Run %reason_export in a new cell to insert the code below it."


def solution_script(code: list[str]) -> str:
    """The code blocks as one script, in the order they ran (they share one namespace)."""
    return "\n\n".join(block.strip("\n") for block in code if block.strip()) + "\n"


def export_cells(code: list[str], question: str | None = None, answer: str | None = None) -> list:
    """nbformat v4 cells: an optional markdown cell with question and answer, then the code."""
    cells = []
    if question:
        text = f"**Question:** {question}"
        if answer:
            text += f"\n\n**Answer:** {answer}"
        cells.append(v4.new_markdown_cell(text))
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
