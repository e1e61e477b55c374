"""Throughput of the paraphrase client against a local OpenAI-compatible server with 200 ms latency.

Side by side in one run, on the same server (every 10th response is a 429 with retry-after-ms):
  * our ChatRunner at concurrency C = 64 (AsyncOpenAI, bounded in flight, our retry policy),
  * the limit C / L = 64 / 0.2 s = 320 requests per second,
  * a sequential loop with the plain synchronous openai client (its own default retries).
Prints the figures and the ratios (targets: >= 0.8 x C/L, >= 30 x sequential, zero lost).

    .venv/bin/python bench/bench_paraphrase.py            # short: 3 x 1,280 requests, 30 sequential
    .venv/bin/python bench/bench_paraphrase.py --full     # 3 x 6,400 requests, 100 sequential

Everything runs on this machine's CPUs: the server in its own process, the client in this one. On a
machine shared with other work, the concurrent figure falls with the CPU share it gets; the load
average is printed first.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

import openai  # noqa: E402

from pipeline import paraphrase  # noqa: E402
from pipeline.paraphrase.llm import ChatRequest, LLMConfig, stream_results  # noqa: E402
from tests.pipeline.fake_llm import FakeLLM  # noqa: E402

LATENCY = 0.2
CONCURRENCY = 64


class ServerProcess:
    """The fake server in its own process, so that it does not share the client's interpreter lock."""

    def __init__(self, **options: float) -> None:
        self.options = options

    def __enter__(self) -> ServerProcess:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(child, self.options), daemon=True)
        self.process.start()
        self.base_url = self.conn.recv()
        return self

    def stats(self) -> tuple[int, int]:
        self.conn.send("stats")
        return self.conn.recv()

    def __exit__(self, *exc: object) -> None:
        self.conn.send("stop")
        self.process.join(timeout=10)


def _serve(conn: object, options: dict[str, float]) -> None:
    with FakeLLM(**options) as server:
        conn.send(server.base_url)
        while (command := conn.recv()) != "stop":
            if command == "stats":
                conn.send((len(server.hits), sum(h.status == 429 for h in server.hits)))


def requests(n: int, prefix: str) -> list[ChatRequest]:
    return [
        ChatRequest(key=f"{prefix}{i}", messages=paraphrase.build_messages(f"What is item {prefix}{i}?", "kite"))
        for i in range(n)
    ]


def run_concurrent(server: ServerProcess, n: int, httpx_transport: bool = False) -> tuple[float, int]:
    config = LLMConfig(
        api_key="bench",
        base_url=server.base_url,
        model="fake-model",
        concurrency=CONCURRENCY,
        requests_per_minute=0,
        tokens_per_minute=0,
        timeout=10,
    )
    factory = None
    if httpx_transport:  # openai's default transport, for comparison with our aiohttp one

        def factory() -> openai.AsyncOpenAI:
            return openai.AsyncOpenAI(api_key="bench", base_url=server.base_url, timeout=10, max_retries=0)

    started = time.perf_counter()
    ok = sum(result.ok for result in stream_results(config, requests(n, "c"), client_factory=factory))
    return time.perf_counter() - started, ok


def run_sequential(server: ServerProcess, n: int) -> tuple[float, int]:
    client = openai.OpenAI(api_key="bench", base_url=server.base_url, timeout=10)  # the plain client, as shipped
    ok = 0
    started = time.perf_counter()
    for request in requests(n, "s"):
        try:
            completion = client.chat.completions.create(model="fake-model", messages=request.messages, max_tokens=160)
            ok += bool(completion.choices[0].message.content)
        except openai.APIError:
            pass
    return time.perf_counter() - started, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="6,400 concurrent and 100 sequential requests")
    parser.add_argument("--runs", type=int, default=3, help="concurrent runs (median and best are printed)")
    parser.add_argument("--httpx", action="store_true", help="also run on openai's default httpx transport")
    args = parser.parse_args()
    n, m = (6400, 100) if args.full else (1280, 30)
    limit = CONCURRENCY / LATENCY
    options = {"latency": LATENCY, "rate_limit_every": 10, "retry_after": 1, "retry_after_ms": 200}
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work shares them)")
    print(f"server: {LATENCY * 1000:.0f} ms per answer, every 10th response a 429 (retry-after-ms 200), own process")

    rates, lost = [], 0
    httpx_rates, cpu = [], {"aiohttp": [], "httpx": []}
    for run in range(args.runs):
        # With --httpx the two transports alternate, so that both see the same changes in machine load.
        for transport in ("aiohttp", "httpx") if args.httpx else ("aiohttp",):
            with ServerProcess(**options) as server:
                cpu_before = time.process_time()
                seconds, ok = run_concurrent(server, n, httpx_transport=transport == "httpx")
                cpu_ms = (time.process_time() - cpu_before) * 1000
                hits, limited = server.stats()
            cpu[transport].append(cpu_ms / hits)
            (rates if transport == "aiohttp" else httpx_rates).append(ok / seconds)
            lost += n - ok
            print(
                f"concurrent run {run + 1} (C={CONCURRENCY}, {transport}): {n} requests, {ok} answered, "
                f"{n - ok} lost, {hits} hits ({limited} x 429) in {seconds:.2f} s = {ok / seconds:.1f} req/s, "
                f"client CPU {cpu_ms / hits:.2f} ms per request"
            )
    if args.httpx:
        speed = statistics.median(rates) / statistics.median(httpx_rates)
        cpu_ratio = statistics.median(cpu["aiohttp"]) / statistics.median(cpu["httpx"])
        print(f"aiohttp vs httpx transport (medians): throughput x{speed:.2f}, client CPU per request x{cpu_ratio:.2f}")
    with ServerProcess(**options) as server:
        seq_s, seq_ok = run_sequential(server, m)
        seq_hits, seq_429 = server.stats()
    seq_rate = seq_ok / seq_s
    print(
        f"sequential (plain openai.OpenAI, its default retries): {m} requests, {seq_ok} answered, "
        f"{seq_hits} hits ({seq_429} x 429) in {seq_s:.2f} s = {seq_rate:.2f} req/s"
    )
    median, best = statistics.median(rates), max(rates)
    print(f"limit C/L = {CONCURRENCY} / {LATENCY} s = {limit:.0f} req/s")
    print(f"ratio concurrent / (C/L)      = {median / limit:.2f} median, {best / limit:.2f} best   (target >= 0.80)")
    print(
        f"ratio concurrent / sequential = {median / seq_rate:.1f} median, {best / seq_rate:.1f} best   (target >= 30)"
    )
    print(f"lost = {lost}   (target 0)")


if __name__ == "__main__":
    main()
