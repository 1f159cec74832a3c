"""Independent solutions run apart from the run's own variables.

A check program shares the sandbox with the run it checks, but not its names: it runs in a
namespace of its own, made from the session as the run found it (a follow-up's earlier state)
and the passed variables loaded afresh from their pickles. So a check that forgets to define
`price` fails instead of silently reading the run's `price` (agreement by construction), and
neither what it assigns nor the fresh copies of the passed data touch the run's variables, which
`--return` hands back.

It still runs as IPython runs a cell: magics (`%pip`, `!ls`) are transformed, a last bare
expression is shown as the value, `__main__` is its namespace while it runs (so pickling and
multiprocessing find its functions), and tracebacks show its own lines. Top-level `await` is not
supported in a check.

This separates names, not objects or the interpreter: IPython's history (`In`, `Out`) is left out
of the namespace, but code that reaches for the session on purpose (`get_ipython().user_ns`), or
code run earlier that patched `print` or mutated a shared object, still can. Checks are
independent of the run's conversation and variables, not of a session hostile code tampered with.
"""

from __future__ import annotations

from .variables import pickle_name

START = "_nbreason_start"  # the session's names as the run found them
# IPython's history of the session's cells and their values: the run's own code and answers.
HISTORY = r"^(In|Out|_ih|_oh|_dh|_{1,3}|_i{1,3}|_i\d+|_\d+)$"


def snapshot_code() -> str:
    """Code that records the session's names before the run's own code runs (the previous
    snapshot dropped first, so a chain of follow-ups does not keep every old one alive)."""
    return (f"def _nbreason_snapshot():\n"
            f"    import re\n"
            f"    session = globals()\n"
            f"    session.pop({START!r}, None)\n"
            f"    history = re.compile({HISTORY!r})\n"
            f"    return {{k: v for k, v in session.items() if not history.match(k)}}\n"
            f"{START} = _nbreason_snapshot()\n"
            f"del _nbreason_snapshot")


def isolated_code(code: str, names: list[str] | tuple[str, ...] = ()) -> str:
    """Code that runs `code` in a namespace of its own: the recorded session, with the passed
    variables `names` loaded from their pickles. Nothing it binds reaches the session."""
    passed = {name: pickle_name(name) for name in names}
    return f'''def _nbreason_isolated(source, passed):
    import ast, linecache, pathlib, sys, types
    session = globals()
    module = types.ModuleType("__main__")
    module.__dict__.update(session.get({START!r}) or {{"__builtins__": session["__builtins__"]}})
    for name, path in passed.items():
        try:
            import pickle
            module.__dict__[name] = pickle.loads(pathlib.Path(path).read_bytes())
        except Exception as exc:  # the session's code broke loading: the solution runs on what is left
            print(f"nbreason: the passed variable {{name}} could not be loaded for this solution "
                  f"({{type(exc).__name__}}: {{exc}})", file=sys.stderr)
    module.__dict__["__name__"] = "__main__"
    shell = session["get_ipython"]() if "get_ipython" in session else None
    if shell is not None:
        source = shell.transform_cell(source)
    filename = "<independent solution>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    main, sys.modules["__main__"] = sys.modules.get("__main__"), module
    try:
        exec(compile(tree, filename, "exec"), module.__dict__)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), filename, "eval"), module.__dict__)
            if value is not None:
                print(repr(value))  # what a cell shows of its last expression
    finally:
        sys.modules["__main__"] = main
try:
    _nbreason_isolated({code!r}, {passed!r})
finally:
    del _nbreason_isolated'''
