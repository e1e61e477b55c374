"""Benchmark: the training input pipeline against a naive loader, memory at two sizes, tiny model steps/s.

    .venv/bin/python bench/bench_training.py              # 1,000 and 2,000 records of 640x480 JPEG
    .venv/bin/python bench/bench_training.py --records 4000 --workers 2

Writes a throw-away export folder in the M3IT layout (manifest.json, instructions.json, one task's
train.jsonl; photo-like JPEGs) under --workdir, then runs each measurement in a fresh process:

- stream:  training.data (line offsets, seek+readline per record, base64 decode, JPEG decode,
           resize to 224 px by the BLIP-2 processor's settings, tokenise, collate) through a
           DataLoader with --workers worker processes, batches of 32;
- fast:    the same with `data.fast_resize` (JPEG draft decoding + reducing_gap resize);
- naive:   what a first version would do: `json.loads` every line into a list first, then per record
           base64 decode, PIL decode and `BlipImageProcessorPil` (float tensors), tokenise, one process;
- tiny:    the `tiny` config's model training on the same export (32 px), optimizer steps/s.

Peak memory: the largest PSS sum over the process and its DataLoader workers, sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_export(folder: Path, records: int, size: tuple[int, int] = (640, 480)) -> Path:
    import numpy as np
    import orjson
    import pybase64
    from PIL import Image

    if (folder / "manifest.json").is_file():
        return folder
    data_dir = folder / "data" / "captioning" / "bench"
    data_dir.mkdir(parents=True, exist_ok=True)
    pool = [f"Describe the picture, version {i}." for i in range(8)]
    (data_dir / "instructions.json").write_bytes(orjson.dumps(pool))
    rng = np.random.default_rng(0)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    with open(data_dir / "train.jsonl", "wb") as out:
        for i in range(records):
            base = np.stack(
                [(x * 255 // w + i) % 256, (y * 255 // h) % 256, ((x + y + 7 * i) * 127 // (w + h)) % 256], -1
            )
            pixels = np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype("uint8")
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, format="JPEG", quality=85)
            record = {
                "instruction": pool[i % 8],
                "inputs": "",
                "outputs": f"A synthetic picture number {i} with soft colour gradients.",
                "image_base64_str": [pybase64.b64encode(buf.getvalue()).decode()],
                "meta": {"i": i},
            }
            out.write(orjson.dumps(record) + b"\n")
    manifest = {
        "format": "m3it",
        "name": folder.name,
        "digest": "bench",
        "tasks": [
            {
                "slug": "bench",
                "held_in": True,
                "instructions": "data/captioning/bench/instructions.json",
                "splits": {"train": {"file": "data/captioning/bench/train.jsonl", "records": records}},
            }
        ],
    }
    (folder / "manifest.json").write_bytes(orjson.dumps(manifest))
    return folder


class PeakRSS(threading.Thread):
    """Largest memory of this process plus its children (DataLoader workers), sampled every 50 ms:
    PSS (shared pages such as torch's libraries counted once across the processes)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.05):
            try:
                total = self.proc.memory_full_info().pss + sum(
                    c.memory_full_info().pss for c in self.proc.children(recursive=True)
                )
            except Exception:  # a worker that just exited
                continue
            self.peak = max(self.peak, total)


def _tokenizer(folder: Path):
    from training.config import DataConfig
    from training.data import select_tasks, texts_for_tokenizer
    from training.model import train_tokenizer

    return train_tokenizer(texts_for_tokenizer(select_tasks(folder, DataConfig(), index=False)), 400)


def measure_stream(folder: Path, workers: int, fast: bool) -> dict:
    import torch

    from training.config import DataConfig
    from training.data import Encoder, ImageTransform, M3ITStream, loader, select_tasks
    from training.model import IMAGE_TOKEN, tiny_image_processor

    torch.set_num_threads(1)
    tokenizer = _tokenizer(folder)
    config = DataConfig(max_per_task=None, fast_resize=fast, num_workers=workers)
    processor = tiny_image_processor(224)
    encoder = Encoder(tokenizer, ImageTransform(processor, fast=fast), 32, tokenizer.convert_tokens_to_ids(IMAGE_TOKEN))
    peak = PeakRSS()
    peak.start()
    start = time.perf_counter()
    stream = M3ITStream(select_tasks(folder, config), encoder, config, batch_size=32)
    samples = 0
    for batch in loader(stream, workers):
        samples += batch["input_ids"].shape[0]
        assert batch["pixel_values"].shape[1:] == (3, 224, 224)
    elapsed = time.perf_counter() - start
    peak.stopped.set()
    return {
        "samples": samples,
        "seconds": elapsed,
        "samples_per_s": samples / elapsed,
        "peak_rss_mb": peak.peak / 2**20,
    }


def measure_naive(folder: Path) -> dict:
    import pybase64
    import torch
    from PIL import Image

    from training.data import prompt_ids, target_ids
    from training.model import tiny_image_processor

    torch.set_num_threads(1)
    tokenizer = _tokenizer(folder)
    processor = tiny_image_processor(224)
    peak = PeakRSS()
    peak.start()
    start = time.perf_counter()
    with open(folder / "data/captioning/bench/train.jsonl") as handle:
        rows = [json.loads(line) for line in handle]  # the whole file in memory first
    samples = 0
    for row in rows:
        images = [Image.open(io.BytesIO(pybase64.b64decode(s))).convert("RGB") for s in row["image_base64_str"]]
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        ids = prompt_ids(tokenizer, row["instruction"], row["inputs"], 256) + target_ids(tokenizer, row["outputs"], 128)
        assert pixels.shape[1:] == (3, 224, 224) and ids
        samples += 1
    elapsed = time.perf_counter() - start
    peak.stopped.set()
    return {
        "samples": samples,
        "seconds": elapsed,
        "samples_per_s": samples / elapsed,
        "peak_rss_mb": peak.peak / 2**20,
    }


def measure_tiny(folder: Path, steps: int, workdir: Path) -> dict:
    import shutil

    from training.config import load_config
    from training.train import train

    run_dir = workdir / "tiny-run"
    shutil.rmtree(run_dir, ignore_errors=True)
    config = load_config(
        "tiny",
        {
            "optim": {"max_steps": steps},
            "run": {"checkpoint_every": 10**9, "log_every": 10},
            "data": {"max_per_task": 400},
        },
    )
    train(config, folder, run_dir)
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    elapsed = lines[-1]["time"] - lines[0]["time"]
    return {
        "steps": lines[-1]["step"] - lines[0]["step"],
        "seconds": elapsed,
        "steps_per_s": (lines[-1]["step"] - lines[0]["step"]) / elapsed,
        "final_loss": lines[-1]["loss"],
    }


def child(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    if args.child == "stream":
        result = measure_stream(folder, args.workers, fast=False)
    elif args.child == "fast":
        result = measure_stream(folder, args.workers, fast=True)
    elif args.child == "naive":
        result = measure_naive(folder)
    else:
        result = measure_tiny(folder, args.steps, Path(args.workdir))
    print("RESULT " + json.dumps(result))


def run_child(what: str, folder: Path, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        what,
        "--folder",
        str(folder),
        "--workers",
        str(args.workers),
        "--steps",
        str(args.steps),
        "--workdir",
        str(args.workdir),
    ]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{what} failed:\n{out.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000, help="small size; the large one is twice that")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--workdir", default="/tmp/m3it-bench-training")
    parser.add_argument("--size", default="640x480", help="source JPEG size, WxH")
    parser.add_argument("--child")
    parser.add_argument("--folder")
    args = parser.parse_args()
    args.workdir = Path(args.workdir)
    if args.child:
        return child(args)

    size = tuple(int(v) for v in args.size.split("x"))
    print(
        f"CPU cores: {os.cpu_count()}, DataLoader workers: {args.workers}, images {args.size} JPEG -> 224 px, "
        f"load average before: {os.getloadavg()[0]:.1f}"
    )
    results = {}
    for records in (args.records, 2 * args.records):
        folder = write_export(args.workdir / f"export-{args.size}-{records}", records, size)
        size_mb = (folder / "data/captioning/bench/train.jsonl").stat().st_size / 2**20
        print(f"\n{records} records, train.jsonl {size_mb:.0f} MB")
        print(f"{'pipeline':<28}{'samples/s':>12}{'seconds':>10}{'peak PSS MB':>14}")
        for what, label in (
            ("stream", "stream (training.data)"),
            ("fast", "stream, fast_resize"),
            ("naive", "naive (json.loads list)"),
        ):
            result = run_child(what, folder, args)
            results[(what, records)] = result
            print(
                f"{label:<28}{result['samples_per_s']:>12.0f}{result['seconds']:>10.1f}{result['peak_rss_mb']:>14.0f}"
            )
        ratio = results[("stream", records)]["samples_per_s"] / results[("naive", records)]["samples_per_s"]
        ratio_fast = results[("fast", records)]["samples_per_s"] / results[("naive", records)]["samples_per_s"]
        print(f"stream / naive: {ratio:.2f}x; fast / naive: {ratio_fast:.2f}x")
    small, large = args.records, 2 * args.records
    for what in ("stream", "naive"):
        a, b = results[(what, small)]["peak_rss_mb"], results[(what, large)]["peak_rss_mb"]
        print(f"peak PSS {what}: {a:.0f} MB at {small} -> {b:.0f} MB at {large} records ({b / a:.2f}x)")
    tiny = run_child("tiny", args.workdir / f"export-{args.size}-{small}", args)
    print(
        f"\ntiny model (32 px, batch 4, 1 thread): {tiny['steps_per_s']:.1f} optimizer steps/s "
        f"over {tiny['steps']} steps, final loss {tiny['final_loss']:.3f}"
    )


if __name__ == "__main__":
    main()
