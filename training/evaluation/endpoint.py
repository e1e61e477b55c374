"""An evaluation backend that asks any OpenAI-compatible chat endpoint (vLLM, Ollama, a hosted
model): the instruction and inputs as text, each image (or video frame) as a data URL, sent
through the paraphrase step's client so its limits, retries and backoff apply."""

from __future__ import annotations

from typing import Any

from .llm import ChatRequest, LLMConfig, stream_results
from .records import EvalItem

MIME_BY_PREFIX = (("iVBOR", "image/png"), ("/9j/", "image/jpeg"), ("R0lG", "image/gif"), ("UklGR", "image/webp"))


def data_url(image_b64: str) -> str:
    mime = next((m for prefix, m in MIME_BY_PREFIX if image_b64.startswith(prefix)), "image/png")
    return f"data:{mime};base64,{image_b64}"


def messages_for(item: EvalItem) -> list[dict[str, Any]]:
    text = item.instruction.strip() + ("\n" + item.inputs.strip() if item.inputs.strip() else "")
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [{"type": "image_url", "image_url": {"url": data_url(image)}} for image in item.images_b64]
    return [{"role": "user", "content": content}]


class EndpointBackend:
    """`backend(items) -> texts`; a request that fails after all retries answers "" and is counted."""

    def __init__(self, config: LLMConfig, client_factory: Any = None) -> None:
        self.config = config
        self.client_factory = client_factory
        self.failed = 0
        self.errors: list[str] = []
        self.tokens_in = 0
        self.tokens_out = 0

    def __call__(self, items: list[EvalItem]) -> list[str]:
        requests = [
            ChatRequest(key=str(i), messages=messages_for(item), estimated_tokens=len(item.prompt) // 2)
            for i, item in enumerate(items)
        ]
        texts = [""] * len(items)
        for result in stream_results(self.config, requests, self.client_factory):
            self.tokens_in += result.tokens_in
            self.tokens_out += result.tokens_out
            if result.ok:
                texts[int(result.key)] = result.text
            else:
                self.failed += 1
                if len(self.errors) < 20:
                    self.errors.append(result.error)
        return texts
