"""Translation backends: one shared base (base.py) and one module per engine with the same interface.

`get_translator(config)` gives the configured engine, loaded once per process and configuration.
"""

from __future__ import annotations

from functools import cache

from ..errors import MissingLanguageTokens, ModelNotFound, TranslationError
from .base import BACKENDS, BackendConfig, Translator, _load_tokenizer
from .ctranslate2 import CTranslate2Translator
from .openai import OpenAITranslator
from .transformers import TransformersTranslator

ENGINES: dict[str, type[Translator]] = {
    "transformers": TransformersTranslator,
    "ctranslate2": CTranslate2Translator,
    "openai": OpenAITranslator,
}


def get_translator(config: BackendConfig | None = None) -> Translator:
    """The configured backend, loaded (model files read once per process and config)."""
    return _translator(config or BackendConfig.from_settings())


@cache
def _translator(config: BackendConfig) -> Translator:
    if config.backend not in ENGINES:
        raise TranslationError(f"Unknown translation backend {config.backend!r}; use one of {', '.join(BACKENDS)}.")
    return ENGINES[config.backend](config)


def clear_cache() -> None:
    """Forget loaded models and tokenizers (tests and benchmarks that load several)."""
    _translator.cache_clear()
    _load_tokenizer.cache_clear()


__all__ = [
    "BACKENDS",
    "BackendConfig",
    "MissingLanguageTokens",
    "ModelNotFound",
    "TranslationError",
    "Translator",
    "clear_cache",
    "get_translator",
]
