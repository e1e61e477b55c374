"""The retry and concurrency policy of pipeline.paraphrase.llm, with the real openai client against a local server."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipeline.paraphrase import prompt as paraphrase
from pipeline.paraphrase.llm import ChatRequest, LLMConfig, retry_after_seconds, stream_results
from tests.pipeline.fake_llm import FakeLLM


def _config(server: FakeLLM, **overrides) -> LLMConfig:
    options = {"timeout": 2.0, "backoff_base": 0.01, "backoff_max": 0.05, **overrides}
    return LLMConfig(api_key="test-key", base_url=server.base_url, model="fake-model", **options)


def _requests(*questions: str) -> list[ChatRequest]:
    return [ChatRequest(key=q, messages=paraphrase.build_messages(q, "kite")) for q in questions]


def test_retry_after_in_seconds_is_honoured():
    with FakeLLM(retry_after=1) as server:
        [result] = list(stream_results(_config(server), _requests("What flies? [429]")))
    assert result.ok and result.attempts == 2
    # The policy waited what the server asked (plus at most 10% jitter), not its own 10-50 ms backoff.
    assert 1.0 <= result.waits[0] <= 1.1
    first, second = server.hits
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0


def test_retry_after_ms_is_preferred_to_retry_after():
    with FakeLLM(retry_after=30, retry_after_ms=250) as server:
        [result] = list(stream_results(_config(server), _requests("What flies? [429]")))
    assert result.ok and result.attempts == 2
    assert 0.25 <= result.waits[0] <= 0.275
    assert server.hits[1].at - server.hits[0].at >= 0.25


def test_retry_after_header_forms():
    def exc(**headers):
        return SimpleNamespace(response=SimpleNamespace(headers=headers))

    assert retry_after_seconds(exc(**{"retry-after": "7"})) == 7.0
    assert retry_after_seconds(exc(**{"retry-after": "1.5", "retry-after-ms": "40"})) == 0.04
    # An HTTP date 20 s after "now".
    now = 1_700_000_000.0
    assert retry_after_seconds(exc(**{"retry-after": "Tue, 14 Nov 2023 22:13:40 GMT"}), now=now) == 20.0
    assert retry_after_seconds(exc(**{"retry-after": "soon"})) is None
    assert retry_after_seconds(exc()) is None
    assert retry_after_seconds(ValueError("no response")) is None


def test_server_errors_are_retried_up_to_the_limit_then_reported():
    with FakeLLM() as server:
        results = {
            r.key: r for r in stream_results(_config(server, max_attempts=3), _requests("a [500-always]", "b [500]"))
        }
    assert results["a [500-always]"].attempts == 3 and not results["a [500-always]"].ok
    assert "InternalServerError" in results["a [500-always]"].error
    assert len(results["a [500-always]"].waits) == 2
    assert results["b [500]"].ok and results["b [500]"].attempts == 2
    assert len(server.hits) == 3 + 2


def test_malformed_json_and_timeouts_are_retried():
    with FakeLLM(slow_seconds=1.0) as server:
        config = _config(server, timeout=0.3)
        results = {r.key: r for r in stream_results(config, _requests("c [junk]", "d [slow-once]", "e [junk-always]"))}
    assert results["c [junk]"].ok and results["c [junk]"].attempts == 2
    assert results["d [slow-once]"].ok and results["d [slow-once]"].attempts == 2
    assert not results["e [junk-always]"].ok and results["e [junk-always]"].attempts == 5


def test_client_errors_are_not_retried():
    with FakeLLM() as server:
        config = LLMConfig(api_key="k", base_url=server.base_url + "/wrong", model="m", backoff_base=0.01)
        [result] = list(stream_results(config, _requests("q")))
    assert not result.ok and result.attempts == 1 and "NotFoundError" in result.error


@pytest.mark.parametrize("concurrency", [1, 4])
def test_requests_in_flight_never_exceed_the_bound(concurrency):
    with FakeLLM(latency=0.05) as server:
        results = list(
            stream_results(_config(server, concurrency=concurrency), _requests(*[f"q{i}" for i in range(12)]))
        )
    assert len(results) == 12 and all(r.ok for r in results)
    assert server.max_in_flight == concurrency
    assert sorted(r.key for r in results) == sorted(f"q{i}" for i in range(12))


class _BrokenClient:
    """A client that cannot even open (what a bug or a broken transport looks like to the runner)."""

    async def __aenter__(self):
        raise RuntimeError("transport broke")

    async def __aexit__(self, *exc_info):
        return None


def test_an_error_in_the_runner_reaches_the_consumer():
    config = LLMConfig(api_key="test-key", base_url="http://127.0.0.1:9/v1", model="fake-model")
    with pytest.raises(RuntimeError, match="transport broke"):
        list(stream_results(config, _requests("What flies?"), client_factory=_BrokenClient))
