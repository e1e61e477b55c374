"""Random-weight NLLB-architecture models (M2M100) with a tokenizer trained on the fly.

For tests, the benchmarks and a dry run on a new machine: the folder it writes loads through exactly
the code that loads the real `facebook/nllb-200-*` weights (TRANSLATION_MODEL=<folder>). Nothing is
downloaded. The tokenizer carries the NLLB language tokens of the languages asked for.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from .languages import SOURCE_NLLB

_VOCABULARY = (
    "the a an image picture photo shows man woman child dog cat bird car bus train street table kitchen "
    "room red blue green yellow white black small large two three many some people person sitting "
    "standing holding what which where who how is are does do in on at of with near next to behind front "
    "answer question options choose describe following caption sentence story video frame happens "
    "describe briefly object color number animal food plate sky water grass tree building window door "
    "sign text read left right "
)
WORDS = _VOCABULARY.split()

SHAPES: dict[str, dict[str, int]] = {
    # tests: tiny and fast
    "tiny": {"d_model": 32, "layers": 2, "heads": 2, "ffn": 64, "vocab": 400},
    # benchmarks on CPU: a realistic shape (6+6 layers, d_model 512, as NLLB/Marian "base")
    "base": {"d_model": 512, "layers": 6, "heads": 8, "ffn": 2048, "vocab": 8000},
    # the distilled NLLB-1.3B architecture (24+24 layers, d_model 1024, vocab 256k)
    "nllb-1.3b": {"d_model": 1024, "layers": 24, "heads": 16, "ffn": 8192, "vocab": 256_000},
}


def corpus(n: int, seed: int = 0) -> list[str]:
    """English-looking sentences of mixed length (3 to 60 words), with numbers and option letters."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        length = int(rng.choice([3, 5, 8, 12, 16, 24, 40, 60]) * rng.uniform(0.7, 1.3))
        words = [rng.choice(WORDS) for _ in range(max(2, length))]
        if i % 7 == 0:
            words.insert(rng.randrange(len(words)), str(rng.randint(0, 99)))
        out.append(" ".join(words).capitalize() + rng.choice([".", "?", "."]))
    return out


def train_bpe(vocab_size: int, texts: list[str]) -> Any:
    """A Metaspace BPE with NLLB's first four ids: <s> <pad> </s> <unk>."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    return bpe


def train_tokenizer(languages: list[str], vocab_size: int, texts: list[str], pad_vocab: bool = False) -> Any:
    """The BPE wrapped as an NllbTokenizer carrying the language tokens (and eng_Latn, the source).

    `pad_vocab` fills the vocabulary up to `vocab_size` with tokens no text produces, so that the
    embedding and output layers have the real model's size (the output layer dominates decoding).
    """
    from transformers import NllbTokenizer

    data = json.loads(train_bpe(vocab_size, texts).to_str())
    vocab, merges = data["model"]["vocab"], data["model"]["merges"]
    if pad_vocab:
        vocab = dict(vocab)
        for i in range(vocab_size - len(vocab) - len(languages) - 3):
            vocab[f"\u2581x{i}"] = len(vocab)
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
    langs = list(dict.fromkeys([SOURCE_NLLB, *languages]))
    return NllbTokenizer(
        vocab=vocab, merges=merges, extra_special_tokens=langs, src_lang=SOURCE_NLLB, tgt_lang=langs[-1]
    )


def build(
    folder: Path | str,
    languages: list[str],
    shape: str = "tiny",
    seed: int = 0,
    max_positions: int = 256,
    with_language_tokens: bool = True,
    init_std: float = 0.02,
) -> Path:
    """Write a random M2M100 model and its tokenizer to `folder` (save_pretrained); returns the folder.

    A large `init_std` makes a tiny random model's output depend on its input (tests tell texts apart).
    """
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    folder = Path(folder)
    size = SHAPES[shape]
    texts = corpus(3000 if shape == "tiny" else 20000, seed)
    if with_language_tokens:
        tokenizer = train_tokenizer(languages, size["vocab"], texts, pad_vocab=shape != "tiny")
    else:  # an ordinary BPE model: no NLLB language tokens at all
        from transformers import PreTrainedTokenizerFast

        tokenizer = PreTrainedTokenizerFast(tokenizer_object=train_bpe(size["vocab"], texts), unk_token="<unk>",
                                            pad_token="<pad>", bos_token="<s>", eos_token="</s>")  # fmt: skip
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=size["d_model"],
        encoder_layers=size["layers"],
        decoder_layers=size["layers"],
        encoder_attention_heads=size["heads"],
        decoder_attention_heads=size["heads"],
        encoder_ffn_dim=size["ffn"],
        decoder_ffn_dim=size["ffn"],
        max_position_embeddings=max_positions,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        scale_embedding=True,
        init_std=init_std,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
