"""Models: every model, remote or embedded, is reached through the `openai` client."""

from __future__ import annotations

from ..config import AUTO_MODEL
from .base import EMBEDDED, Completion, ContextTooLong, Model, ModelError, ModelProfile, OutOfTime, ToolCall

LOCAL_PREFIX = "local"


def wants_embedded(config) -> bool:
    if config.model.startswith(LOCAL_PREFIX):
        return True
    return config.model == AUTO_MODEL and not config.base_url and not config.api_key


async def make_model(config) -> Model:
    """The model a configuration names. Starts (or reuses) the embedded server when needed."""
    from .openai_chat import OpenAIChatModel

    if wants_embedded(config):
        from .local_server import ensure_server
        import asyncio

        spec = "local" if config.model == AUTO_MODEL else config.model
        handle = await asyncio.to_thread(ensure_server, spec)
        model = OpenAIChatModel.from_config(
            config.replace(model=handle.model_name, base_url=handle.base_url, api_key=handle.api_key or "local"),
            prices={handle.model_name: (0.0, 0.0)})  # runs on this machine: no bill
        model.supports_tools = False  # a 1.5B model follows the fenced-code protocol more reliably
        model.profile = EMBEDDED
        model.server = handle
        return model
    if config.model == AUTO_MODEL:
        config = config.replace(model="gpt-4o-mini")
    return OpenAIChatModel.from_config(config)


__all__ = ["EMBEDDED", "Completion", "ContextTooLong", "Model", "ModelError", "ModelProfile", "OutOfTime", "ToolCall",
           "make_model", "wants_embedded"]
