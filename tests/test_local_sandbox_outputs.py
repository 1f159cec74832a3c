"""What a real kernel prints, displays and raises arrives as e2b-style results."""

import base64

import pytest

from tests.support.kernels import shared_sandbox as sandbox  # noqa: F401  (fixture)

# One kernel for the module: starting one per test would dominate the run time.
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_stdout_and_stderr_go_to_their_logs(sandbox):
    execution = await sandbox.run_code("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert "".join(execution.logs.stdout) == "out\n"
    assert "".join(execution.logs.stderr) == "err\n"
    assert execution.error is None


async def test_last_expression_is_the_main_result(sandbox):
    execution = await sandbox.run_code("print('side')\n6 * 7")
    assert [r.text for r in execution.results] == ["42"]
    assert execution.results[0].is_main_result


async def test_callbacks_stream_output_while_code_runs(sandbox):
    seen = []
    code = "import time, sys\nprint('a', flush=True)\ntime.sleep(0.3)\nprint('b', file=sys.stderr)\ndisplay('shown')\n1"
    execution = await sandbox.run_code(
        code,
        on_stdout=lambda text: seen.append(("out", text)),
        on_stderr=lambda text: seen.append(("err", text)),
        on_result=lambda result: seen.append(("result", result.text)),
    )
    assert seen == [("out", "a\n"), ("err", "b\n"), ("result", "'shown'"), ("result", "1")]
    assert [r.is_main_result for r in execution.results] == [False, True]


async def test_mime_bundles_map_onto_result_fields(sandbox):
    code = (
        "from IPython.display import display, HTML, Markdown, SVG, JSON, Latex\n"
        "display(HTML('<b>bold</b>'))\n"
        "display(Markdown('# title'))\n"
        "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"3\"></svg>'))\n"
        "display(JSON({'a': 1}))\n"
        "display(Latex('$x^2$'))\n"
    )
    results = (await sandbox.run_code(code)).results
    assert results[0].html == "<b>bold</b>"
    assert results[1].markdown == "# title"
    assert 'width="4"' in results[2].svg
    assert results[3].json == {"a": 1}
    assert results[4].latex == "$x^2$"
    assert not any(r.is_main_result for r in results)


async def test_dataframe_result_has_text_and_html(sandbox):
    execution = await sandbox.run_code("import pandas as pd\npd.DataFrame({'a': [1, 2]})")
    result = execution.results[0]
    assert "<table" in result.html
    assert "a" in result.text and "2" in result.text


async def test_matplotlib_figure_becomes_a_png_result(sandbox):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()"
    execution = await sandbox.run_code(code, timeout=60)
    assert execution.error is None, execution.error
    pngs = [r.png for r in execution.results if r.png]
    assert len(pngs) == 1
    assert base64.b64decode(pngs[0])[:8] == b"\x89PNG\r\n\x1a\n"


async def test_error_has_name_value_and_a_plain_traceback(sandbox):
    execution = await sandbox.run_code("def f():\n    return 1 / 0\nf()")
    error = execution.error
    assert error.name == "ZeroDivisionError"
    assert error.value == "division by zero"
    assert "return 1 / 0" in error.traceback
    assert "\x1b[" not in error.traceback


async def test_input_raises_instead_of_waiting(sandbox):
    execution = await sandbox.run_code("input('name? ')", timeout=10)
    assert execution.error is not None
    assert execution.error.name == "StdinNotImplementedError"


async def test_huge_output_is_kept_as_head_and_tail_within_the_cap(sandbox):
    code = "import sys\nfor i in range(100):\n    sys.stdout.write(str(i).rjust(2, '0') * 500_000)\nprint('END')"
    streamed = []
    execution = await sandbox.run_code(code, timeout=60, on_stdout=streamed.append)
    text = "".join(execution.logs.stdout)
    assert len(text) < 1_100_000  # 100 MB were printed
    assert text.startswith("00") and text.rstrip().endswith("END")
    assert "characters of output dropped" in text
    assert sum(map(len, streamed)) < 1_100_000
    assert (await sandbox.run_code("1 + 1")).results[0].text == "2"


async def test_a_storm_of_figures_keeps_only_the_image_cap(sandbox):
    code = (
        "from matplotlib.figure import Figure\n"
        "from IPython.display import Image, display\nimport io\n"
        "buf = io.BytesIO(); Figure(figsize=(1, 1)).savefig(buf, format='png')\n"
        "for _ in range(80):\n    display(Image(buf.getvalue()))\n"
    )
    execution = await sandbox.run_code(code, timeout=60)
    assert len([r for r in execution.results if r.png]) == 50
    assert "30 display outputs dropped" in "".join(execution.logs.stderr)
