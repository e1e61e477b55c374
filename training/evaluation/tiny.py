"""A tiny BLIP-2 (ViT + Q-Former + OPT) built from a config, with a byte-level BPE tokenizer trained
on the fly: for tests and benchmarks, no weights downloaded. Real weights load through the same
`HFBackend` from `Blip2ForConditionalGeneration.from_pretrained(path)`."""

from __future__ import annotations

from typing import Any

import torch

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]
CORPUS = [
    "<human>:",
    "<bot>:",
    "What is in the image? A cat sits on the mat.",
    "Describe the picture in one sentence. Two dogs play in the park.",
    "Answer the question about the video. The man is cooking.",
    "请根据下面的指令和图片进行回答。好的。这是一只猫。",
    "yes no red blue green one two three four\n",
]


def tiny_tokenizer(vocab_size: int = 400) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def tiny_blip2(tokenizer: Any, image_size: int = 32, hidden: int = 32, query_tokens: int = 4, seed: int = 0) -> Any:
    from transformers import Blip2Config, Blip2ForConditionalGeneration, OPTConfig

    torch.manual_seed(seed)
    layers = {"num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": hidden * 2}
    config = Blip2Config(
        vision_config=dict(hidden_size=hidden, image_size=image_size, patch_size=8, **layers),
        qformer_config=dict(hidden_size=hidden, vocab_size=len(tokenizer), **layers),
        text_config=OPTConfig(
            vocab_size=len(tokenizer),
            hidden_size=hidden,
            ffn_dim=hidden * 2,
            num_hidden_layers=2,
            num_attention_heads=2,
            word_embed_proj_dim=hidden,
            max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        ).to_dict(),
        num_query_tokens=query_tokens,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
    )
    return Blip2ForConditionalGeneration(config).eval()


def tiny_image_processor(image_size: int = 32) -> Any:
    from transformers import BlipImageProcessorPil

    return BlipImageProcessorPil(size={"height": image_size, "width": image_size})


def tiny_backend(max_new_tokens: int = 12, **model_options: Any) -> Any:
    from .generate import HFBackend

    tokenizer = tiny_tokenizer()
    size = model_options.get("image_size", 32)
    return HFBackend(tiny_blip2(tokenizer, **model_options), tokenizer, tiny_image_processor(size), max_new_tokens)


def train_tiny(spec: Any) -> tuple[Any, int]:
    """A short real training loop of the tiny BLIP-2 on a point's records (AdamW, full fine-tune), the
    stand-in `tiny` trainer of the ablations until training/train.py (issue #12) provides one. The
    prompt and labels follow the collator of the stack notes: image placeholders, prompt, target, eos;
    loss on the target only."""
    from PIL import Image as PILImage

    from .generate import HFBackend
    from .prompt import build_prompt
    from .records import EvalItem

    options = spec.options
    steps, batch_size = int(options.get("steps", 8)), int(options.get("train_batch_size", 4))
    tokenizer = tiny_tokenizer()
    model = tiny_blip2(tokenizer, seed=spec.seed)
    processor = tiny_image_processor()
    backend = HFBackend(model, tokenizer, processor, int(options.get("max_new_tokens", 8)))
    records = list(spec.records())  # a tiny point's records (≤ max_per_task each); real configs stream
    if not records or not steps:
        return backend, len(records)
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(options.get("lr", 1e-3)))
    rng = torch.Generator().manual_seed(spec.seed)
    model.train()
    for _ in range(steps):
        picks = torch.randint(len(records), (min(batch_size, len(records)),), generator=rng).tolist()
        rows, labels, images = [], [], []
        for i in picks:
            r = records[i]
            item = EvalItem(r["task"], str(i), r["instruction"], r["inputs"], r["outputs"], list(r["image_base64_str"]))
            pictures = item.images() or [PILImage.new("RGB", backend.blank_size)]
            images += pictures
            head = [backend.image_token_id] * (backend.num_query_tokens * len(pictures))
            head += tokenizer(build_prompt(item.instruction, item.inputs)).input_ids
            target = [*tokenizer(item.reference, add_special_tokens=False).input_ids, tokenizer.eos_token_id]
            rows.append(head + target)
            labels.append([-100] * len(head) + target)
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), backend.pad_id)
        lab = torch.full((len(rows), width), -100)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, (row, label) in enumerate(zip(rows, labels, strict=True)):
            ids[j, : len(row)], lab[j, : len(row)], mask[j, : len(row)] = torch.tensor(row), torch.tensor(label), 1
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        loss = model(input_ids=ids, attention_mask=mask, pixel_values=pixels, labels=lab).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    return backend, len(records)
