"""Independent solutions run apart from the run's own variables.

A check program shares the sandbox with the run it checks, but not its names: it runs in a
namespace of its own, made from the session as the run found it (a follow-up's earlier state, the
passed variables, freshly put back). So a check that forgets to define `price` fails instead of
silently reading the run's `price` (that would be agreement by construction), and a check that
assigns `result` leaves the run's `result` (which `--return` hands back) alone.

This separates names, not objects or the interpreter: code run earlier in the session can still
change what a later check sees (patch `print`, mutate a shared object). Checks are independent
of the run's conversation and variables, not of a session hostile code has tampered with.
"""

from __future__ import annotations

START = "_nbreason_start"  # the session's names as the run found them


def snapshot_code() -> str:
    """Code that records the session's names before the run's own code runs."""
    return f"{START} = dict(globals())"


def isolated_code(code: str, names: list[str] | tuple[str, ...] = ()) -> str:
    """Code that runs `code` in a namespace of its own: the recorded session, with the current
    values of `names` (the passed variables, just put back). Nothing it binds reaches the session."""
    return (f"def _nbreason_isolated(source, names):\n"
            f"    session = globals()\n"
            f"    namespace = dict(session.get({START!r}) or {{'__builtins__': session['__builtins__']}})\n"
            f"    namespace.update({{name: session[name] for name in names if name in session}})\n"
            f"    namespace['__name__'] = '__main__'\n"
            f"    exec(compile(source, '<independent solution>', 'exec'), namespace)\n"
            f"try:\n"
            f"    _nbreason_isolated({code!r}, {list(names)!r})\n"
            f"finally:\n"
            f"    del _nbreason_isolated")
