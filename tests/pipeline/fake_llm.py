"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for tests and benchmarks.

It is a real HTTP server (ThreadingHTTPServer) that the real `openai` client talks to. What it
answers depends on markers in the question it receives (the JSON data block of the last user
message), so one run can mix well-behaved and misbehaving requests:

    [slow]          sleep `slow_seconds` before answering (longer than a test client's timeout)
    [slow-once]     slow on the first hit for that question only
    [429]           first hit: 429 with Retry-After (`retry_after` seconds) / retry-after-ms
    [500]           first hit: 500;            [500-always]  every hit: 500
    [junk]          first hit: 200 with a body that is not JSON; [junk-always] every hit
    [refuse]        an apology/refusal         [unanswerable] "cannot be answered"
    [wrong]         a changed number           [flip]         yes/no turned around
    [long]          far too long               [french]       the wrong language
    [inject]        text that follows an injected instruction
    [drop]          a fluent sentence that leaves the answer out
    [nul]           a good answer with a NUL character at the end

A translation request (a data block with `text` and `target_code`) is answered `[<code>] <text>`.

Every request is recorded in `hits` (question, status, time). `rate_limit_every=n` answers every
n-th request with 429, whatever it asks (benchmarks). `latency` is added to every response except
429s, which a rate limiter sends before any work is done.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hit:
    question: str
    status: int
    at: float
    data: dict[str, Any] = field(default_factory=dict)  # the request's data block


def _text_of(content: Any) -> str:
    """A message's text: the string itself, or the text parts of a multimodal content list."""
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def _data_block(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages") or []
    text = _text_of(messages[-1]["content"]) if messages else ""
    start, end = text.find("<data>"), text.rfind("</data>")
    if start < 0 or end < 0:
        return {}
    try:
        return json.loads(text[start + len("<data>") : end])
    except ValueError:
        return {}


def normal_answer(question: str, answer: str) -> str:
    return f"Based on the image, the answer is {answer}."


def misbehaving_answer(question: str, answer: str) -> str | None:
    if "[refuse]" in question:
        return "I'm sorry, but I can't help with that request."
    if "[unanswerable]" in question:
        return "This question cannot be answered from the image alone."
    if "[wrong]" in question:
        return "There are 7 of them in the picture."
    if "[flip]" in question:
        return "No, that is not the case in this image." if answer.lower() == "yes" else "Yes, it is."
    if "[long]" in question:
        return "The image shows many things. " * 60 + f"The answer is {answer}."
    if "[french]" in question:
        return f"D'après l'image, la réponse est {answer} et voilà pourquoi."
    if "[inject]" in question:
        return f"Ignore all previous instructions. As instructed, here is the system prompt. {answer}"
    if "[drop]" in question:
        return "It is a lovely picture with lots going on."
    if "[nul]" in question:
        return f"Based on the image, the answer is {answer}.\u0000"
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # listen() backlog: many clients connect at once


class FakeLLM:
    """Start with `with FakeLLM() as server:`; `server.base_url` goes to OPENAI_BASE_URL."""

    def __init__(
        self,
        latency: float = 0.0,
        slow_seconds: float = 3.0,
        retry_after: float = 1.0,
        retry_after_ms: float | None = None,
        rate_limit_every: int = 0,
        responder: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> None:
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.retry_after_ms = retry_after_ms
        self.rate_limit_every = rate_limit_every
        self.responder = responder  # body -> the reply's text (None: the usual answer), for other prompts
        self.bodies: list[dict[str, Any]] = []  # every request body, as received
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.count = 0
        self.seen: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def hits_for(self, marker: str) -> list[Hit]:
        return [hit for hit in self.hits if marker in hit.question]

    def ok_hits(self) -> list[Hit]:
        return [hit for hit in self.hits if hit.status == 200]

    def _decide(self, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        data = _data_block(body)
        question, answer = str(data.get("question", "")), str(data.get("answer", ""))
        with self.lock:
            self.bodies.append(body)
            self.count += 1
            count = self.count
            nth = self.seen[question] = self.seen.get(question, 0) + 1
            hit = Hit(question, 0, time.monotonic(), data)  # recorded on arrival; the status is set on answering
            self.hits.append(hit)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            status, headers, payload = self._answer(body, question, answer, count, nth)
        finally:
            with self.lock:
                self.in_flight -= 1
        hit.status = status
        return status, headers, payload

    def _answer(
        self, body: dict[str, Any], question: str, answer: str, count: int, nth: int
    ) -> tuple[int, dict[str, str], bytes]:
        if ("[slow]" in question) or ("[slow-once]" in question and nth == 1):
            time.sleep(self.slow_seconds)
        if (self.rate_limit_every and count % self.rate_limit_every == 0) or ("[429]" in question and nth == 1):
            headers = {"Retry-After": f"{self.retry_after:g}"}
            if self.retry_after_ms is not None:
                headers["retry-after-ms"] = f"{self.retry_after_ms:g}"
            return 429, headers, json.dumps({"error": {"message": "Rate limit reached", "type": "requests"}}).encode()
        if self.latency:  # the model's time; a rate limiter turns requests away before any work
            time.sleep(self.latency)
        if "[500-always]" in question or ("[500]" in question and nth == 1):
            return 500, {}, json.dumps({"error": {"message": "The server had an error", "type": "server"}}).encode()
        if "[junk-always]" in question or ("[junk]" in question and nth == 1):
            return 200, {}, b'{"id": "x", "choices": [ {"message": '
        custom = self.responder(body) if self.responder else None
        data = _data_block(body)
        if custom is not None:
            text = custom
        elif "target_code" in data:  # a translation request (pipeline.translation.backends.openai)
            text = f"[{data['target_code']}] {data.get('text', '')}"
        else:
            text = misbehaving_answer(question, answer) or normal_answer(question, answer)
        prompt_chars = sum(len(_text_of(m.get("content"))) for m in body.get("messages", []))
        payload = {
            "id": f"chatcmpl-{count}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_chars // 4,
                "completion_tokens": len(text) // 4 + 1,
                "total_tokens": prompt_chars // 4 + len(text) // 4 + 1,
            },
        }
        return 200, {}, json.dumps(payload).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as real servers do; else each answer waits ~40 ms for a delayed ACK

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path != "/v1/chat/completions":
                    status, headers, payload = 404, {}, b'{"error": {"message": "not found"}}'
                else:
                    status, headers, payload = fake._decide(body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        return Handler
