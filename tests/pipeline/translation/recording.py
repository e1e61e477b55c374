"""A real translator with a record of every batch it was sent (what reached the model, in what order)."""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.translation.backends.base import Translator


class Recording(Translator):
    def __init__(self, inner: Translator, fail_after_batches: int | None = None) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.batches: list[tuple[str, list[str]]] = []
        self.fail_after_batches = fail_after_batches

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def sent(self) -> list[str]:
        return [text for _, batch in self.batches for text in batch]

    def check_languages(self, nllb_codes: Iterable[str]) -> None:
        self.inner.check_languages(nllb_codes)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def translate_batch(self, texts: list[str], target: str) -> list[str]:
        if self.fail_after_batches is not None and len(self.batches) >= self.fail_after_batches:
            raise WorkerKilled("the worker died here")
        self.batches.append((target, list(texts)))
        return self.inner.translate_batch(texts, target)


class WorkerKilled(BaseException):
    """Not an Exception: like a SIGKILL, nothing in the job records it; the claim just goes stale."""
