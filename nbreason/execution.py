"""What one code cell did, as a typed record the events carry.

The sandboxes return e2b-code-interpreter's `Execution`; `ExecutionRecord.of` copies it into
frozen records with the same fields (results with their MIME data, stdout and stderr, the error,
the execution count). Our own records rather than e2b's because they compare by value (e2b's
`Result` compares by identity, so a trace read back could never equal the run that wrote it),
cannot change once an event holds them, and keep e2b out of everything that only reads traces.

What the loop, the policies and the views need from an execution is read here, once
(`stdout_text`, `main_text`, `printed`, `error`), instead of by dict lookups in each of them.
The JSON form (`to_json` / `from_json`) exists only for the trace, and is the form traces have
always had.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

#: The representations a result can have (e2b `Result` fields), besides `data` and `extra`.
FORMATS = ("text", "html", "markdown", "svg", "png", "jpeg", "pdf", "latex", "json", "javascript")


@dataclass(frozen=True)
class ResultRecord:
    """One displayed value: each MIME representation it had (None where it had none)."""

    text: str | None = None
    html: str | None = None
    markdown: str | None = None
    svg: str | None = None
    png: str | None = None  # base64
    jpeg: str | None = None  # base64
    pdf: str | None = None  # base64
    latex: str | None = None
    json: Any = None
    javascript: str | None = None
    data: dict | None = None
    extra: dict | None = None  # MIME types e2b has no field for
    is_main_result: bool = False  # the cell's value (execute_result), not a display() call

    @classmethod
    def of(cls, result: Any) -> "ResultRecord":
        """From an e2b `Result` (or anything with its attributes)."""
        return cls(**{f.name: getattr(result, f.name, None) for f in fields(cls) if f.name != "is_main_result"},
                     is_main_result=bool(getattr(result, "is_main_result", False)))

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "is_main_result"}
        data = {k: v for k, v in data.items() if v is not None}
        data["is_main_result"] = self.is_main_result
        return data

    @classmethod
    def from_json(cls, data: Any) -> "ResultRecord":
        if not isinstance(data, dict):
            raise ValueError(f"a result is a JSON object, not {type(data).__name__}")
        values: dict = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name == "is_main_result":
                _expect(value, bool, f.name)
            elif f.name in ("data", "extra"):
                _expect(value, (dict, type(None)), f.name)
            elif f.name != "json":
                _expect(value, (str, type(None)), f.name)
            values[f.name] = value
        return cls(**values)


@dataclass(frozen=True)
class ErrorRecord:
    """The exception the code raised (or TimeoutError / KernelDied, named by the sandbox)."""

    name: str
    value: str = ""
    traceback: str = ""

    @property
    def headline(self) -> str:
        """`Name: value`, as the last line of a traceback says it."""
        return f"{self.name}: {self.value}" if self.value else self.name

    @classmethod
    def from_json(cls, data: Any) -> "ErrorRecord":
        if not isinstance(data, dict):
            raise ValueError(f"an error is a JSON object, not {type(data).__name__}")
        name, value, traceback = data.get("name", "Error"), data.get("value", ""), data.get("traceback", "")
        if isinstance(traceback, list) and all(isinstance(line, str) for line in traceback):
            traceback = "\n".join(traceback)  # Jupyter's form: one string per line
        for label, item in (("name", name), ("value", value), ("traceback", traceback)):
            _expect(item, str, f"error {label}")
        return cls(name, value, traceback)


@dataclass(frozen=True)
class ExecutionRecord:
    """What running one code cell produced."""

    results: tuple[ResultRecord, ...] = ()
    stdout: tuple[str, ...] = ()  # the pieces as they streamed
    stderr: tuple[str, ...] = ()
    error: ErrorRecord | None = None
    execution_count: int | None = None

    def __post_init__(self) -> None:
        # Lists are accepted (they read naturally in tests and match e2b), kept as tuples: equal
        # records stay equal however they were built, and nothing can append to one later.
        for name in ("results", "stdout", "stderr"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    @classmethod
    def of(cls, execution: Any) -> "ExecutionRecord":
        """From e2b's `Execution`, what every sandbox returns."""
        error = getattr(execution, "error", None)
        logs = getattr(execution, "logs", None)
        return cls(
            results=tuple(ResultRecord.of(r) for r in getattr(execution, "results", None) or ()),
            stdout=tuple(getattr(logs, "stdout", None) or ()),
            stderr=tuple(getattr(logs, "stderr", None) or ()),
            error=ErrorRecord(str(error.name), str(error.value or ""), str(error.traceback or "")) if error else None,
            execution_count=getattr(execution, "execution_count", None),
        )

    # --- what matters, read once -------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def stdout_text(self) -> str:
        return "".join(self.stdout)

    @property
    def stderr_text(self) -> str:
        return "".join(self.stderr)

    @property
    def main_text(self) -> str:
        """The plain text of the cell's value (its main result), '' without one."""
        return "\n".join(r.text for r in self.results if r.is_main_result and isinstance(r.text, str))

    @property
    def printed(self) -> str:
        """What the code showed as text: its stdout, then its value. An answer is looked for here."""
        return "\n".join([self.stdout_text, self.main_text]).strip()

    # --- the trace -----------------------------------------------------------------------------
    def to_json(self) -> dict:
        error = self.error
        return {
            "results": [r.to_json() for r in self.results],
            "stdout": list(self.stdout),
            "stderr": list(self.stderr),
            "error": {"name": error.name, "value": error.value, "traceback": error.traceback} if error else None,
            "execution_count": self.execution_count,
        }

    @classmethod
    def from_json(cls, data: Any) -> "ExecutionRecord":
        """Read `to_json` output back. Also reads e2b's own `Execution.to_json` form, which nests
        stdout and stderr under `logs`. ValueError when a field has the wrong type."""
        if not isinstance(data, dict):
            raise ValueError(f"an execution is a JSON object, not {type(data).__name__}")
        logs = data.get("logs") if isinstance(data.get("logs"), dict) else data
        streams = {}
        for name in ("stdout", "stderr"):
            pieces = logs.get(name) or []
            if not isinstance(pieces, list) or not all(isinstance(p, str) for p in pieces):
                raise ValueError(f"execution {name}: a list of strings is expected")
            streams[name] = tuple(pieces)
        results = data.get("results") or []
        if not isinstance(results, list):
            raise ValueError("execution results: a list is expected")
        count = data.get("execution_count")
        _expect(count, (int, type(None)), "execution_count")
        error = data.get("error")
        return cls(results=tuple(ResultRecord.from_json(r) for r in results), **streams,
                   error=ErrorRecord.from_json(error) if error is not None else None, execution_count=count)


def _expect(value: Any, kinds: type | tuple[type, ...], name: str) -> None:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"{name}: unexpected {type(value).__name__} {str(value)[:40]!r}")
