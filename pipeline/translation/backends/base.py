"""What every translation backend shares: its configuration, its interface, model lookup, errors.

A backend translates one batch of plain strings into one target language and counts tokens; all text
handling (dedup, sorting, token-budget batching, splitting long texts, keeping `(A)`, newlines and
placeholders) lives in pipeline.translation.text, above the backends, so the three behave alike.
Models are found by local path or in an already populated Hugging Face cache (`local_files_only`):
nothing is ever downloaded here.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings

from ..errors import MissingLanguageTokens, ModelNotFound, TranslationError
from ..languages import SOURCE_NLLB

BACKENDS = ("transformers", "ctranslate2", "openai")


@dataclass(frozen=True)
class BackendConfig:
    """Everything a backend needs, from settings unless overridden (tests, benchmarks, the CLI)."""

    backend: str
    model: str
    device: str = "auto"
    dtype: str = "auto"
    quantization: str = "auto"
    ct2_dir: str = ""
    threads: int = 0
    beam_size: int = 4
    batch_tokens: int = 4096
    max_input_tokens: int = 200
    max_new_tokens: int = 256

    @classmethod
    def from_settings(cls, **overrides: Any) -> BackendConfig:
        config = cls(
            backend=settings.TRANSLATION_BACKEND,
            model=settings.TRANSLATION_MODEL,
            device=settings.TRANSLATION_DEVICE,
            dtype=settings.TRANSLATION_DTYPE,
            quantization=settings.TRANSLATION_CT2_QUANTIZATION,
            ct2_dir=settings.TRANSLATION_CT2_DIR,
            threads=settings.TRANSLATION_THREADS,
            beam_size=settings.TRANSLATION_BEAM_SIZE,
            batch_tokens=settings.TRANSLATION_BATCH_TOKENS,
            max_input_tokens=settings.TRANSLATION_MAX_INPUT_TOKENS,
        )
        config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
        if config.backend not in BACKENDS:
            raise TranslationError(f"Unknown TRANSLATION_BACKEND {config.backend!r}; use one of {', '.join(BACKENDS)}.")
        return config

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"


class Translator(ABC):
    """One model behind one interface. `translate_batch` keeps the order of its input."""

    name: ClassVar[str]

    def __init__(self, config: BackendConfig) -> None:
        self.config = config

    @property
    def model_id(self) -> str:
        """What translations and the cache record as the model (the name or path as configured)."""
        return self.config.model

    @abstractmethod
    def check_languages(self, nllb_codes: Iterable[str]) -> None:
        """Raise MissingLanguageTokens unless the model can produce every one of these languages."""

    @abstractmethod
    def count_tokens(self, texts: list[str]) -> list[int]:
        """Source tokens of each text (for batching and for splitting texts the model cannot take whole)."""

    @abstractmethod
    def translate_batch(self, texts: list[str], target: str) -> list[str]:
        """Translate non-empty English strings into `target` (an NLLB code); same order, same length."""

    def close(self) -> None:  # noqa: B027 - optional: most backends hold nothing to free
        """Free the model (GPU memory) when a long-lived process is done with it."""


def looks_like_path(name: str) -> bool:
    """Only a path can be meant (a Hugging Face repo id is `name` or `org/name`)."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1


def resolve_model_dir(name_or_path: str) -> Path:
    """The folder holding the model: a local path as given, or the snapshot in the local HF cache."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelNotFound(f"{path} has no config.json: it is not a saved transformers model folder.")
        return path.resolve()
    if looks_like_path(name_or_path):
        raise ModelNotFound(f"Model path {name_or_path} does not exist (TRANSLATION_MODEL).")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name_or_path, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError) as exc:
        raise ModelNotFound(
            f"Model {name_or_path} is neither a local folder nor in the Hugging Face cache "
            f"({os.environ.get('HF_HOME', '~/.cache/huggingface')}); nothing is downloaded here: fetch it once "
            f"(`hf download {name_or_path}`) or set TRANSLATION_MODEL to a local folder."
        ) from exc


@cache
def _load_tokenizer(model_dir: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_dir, src_lang=SOURCE_NLLB, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"No tokenizer can be loaded from {model_dir}: {exc}") from exc


def load_tokenizer(model_dir: Path) -> Any:
    return _load_tokenizer(str(model_dir))


def missing_language_tokens(tokenizer: Any, codes: Iterable[str]) -> list[str]:
    """The codes the tokenizer has no token for (it would map them to <unk>)."""
    vocab = tokenizer.get_vocab()
    return [code for code in codes if code not in vocab]


def check_tokenizer_languages(tokenizer: Any, codes: Iterable[str], model: str) -> None:
    codes = [SOURCE_NLLB, *codes]
    if missing := missing_language_tokens(tokenizer, codes):
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise MissingLanguageTokens(
            f"Model {model} has no NLLB language token for {shown}: it is not an NLLB model, or it was "
            f"trained without these languages."
        )
