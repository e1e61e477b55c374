"""Benchmark: ROUGE-L throughput (ours vs the stock rouge-score loop) and generation records/s.

    /work/main/.venv/bin/python bench/bench_evaluation.py            # 100k pairs, 64 records
    /work/main/.venv/bin/python bench/bench_evaluation.py --pairs 20000

ROUGE-L over the same pairs (one third English, one third Chinese, one third mixed), measured side by
side in one process:
- stock:            rouge_score.RougeScorer(["rougeL"]).score(ref, pred) in a loop (its own tokenizer,
                    which drops every non-[a-z0-9] character: Chinese scores 0);
- stock+our tokens: the same scorer given our tokenizer (correct on CJK; its pure-Python LCS);
- ours:             training.evaluation.rouge.rouge_l (our tokenizer, rapidfuzz's LCS).
Generation: the tiny BLIP-2 answering the same records batched (16) and one at a time, greedy.
"""

from __future__ import annotations

import argparse
import base64
import io
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EN = [
    "a",
    "the",
    "cat",
    "dog",
    "man",
    "woman",
    "sits",
    "stands",
    "on",
    "in",
    "near",
    "red",
    "blue",
    "green",
    "small",
    "large",
    "table",
    "street",
    "park",
    "car",
]
ZH = list("一只猫狗在桌子上面的男人女人站坐红蓝绿小大公园街道汽车")


def pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            ref = rng.choices(EN, k=rng.randint(6, 18))
            pred = [w for w in ref if rng.random() > 0.3] + rng.choices(EN, k=rng.randint(0, 4))
            out.append((" ".join(pred).capitalize() + ".", " ".join(ref).capitalize() + "."))
        elif kind == 1:
            ref = rng.choices(ZH, k=rng.randint(8, 24))
            pred = [c for c in ref if rng.random() > 0.3] + rng.choices(ZH, k=rng.randint(0, 4))
            out.append(("".join(pred) + "。", "".join(ref) + "。"))
        else:
            ref = [*rng.choices(ZH, k=6), " ", rng.choice(EN), " ", *rng.choices(ZH, k=6)]
            pred = [c for c in ref if rng.random() > 0.3]
            out.append(("".join(pred), "".join(ref)))
    return out


def rate(label: str, fn, data: list[tuple[str, str]]) -> tuple[float, list[float]]:
    start = time.perf_counter()
    scores = [fn(p, r) for p, r in data]
    seconds = time.perf_counter() - start
    print(f"  {label:18} {len(data) / seconds:>10,.0f} pairs/s   ({seconds:.2f} s)")
    return len(data) / seconds, scores


def bench_rouge(n: int) -> None:
    from rouge_score import rouge_scorer

    from training.evaluation.rouge import Tokenizer, rouge_l

    data = pairs(n)
    stock = rouge_scorer.RougeScorer(["rougeL"])
    stock_ours = rouge_scorer.RougeScorer(["rougeL"], tokenizer=Tokenizer())
    print(f"ROUGE-L over {n:,} pairs (1/3 English, 1/3 Chinese, 1/3 mixed)")
    stock_rate, stock_scores = rate("stock", lambda p, r: stock.score(r, p)["rougeL"].fmeasure, data)
    mid_rate, mid_scores = rate("stock+our tokens", lambda p, r: stock_ours.score(r, p)["rougeL"].fmeasure, data)
    ours_rate, our_scores = rate("ours", rouge_l, data)
    print(f"  ratio ours / stock            {ours_rate / stock_rate:5.2f}x")
    print(f"  ratio ours / stock+our tokens {ours_rate / mid_rate:5.2f}x")
    same = sum(abs(a - b) < 1e-9 for a, b in zip(our_scores, mid_scores, strict=True))
    zh = range(1, n, 3)
    print(f"  ours == rouge-score with our tokenizer on {same:,} of {n:,} pairs")
    print(
        f"  Chinese pairs: mean F stock {sum(stock_scores[i] for i in zh) / len(zh):.3f}, "
        f"ours {sum(our_scores[i] for i in zh) / len(zh):.3f}"
    )


def bench_generation(records: int, threads: int) -> None:
    import torch
    from PIL import Image

    from training.evaluation.prompt import build_prompt
    from training.evaluation.records import EvalItem
    from training.evaluation.tiny import tiny_backend

    torch.set_num_threads(threads)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 30, 30)).save(buffer, "PNG")
    image = base64.b64encode(buffer.getvalue()).decode()
    backend = tiny_backend(max_new_tokens=16)
    items = [
        EvalItem(
            "okvqa", str(i), "Answer.", f"q{i}", "r", [image], build_prompt("Answer the question.", "x " * (i % 7))
        )
        for i in range(records)
    ]
    backend(items[:4])  # warm-up
    print(f"Generation on the tiny BLIP-2 ({records} records, 16 new tokens, greedy, {threads} torch thread(s))")
    start = time.perf_counter()
    for i in range(0, records, 16):
        backend(items[i : i + 16])
    batched = records / (time.perf_counter() - start)
    start = time.perf_counter()
    for item in items:
        backend([item])
    single = records / (time.perf_counter() - start)
    print(f"  batched (16)     {batched:8.1f} records/s")
    print(f"  one at a time    {single:8.1f} records/s")
    print(f"  ratio            {batched / single:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    args = parser.parse_args()
    bench_rouge(args.pairs)
    bench_generation(args.records, args.threads)


if __name__ == "__main__":
    main()
