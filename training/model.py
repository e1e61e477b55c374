"""The model: transformers' BLIP-2 (vision encoder + Q-Former + projection + causal LM) in one wrapper.

Real runs load a BLIP-2 checkpoint (a local folder or a populated Hugging Face cache, e.g. a BLIP-2
OPT); tests and the `tiny` config build one from a config with a tokenizer trained on the fly. The
loading code is the same either way: a built model is saved once under the run and loaded by path.

transformers 5 facts this file relies on (see shared/reference/stack-notes.md §2):
- `image_token_index` must be set, and the model does not check the placeholders: it
  `masked_scatter`s query outputs into whatever image tokens there are. `M3ITModel.forward`
  computes the visual embeddings itself (each frame through the vision encoder and Q-Former, the
  query embeddings of a record's frames in frame order) and refuses a batch whose placeholder
  count differs from frames x num_query_tokens.
- `BlipImageProcessorPil` (no torchvision here); `Blip2Processor` must not get a tokenizer that
  declares `image_token` as a str, so `<image>` lives in the trained vocab as a special token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .config import LoraSettings, TinyModelConfig, TrainConfig

IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", IMAGE_TOKEN]
# Q-Former feed-forward blocks for text input: never used when only the queries go in, so they are
# kept frozen (a trainable parameter without a gradient breaks DDP).
QFORMER_TEXT_ONLY = re.compile(r"\.layer\.\d+\.(intermediate|output)\.")


class ModelError(ValueError):
    """The model cannot be loaded or built as configured; the message says why."""


class PlaceholderMismatch(ValueError):
    """A batch whose image-token count does not match its visual positions."""


# --- tokenizer and tiny model ------------------------------------------------------------------


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer trained on `texts`, with `<image>` as a special token of its vocab."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def build_tiny(spec: TinyModelConfig, tokenizer: Any, num_query_tokens: int) -> Any:
    """A randomly initialised BLIP-2 with an OPT language model, shaped by `spec`."""
    from transformers import Blip2Config, Blip2ForConditionalGeneration, OPTConfig

    vocab = len(tokenizer)
    config = Blip2Config(
        vision_config={
            "hidden_size": spec.vision_hidden,
            "intermediate_size": spec.vision_hidden * 2,
            "num_hidden_layers": spec.vision_layers,
            "num_attention_heads": spec.heads,
            "image_size": spec.image_size,
            "patch_size": spec.patch_size,
        },
        qformer_config={
            "hidden_size": spec.qformer_hidden,
            "intermediate_size": spec.qformer_hidden * 2,
            "num_hidden_layers": spec.qformer_layers,
            "num_attention_heads": spec.heads,
            "encoder_hidden_size": spec.vision_hidden,
            "vocab_size": vocab,
        },
        text_config=OPTConfig(
            vocab_size=vocab,
            hidden_size=spec.text_hidden,
            ffn_dim=spec.text_hidden * 2,
            num_hidden_layers=spec.text_layers,
            num_attention_heads=spec.heads,
            word_embed_proj_dim=spec.text_hidden,
            max_position_embeddings=spec.max_positions,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        ).to_dict(),
        num_query_tokens=num_query_tokens,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
    )
    return Blip2ForConditionalGeneration(config)


def tiny_image_processor(size: int) -> Any:
    from transformers import BlipImageProcessorPil

    return BlipImageProcessorPil(size={"height": size, "width": size})


def save_base(folder: Path, blip: Any, tokenizer: Any, image_processor: Any) -> None:
    """Save a model, its tokenizer and its processor in the layout `load_base` reads."""
    from transformers import Blip2Processor

    folder.mkdir(parents=True, exist_ok=True)
    blip.save_pretrained(folder)
    Blip2Processor(
        image_processor=image_processor, tokenizer=tokenizer, num_query_tokens=blip.config.num_query_tokens
    ).save_pretrained(folder)


# --- loading a checkpoint ---------------------------------------------------------------------


def check_model_path(path: str) -> Any:
    """The BLIP-2 config at `path` (a folder or a cached model name); ModelError when there is none."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # OSError, ValueError, EnvironmentError...: all mean "no usable config"
        raise ModelError(f"no model config at {path!r} (a local folder or a populated cache is needed): {exc}") from exc
    if getattr(config, "model_type", None) != "blip-2":
        raise ModelError(f"{path!r} holds a {config.model_type!r} model, not a BLIP-2 (model_type 'blip-2')")
    if not config.use_decoder_only_language_model:
        raise ModelError(f"{path!r} has an encoder-decoder language model; this trainer needs a causal LM (OPT...)")
    return config


def _dtype(name: str, device: torch.device) -> torch.dtype:
    if name == "float32" or (name == "auto" and device.type == "cpu"):
        return torch.float32
    if name in ("bfloat16", "auto"):
        return torch.bfloat16
    raise ModelError(f"model.dtype must be auto, float32 or bfloat16, not {name!r}")


def load_base(path: str, dtype_name: str = "auto", device: torch.device | None = None) -> tuple[Any, Any, Any]:
    """(model, tokenizer, image processor) from a BLIP-2 checkpoint; `<image>` added if it lacks one."""
    from transformers import AutoTokenizer, Blip2ForConditionalGeneration, BlipImageProcessorPil

    check_model_path(path)
    dtype = _dtype(dtype_name, device or torch.device("cpu"))
    blip = Blip2ForConditionalGeneration.from_pretrained(path, dtype=dtype, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    image_processor = BlipImageProcessorPil.from_pretrained(path, local_files_only=True)
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([IMAGE_TOKEN], special_tokens=True)
    image_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    if blip.config.image_token_index is None or blip.config.image_token_index != image_id:
        blip.config.image_token_index = image_id
    if len(tokenizer) > blip.get_input_embeddings().weight.shape[0]:
        blip.resize_token_embeddings(len(tokenizer))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return blip, tokenizer, image_processor


# --- the trainable wrapper --------------------------------------------------------------------


class M3ITModel(nn.Module):
    """BLIP-2 with per-frame visual embeddings, placeholder checks, and a loss over the labels.

    `self.net` is the Blip2ForConditionalGeneration, or the peft model around it (Stage 2).
    Pixels arrive as uint8 (the data loader ships bytes, not floats) and are normalised here.
    """

    def __init__(self, net: nn.Module, image_mean: list[float], image_std: list[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("image_mean", torch.tensor(image_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("image_std", torch.tensor(image_std).view(1, 3, 1, 1), persistent=False)

    @property
    def blip(self) -> Any:
        net = self.net
        return net.get_base_model() if hasattr(net, "get_base_model") else net

    @property
    def num_query_tokens(self) -> int:
        return self.blip.config.num_query_tokens

    @property
    def image_token_id(self) -> int:
        return self.blip.config.image_token_index

    def visual_embeddings(self, pixels: torch.Tensor) -> torch.Tensor:
        """(frames, 3, H, W) uint8 -> (frames, num_query_tokens, LM hidden): each frame on its own."""
        blip = self.blip
        vision_dtype = blip.vision_model.embeddings.patch_embedding.weight.dtype
        values = ((pixels.float() / 255.0 - self.image_mean) / self.image_std).to(vision_dtype)
        vision_trainable = any(p.requires_grad for p in blip.vision_model.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and vision_trainable):
            image_embeds = blip.vision_model(pixel_values=values, return_dict=True).last_hidden_state
        queries = blip.query_tokens.expand(image_embeds.shape[0], -1, -1)
        mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        query_output = blip.qformer(
            query_embeds=queries,
            encoder_hidden_states=image_embeds.to(queries.dtype),
            encoder_attention_mask=mask,
            return_dict=True,
        )[0]
        projection = blip.language_projection
        return projection(query_output.to(projection.weight.dtype))

    def check_placeholders(self, input_ids: torch.Tensor, frame_counts: torch.Tensor, frames: int) -> None:
        if int(frame_counts.sum()) != frames:
            raise PlaceholderMismatch(f"the batch names {int(frame_counts.sum())} frames but carries {frames}")
        found = (input_ids == self.image_token_id).sum(dim=1)
        wanted = frame_counts.to(found.device) * self.num_query_tokens
        if not torch.equal(found, wanted):
            bad = [
                f"row {i}: {int(f)} image tokens for {int(c)} frame(s) x {self.num_query_tokens} queries"
                for i, (f, c) in enumerate(zip(found.tolist(), frame_counts.tolist(), strict=True))
                if f != c * self.num_query_tokens
            ]
            raise PlaceholderMismatch("image placeholders do not match the visual positions: " + "; ".join(bad))

    def embed(self, pixel_values: torch.Tensor, frame_counts: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings with every record's frame query outputs scattered, in order, into its placeholders."""
        self.check_placeholders(input_ids, frame_counts, pixel_values.shape[0])
        visual = self.visual_embeddings(pixel_values)  # frames of row 0, then row 1, ...
        embeds = self.blip.get_input_embeddings()(input_ids)
        mask = (input_ids == self.image_token_id).unsqueeze(-1)
        return embeds.masked_scatter(mask, visual.reshape(-1, visual.shape[-1]).to(embeds.dtype))

    def forward(
        self,
        pixel_values: torch.Tensor,
        frame_counts: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        embeds = self.embed(pixel_values, frame_counts, input_ids)
        logits = self.blip.language_model(inputs_embeds=embeds, attention_mask=attention_mask).logits
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1), ignore_index=-100
            )
        return out


# --- stages -----------------------------------------------------------------------------------


def _is_stage1_part(name: str) -> bool:
    parts = (".qformer.", ".language_projection.", ".query_tokens")
    return any(p in f".{name}" for p in parts) and not QFORMER_TEXT_ONLY.search(f".{name}")


def lora_pattern(settings: LoraSettings) -> str:
    """peft `target_modules` as a regex: the named projections inside the language model only."""
    names = "|".join(re.escape(n) for n in settings.target_modules)
    return rf".*language_model\..*\.({names})"


def prepare_stage(blip: Any, config: TrainConfig) -> nn.Module:
    """Freeze and wrap for the configured stage; returns the module that goes into M3ITModel.

    Stage 1: Q-Former, query tokens and projection train; everything else is frozen.
    Stage 2: LoRA (peft) on the language model's q_proj/v_proj, plus Stage 1's parts if
    `train_qformer` says so. Either stage also trains the parameters `unfreeze` names.
    """
    for param in blip.parameters():
        param.requires_grad_(False)
    net: nn.Module = blip
    if config.stage == 2:
        from peft import LoraConfig, get_peft_model

        lora = config.lora
        net = get_peft_model(
            blip,
            LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora_pattern(lora)),
        )
    if config.stage == 1 or config.train_qformer:
        for name, param in blip.named_parameters():
            if _is_stage1_part(name):
                param.requires_grad_(True)
    if config.unfreeze:
        patterns = [re.compile(p) for p in config.unfreeze]
        for name, param in blip.named_parameters():
            if any(p.search(name) for p in patterns):
                param.requires_grad_(True)
    for param in net.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()  # AdamW keeps master weights in fp32
    if config.run.gradient_checkpointing:
        blip.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return net


def trainable_state(model: M3ITModel) -> dict[str, torch.Tensor]:
    """Every trainable parameter by name (Stage 1 parts, LoRA weights): what a checkpoint must hold."""
    return {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def load_trainable(model: M3ITModel, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    wanted = {name for name, p in params.items() if p.requires_grad}
    if missing := sorted(wanted - set(state)):
        raise ModelError(f"checkpoint lacks {len(missing)} trainable tensor(s), e.g. {missing[0]}")
    with torch.no_grad():
        for name, tensor in state.items():
            if name not in params:
                raise ModelError(f"checkpoint tensor {name} is not a parameter of this model")
            params[name].copy_(tensor)


def load_init(model: M3ITModel, folder: str) -> list[str]:
    """Start from an earlier run's checkpoint (e.g. Stage 1 into Stage 2): copies the tensors whose
    names match (a Stage 1 checkpoint names the Q-Former as `net.qformer...`, Stage 2 as
    `net.base_model.model.qformer...`); returns the names copied."""
    from safetensors.torch import load_file

    path = Path(folder) / "trainable.safetensors"
    if not path.is_file():
        raise ModelError(f"model.init_from: no trainable.safetensors in {folder}")
    state = load_file(path)

    def key(name: str) -> str:
        return name.replace("net.base_model.model.", "net.")

    by_key = {key(n): t for n, t in state.items()}
    copied = []
    with torch.no_grad():
        for name, param in model.named_parameters():
            tensor = by_key.get(key(name))
            if tensor is not None and tensor.shape == param.shape:
                param.copy_(tensor)
                copied.append(name)
    if not copied:
        raise ModelError(f"model.init_from: no tensor of {folder} matches this model")
    return copied


def count_parameters(model: nn.Module) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
