"""The training loop (Hugging Face Accelerate): one CPU, one GPU, or many under `accelerate launch`.

    python -m training.train --export EXPORT_DIR --config tiny --run-dir RUN_DIR [--resume]
    accelerate launch --num_processes 8 -m training.train --export ... --config stage2 --run-dir ...

Django-free on purpose: the worker runs it in-process (one process) or as an `accelerate launch`
subprocess, and follows it through the files it writes under RUN_DIR:

    metrics.jsonl          one line per logged step (loss, lr, grad norm, samples/s, tokens/s)
    checkpoints.jsonl      one line per saved checkpoint
    summary.json           written at the end: completed or stopped, last step, final loss
    train.log              the log (the run page shows its tail)
    tensorboard/           event files for TensorBoard
    base/                  the built model, tokenizer and processor (configs with `model.build`)
    checkpoints/step-N/    trainable.safetensors (+ adapter/ in Stage 2), optimizer, scheduler,
                           RNG states of every process, state.json
    STOP                   created by whoever wants the run to stop: it checkpoints and exits

Resume picks the newest complete checkpoint and continues the same curve: same step, same data
position (epoch and micro-batch), same RNG states, same optimizer and schedule.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .config import TrainConfig, load_config, parse_overrides
from .data import Encoder, ImageTransform, M3ITStream, loader, select_tasks, texts_for_tokenizer
from .model import (
    M3ITModel,
    build_tiny,
    count_parameters,
    load_base,
    load_init,
    load_trainable,
    prepare_stage,
    save_base,
    tiny_image_processor,
    train_tokenizer,
    trainable_state,
)

log = logging.getLogger("training")
STOP_FILE = "STOP"


class Reporter:
    """Where the loop's news goes (main process only). The default writes files under the run."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def _append(self, name: str, record: dict[str, Any]) -> None:
        with open(self.run_dir / name, "ab") as handle:
            handle.write(json.dumps(record).encode() + b"\n")

    def started(self, info: dict[str, Any]) -> None:
        (self.run_dir / "started.json").write_text(json.dumps(info, indent=1))

    def metrics(self, record: dict[str, Any]) -> None:
        self._append("metrics.jsonl", record)

    def checkpoint(self, record: dict[str, Any]) -> None:
        self._append("checkpoints.jsonl", record)

    def should_stop(self) -> bool:
        return (self.run_dir / STOP_FILE).exists()


def trim_logs(run_dir: Path, step: int) -> None:
    """Drop what an earlier attempt logged after `step` (the checkpoint this attempt starts from, or 0),
    so that metrics.jsonl and checkpoints.jsonl describe one curve."""
    for name in ("metrics.jsonl", "checkpoints.jsonl"):
        path = run_dir / name
        if path.exists():
            kept = [
                line for line in path.read_bytes().splitlines() if line.strip() and json.loads(line)["step"] <= step
            ]
            path.write_bytes(b"".join(line + b"\n" for line in kept))


def lr_lambda(warmup: int, total: int, min_ratio: float) -> Callable[[int], float]:
    """Linear warm-up to the peak, then cosine decay to peak x min_ratio at `total` steps."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices; none on biases, norms, query tokens (the usual AdamW practice)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 and "query_tokens" not in name else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def checkpoints_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint folder with a state.json (written last, so it marks a complete one)."""
    found = [p for p in checkpoints_dir(run_dir).glob("step-*") if (p / "state.json").is_file()]
    return max(found, key=lambda p: int(p.name.split("-")[1]), default=None)


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _setup_logging(run_dir: Path, main: bool) -> None:
    log.setLevel(logging.INFO)
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    if main:
        handler = logging.FileHandler(run_dir / "train.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    log.propagate = False


def _mixed_precision(config: TrainConfig, on_cpu: bool) -> str:
    wanted = config.run.mixed_precision
    if wanted != "auto":
        return wanted
    if not on_cpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "no"


def build_model(config: TrainConfig, export_dir: Path, run_dir: Path, accelerator: Any) -> tuple[M3ITModel, Any, Any]:
    """Load the configured checkpoint, or build the tiny model once (main process) into run/base."""
    if config.model.build is not None:
        base = run_dir / "base"
        if accelerator.is_main_process and not (base / "config.json").is_file():
            sources = select_tasks(export_dir, config.data, index=False)
            tokenizer = train_tokenizer(texts_for_tokenizer(sources), config.model.build.vocab_size)
            torch.manual_seed(config.run.seed)
            blip = build_tiny(config.model.build, tokenizer, config.model.num_query_tokens)
            save_base(base, blip, tokenizer, tiny_image_processor(config.model.build.image_size))
        accelerator.wait_for_everyone()
        path = str(base)
    else:
        path = config.model.path
    blip, tokenizer, image_processor = load_base(path, config.model.dtype, accelerator.device)
    model = M3ITModel(prepare_stage(blip, config), image_processor.image_mean, image_processor.image_std)
    return model, tokenizer, image_processor


def train(
    config: TrainConfig,
    export_dir: Path,
    run_dir: Path,
    resume: bool = False,
    reporter: Reporter | None = None,
    progress_bar: bool = False,
) -> dict[str, Any]:
    """Train; returns the summary (also written to run_dir/summary.json)."""
    from accelerate import Accelerator
    from accelerate.utils import broadcast, set_seed
    from safetensors.torch import load_file, save_file

    export_dir, run_dir = Path(export_dir), Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    on_cpu = config.run.device == "cpu" or not torch.cuda.is_available()
    threads_before = torch.get_num_threads()
    if config.run.threads and on_cpu:
        torch.set_num_threads(config.run.threads)
    accelerator = Accelerator(
        cpu=config.run.device == "cpu",
        mixed_precision=_mixed_precision(config, on_cpu),
        gradient_accumulation_steps=config.optim.grad_accum,
    )
    main = accelerator.is_main_process
    _setup_logging(run_dir, main)
    reporter = reporter or Reporter(run_dir)
    set_seed(config.run.seed)

    sources = select_tasks(export_dir, config.data)
    model, tokenizer, image_processor = build_model(config, export_dir, run_dir, accelerator)
    checkpoint = latest_checkpoint(run_dir) if resume else None
    if config.model.init_from and checkpoint is None:
        log.info(
            "initialised %d tensors from %s", len(load_init(model, config.model.init_from)), config.model.init_from
        )
    encoder = Encoder(
        tokenizer,
        ImageTransform(image_processor, fast=config.data.fast_resize),
        model.num_query_tokens,
        model.image_token_id,
        config.data.max_prompt_tokens,
        config.data.max_target_tokens,
    )
    stream = M3ITStream(
        sources, encoder, config.data, config.optim.batch_size, accelerator.process_index, accelerator.num_processes
    )
    accum = config.optim.grad_accum
    total_steps = config.optim.max_steps or max(1, int(config.optim.epochs * stream.batches_per_rank) // accum)

    optimizer = torch.optim.AdamW(
        param_groups(model, config.optim.weight_decay),
        lr=config.optim.lr,
        betas=tuple(config.optim.betas),
        eps=config.optim.eps,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(config.optim.warmup_steps, total_steps, config.optim.min_lr_ratio)
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    unwrapped: M3ITModel = accelerator.unwrap_model(model)

    step = 0
    if checkpoint is not None:
        load_trainable(unwrapped, load_file(checkpoint / "trainable.safetensors"))
        optimizer.optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=False))
        scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", weights_only=False))
        set_rng_state(torch.load(checkpoint / f"rng-{accelerator.process_index}.pt", weights_only=False))
        step = json.loads((checkpoint / "state.json").read_text())["step"]
        log.info("resumed from %s at step %d", checkpoint.name, step)

    if main:
        trim_logs(run_dir, step)
    trainable, total_params = count_parameters(unwrapped)
    info = {
        "total_steps": total_steps,
        "start_step": step,
        "processes": accelerator.num_processes,
        "device": str(accelerator.device),
        "mixed_precision": accelerator.mixed_precision,
        "records": stream.total_items,
        "tasks": [s.slug for s in sources],
        "batches_per_epoch": stream.batches_per_rank,
        "global_batch": config.optim.batch_size * accum * accelerator.num_processes,
        "trainable_params": trainable,
        "total_params": total_params,
    }
    writer = None
    if main:
        log.info("run: %s", json.dumps(info))
        reporter.started(info)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=step if step else None)

    def save_checkpoint(at: int) -> Path:
        target = checkpoints_dir(run_dir) / f"step-{at}"
        partial = checkpoints_dir(run_dir) / f".partial-step-{at}"
        if main:
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
        accelerator.wait_for_everyone()
        torch.save(rng_state(), partial / f"rng-{accelerator.process_index}.pt")
        accelerator.wait_for_everyone()
        if main:
            save_file(trainable_state(unwrapped), partial / "trainable.safetensors")
            if config.stage == 2:
                unwrapped.net.save_pretrained(partial / "adapter")  # the LoRA adapter alone (peft format)
            torch.save(optimizer.optimizer.state_dict(), partial / "optimizer.pt")
            torch.save(scheduler.state_dict(), partial / "scheduler.pt")
            (partial / "state.json").write_text(json.dumps({"step": at, "micro_batches": at * accum}))
            shutil.rmtree(target, ignore_errors=True)
            os.replace(partial, target)
            kept = sorted(checkpoints_dir(run_dir).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
            keep = config.run.keep_checkpoints
            for old in kept[:-keep] if keep else []:
                shutil.rmtree(old, ignore_errors=True)
            size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
            reporter.checkpoint({"step": at, "path": str(target), "bytes": size, "time": time.time()})
            log.info("checkpoint %s (%.1f MB)", target.name, size / 1e6)
        accelerator.wait_for_everyone()
        return target

    bar = None
    if progress_bar and main:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=step, desc="train", dynamic_ncols=True, file=sys.stderr)

    model.train()
    micro = step * accum
    window = {"loss": 0.0, "micro": 0, "samples": 0, "tokens": 0, "since": time.perf_counter()}
    last_loss: float | None = None
    stopped = False
    grad_norm = torch.tensor(0.0)
    while step < total_steps and not stopped:
        stream.set_position(micro // stream.batches_per_rank, micro % stream.batches_per_rank)
        for batch in loader(stream, config.data.num_workers):
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            with accelerator.accumulate(model):
                loss = model(**batch)["loss"]
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    grad_norm = accelerator.clip_grad_norm_(
                        [p for p in model.parameters() if p.requires_grad], config.optim.max_grad_norm
                    )
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            micro += 1
            window["loss"] += float(loss.detach())
            window["micro"] += 1
            window["samples"] += int(batch["input_ids"].shape[0])
            window["tokens"] += int(batch["attention_mask"].sum())
            if not accelerator.sync_gradients:
                continue
            scheduler.step()
            step += 1
            if bar is not None:
                bar.update(1)
            if step % config.run.log_every == 0 or step == total_steps:
                sums = torch.tensor(
                    [window["loss"], window["micro"], window["samples"], window["tokens"]],
                    dtype=torch.float64,
                    device=accelerator.device,
                )
                sums = accelerator.reduce(sums, reduction="sum")
                elapsed = max(1e-9, time.perf_counter() - window["since"])
                last_loss = float(sums[0] / sums[1])
                record = {
                    "step": step,
                    "epoch": round(micro / stream.batches_per_rank, 4),
                    "loss": round(last_loss, 6),
                    "lr": scheduler.get_last_lr()[0],
                    "grad_norm": round(float(grad_norm), 6),
                    "samples_per_s": round(float(sums[2]) / elapsed, 2),
                    "tokens_per_s": round(float(sums[3]) / elapsed, 1),
                    "time": time.time(),
                }
                if torch.cuda.is_available() and not on_cpu:
                    record["gpu_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
                if main:
                    reporter.metrics(record)
                    for key in ("loss", "lr", "grad_norm", "samples_per_s", "tokens_per_s"):
                        writer.add_scalar(f"train/{key}", record[key], step)
                    log.info("step %d loss %.4f lr %.3g", step, last_loss, record["lr"])
                    if bar is not None:
                        bar.set_postfix(loss=f"{last_loss:.4f}", lr=f"{record['lr']:.2g}", refresh=False)
                window = {"loss": 0.0, "micro": 0, "samples": 0, "tokens": 0, "since": time.perf_counter()}
            flag = torch.tensor([1 if main and reporter.should_stop() else 0], device=accelerator.device)
            stopped = bool(broadcast(flag, from_process=0).item()) if accelerator.num_processes > 1 else bool(flag)
            if stopped or step == total_steps or step % config.run.checkpoint_every == 0:
                save_checkpoint(step)
            if stopped or step >= total_steps:
                break
    if bar is not None:
        bar.close()
    summary = {
        "status": "stopped" if stopped else "completed",
        "step": step,
        "total_steps": total_steps,
        "final_loss": last_loss,
    }
    if main:
        last = latest_checkpoint(run_dir)
        summary["checkpoint"] = str(last) if last else None
        (run_dir / "summary.json").write_text(json.dumps(summary))
        writer.close()
        log.info("%s at step %d", summary["status"], step)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    torch.set_num_threads(threads_before)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export", required=True, help="an export folder (with manifest.json)")
    parser.add_argument("--config", required=True, help="a config name (training/configs) or a .yaml file")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. optim.lr=1e-4")
    parser.add_argument("--progress", action="store_true", help="draw a tqdm bar")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    config = load_config(args.config, parse_overrides(args.set))
    summary = train(config, Path(args.export), Path(args.run_dir), resume=args.resume, progress_bar=args.progress)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
