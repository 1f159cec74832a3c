"""Models: every model, remote or embedded, is reached through the `openai` client."""

from __future__ import annotations

from ..config import AUTO_MODEL
from .base import EMBEDDED, Completion, ContextTooLong, Model, ModelError, ModelProfile, OutOfTime, ToolCall
from .progress import OnProgress, Progress
from .serving import dedicated, slots

LOCAL_PREFIX = "local"


def wants_embedded(config) -> bool:
    if config.model.startswith(LOCAL_PREFIX):
        return True
    return config.model == AUTO_MODEL and not config.base_url and not config.api_key


async def make_model(config, *, on_progress: OnProgress | None = None) -> Model:
    """The model a configuration names. Starts (or reuses) the embedded server when needed;
    `on_progress` hears how assembling the weights and starting the server go, on the
    caller's event loop (the work itself runs in a thread)."""
    from .openai_chat import OpenAIChatModel

    if wants_embedded(config):
        import asyncio

        from .local_server import ensure_server

        spec = "local" if config.model == AUTO_MODEL else config.model
        forward = None if on_progress is None else _on_loop(on_progress, asyncio.get_running_loop())
        handle = await asyncio.to_thread(ensure_server, spec, on_progress=forward)
        model = OpenAIChatModel.from_config(
            config.replace(model=handle.model_name, base_url=handle.base_url, api_key=handle.api_key or "local"),
            prices={handle.model_name: (0.0, 0.0)})  # runs on this machine: no bill
        model.profile = EMBEDDED
        model.server = handle
        return model
    if config.model == AUTO_MODEL:
        config = config.replace(model="gpt-4o-mini")
    return OpenAIChatModel.from_config(config)


def _on_loop(on_progress: OnProgress, loop) -> OnProgress:
    """`on_progress`, called on `loop`'s thread: widgets and consoles are touched from their own."""
    def forward(progress: Progress) -> None:
        loop.call_soon_threadsafe(on_progress, progress)

    return forward


__all__ = ["EMBEDDED", "Completion", "ModelProfile", "ContextTooLong", "Model", "ModelError", "OnProgress", "OutOfTime", "Progress", "ToolCall",
           "dedicated", "make_model", "slots", "wants_embedded"]
