"""Training configs: YAML files under training/configs/ loaded into dataclasses.

A key that no dataclass field knows is an error naming the key and the keys that exist, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message says what and where."""


@dataclass
class TinyModelConfig:
    """A BLIP-2 built from a config (random weights): vision encoder, Q-Former, OPT language model."""

    image_size: int = 32
    patch_size: int = 8
    vision_hidden: int = 32
    vision_layers: int = 2
    qformer_hidden: int = 32
    qformer_layers: int = 2
    text_hidden: int = 32
    text_layers: int = 2
    heads: int = 2
    vocab_size: int = 400  # of the tokenizer trained on the export's text
    max_positions: int = 512


@dataclass
class ModelConfig:
    path: str | None = None  # local folder or populated-cache name of a BLIP-2 checkpoint (real runs)
    build: TinyModelConfig | None = None  # or: build from this config (tests, tiny)
    num_query_tokens: int = 32  # for `build`; a checkpoint brings its own
    init_from: str | None = None  # a checkpoint folder of an earlier run (e.g. Stage 1) to start from
    dtype: str = "auto"  # auto | float32 | bfloat16 (weights of the frozen parts)


@dataclass
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])


@dataclass
class DataConfig:
    tasks: list[str] | None = None  # None: the export's held-in tasks
    split: str = "train"
    max_per_task: int | None = 5000
    instructions_per_task: int | None = None  # 1/2/4/8: redraw from the first k of the task's pool
    seed: int = 1234
    shuffle: bool = True
    num_workers: int = 0
    max_prompt_tokens: int = 256
    max_target_tokens: int = 128
    fast_resize: bool = False  # JPEG draft decoding + reducing_gap resize: faster, not bit-equal to the processor


@dataclass
class OptimConfig:
    lr: float = 1e-5
    warmup_steps: int = 1000
    weight_decay: float = 0.05
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    max_grad_norm: float = 1.0
    min_lr_ratio: float = 0.0  # cosine decays to lr * min_lr_ratio
    batch_size: int = 8  # per process
    grad_accum: int = 1
    epochs: float = 1.0
    max_steps: int | None = None  # optimizer steps; None: epochs decide


@dataclass
class RunConfig:
    num_processes: int = 1  # >1: the worker starts `accelerate launch`
    accelerate_config: str | None = None  # an accelerate config file (FSDP, DeepSpeed, several machines)
    device: str = "auto"  # auto | cpu
    mixed_precision: str = "auto"  # auto (bf16 where the device has it) | no | bf16 | fp16
    gradient_checkpointing: bool = False
    checkpoint_every: int = 1000  # optimizer steps
    keep_checkpoints: int | None = 3
    log_every: int = 10
    seed: int = 42
    threads: int | None = None  # torch intra-op threads on CPU


@dataclass
class TrainConfig:
    name: str = "custom"
    description: str = ""
    stage: int = 2  # 1: Q-Former + projection; 2: + LoRA on the LM's q_proj/v_proj
    train_qformer: bool = True  # Stage 2: keep Stage 1's trainable parts trainable
    unfreeze: list[str] = field(default_factory=list)  # regexes over BLIP-2 parameter names: also train these
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraSettings = field(default_factory=LoraSettings)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def check(self) -> None:
        if self.stage not in (1, 2):
            raise ConfigError(f"stage must be 1 or 2, not {self.stage!r}")
        if (self.model.path is None) == (self.model.build is None):
            raise ConfigError("model: give exactly one of `path` (a BLIP-2 checkpoint) or `build` (a tiny config)")
        if self.data.instructions_per_task is not None and self.data.instructions_per_task < 1:
            raise ConfigError("data.instructions_per_task must be at least 1 (or null for the record's own)")
        if self.optim.batch_size < 1 or self.optim.grad_accum < 1 or self.run.num_processes < 1:
            raise ConfigError("batch_size, grad_accum and num_processes must be at least 1")
        if self.run.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            raise ConfigError(f"run.mixed_precision must be auto, no, bf16 or fp16, not {self.run.mixed_precision!r}")
        if self.run.device not in ("auto", "cpu"):
            raise ConfigError(f"run.device must be auto or cpu, not {self.run.device!r}")


def _build(cls: type, values: Any, where: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'config'} must be a mapping, not {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    if unknown := sorted(set(values) - known):
        raise ConfigError(
            f"unknown config key(s) {', '.join(f'{where}{k}' for k in unknown)}; "
            f"known keys{' of ' + where.rstrip('.') if where else ''}: {', '.join(sorted(known))}"
        )
    kwargs = {}
    for key, value in values.items():
        hint = hints[key]
        nested = next((a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)), None)
        if dataclasses.is_dataclass(hint):
            nested = hint
        kwargs[key] = _build(nested, value, f"{where}{key}.") if nested is not None and value is not None else value
    return cls(**kwargs)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def config_path(name_or_file: str) -> Path:
    """A config by name (training/configs/<name>.yaml) or by file path."""
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    named = CONFIG_DIR / f"{name_or_file}.yaml"
    if named.is_file():
        return named
    raise ConfigError(f"no config {name_or_file!r}: use one of {', '.join(available_configs())} or a .yaml file")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`section.key=value` strings (values parsed as YAML) into a nested dict."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not KEY=VALUE")
        key, raw = item.split("=", 1)
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return out


def config_from_dict(values: dict[str, Any], overrides: dict[str, Any] | None = None) -> TrainConfig:
    config = _build(TrainConfig, _merge(values, overrides or {}), "")
    config.check()
    return config


def load_config(name_or_file: str, overrides: dict[str, Any] | None = None) -> TrainConfig:
    path = config_path(name_or_file)
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name} is not valid YAML: {exc}") from exc
    values.setdefault("name", path.stem)
    try:
        return config_from_dict(values, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from exc
    except TypeError as exc:
        raise ConfigError(f"{path.name}: {exc}") from exc
