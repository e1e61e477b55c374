"""The fast backend: the same model folder converted once by CTranslate2, `target_prefix` for the language.

The converted model is cached beside the model folder (or under TRANSLATION_CT2_DIR), in a folder
named by the model's content hash and the quantization, so a changed model or another quantization
converts again and two workers converting at once do not trip over each other (each writes its own
temporary folder, the first rename wins). int8 on CPU, int8_float16 on GPU unless configured.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .base import (
    BackendConfig,
    TranslationError,
    Translator,
    check_tokenizer_languages,
    load_tokenizer,
    resolve_model_dir,
)

HASH_MEMO = ".m3it-model-hashes.json"


def model_hash(model_dir: Path) -> str:
    """sha256 over every file of the model folder (path, size, content). Content hashes are memoised
    by (path, size, mtime) beside the folder, so a 5 GB model is read once, not on every start."""
    memo_path = model_dir.parent / HASH_MEMO
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    total = hashlib.sha256()
    changed = False
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(model_dir).as_posix()
        stat = path.stat()
        key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        digest = memo.get(key)
        if digest is None:
            file_hash = hashlib.sha256()
            with open(path, "rb") as handle:
                while block := handle.read(1 << 22):
                    file_hash.update(block)
            digest = memo[key] = file_hash.hexdigest()
            changed = True
        total.update(f"{relative}\0{stat.st_size}\0{digest}\n".encode())
    if changed:
        try:
            tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(memo))
            os.replace(tmp, memo_path)
        except OSError:  # a read-only cache: hash again next time
            pass
    return total.hexdigest()


def quantization_for(config: BackendConfig, device: str) -> str:
    if config.quantization != "auto":
        return config.quantization
    return "int8_float16" if device.startswith("cuda") else "int8"


def converted_dir(model_dir: Path, quantization: str, ct2_root: str = "") -> Path:
    """Where the conversion of this model and quantization lives (whether or not it exists yet)."""
    root = Path(ct2_root) if ct2_root else model_dir.parent / f"{model_dir.name}.ctranslate2"
    return root / f"{model_hash(model_dir)[:16]}-{quantization}"


def convert(model_dir: Path, quantization: str, ct2_root: str = "") -> Path:
    """Convert the model once (ctranslate2.converters.TransformersConverter); later calls find it."""
    out = converted_dir(model_dir, quantization, ct2_root)
    if (out / "model.bin").is_file():
        return out
    from ctranslate2.converters import TransformersConverter

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        TransformersConverter(str(model_dir)).convert(str(tmp), quantization=quantization, force=True)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise TranslationError(f"CTranslate2 could not convert {model_dir}: {exc}") from exc
    try:
        os.rename(tmp, out)
    except OSError:  # another worker finished first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return out


class CTranslate2Translator(Translator):
    name = "ctranslate2"

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        import ctranslate2

        self.model_dir = resolve_model_dir(config.model)
        self.tokenizer = load_tokenizer(self.model_dir)
        device = config.resolved_device()
        self.quantization = quantization_for(config, device)
        self.ct2_path = convert(self.model_dir, self.quantization, config.ct2_dir)
        kind, _, index = device.partition(":")
        options: dict[str, Any] = {"device": kind, "compute_type": self.quantization}
        if index:
            options["device_index"] = int(index)
        if config.threads:
            options["intra_threads"] = config.threads
        self.translator = ctranslate2.Translator(str(self.ct2_path), **options)

    def check_languages(self, nllb_codes: Iterable[str]) -> None:
        check_tokenizer_languages(self.tokenizer, nllb_codes, self.config.model)

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(texts, add_special_tokens=True)["input_ids"]]

    def translate_batch(self, texts: list[str], target: str) -> list[str]:
        if not texts:
            return []
        ids = self.tokenizer(texts, truncation=True, max_length=self.config.max_input_tokens + 8)["input_ids"]
        source = [self.tokenizer.convert_ids_to_tokens(row) for row in ids]
        longest = max(len(row) for row in source)
        results = self.translator.translate_batch(
            source,
            target_prefix=[[target]] * len(source),
            beam_size=self.config.beam_size,
            # the prefix token counts; generate() counts the decoder start and the forced token alike
            max_decoding_length=min(self.config.max_new_tokens, 2 * longest + 10),
        )
        out = []
        for result in results:
            tokens = result.hypotheses[0]
            if tokens and tokens[0] == target:
                tokens = tokens[1:]
            out.append(self.tokenizer.decode(self.tokenizer.convert_tokens_to_ids(tokens), skip_special_tokens=True))
        return out

    def close(self) -> None:
        del self.translator
