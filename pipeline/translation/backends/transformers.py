"""The reference backend: AutoModelForSeq2SeqLM + the NLLB tokenizer, `forced_bos_token_id` of the target.

bf16 on GPU (fp16 where bf16 is missing), fp32 on CPU, unless TRANSLATION_DTYPE says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .base import BackendConfig, Translator, check_tokenizer_languages, load_tokenizer, resolve_model_dir

DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}  # fmt: skip


class TransformersTranslator(Translator):
    name = "transformers"

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        import torch
        from transformers import AutoModelForSeq2SeqLM

        self.torch = torch
        self.model_dir = resolve_model_dir(config.model)
        self.tokenizer = load_tokenizer(self.model_dir)
        self.device = config.resolved_device()
        if config.threads and self.device == "cpu":
            torch.set_num_threads(config.threads)
        self.dtype = getattr(torch, self._dtype_name())
        self.model: Any = AutoModelForSeq2SeqLM.from_pretrained(
            self.model_dir, local_files_only=True, dtype=self.dtype
        ).to(self.device)
        self.model.eval()

    def _dtype_name(self) -> str:
        if self.config.dtype != "auto":
            return DTYPES[self.config.dtype]
        if self.device.startswith("cuda"):
            return "bfloat16" if self.torch.cuda.is_bf16_supported() else "float16"
        return "float32"

    def check_languages(self, nllb_codes: Iterable[str]) -> None:
        check_tokenizer_languages(self.tokenizer, nllb_codes, self.config.model)

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=True)["input_ids"]]

    def translate_batch(self, texts: list[str], target: str) -> list[str]:
        if not texts:
            return []
        encoded = self.tokenizer(
            texts,
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.config.max_input_tokens + 8,
        ).to(self.device)
        source_len = int(encoded["input_ids"].shape[1])
        with self.torch.inference_mode():
            out = self.model.generate(
                **encoded,
                forced_bos_token_id=self.tokenizer.convert_tokens_to_ids(target),
                num_beams=self.config.beam_size,
                do_sample=False,
                max_new_tokens=min(self.config.max_new_tokens, 2 * source_len + 10),
            )
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)

    def close(self) -> None:
        del self.model
        if self.device.startswith("cuda"):
            self.torch.cuda.empty_cache()
