"""Translation backends: one shared base (base.py) and one module per engine with the same interface."""

from .base import (
    BACKENDS,
    BackendConfig,
    MissingLanguageTokens,
    ModelNotFound,
    TranslationError,
    Translator,
    get_translator,
)

__all__ = [
    "BACKENDS",
    "BackendConfig",
    "MissingLanguageTokens",
    "ModelNotFound",
    "TranslationError",
    "Translator",
    "get_translator",
]
