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
