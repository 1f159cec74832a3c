"""Attacks found by a later review of the sandbox, made for real with hostile code in a real kernel
(no mocks). Each test states what must hold.
"""

from __future__ import annotations

import json
import os

import pytest

from nbreason.sandboxes.local import LocalSandbox

# --- what the owner keeps of one execution --------------------------------------------------------

# Every field is four times the sandbox's limit (50,000 characters here). Before, only the text
# fields were capped: a JSON output, the values of other MIME types (nested, or many of them) and
# the error's value and traceback were kept whole. Twelve `display` calls of 30 MB of JSON each
# took a notebook from 60 MB to 575 MB (360 M characters kept, with the default 1,000,000 limit);
# 200 outputs per execution would take it past the memory of most machines.
OVERSIZED_FIELDS = """from IPython.display import display
big = 'x' * 200_000
display({'text/plain': 'json', 'application/json': {'values': big}}, raw=True)
display({'text/plain': 'nested', 'application/x-thing': {'values': big}}, raw=True)
display({'text/plain': 'many', **{f'application/x-{i}': big[:49_000] for i in range(20)}}, raw=True)
display({'text/plain': 'small', 'application/json': {'values': [1, 2, 3]}, 'application/x-small': 'ok'}, raw=True)
raise ValueError('HEAD' + big + 'TAIL')"""


def _size(value) -> int:
    return len(json.dumps(value)) if value is not None else 0


async def test_json_other_mime_types_and_the_error_are_capped_when_they_arrive():
    limit = 50_000
    async with LocalSandbox(timeout=30, max_output_chars=limit) as sb:
        execution = await sb.run_code(OVERSIZED_FIELDS)
    by_text = {result.text: result for result in execution.results}
    assert set(by_text) == {"json", "nested", "many", "small"}
    assert by_text["json"].json is None
    assert by_text["nested"].extra is None
    assert _size(by_text["many"].extra) <= limit  # many MIME types, each under the limit: at most the limit
    assert by_text["small"].json == {"values": [1, 2, 3]} and by_text["small"].extra == {"application/x-small": "ok"}
    error = execution.error
    assert error.name == "ValueError"
    assert error.value.startswith("HEAD") and error.value.endswith("TAIL") and len(error.value) < limit + 100
    assert len(error.traceback) < limit + 100 and error.traceback.rstrip().endswith("TAIL")
    notes = "".join(execution.logs.stderr)
    for name in ("json", "application/x-thing", "application/x-19"):
        assert f"a {name} output was dropped: " in notes, notes


IMAGES = """import base64
from IPython.display import display
picture = base64.b64encode(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(150_000)).decode()  # 200,012 characters
for i in range(5):
    display({'image/png': picture, 'text/plain': f'big {i}'}, raw=True)
small = base64.b64encode(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(30)).decode()
display({'image/png': small, 'text/plain': 'small'}, raw=True)"""


async def test_the_images_of_one_execution_are_kept_within_ten_times_the_text_limit():
    """Images were capped in number (50) but not in size: fifty pictures as large as the kernel's
    memory would all be kept by the owner."""
    limit = 50_000  # images: 500,000 characters of base64 per execution
    async with LocalSandbox(timeout=30, max_output_chars=limit) as sb:
        execution = await sb.run_code(IMAGES)
    assert [r.text for r in execution.results] == ["big 0", "big 1", "small"]
    assert sum(len(r.png) for r in execution.results) <= 10 * limit
    notes = "".join(execution.logs.stderr)
    assert notes.count("an image output was dropped: 200,012 characters of base64") == 3, notes


# --- folders the owner removes ---------------------------------------------------------------------

BOTH = pytest.mark.parametrize("confine", [False, True], ids=["plain", "confined"])


def _nested(folder: str, depth: int = 1500) -> str:
    """Code that nests `depth` folders in `folder`, one level at a time (os.makedirs would recurse)."""
    return (f"import os\nhome = os.getcwd()\nos.chdir({folder})\nfor _ in range({depth}):\n"
            "    os.mkdir('d')\n    os.chdir('d')\nos.chdir(home)\nprint('nested')")


@BOTH
async def test_a_working_folder_nested_deeper_than_python_recurses_is_still_removed_on_close(confine):
    """Before, shutil.rmtree raised RecursionError out of close(): the working folder (and whatever
    the code had filled it with) stayed on the host, and the rest of the clean-up was skipped."""
    sb = LocalSandbox(confine=confine, timeout=30)
    await sb.start()
    workdir, runtime = sb.workdir, sb._runtime
    try:
        execution = await sb.run_code(_nested("home"))
        assert execution.error is None and "".join(execution.logs.stdout) == "nested\n"
    finally:
        await sb.close()  # raises nothing
    assert not workdir.exists() and not os.path.exists(runtime)


async def test_a_deep_folder_left_in_the_ipython_dir_does_not_stop_the_next_restart():
    """The confined kernel can write its IPYTHONDIR; the launcher's removal of the earlier one raised
    RecursionError on a folder nested 1,500 deep, and no kernel started again."""
    sb = LocalSandbox(confine=True, timeout=30, start_timeout=15)
    await sb.start()
    try:
        execution = await sb.run_code(_nested("os.environ['IPYTHONDIR']"))
        assert execution.error is None
        await sb.restart()
        execution = await sb.run_code("print(2)")
        assert "".join(execution.logs.stdout) == "2\n"
    finally:
        await sb.close()


def test_e2b_executions_keep_their_images_within_the_same_budget():
    """E2B's SDK builds the Execution; what the owner keeps of it is cleaned by the same rules."""
    import base64

    from e2b_code_interpreter.models import Execution, Logs, Result

    from nbreason.sandboxes.ingest import BINARY_FACTOR, MAX_TEXT_CHARS, clean_execution

    picture = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(3_000_000)).decode()  # 4,000,012 characters
    built = Execution(results=[Result(png=picture, text=f"big {i}", is_main_result=False) for i in range(4)],
                      logs=Logs(stdout=[], stderr=[]))
    execution = clean_execution(built)
    assert [r.text for r in execution.results] == ["big 0", "big 1"]
    assert sum(len(r.png) for r in execution.results) <= BINARY_FACTOR * MAX_TEXT_CHARS
    assert "".join(execution.logs.stderr).count("an image output was dropped") == 2
