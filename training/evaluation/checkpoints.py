"""A training run's model at one of its checkpoints, or a config's untrained base model, ready to answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..models import TrainingRun
from .generate import M3ITBackend


class CheckpointError(Exception):
    """The run has no such checkpoint (or none yet); the message lists what it has."""


def checkpoint_dir(run: TrainingRun, step: int | None = None) -> Path:
    """The run's checkpoint folder at `step`, or its newest complete one."""
    from training.train import checkpoints_dir, latest_checkpoint

    run_dir = Path(run.run_dir)
    if step is None:
        found = latest_checkpoint(run_dir) if run.run_dir else None
        if found is None:
            raise CheckpointError(f"run #{run.pk} has no checkpoint yet")
        return found
    folder = checkpoints_dir(run_dir) / f"step-{step}"
    if not (folder / "state.json").is_file():
        steps = sorted(
            int(p.name.split("-")[1]) for p in checkpoints_dir(run_dir).glob("step-*") if (p / "state.json").is_file()
        )
        raise CheckpointError(
            f"run #{run.pk} has no checkpoint at step {step} (it has: {', '.join(map(str, steps)) or 'none'})"
        )
    return folder


def _device(config: Any) -> torch.device:
    on_cpu = config.run.device == "cpu" or not torch.cuda.is_available()
    return torch.device("cpu" if on_cpu else "cuda")


def model_for(config: Any, base_path: str) -> tuple[Any, Any, Any]:
    """(M3ITModel prepared for the config's stage, tokenizer, image processor) from a base checkpoint."""
    from training.model import M3ITModel, load_base, prepare_stage

    device = _device(config)
    blip, tokenizer, image_processor = load_base(base_path, config.model.dtype, device)
    model = M3ITModel(prepare_stage(blip, config), image_processor.image_mean, image_processor.image_std)
    return model.to(device), tokenizer, image_processor


def run_backend(run: TrainingRun, step: int | None = None, max_new_tokens: int = 32) -> M3ITBackend:
    """The run's model with the trainable tensors of its checkpoint (its last one by default)."""
    from safetensors.torch import load_file

    from training.config import config_from_dict
    from training.model import load_trainable

    folder = checkpoint_dir(run, step)
    config = config_from_dict(run.config)
    base = str(Path(run.run_dir) / "base") if config.model.build is not None else config.model.path
    model, tokenizer, image_processor = model_for(config, base)
    load_trainable(model, load_file(folder / "trainable.safetensors"))
    return M3ITBackend(model, tokenizer, image_processor, max_new_tokens, config.data.max_prompt_tokens)


def base_backend(config: Any, export_dir: Path, work_dir: Path, max_new_tokens: int = 32) -> M3ITBackend:
    """The config's model before any instruction tuning (the 0-task point of Figure 5): its checkpoint,
    or for a `build` config the tiny model built the way a run builds it, into work_dir/base."""
    from accelerate import Accelerator

    from training.train import build_model

    model, tokenizer, image_processor = build_model(
        config, export_dir, work_dir, Accelerator(cpu=_device(config).type == "cpu")
    )
    return M3ITBackend(model, tokenizer, image_processor, max_new_tokens, config.data.max_prompt_tokens)
