"""Any OpenAI-compatible chat endpoint as a translator, through the paraphrase stage's client
(pipeline.llm: its concurrency, request and token limits, retries with backoff).

One request per string; the model is TRANSLATION_MODEL (a chat model name here), the endpoint and key
are OPENAI_BASE_URL / OPENAI_API_KEY. A string whose request fails after every retry fails the batch
(and so the chunk, which commits nothing): a rerun sends it again, and only it, since the rest is cached.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache

from django.conf import settings

from pipeline.paraphrase.llm import ChatRequest, LLMConfig, stream_results

from ..languages import PAPER_LANGUAGES
from .base import BackendConfig, MissingLanguageTokens, TranslationError, Translator

SYSTEM = (
    "You are a professional translator. Translate the English text in the data block into {name}. "
    "Reply with the translation only, no notes. Keep line breaks, option letters such as (A), numbers, "
    "and placeholders in braces or angle brackets exactly as they are."
)


@cache
def _names() -> dict[str, str]:
    names = {nllb: name for _, nllb, name in PAPER_LANGUAGES}
    try:
        from pipeline.models import Language

        names.update(dict(Language.objects.values_list("nllb_code", "name")))
    except Exception:  # no database (benchmarks): the paper's names are enough
        pass
    return names


def build_messages(text: str, target: str, name: str) -> list[dict[str, str]]:
    data = json.dumps({"text": text, "target_language": name, "target_code": target}, ensure_ascii=False)
    return [
        {"role": "system", "content": SYSTEM.format(name=name)},
        {"role": "user", "content": f"<data>{data}</data>"},
    ]


class OpenAITranslator(Translator):
    name = "openai"

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        if not settings.OPENAI_API_KEY:
            raise TranslationError("TRANSLATION_BACKEND=openai needs OPENAI_API_KEY (and OPENAI_BASE_URL for others).")
        self.llm = LLMConfig.from_settings(model=config.model, max_tokens=config.max_new_tokens, temperature=0.0)

    def check_languages(self, nllb_codes: Iterable[str]) -> None:
        names = _names()
        if missing := [code for code in nllb_codes if code not in names]:
            raise MissingLanguageTokens(f"No language name known for {', '.join(missing)}.")

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(text) // 4 + 1 for text in texts]

    def translate_batch(self, texts: list[str], target: str) -> list[str]:
        name = _names().get(target, target)
        requests = [
            ChatRequest(key=str(i), messages=build_messages(text, target, name), estimated_tokens=len(text) // 2 + 64)
            for i, text in enumerate(texts)
        ]
        out: list[str | None] = [None] * len(texts)
        for result in stream_results(self.llm, requests):
            if not result.ok:
                raise TranslationError(f"The translation endpoint failed for a string: {result.error}")
            out[int(result.key)] = result.text.strip()
        return [text or "" for text in out]
