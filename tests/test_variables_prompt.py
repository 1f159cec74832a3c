"""Passed variables as the model meets them: told they exist, described, and usable by name."""

from __future__ import annotations

import pandas as pd
from vega_datasets import local_data

from nbreason.config import RunConfig
from nbreason.events import Decision, Error, Observation
from nbreason.prompts import variables_note
from nbreason.runner import reason
from tests.support.scripted_server import Reply, ScriptedServer


def test_the_note_names_every_variable_and_forbids_loading_or_retyping():
    assert variables_note(["df"]) == ("`df` is already defined in this Python session. Use it as it is: "
                                      "do not load, re-create or type in any data.")
    assert variables_note(["df", "df2"]).startswith("`df` and `df2` are already defined")
    assert variables_note(["a", "b", "c"]).startswith("`a`, `b` and `c` are already defined")


async def test_the_question_says_the_table_exists_describes_it_and_the_program_uses_it():
    barley = local_data("barley")
    program = "print(df.groupby('variety')['yield'].sum().idxmax())"
    with ScriptedServer([Reply(f"```python\n{program}\n```"), Reply("FINAL ANSWER: Trebi")]) as server:
        config = RunConfig(model="scripted", base_url=server.base_url, api_key="sk-test", protocol="text",
                           exec_timeout=30, self_check="off")
        result = await reason("Which variety yields most in total?", config=config, variables={"df": barley})
    question = server.requests[0]["messages"][1]["content"]
    note = question.index("`df` is already defined in this Python session")
    described = question.index("df: pandas DataFrame, 120 rows × 4 columns")
    assert question.startswith("Which variety yields most in total?") and note < described
    assert "'Wisconsin No. 38'" in question and "first 3 rows:" in question
    assert result.answer == "Trebi"
    assert "Trebi" in "".join(result.steps[0].execution.stdout)


async def test_a_backtrack_to_a_fresh_session_keeps_the_passed_variables():
    failing = Reply("```python\nprint(df['missing'])\n```")
    # the same failing code again, and twice more when redrawn: stalled, back to a fresh session
    script = [failing, failing, failing, failing,
              Reply("```python\nprint(df['a'].sum())\n```"), Reply("FINAL ANSWER: 6")]
    result, requests = await sum_a(script, "off")
    assert any(isinstance(e, Decision) and e.action == "backtrack" for e in result.events)
    told = requests[4]["messages"][-1]["content"]
    assert "fresh Python session where the variables you were given are defined again" in told
    summed = next(s for s in result.steps if s.code and "sum()" in s.code)
    assert summed.execution.error is None, summed.execution.error
    assert "6" in "".join(summed.execution.stdout)
    assert result.answer == "6"


async def sum_a(script: list[Reply], self_check: str):
    """"Sum a." over a passed three-row frame, the model scripted: the result and the requests sent."""
    with ScriptedServer(script) as server:
        config = RunConfig(model="scripted", base_url=server.base_url, api_key="sk-test", protocol="text",
                           exec_timeout=30, self_check=self_check)
        result = await reason("Sum a.", config=config, variables={"df": pd.DataFrame({"a": [1, 2, 3]})})
    return result, server.requests


async def test_each_independent_solution_starts_from_the_variables_as_passed():
    mutate = Reply("```python\ndf['a'] = df['a'] * 10\nprint(df['a'].sum() // 10)\n```")
    again = Reply("```python\nprint(df['a'].sum())\n```")
    result, requests = await sum_a([mutate, Reply("FINAL ANSWER: 6"), again, again, again], "recompute")
    decisions = [e for e in result.events if isinstance(e, Decision)]
    assert "an independent solution agrees: 6" in decisions[-1].reason  # it saw the passed df, not the x10 one
    assert result.answer == "6" and result.stop_reason == "answered"
    assert result.verified is False  # a recompute samples the same route: no second method verifies it


async def test_code_that_reads_an_invented_file_gets_told_to_use_the_passed_variable():
    script = [Reply("```python\nimport pandas as pd\ndf = pd.read_csv('cars.csv')\nprint(df['a'].sum())\n```"),
              Reply("```python\nprint(df['b'].sum())\n```"),
              Reply("```python\nprint(df['a'].sum())\n```"), Reply("FINAL ANSWER: 6")]
    result, requests = await sum_a(script, "off")
    after_file, after_column = (requests[i]["messages"][-1]["content"] for i in (1, 2))
    assert "FileNotFoundError" in after_file and "`df` is already defined in the session" in after_file
    assert "`df` has no column 'b'; its columns are 'a'." in after_column
    assert result.answer == "6"


async def test_code_that_rebinds_open_and_pickle_does_not_stop_the_variables_coming_back():
    clobber = Reply("```python\nopen = df['a']\npickle = None\n_f = 1\nprint(df['a'].sum())\n```")
    again = Reply("```python\nprint(df['a'].sum())\n```")
    result, requests = await sum_a([clobber, Reply("FINAL ANSWER: 6"), again, again, again], "recompute")
    assert result.stop_reason.startswith("answered") and result.answer == "6"
    assert not any(isinstance(e, Error) and "could not be put back" in e.message for e in result.events)


async def test_variables_that_cannot_be_loaded_for_a_check_are_said_and_the_run_goes_on():
    # the session's code makes the pickle unreadable: the next solution says so and runs on what is left
    breaker = Reply("```python\nimport sys\nsys.modules['pickle'] = None\nprint(df['a'].sum())\n```")
    again = Reply("```python\nprint(df['a'].sum())\n```")
    result, requests = await sum_a([breaker, Reply("FINAL ANSWER: 6"), again, again, again, again], "recompute")
    shown = [e.execution.stderr_text for e in result.events if isinstance(e, Observation) and e.execution]
    assert any("the passed variable df could not be loaded for this solution" in text for text in shown)
    assert result.answer == "6" and result.stop_reason.startswith("answered")
