"""Small builders shared by the training tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from training.config import TrainConfig, load_config
from training.data import Encoder, ImageTransform, M3ITStream, collate, select_tasks, texts_for_tokenizer
from training.model import M3ITModel, build_tiny, prepare_stage, tiny_image_processor, train_tokenizer

_TOKENIZERS: dict[str, Any] = {}


def tiny_config(**sections: dict[str, Any]) -> TrainConfig:
    return load_config("tiny", sections)


def tokenizer_for(export_folder: Path) -> Any:
    """A tokenizer trained on the export's text (once per folder: training it takes ~1 s)."""
    key = str(export_folder)
    if key not in _TOKENIZERS:
        config = tiny_config()
        sources = select_tasks(export_folder, config.data.__class__(tasks=["caps", "colours", "clips"]), index=False)
        _TOKENIZERS[key] = train_tokenizer(texts_for_tokenizer(sources), config.model.build.vocab_size)
    return _TOKENIZERS[key]


def tiny_model(export_folder: Path, config: TrainConfig, seed: int = 0) -> tuple[M3ITModel, Any]:
    tokenizer = tokenizer_for(export_folder)
    torch.manual_seed(seed)
    blip = build_tiny(config.model.build, tokenizer, config.model.num_query_tokens)
    processor = tiny_image_processor(config.model.build.image_size)
    model = M3ITModel(prepare_stage(blip, config), processor.image_mean, processor.image_std)
    return model, processor


def encoder_for(model: M3ITModel, processor: Any, config: TrainConfig, tokenizer: Any) -> Encoder:
    return Encoder(
        tokenizer,
        ImageTransform(processor),
        model.num_query_tokens,
        model.image_token_id,
        config.data.max_prompt_tokens,
        config.data.max_target_tokens,
    )


def stream_for(export_folder: Path, config: TrainConfig, model: M3ITModel, processor: Any, **kw: Any) -> M3ITStream:
    tokenizer = tokenizer_for(export_folder)
    encoder = encoder_for(model, processor, config, tokenizer)
    return M3ITStream(select_tasks(export_folder, config.data), encoder, config.data, config.optim.batch_size, **kw)


def first_batch(stream: M3ITStream) -> dict[str, torch.Tensor]:
    return next(iter(stream))


__all__ = ["collate", "first_batch", "stream_for", "tiny_config", "tiny_model", "tokenizer_for"]
