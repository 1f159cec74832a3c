"""How an E2B sandbox fails, each with a message that says what to do."""

from __future__ import annotations

from .base import SandboxDied, SandboxError


class E2BAuthError(SandboxError):
    """No E2B key, or E2B rejected it (401)."""


class E2BRateLimited(SandboxError):
    """E2B refused to start another sandbox (429: rate limit or concurrent-sandbox quota)."""


class E2BStartTimeout(SandboxError):
    """E2B did not hand over a sandbox in time."""


class E2BConnectionLost(SandboxError):
    """The connection to the sandbox dropped mid-request; the VM is still there."""


class E2BSandboxLost(SandboxDied):
    """The VM itself is gone (killed, or its lifetime ran out). The next call starts a
    new one; variables and files are lost."""
