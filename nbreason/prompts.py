"""Prompts and message constructors. Pure functions: text in, messages out.

Prompts are short on purpose: on a 2-core machine a small local model processes ~40
prompt tokens/s, so every sentence here costs time on every step.
"""

from __future__ import annotations

FINAL_MARKER = "FINAL ANSWER:"

# The final-answer marker is introduced only once there is output to read: small models
# told about it up front tend to answer at once without running anything.
# The loop starts from the strongest one-block prompt we measured (the single-shot baseline's, in
# nbreason.strategies) and adds only what the loop itself brings: error feedback, checks,
# revision. Asking for a prose plan first made the 0.5B answer in prose (code in 2 of 6 replies).
SYSTEM_TEXT = ("You solve problems by writing one Python program. Reply with one ```python block that "
               "computes the answer and prints only the final answer.")

SYSTEM_TOOLS = """You solve problems by writing Python and reading its output.
Call run_python with code that computes and prints the result; say your plan in one sentence first.
Check the output. When it supports an answer, call final_answer. Never guess without running code."""

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "run_python",
            "description": "Run Python code in a stateful sandboxed kernel; returns stdout, errors and results.",
            "parameters": {
                "type": "object",
                "properties": {"code": {"type": "string", "description": "Python source to run"}},
                "required": ["code"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "final_answer",
            "description": "Give the final answer, once the code output supports it.",
            "parameters": {
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
            },
        },
    },
]


def system(protocol: str) -> dict:
    return {"role": "system", "content": SYSTEM_TOOLS if protocol == "tools" else SYSTEM_TEXT}


def variables_note(names: list[str]) -> str:
    """The sentence before the variables' descriptions. Without it small models start with
    `pd.read_csv('your_data.csv')`, a file that does not exist; placed after the descriptions
    it did not stop the 1.5B from re-typing the sample rows as a new `df`."""
    shown = [f"`{n}`" for n in names]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    one = len(shown) == 1
    return (f"{listed} {'is' if one else 'are'} already defined in this Python session. Use {'it' if one else 'them'} "
            f"as {'it is' if one else 'they are'}: do not load, re-create or type in any data.")


def question(text: str, context: str = "", *, earlier: str = "", returns: list[str] | tuple[str, ...] = ()) -> dict:
    """The question message. `earlier`: the digest of the run this one follows (followup.py);
    `returns`: names the notebook takes back from the session when the run ends."""
    body = text.strip()
    if earlier.strip():
        body = f"{earlier.strip()}\n\nThe question now: {body}"
    if context.strip():
        body = f"{body}\n\nAvailable in the Python session:\n{context.strip()}"
    if returns:
        body = f"{body}\n\nWhen you are done, leave these names defined in the Python session: {', '.join(returns)}."
    return {"role": "user", "content": body}


def observation(summary: str, step: int, ok: bool = True) -> dict:
    if ok:
        ask = f"If this output answers the question, reply with only `{FINAL_MARKER} <answer>`. " \
              "If it looks wrong, write corrected code."
    else:
        ask = "The code failed. Reply with a corrected ```python block."
    return {"role": "user", "content": f"Output:\n{summary}\n\n{ask}"}


def changed(why: str | None) -> dict:
    """Said when the model writes a program that already failed again: what must change."""
    failed = f": {why}" if why else ""
    return {"role": "user", "content": f"That program already failed{failed}. Do not write it again: change the "
                                       "line that failed, or solve the question another way, in a new ```python block."}


def followed_by(messages: list[dict], extra: list[dict]) -> list[dict]:
    """`messages` and then `extra`, a user message right after another user message joined to it:
    some chat templates reject two user turns in a row."""
    out = [dict(m) for m in messages]
    for message in extra:
        last = out[-1] if out else None
        if last and last.get("role") == "user" == message.get("role") and isinstance(last.get("content"), str):
            out[-1] = {**last, "content": f"{last['content']}\n\n{message['content']}"}
        else:
            out.append(dict(message))
    return out


def check_ruled_out(answer: str | None, why: str) -> dict:
    """Said to an independent solution whose printed answer cannot be right: why (about its own
    answer only; it never sees the answer under check)."""
    return {"role": "user", "content": f"Your program printed {answer!r}, which cannot be right: {why}. "
                                       "Reply with a corrected ```python block that prints the answer."}


def tool_observation(call_id: str, summary: str) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": summary}


NUDGE_CODE = "Do not answer in prose. Write a ```python block that computes the answer and prints it."

NUDGE_FORMAT = (
    f"Reply with one ```python block to run, or with `{FINAL_MARKER} <answer>` if the output already answers it."
)


def revise(answer: str, reasons: list[str]) -> str:
    why = "; ".join(reasons)
    return (
        f"Your answer {answer!r} is not yet supported: {why}. Do not guess: write a ```python block "
        "that computes it (or checks it another way) and prints the result."
    )


def verify(answer: str) -> str:
    return (
        f"Before accepting {answer!r}, check it independently: write a ```python block that substitutes it back "
        "or recomputes it another way, and prints True if it is correct, else False."
    )


def backtrack(why: str, step: int, variables_kept: bool = False, earlier_kept: bool = False) -> str:
    where = f"the state after step {step} (its variables are back)" if step else "a fresh Python session"
    if earlier_kept and not step:  # a follow-up: the earlier runs' results were rebuilt
        where = "the session as this question found it, with the earlier question's variables defined again"
    elif variables_kept and not step:
        # "Fresh" alone made the 1.5B read the data from an invented file.
        where += " where the variables you were given are defined again"
    return (f"That approach is not working ({why}). We are back at {where}. "
            "Try a different approach: write a new ```python block.")
