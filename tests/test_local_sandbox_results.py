"""The text a model sees for an execution, and executions as JSON."""

import base64
import io
import json

from PIL import Image

from nbreason.sandboxes.results import (
    cut_middle, execution_from_json, execution_to_json, result_from_bundle, summarize,
)
from nbreason.sandboxes.base import Execution, ExecutionError, Logs, Result


def _png(width: int, height: int, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height)).save(buf, format=fmt)
    return base64.b64encode(buf.getvalue()).decode()


def test_summary_lists_stdout_stderr_results_and_error_in_order():
    execution = Execution(
        results=[Result(text="42", is_main_result=True)],
        logs=Logs(stdout=["hello\n"], stderr=["careful\n"]),
        error=ExecutionError("ValueError", "bad", "Traceback\n  line 1\nValueError: bad"),
    )
    text, cut = summarize(execution, 2000)
    assert text == "hello\n[stderr]\ncareful\n42\nTraceback\n  line 1\nValueError: bad"
    assert cut == 0


def test_empty_execution_says_so():
    assert summarize(Execution(), 100) == ("(no output)", 0)


def test_images_are_described_by_type_and_size():
    execution = Execution(results=[
        Result(text="<Figure size 640x480 with 1 Axes>", png=_png(640, 480)),
        Result(jpeg=_png(20, 10, "JPEG")),
        Result(svg='<svg xmlns="http://www.w3.org/2000/svg" width="30" height="40"></svg>'),
    ])
    text, _ = summarize(execution, 2000)
    assert text.splitlines() == ["[image/png 640x480]", "[image/jpeg 20x10]", "[image/svg+xml 30x40]"]


def test_html_only_table_is_summarized_as_text():
    html = "<style>td {color: red}</style><table><tr><th>name</th><th>n</th></tr><tr><td>a</td><td>1</td></tr></table>"
    text, _ = summarize(Execution(results=[Result(html=html)]), 2000)
    assert text == "name | n\na | 1"


def test_long_output_keeps_head_and_tail_with_a_cut_note():
    stdout = "HEAD" + "x" * 10_000 + "TAIL"
    text, cut = summarize(Execution(logs=Logs(stdout=[stdout])), 500)
    assert text.startswith("HEAD") and text.endswith("TAIL")
    assert f"… {cut} characters cut …" in text
    assert cut == len(stdout) - 500
    assert len(text) < 560


def test_cut_middle_leaves_short_text_alone():
    assert cut_middle("short", 10) == ("short", 0)


def test_only_the_last_traceback_lines_are_kept():
    frames = "\n".join(f"frame {i}" for i in range(50))
    error = ExecutionError("KeyError", "'k'", "-----\n" + frames + "\nKeyError: 'k'")
    text, _ = summarize(Execution(error=error), 2000)
    assert "frame 0\n" not in text
    assert text.endswith("frame 49\nKeyError: 'k'")


def test_execution_round_trips_through_json():
    execution = Execution(
        results=[result_from_bundle({"text/plain": "1", "image/png": _png(2, 2),
                                     "application/x-custom": {"a": 1}}, is_main_result=True)],
        logs=Logs(stdout=["a"], stderr=["b"]),
        error=ExecutionError("E", "v", "tb"),
        execution_count=3,
    )
    data = json.loads(json.dumps(execution_to_json(execution)))
    again = execution_from_json(data)
    assert execution_to_json(again) == data
    assert again.results[0].extra == {"application/x-custom": {"a": 1}}
    assert again.results[0].is_main_result and again.execution_count == 3


def test_widget_views_fall_back_to_their_text():
    result = result_from_bundle({"text/plain": "IntSlider(value=0)",
                                 "application/vnd.jupyter.widget-view+json": {"model_id": "x"}})
    assert result.text == "IntSlider(value=0)" and result.extra is None
