"""nbreason: a Jupyter-native reasoning agent with tools, with nothing hidden.

    %load_ext nbreason
    %%reason --with df
    Which column best predicts price?

or from Python:

    from nbreason import reason, load_config
    result = await reason("What is 2**100 mod 7?", config=load_config())
"""

__version__ = "0.1.0"

from .config import RunConfig  # noqa: E402
from .config import load as load_config  # noqa: E402


async def reason(question: str, **kwargs):
    """Run a question end to end; see nbreason.runner.reason."""
    from .runner import reason as _reason

    kwargs.setdefault("config", load_config())
    return await _reason(question, **kwargs)


def load_ipython_extension(ipython):
    from .magic import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):
    from .magic import unload_ipython_extension as _unload

    _unload(ipython)


__all__ = ["RunConfig", "load_config", "reason", "__version__"]
