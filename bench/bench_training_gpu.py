"""GPU benchmark: Stage 2 steps/s and peak memory of a BLIP-2-OPT-2.7B-shaped model, random weights.

    .venv/bin/python bench/bench_training_gpu.py                 # on a GPU machine: one command
    .venv/bin/python bench/bench_training_gpu.py --dry-run       # anywhere: a tiny shape on the CPU

The model has the shapes of Salesforce/blip2-opt-2.7b (ViT-g/14 at 224 px: 1408 wide, 39 layers;
Q-Former 768 wide, 12 layers, 32 queries; OPT-2.7B: 2560 wide, 32 layers, vocab 50272) with random
weights in bf16 (nothing is downloaded). Stage 2 as training.model sets it up: LoRA r=8 on the LM's
q_proj/v_proj, the Q-Former and projection trainable, everything else frozen; AdamW; bf16 autocast.
Batches are 1 image + `--seq` text tokens per record (32 visual positions + text). The batch size
doubles until a step runs out of memory; the largest that fits is measured over `--steps` steps.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def blip2_opt_27b_config(tiny: bool):
    from transformers import Blip2Config, OPTConfig

    if tiny:
        vision = {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        }
        qformer = {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "encoder_hidden_size": 32,
            "vocab_size": 512,
        }
        text = OPTConfig(
            vocab_size=512,
            hidden_size=32,
            ffn_dim=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            word_embed_proj_dim=32,
            max_position_embeddings=512,
        )
        queries = 4
    else:
        vision = {
            "hidden_size": 1408,
            "intermediate_size": 6144,
            "num_hidden_layers": 39,
            "num_attention_heads": 16,
            "image_size": 224,
            "patch_size": 14,
            "qkv_bias": True,
        }
        qformer = {
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "encoder_hidden_size": 1408,
            "cross_attention_frequency": 2,
            "vocab_size": 30523,
        }
        text = OPTConfig(
            vocab_size=50272,
            hidden_size=2560,
            ffn_dim=10240,
            num_hidden_layers=32,
            num_attention_heads=32,
            word_embed_proj_dim=2560,
            max_position_embeddings=2048,
            pad_token_id=1,
            bos_token_id=2,
            eos_token_id=2,
        )
        queries = 32
    return Blip2Config(
        vision_config=vision,
        qformer_config=qformer,
        text_config=text.to_dict(),
        num_query_tokens=queries,
        image_token_index=text.vocab_size - 1,
    )


def build(tiny: bool, device):
    import torch
    from transformers import Blip2ForConditionalGeneration

    from training.config import load_config
    from training.model import M3ITModel, prepare_stage

    config = load_config("stage2", {"model": {"path": None, "build": {}}, "run": {"gradient_checkpointing": False}})
    torch.set_default_dtype(torch.float32 if tiny else torch.bfloat16)
    with torch.device(device):
        blip = Blip2ForConditionalGeneration(blip2_opt_27b_config(tiny))
    torch.set_default_dtype(torch.float32)
    model = M3ITModel(prepare_stage(blip, config), [0.48, 0.46, 0.41], [0.27, 0.26, 0.28]).to(device)
    return model, config


def batch_of(model, size: int, seq: int, device):
    import torch

    blip = model.blip
    nq, image = model.num_query_tokens, blip.config.vision_config.image_size
    vocab = blip.config.text_config.vocab_size - 1
    text = torch.randint(3, vocab - 1, (size, seq), device=device)
    ids = torch.cat([torch.full((size, nq), model.image_token_id, device=device), text], 1)
    labels = ids.clone()
    labels[:, : nq + seq // 2] = -100  # the prompt half is masked, as in training
    return {
        "pixel_values": torch.randint(0, 255, (size, 3, image, image), dtype=torch.uint8, device=device),
        "frame_counts": torch.ones(size, dtype=torch.long, device=device),
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "labels": labels,
    }


def step(model, optimizer, batch, device) -> float:
    import torch

    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        loss = model(**batch)["loss"]
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU (checks the script runs)")
    parser.add_argument("--seq", type=int, default=96, help="text tokens per record (+32 visual positions)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--max-batch", type=int, default=512)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    args = parser.parse_args()
    device = torch.device("cpu" if args.dry_run or not torch.cuda.is_available() else "cuda")
    if device.type == "cpu" and not args.dry_run:
        sys.exit("no GPU here: run with --dry-run for a CPU check of the script")
    model, _ = build(args.dry_run, device)
    if args.gradient_checkpointing:
        model.blip.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(
        f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}); "
        f"{total / 1e9:.2f}B parameters, {trainable / 1e6:.1f}M trainable (LoRA + Q-Former + projection)"
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5, weight_decay=0.05)

    best = None
    size = 1
    while size <= (4 if args.dry_run else args.max_batch):
        try:
            batch = batch_of(model, size, args.seq, device)
            step(model, optimizer, batch, device)
            best = size
            print(f"batch {size}: fits")
            size *= 2
        except torch.OutOfMemoryError:
            print(f"batch {size}: out of memory")
            break
        finally:
            optimizer.zero_grad(set_to_none=True)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    if best is None:
        sys.exit("not even a batch of 1 fits")
    batch = batch_of(model, best, args.seq, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    start = time.perf_counter()
    steps = 2 if args.dry_run else args.steps
    for _ in range(steps):
        loss = step(model, optimizer, batch, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    tokens = best * (args.seq + model.num_query_tokens)
    print(f"\nStage 2, batch {best} x {args.seq + model.num_query_tokens} positions, bf16, LoRA r=8 q_proj/v_proj:")
    rates = f"{steps / elapsed:.2f} steps/s, {steps * best / elapsed:.1f} samples/s"
    print(f"  {rates}, {steps * tokens / elapsed:.0f} tokens/s")
    print(f"  peak GPU memory {peak:.1f} GiB; last loss {loss:.3f}")


if __name__ == "__main__":
    main()
