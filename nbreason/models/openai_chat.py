"""A Model over any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp, Ollama, ...).

The `openai` client's own retries are off (`max_retries=0`): RetryPolicy does them, so
each retry is reported to the caller instead of happening silently. Every failure leaves
`complete` as a ModelError whose message says what went wrong and what to check.

Usage comes from the stream's final usage chunk (requested with
`stream_options.include_usage`). A server that sends none gets an estimate of one token
per four characters, so token budgets still bind; the estimate is priced like real usage.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any, Callable, Mapping

import openai
import pydantic
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from ..events import Usage, clean_strings, clean_text
from . import pricing
from .base import Completion, ContextTooLong, ModelError, ModelProfile, OutOfTime, ToolCall
from .retry import RETRY_STATUSES, OnRetry, RetryPolicy, Transient, parse_retry_after, seconds_text
from .text_tool_calls import calls_in_text

DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPTIONS = frozenset({"temperature", "seed", "max_tokens", "stop"})
_CONTEXT_WORDS = ("context_length_exceeded", "context length", "context size", "context window",
                  "maximum context", "too many tokens", "exceed_context_size")


class ToolsNotSupported(ModelError):
    """The server refused the `tools` parameter; `supports_tools` is now False."""


class _Unsupported(ModelError):
    """The server refused one of OPTIONS for this model (`param`)."""

    def __init__(self, message: str, param: str, *, status: int | None = None):
        super().__init__(message, status=status)
        self.param = param


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _clean_arguments(arguments: str) -> str:
    """Tool-call arguments whose JSON spells a lone surrogate ("\\ud800") written again without it:
    decoded, it would reach the code, the sandbox and the trace."""
    arguments = clean_text(arguments)
    if not _ESCAPED_SURROGATE.search(arguments):
        return arguments
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        return arguments  # not JSON: the loop reports it as invalid arguments
    cleaned = clean_strings(value)
    return arguments if cleaned == value else json.dumps(cleaned, ensure_ascii=False)


class _Collector:
    """Builds one Completion from stream chunks (or a whole response)."""

    def __init__(self, on_delta: Callable[[str], None] | None):
        self.on_delta = on_delta
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, ToolCall] = {}
        self.finish_reason = ""
        self.usage: Any = None
        self.model = ""
        self.chunks = 0
        self._held = ""  # a high surrogate that ended a piece: its low half may start the next

    def _shown(self, piece: str) -> None:
        """Hand a text piece to `on_delta`, clean: a pair split across two chunks is joined, not
        shown as two replacement characters, and no lone surrogate reaches the views."""
        if self.on_delta is None:
            return
        piece, self._held = self._held + piece, ""
        if "\ud800" <= piece[-1:] <= "\udbff":
            piece, self._held = piece[:-1], piece[-1]
        if piece:
            self.on_delta(clean_text(piece))

    def finish(self) -> None:
        if self._held and self.on_delta is not None:
            self.on_delta("\ufffd")  # the stream ended on half a pair
        self._held = ""

    def add_chunk(self, chunk: ChatCompletionChunk) -> None:
        self.chunks += 1
        self.model = chunk.model or self.model
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            if delta is not None:
                self._add_reasoning(delta)
                if getattr(delta, "refusal", None):
                    self.refusal.append(delta.refusal)
                if delta.content:
                    self.text.append(delta.content)
                    self._shown(delta.content)
                for part in delta.tool_calls or []:
                    call = self.calls.setdefault(part.index, ToolCall(id="", name="", arguments=""))
                    call.id = part.id or call.id
                    if part.function is not None:
                        call.name += part.function.name or ""
                        call.arguments += part.function.arguments or ""
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason

    def add_response(self, response: ChatCompletion) -> None:
        self.chunks += 1
        self.model = response.model or self.model
        self.usage = response.usage
        for choice in response.choices[:1]:
            message = choice.message
            self._add_reasoning(message)
            if getattr(message, "refusal", None):
                self.refusal.append(message.refusal)
            if message.content:
                self.text.append(message.content)
                self._shown(message.content)
            for i, call in enumerate(message.tool_calls or []):
                function = getattr(call, "function", None)
                if function is not None:
                    self.calls[i] = ToolCall(call.id, function.name, function.arguments)
            self.finish_reason = choice.finish_reason or ""

    def _add_reasoning(self, part: Any) -> None:
        # Not in the OpenAI schema: vLLM and DeepSeek send `reasoning_content`, others `reasoning`.
        extra = getattr(part, "model_extra", None) or {}
        piece = extra.get("reasoning_content") or extra.get("reasoning")
        if isinstance(piece, str):
            self.reasoning.append(piece)

    def usage_for(self, messages: list[dict]) -> Usage:
        if self.usage is not None:
            details = getattr(self.usage, "completion_tokens_details", None)
            return Usage(
                prompt_tokens=self.usage.prompt_tokens or 0,
                completion_tokens=self.usage.completion_tokens or 0,
                reasoning_tokens=(getattr(details, "reasoning_tokens", None) or 0) if details else 0,
                calls=1,
            )
        prompt = sum(estimate_tokens(str(m.get("content") or "")) for m in messages)
        completion = "".join(self.text) + "".join(self.reasoning) + "".join(c.arguments for c in self.calls.values())
        return Usage(prompt_tokens=prompt, completion_tokens=estimate_tokens(completion),
                     reasoning_tokens=estimate_tokens("".join(self.reasoning)), calls=1)


class OpenAIChatModel:
    """`complete()` streams one chat completion; see nbreason.models.base.Model."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        prices: Mapping[str, Any] | str | None = None,
        stream: bool = True,
        profile: ModelProfile = ModelProfile(),
    ):
        self.name = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.prices = pricing.load_prices(prices)
        self.stream = stream  # False for servers that cannot stream
        self.supports_tools: bool | None = None
        self.profile = profile
        self.unsupported: set[str] = set()  # options this model refused; see complete()
        # Local servers need no key, but the client insists on one.
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url, api_key=api_key or "unused", timeout=timeout, max_retries=0
        )

    @property
    def price(self) -> pricing.Price | None:
        """USD per 1M tokens, or None if unknown."""
        return pricing.price_of(self.name, self.prices)

    @classmethod
    def from_config(cls, config: Any, *, prices: Mapping[str, Any] | str | None = None) -> "OpenAIChatModel":
        """From a RunConfig (model, base_url, api_key, request_timeout, max_retries).

        The embedded runtime passes `prices={name: (0, 0)}`: its models are free, but their
        served names (e.g. qwen2.5-coder-1.5b-instruct) are not in the price table."""
        return cls(
            config.model,
            base_url=config.base_url,
            api_key=config.api_key,
            timeout=config.request_timeout,
            retry=RetryPolicy(max_retries=config.max_retries),
            prices=prices,
        )

    async def complete(
        self,
        messages: list[dict],
        *,
        tools: list[dict] | None = None,
        on_delta: Callable[[str], None] | None = None,
        on_retry: OnRetry | None = None,
        deadline: float | None = None,
        **options: Any,
    ) -> Completion:
        unknown = set(options) - OPTIONS
        if unknown:
            raise TypeError(f"unknown model option(s): {', '.join(sorted(unknown))}")
        started = time.monotonic()
        left = None if deadline is None else deadline - started
        if left is not None and left <= 0:
            raise OutOfTime(f"no time left in the budget for a call to {self.base_url}")
        # The whole call, retries included, ends by the deadline; waits that would outlast it are
        # refused by the retry policy, with the reason, before they start.
        limit = asyncio.timeout(left)
        try:
            async with limit:
                collector = await self._complete(messages, tools, on_delta, on_retry, deadline, options)
        except TimeoutError:
            if not limit.expired():
                raise
            raise OutOfTime(f"no complete answer from {self.base_url} within the {seconds_text(left)} s left "
                            "in the budget") from None
        if tools:
            self.supports_tools = True
        collector.finish()
        usage = collector.usage_for(messages)
        usage.cost = pricing.cost(self.name, usage, self.prices)
        # Cleaned whole, not piece by piece: a surrogate pair split across two chunks joins again.
        # Any server may send a lone "\\ud800" (valid JSON); it could not be written to the trace
        # nor sent back in the next request.
        text = clean_text("".join(collector.text))
        calls = [ToolCall(clean_text(c.id), clean_text(c.name), _clean_arguments(c.arguments))
                 for c in (collector.calls[i] for i in sorted(collector.calls))]
        if tools and not calls and (found := calls_in_text(text, [t["function"]["name"] for t in tools])):
            # Calls written out as JSON (see text_tool_calls): their arguments are decoded and encoded again.
            text, calls = "", [ToolCall(c.id, c.name, _clean_arguments(c.arguments)) for c in found]
        return Completion(
            text=text,
            reasoning=clean_text("".join(collector.reasoning)),
            refusal=clean_text("".join(collector.refusal)),
            tool_calls=calls,
            finish_reason=clean_text(collector.finish_reason),
            usage=usage,
            duration=time.monotonic() - started,
            model=clean_text(collector.model or self.name),
        )

    async def _complete(self, messages: list[dict], tools: list[dict] | None, on_delta, on_retry,
                        deadline: float | None, options: dict) -> _Collector:
        while True:
            request = self._request(messages, tools, options)
            try:
                return await self.retry.run(lambda: self._attempt(request, on_delta), on_retry, deadline=deadline)
            except _Unsupported as exc:
                # Reasoning models refuse max_tokens (they want max_completion_tokens) and any
                # temperature but 1: adapt once, remember, and ask again.
                if exc.param in self.unsupported:
                    raise
                self.unsupported.add(exc.param)

    def _request(self, messages: list[dict], tools: list[dict] | None, options: dict) -> dict:
        request: dict[str, Any] = {"model": self.name, "messages": messages}
        for key, value in options.items():
            if value is None:
                continue
            if key == "max_tokens" and key in self.unsupported:
                request["max_completion_tokens"] = value
            elif key not in self.unsupported:
                request[key] = value
        if tools:
            request["tools"] = tools
        if self.stream:
            request["stream"] = True
            request["stream_options"] = {"include_usage": True}
        return request

    async def _attempt(self, request: dict, on_delta: Callable[[str], None] | None) -> _Collector:
        collector = _Collector(on_delta)
        try:
            if self.stream:
                stream = await self._client.chat.completions.create(**request)
                async with stream:
                    async for chunk in stream:
                        collector.add_chunk(chunk)
            else:
                collector.add_response(await self._client.chat.completions.create(**request))
        except openai.APIStatusError as exc:
            raise self._status_error(exc, request) from exc
        except openai.APITimeoutError as exc:
            raise Transient(f"no response from {self.base_url} within {self.timeout:g} s (read timeout)") from exc
        except openai.APIConnectionError as exc:
            raise self._connection_error(exc, collector) from exc
        except openai.APIError as exc:  # an error event inside the stream
            raise Transient(f"the server at {self.base_url} reported an error mid-stream: {exc.message}") from exc
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:  # not JSON, or not a completion
            raise ModelError(f"the server at {self.base_url} sent a malformed response ({exc})") from exc
        if not collector.finish_reason:
            if collector.chunks == 0:
                raise Transient(f"the server at {self.base_url} sent an empty response")
            raise Transient(f"the response stream from {self.base_url} ended before the answer was finished")
        return collector

    def _connection_error(self, exc: openai.APIConnectionError, collector: _Collector) -> Transient:
        cause = exc.__cause__
        detail = str(cause) if cause is not None else exc.message
        if collector.chunks:
            return Transient(f"the connection to {self.base_url} broke mid-answer ({detail})")
        # By name: openai 1.x raises httpx.ConnectError, 3.x httpx2.ConnectError.
        if type(cause).__name__ == "ConnectError" or "refused" in detail.lower():
            return Transient(f"could not connect to {self.base_url}: connection refused or host unreachable "
                             f"({detail}); is the server running and is base_url right?")
        return Transient(f"connection to {self.base_url} failed ({detail})")

    def _status_error(self, exc: openai.APIStatusError, request: dict) -> ModelError:
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = str(body.get("message") or exc.message)
        text = f"{detail} {body.get('code') or ''} {body.get('type') or ''}".lower()
        if status in RETRY_STATUSES:
            reason = "rate limited (429)" if status == 429 else f"server error {status}"
            return Transient(f"{reason} from {self.base_url}: {detail}", status=status,
                             retry_after=parse_retry_after(exc.response.headers))
        if status == 401:
            return ModelError(f"authentication failed for {self.base_url} (check the API key): {detail}", status=status)
        if status == 403:
            return ModelError(f"access denied by {self.base_url} (check the API key's permissions): {detail}",
                              status=status)
        if status == 404:
            if "model" in text:
                return ModelError(f"model {self.name!r} not found at {self.base_url}: {detail}", status=status)
            return ModelError(f"{self.base_url} has no chat completions endpoint (404); check base_url", status=status)
        if status == 400 and any(word in text for word in _CONTEXT_WORDS):
            return ContextTooLong(f"the prompt is too long for {self.name}: {detail}", status=status)
        param = str(body.get("param") or "")
        if status == 400 and param in OPTIONS and "unsupported" in text:
            return _Unsupported(f"{self.name} does not support {param!r}: {detail}", param, status=status)
        # An error naming tools[i] is about that tool's schema, not about tools in general.
        if status == 400 and "tools" in request and "tool" in text and not param.startswith("tools["):
            self.supports_tools = False
            return ToolsNotSupported(f"{self.base_url} does not accept tools for {self.name}: {detail}", status=status)
        return ModelError(f"request rejected by {self.base_url} ({status}): {detail}", status=status)

    async def list_models(self) -> list[str]:
        """Model ids the server offers (GET /models); not retried."""
        try:
            page = await self._client.models.list()
        except openai.APIStatusError as exc:
            raise self._status_error(exc, {}) from exc
        except openai.APIConnectionError as exc:
            raise self._connection_error(exc, _Collector(None)) from exc
        return [m.id for m in page.data]

    async def close(self) -> None:
        await self._client.close()
