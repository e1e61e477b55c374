"""Stage IV translation throughput on CPU, measured side by side in one run.

    python bench/bench_translation.py            # 2,000 sentences of mixed length
    python bench/bench_translation.py --quick    # 300 sentences (a minute or two on 2 cores)

One random NLLB-architecture model of a realistic shape (M2M100, 6+6 layers, d_model 512, 8 heads,
FFN 2048, a BPE tokenizer trained on the fly with the NLLB language tokens), the same sentences for:

  (a) transformers, one sentence at a time          (the naive loop)
  (b) transformers, length-sorted, token-budget batches (pipeline.translation.text)
  (c) CTranslate2 int8, the same batching            (pipeline.translation.backends.ctranslate2)

Each runs in its own process so its peak RSS is its own. Greedy decoding; a random model never emits
</s>, so every sentence decodes to the cap min(--max-new-tokens, 2 x source + 10): the same work for all.
Then the dedup/cache effect on a plan shape (10 instructions x 500 samples: instruction, question and
answer per sample, 40 distinct answers): strings sent / strings asked, first run and rerun with the cache.
Targets: (b) >= 8x (a); (c) >= 3x (b).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")

TARGET = "fra_Latn"
LANGS = ["fra_Latn", "vie_Latn", "deu_Latn"]


def _setup() -> None:
    import django

    django.setup()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_mode(mode: str, model_dir: str, n: int, threads: int, batch_tokens: int, max_new: int) -> dict:
    """One engine over the sentences, in this process; prints a JSON line."""
    _setup()
    import torch

    from pipeline.translation import random_model
    from pipeline.translation.backends import BackendConfig, get_translator
    from pipeline.translation.text import translate_texts

    torch.set_num_threads(threads)
    sentences = random_model.corpus(n, seed=11)
    backend = "ctranslate2" if mode == "c" else "transformers"
    config = BackendConfig(
        backend=backend,
        model=model_dir,
        device="cpu",
        threads=threads,
        beam_size=1,
        batch_tokens=batch_tokens,
        max_input_tokens=256,
        max_new_tokens=max_new,
    )
    translator = get_translator(config)
    translator.translate_batch(sentences[:2], TARGET)  # warm-up
    started = time.perf_counter()
    if mode == "a":
        outputs = [translator.translate_batch([s], TARGET)[0] for s in sentences]
    else:
        outputs = translate_texts(translator, sentences, TARGET).texts
    seconds = time.perf_counter() - started
    result = {
        "mode": mode,
        "sentences": n,
        "seconds": seconds,
        "per_second": n / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "outputs": len(outputs),
    }
    if mode == "c":
        result["dedup"] = dedup_effect(translator)
    return result


def dedup_effect(translator: object) -> dict:
    """10 instructions x 500 samples through translate_texts, then again with what it cached."""
    from pipeline.translation.random_model import corpus
    from pipeline.translation.text import translate_texts

    rng = random.Random(5)
    instructions = corpus(10, seed=21)
    questions = corpus(500, seed=22)
    answers = [
        " ".join(
            rng.choice(["red", "two", "yes", "no", "a dog", "three cats", "the kitchen", "blue car"]) for _ in range(2)
        )
        for _ in range(40)
    ]
    texts = list(instructions)  # the pool
    for i in range(500):
        texts += [instructions[i % 10], questions[i], answers[i % 40]]
    cache: dict[str, str] = {}
    first = translate_texts(translator, texts, TARGET, known=lambda units: {u: cache[u] for u in units if u in cache})
    cache.update(first.new)
    rerun = translate_texts(translator, texts, TARGET, known=lambda units: {u: cache[u] for u in units if u in cache})
    return {"asked": first.stats.asked, "sent_first": first.stats.sent, "sent_rerun": rerun.stats.sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="300 sentences instead of 2,000")
    parser.add_argument("--sentences", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-tokens", type=int, default=4096)
    parser.add_argument("--max-new-tokens", type=int, default=32, help="decode cap (a random model never stops)")
    parser.add_argument("--mode", choices=["a", "b", "c"], help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = args.sentences or (300 if args.quick else 2000)
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.model_dir, n, args.threads, args.batch_tokens, args.max_new_tokens)))
        return

    _setup()
    from pipeline.translation import random_model

    with tempfile.TemporaryDirectory(prefix="bench-nllb-") as tmp:
        started = time.perf_counter()
        model_dir = random_model.build(Path(tmp) / "nllb-base", LANGS, shape="base", seed=0)
        print(f"model: M2M100 6+6 layers, d_model 512, random weights, built in {time.perf_counter() - started:.1f} s")
        print(
            f"sentences: {n} (3-60 words, mixed), {args.threads} threads, greedy, up to {args.max_new_tokens} "
            f"new tokens, target {TARGET}\n"
        )
        results = {}
        for mode in ("a", "b", "c"):
            cmd = [
                sys.executable,
                __file__,
                "--mode",
                mode,
                "--model-dir",
                str(model_dir),
                "--sentences",
                str(n),
                "--threads",
                str(args.threads),
                "--batch-tokens",
                str(args.batch_tokens),
                "--max-new-tokens",
                str(args.max_new_tokens),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
            if out.returncode or not lines:
                sys.exit(f"mode {mode} failed:\n{out.stderr[-3000:]}")
            results[mode] = json.loads(lines[-1])
            r = results[mode]
            print(
                f"  ({mode}) {r['per_second']:8.1f} sentences/s  {r['seconds']:7.1f} s  "
                f"peak RSS {r['peak_rss_mb']:6.0f} MB"
            )
    a, b, c = (results[m]["per_second"] for m in "abc")
    labels = {"a": "transformers, one at a time", "b": "transformers, sorted + batched", "c": "CTranslate2 int8"}
    print("\n| engine | sentences/s | peak RSS (MB) |\n| --- | ---: | ---: |")
    for mode in "abc":
        print(f"| ({mode}) {labels[mode]} | {results[mode]['per_second']:.1f} | {results[mode]['peak_rss_mb']:.0f} |")
    print(f"\n(b)/(a) = {b / a:.1f}x  (target >= 8x)   {'OK' if b / a >= 8 else 'BELOW TARGET'}")
    print(f"(c)/(b) = {c / b:.1f}x  (target >= 3x)   {'OK' if c / b >= 3 else 'BELOW TARGET'}")
    print(f"(c)/(a) = {c / a:.1f}x")
    d = results["c"]["dedup"]
    print(
        f"\ndedup + cache on a plan shape (10 instructions x 500 samples): {d['asked']} strings asked, "
        f"{d['sent_first']} sent ({d['sent_first'] / d['asked']:.1%}); rerun with the cache: {d['sent_rerun']} sent"
    )


if __name__ == "__main__":
    main()
