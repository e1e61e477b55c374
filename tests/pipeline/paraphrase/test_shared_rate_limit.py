"""N worker processes share one requests-per-window limit through Redis (pipeline.paraphrase.ratelimit).

Three separate processes each send 6 requests, all at once, to the local OpenAI-compatible server with
a limit of 5 requests per 2-second window. Shared through Redis, the 18 requests take at least three
windows and no 2 seconds see more than two windows' bursts; with per-process limiters (no Redis: the
filesystem broker's fallback) the same three processes send 15 at once and finish within a second,
which the same checks catch.
"""

from __future__ import annotations

import bisect
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from pipeline.paraphrase.ratelimit import LocalLimiter, SharedLimiter, make_limiter, shared_url
from tests.pipeline.fake_llm import FakeLLM

ROOT = Path(__file__).resolve().parents[3]
LIMIT, WINDOW, PROCESSES, EACH = 5, 2, 3, 6
# Seconds between a grant in Redis and the request's arrival at the server: a first request also opens its
# connection, which on a busy machine takes a few hundred milliseconds more than the next ones.
JITTER = 0.5

CLIENT = """
import json, sys, time
import django
django.setup()
from pipeline.paraphrase import prompt
from pipeline.paraphrase.llm import ChatRequest, LLMConfig, stream_results
args = json.loads(sys.argv[1])
while time.time() < args["start"]:  # every process imported and ready: they start together
    time.sleep(0.01)
config = LLMConfig(api_key=args["key"], base_url=args["base_url"], model="fake-model", concurrency=8,
                   requests_per_minute=args["limit"], rate_limit_url=args["redis"], rate_window_seconds=args["window"],
                   timeout=10, backoff_base=0.01, backoff_max=0.05)
requests = [ChatRequest(key=f"{args['name']}-{i}", messages=prompt.build_messages(f"Question {args['name']} {i}?", "a"))
            for i in range(args["each"])]
results = list(stream_results(config, requests))
print(json.dumps({"ok": sum(r.ok for r in results)}))
"""


def redis_url() -> str:
    url = shared_url()
    if not url:
        message = "needs Redis: set CELERY_BROKER_URL=redis://... (or PARAPHRASE_RATE_LIMIT_URL)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


def run_clients(server: FakeLLM, redis: str, key: str) -> list[float]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true",
           "M3IT_VAR_DIR": str(Path(settings.VAR_DIR))}  # fmt: skip
    processes = []
    start = time.time() + 4
    for n in range(PROCESSES):
        args = {"key": key, "base_url": server.base_url, "limit": LIMIT, "redis": redis, "window": WINDOW,
                "name": f"w{n}", "each": EACH, "start": start}  # fmt: skip
        command = [sys.executable, "-c", CLIENT, json.dumps(args)]
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        process = subprocess.Popen(command, cwd=ROOT, env=env, **pipes)
        processes.append(process)
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-3000:]
        assert json.loads(out.strip().splitlines()[-1]) == {"ok": EACH}
    arrivals = sorted(hit.at for hit in server.hits)
    assert len(arrivals) == PROCESSES * EACH
    return arrivals


def most_within(arrivals: list[float], seconds: float) -> int:
    """The most requests that arrived within any `seconds`."""
    return max(bisect.bisect_left(arrivals, start + seconds) - i for i, start in enumerate(arrivals))


# 18 requests at 5 per window: granted at 0, 2, 4 and 6 s at the earliest, so they cannot all arrive sooner.
SHORTEST_SHARED_RUN = (PROCESSES * EACH / LIMIT - 1) * WINDOW - JITTER


def test_make_limiter_picks_redis_or_the_per_process_fallback():
    assert make_limiter(0, 0, None, "k", url="redis://127.0.0.1:6379/0") is None
    assert isinstance(make_limiter(10, 0, None, "k", url=""), LocalLimiter)
    assert isinstance(make_limiter(10, 100, None, "k", url="redis://127.0.0.1:6379/0"), SharedLimiter)


def test_three_processes_share_one_limit_through_redis():
    redis = redis_url()
    with FakeLLM() as server:
        arrivals = run_clients(server, redis, f"shared-{uuid.uuid4()}")
    assert arrivals[-1] - arrivals[0] >= SHORTEST_SHARED_RUN, arrivals
    # Grants come in bursts at window edges and reach the server a little later than granted (a first request
    # also opens its connection), so a window of arrivals can hold the tail of one burst and the head of the
    # next: at most 2 x LIMIT, never the 3 x LIMIT that three buckets send at once.
    assert most_within(arrivals, WINDOW) <= 2 * LIMIT, arrivals


def test_per_process_limiters_do_not_hold_the_account_limit():
    redis_url()  # the same environment as the shared run, so the contrast is like for like
    with FakeLLM() as server:
        arrivals = run_clients(server, "", f"local-{uuid.uuid4()}")
    assert arrivals[-1] - arrivals[0] < SHORTEST_SHARED_RUN, arrivals  # faster than the account allows
    assert most_within(arrivals, WINDOW) > 2 * LIMIT, arrivals  # three buckets: 3 x LIMIT at once
