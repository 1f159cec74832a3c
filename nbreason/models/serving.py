"""How many attempts a model serves at once, and a server of one's own.

The embedded model runs in one server process shared by every notebook on the machine, with
a fixed number of parallel slots; attempts beyond them only queue. A benchmark asks here how
many to run at once, and may ask for a server nobody else uses (`dedicated`), so its timings
are its own. Remote models have no slots to ask about: the caller's wish stands.
"""

from __future__ import annotations

from ..config import AUTO_MODEL, RunConfig
from .progress import OnProgress

REMOTE_PARALLEL = 4  # attempts at once against an API when nobody says


def _embedded_spec(config: RunConfig) -> str:
    return "local" if config.model == AUTO_MODEL else config.model


def slots(config: RunConfig, wanted: int | None = None, threads: int | None = None, *,
          on_progress: OnProgress | None = None) -> int:
    """Attempts to run at once. For the embedded model: its server's parallel slots, starting
    it with `wanted` slots and `threads` threads if it is not running yet (a running server
    keeps its own settings); this process then holds a lease on it until it exits, so the
    server is still there when the attempts start. For a remote model: `wanted`, else
    REMOTE_PARALLEL."""
    from . import wants_embedded
    from .local_server import DEFAULT_PARALLEL, DEFAULT_THREADS, ensure_server

    if not wants_embedded(config):
        return wanted or REMOTE_PARALLEL
    handle = ensure_server(_embedded_spec(config), parallel=wanted or DEFAULT_PARALLEL,
                           threads=threads or DEFAULT_THREADS, on_progress=on_progress)
    return handle.parallel


def dedicated(config: RunConfig, *, on_progress: OnProgress | None = None) -> RunConfig:
    """The config with its embedded model named by its file ("local:/path.gguf"): such a model
    gets a server of its own instead of sharing the one other notebooks use for "local".
    Other models are returned as they are."""
    from . import embedded, wants_embedded

    if not wants_embedded(config) or config.model.startswith("local:"):
        return config
    path = embedded.resolve_model(_embedded_spec(config), on_progress=on_progress)
    return config.replace(model=f"local:{path}")
