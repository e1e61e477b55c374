"""Greedy answers for evaluation records, in batches, from any backend.

A backend is a callable `backend(items) -> raw texts`: it reads each item's `prompt` and
`images()` (a chat endpoint reads `instruction`, `inputs` and `images_b64` instead). `HFBackend`
runs a BLIP-2-shaped transformers model in-process (the training model, or any
`Blip2ForConditionalGeneration`); `endpoint.EndpointBackend` asks an OpenAI-compatible server.
`answers` cuts every text at its first newline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, Protocol

import torch

from .prompt import CHINESE_PRIMING, first_line
from .records import EvalItem


class Backend(Protocol):
    def __call__(self, items: list[EvalItem]) -> list[str]: ...


def batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def answers(
    items: Iterable[EvalItem],
    backend: Backend,
    batch_size: int = 8,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[tuple[EvalItem, str]]:
    """(item, answer) for every item; the backend sees `batch_size` items at a time."""
    for batch in batches(items, batch_size):
        texts = backend(batch)
        if len(texts) != len(batch):
            raise RuntimeError(f"backend answered {len(texts)} of {len(batch)} records")
        yield from zip(batch, (first_line(t) for t in texts), strict=True)
        if on_batch:
            on_batch(len(batch))


class HFBackend:
    """Greedy decoding with a BLIP-2-style model: `num_query_tokens` image placeholders per image
    (a video's 8 frames give 8 blocks, one after the other, before the text, as Ying-VLM does),
    then the prompt; left padding so every row's new tokens start at the same column."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        image_processor: Any,
        max_new_tokens: int = 32,
        device: str | torch.device | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.max_new_tokens = max_new_tokens
        self.device = torch.device(device) if device else next(model.parameters()).device
        config = model.config
        self.num_query_tokens = int(config.num_query_tokens)
        self.image_token_id = int(config.image_token_index)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        size = getattr(config.vision_config, "image_size", 224)
        self.blank_size = (size, size)

    def encode(self, items: list[EvalItem]) -> dict[str, torch.Tensor]:
        rows, images = [], []
        for item in items:
            pictures = item.images()
            if not pictures:  # a text-only record still needs one image block: a blank picture
                from PIL import Image

                pictures = [Image.new("RGB", self.blank_size)]
            images.extend(pictures)
            text_ids = self.tokenizer(item.prompt).input_ids
            rows.append([self.image_token_id] * (self.num_query_tokens * len(pictures)) + text_ids)
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, width - len(row) :] = torch.tensor(row)
            attention[i, width - len(row) :] = 1
        pixels = self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        return {
            "input_ids": input_ids.to(self.device),
            "attention_mask": attention.to(self.device),
            "pixel_values": pixels.to(self.device, dtype=next(self.model.parameters()).dtype),
        }

    @torch.inference_mode()
    def __call__(self, items: list[EvalItem]) -> list[str]:
        batch = self.encode(items)
        out = self.model.generate(
            **batch,
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            num_beams=1,
            pad_token_id=self.pad_id,
        )
        new = out[:, batch["input_ids"].shape[1] :]  # decoder-only generate returns the prompt too
        return self.tokenizer.batch_decode(new, skip_special_tokens=True)


class M3ITBackend:
    """Greedy decoding with the training model (training.model.M3ITModel): the prompt tokens exactly as
    training.data builds them (placeholders for every frame first, then `<human>: …<bot>: `), left
    padding, visual query outputs scattered into the placeholders, then the language model generates
    from those embeddings (LoRA weights included: peft patches the language model in place)."""

    def __init__(
        self, model: Any, tokenizer: Any, image_processor: Any, max_new_tokens: int = 32, max_prompt_tokens: int = 256
    ) -> None:
        from training.data import ImageTransform

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.transform = ImageTransform(image_processor)
        self.max_new_tokens = max_new_tokens
        self.max_prompt_tokens = max_prompt_tokens
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.device = next(model.parameters()).device
        self.priming = tokenizer(CHINESE_PRIMING, add_special_tokens=False, split_special_tokens=True).input_ids

    def prompt_ids(self, item: EvalItem) -> list[int]:
        from training.data import prompt_ids

        ids = prompt_ids(self.tokenizer, item.instruction, item.inputs, self.max_prompt_tokens)
        if not item.chinese_priming:
            return ids
        bos = self.tokenizer.bos_token_id
        return [bos, *self.priming, *ids[1:]] if ids and ids[0] == bos else [*self.priming, *ids]

    def encode(self, items: list[EvalItem]) -> dict[str, torch.Tensor]:
        import pybase64

        width, height = self.transform.size
        rows, frames, counts = [], [], []
        for item in items:
            pictures = [self.transform(pybase64.b64decode(data)) for data in item.images_b64]
            if not pictures:  # a text-only record still gets one (blank) frame, as the model expects
                pictures = [torch.zeros((3, height, width), dtype=torch.uint8)]
            frames += pictures
            counts.append(len(pictures))
            rows.append(
                [self.model.image_token_id] * (len(pictures) * self.model.num_query_tokens) + self.prompt_ids(item)
            )
        longest = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), longest), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, longest - len(row) :] = torch.tensor(row)
            attention[i, longest - len(row) :] = 1
        return {
            "pixel_values": torch.stack(frames).to(self.device),
            "frame_counts": torch.tensor(counts),
            "input_ids": input_ids.to(self.device),
            "attention_mask": attention.to(self.device),
        }

    @torch.inference_mode()
    def __call__(self, items: list[EvalItem]) -> list[str]:
        batch = self.encode(items)
        embeds = self.model.embed(batch["pixel_values"], batch["frame_counts"], batch["input_ids"])
        out = self.model.blip.language_model.generate(
            inputs_embeds=embeds,
            attention_mask=batch["attention_mask"],
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            num_beams=1,
            pad_token_id=self.pad_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        return self.tokenizer.batch_decode(out, skip_special_tokens=True)  # only new tokens: no input_ids given
