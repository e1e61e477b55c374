"""Stage IV translation throughput on one GPU: transformers (bf16) vs CTranslate2, batch sizes 32-256.

    python bench/bench_translation_gpu.py                     # on a GPU machine: one command
    python bench/bench_translation_gpu.py --dry-run           # CPU, a tiny shape, a few sentences: checks the path

The real distilled NLLB-1.3B architecture (M2M100: 24+24 layers, d_model 1024, 16 heads, FFN 8192,
vocabulary 256k) with random weights and a BPE tokenizer trained on the fly (no download), saved once and
loaded by the app's own backends (pipeline.translation.backends), 10k English sentences of mixed length.
For each engine and batch size: sentences/s and peak GPU memory. The batch is a fixed number of sentences
here (the app batches by a token budget; TRANSLATION_BATCH_TOKENS is the knob it maps to). Greedy; a
random model never emits </s>, so sentences decode to a fixed cap (--max-new-tokens) in both engines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")

TARGET = "fra_Latn"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny shape, 64 sentences, batch 8/16")
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--batch-sizes", default="32,64,128,256")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--ct2-compute", default="bfloat16", help="CTranslate2 compute type (int8_float16, ...)")
    parser.add_argument("--model-dir", default="", help="Reuse a model folder built before (or real weights).")
    parser.add_argument("--engines", default="transformers,ctranslate2")
    parser.add_argument("--json", default="", help="Also write the results to this file.")
    args = parser.parse_args()

    import django

    django.setup()
    import torch

    from pipeline.translation import random_model
    from pipeline.translation.backends import BackendConfig, clear_cache, get_translator

    if args.dry_run:
        device, shape, n, sizes, dtype = "cpu", "tiny", 64, [8, 16], "fp32"
    else:
        if not torch.cuda.is_available():
            sys.exit("No CUDA device: run with --dry-run on a machine without a GPU.")
        device, shape, n, dtype = "cuda", "nllb-1.3b", args.sentences, "bf16"
        sizes = [int(s) for s in args.batch_sizes.split(",")]
    tmp = tempfile.TemporaryDirectory(prefix="bench-nllb-gpu-")
    model_dir = Path(args.model_dir) if args.model_dir else Path(tmp.name) / f"nllb-{shape}"
    if not (model_dir / "config.json").is_file():
        started = time.perf_counter()
        random_model.build(model_dir, [TARGET], shape=shape, seed=0, max_positions=1024)
        print(f"built random {shape} model in {time.perf_counter() - started:.0f} s at {model_dir}")
    sentences = random_model.corpus(n, seed=11)
    gpu = device == "cuda"
    print(
        f"{torch.cuda.get_device_name(0) if gpu else 'CPU'} · {shape} · {n} sentences · greedy · "
        f"max_new_tokens {args.max_new_tokens}\n"
    )
    results = []
    for engine in args.engines.split(","):
        config = BackendConfig(
            backend=engine,
            model=str(model_dir),
            device=device,
            dtype=dtype,
            quantization="float32" if not gpu else args.ct2_compute,
            beam_size=1,
            max_input_tokens=256,
            max_new_tokens=args.max_new_tokens,
        )
        clear_cache()
        started = time.perf_counter()
        translator = get_translator(config)
        load = time.perf_counter() - started
        for size in sizes:
            ordered = sorted(sentences, key=len)  # length-sorted, as the app does
            translator.translate_batch(ordered[:size], TARGET)  # warm-up
            if gpu:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            for start in range(0, n, size):
                translator.translate_batch(ordered[start : start + size], TARGET)
            if gpu:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - started
            peak = torch.cuda.max_memory_allocated() / 2**30 if gpu else float("nan")
            if gpu and engine == "ctranslate2":  # CTranslate2 allocates outside torch: ask the driver
                free, total = torch.cuda.mem_get_info()
                peak = (total - free) / 2**30
            row = {
                "engine": engine,
                "batch": size,
                "sentences_per_s": n / seconds,
                "seconds": seconds,
                "peak_gpu_gib": peak,
                "load_s": load,
            }
            results.append(row)
            print(
                f"{engine:12} batch {size:4}: {row['sentences_per_s']:8.1f} sentences/s  {seconds:7.1f} s  "
                f"peak GPU {peak:6.1f} GiB"
            )
        translator.close()
        del translator
        clear_cache()
        if gpu:
            torch.cuda.empty_cache()
    best = {e: max(r["sentences_per_s"] for r in results if r["engine"] == e) for e in args.engines.split(",")}
    print("\nbest: " + ", ".join(f"{e} {v:.1f} sentences/s" for e, v in best.items()))
    if "transformers" in best and "ctranslate2" in best:
        print(f"CTranslate2 / transformers = {best['ctranslate2'] / best['transformers']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    tmp.cleanup()


if __name__ == "__main__":
    main()
