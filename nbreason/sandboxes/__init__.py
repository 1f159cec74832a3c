"""Sandboxes: where model-written code runs. See base.py for the protocol."""

from __future__ import annotations

from .base import Sandbox, SandboxDied, SandboxError


def make_sandbox(config) -> Sandbox:
    """The sandbox a configuration names, not yet started."""
    if config.sandbox == "local":
        from .local import LocalSandbox
        return LocalSandbox.from_config(config)
    if config.sandbox == "e2b":
        from .e2b import E2BSandbox
        return E2BSandbox.from_config(config)
    raise ValueError(f"unknown sandbox {config.sandbox!r}: use 'local' or 'e2b'")


__all__ = ["Sandbox", "SandboxError", "SandboxDied", "make_sandbox"]
