"""The one door to the LLM client of the paraphrase step (limits, retries, backoff), for the judge
and the endpoint backend; the one module of training that reads `pipeline.paraphrase.llm`."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from pipeline.paraphrase.llm import ChatRequest, ChatResult, LLMConfig, stream_results

__all__ = ["ChatRequest", "ChatResult", "LLMConfig", "endpoint_config", "judge_config", "stream_results"]


class NoEndpoint(Exception):
    """No API key or endpoint configured: said plainly before anything is sent."""


def _config(model: str, api_key: str, base_url: str | None, **overrides: Any) -> LLMConfig:
    key = api_key or settings.OPENAI_API_KEY
    url = base_url or settings.OPENAI_BASE_URL
    if not key:
        raise NoEndpoint("no API key: set OPENAI_API_KEY (or JUDGE_API_KEY / EVAL_ENDPOINT_API_KEY)")
    return LLMConfig.from_settings(api_key=key, base_url=url, model=model, **overrides)


def judge_config(model: str | None = None) -> LLMConfig:
    return _config(
        model or settings.JUDGE_MODEL,
        settings.JUDGE_API_KEY,
        settings.JUDGE_BASE_URL,
        temperature=settings.JUDGE_TEMPERATURE,
        max_tokens=settings.JUDGE_MAX_OUTPUT_TOKENS,
    )


def endpoint_config(model: str) -> LLMConfig:
    return _config(
        model,
        settings.EVAL_ENDPOINT_API_KEY,
        settings.EVAL_ENDPOINT_BASE_URL,
        temperature=0.0,  # greedy, as for our own model
        max_tokens=settings.EVAL_ENDPOINT_MAX_OUTPUT_TOKENS,
    )
