"""The data: an export's JSONL files streamed into BLIP-2 training batches.

- Which records: the train split of the export's held-in tasks (its manifest.json says which), or any
  tasks by name; at most `max_per_task` records per task (the first ones of its file).
- Memory stays flat: each file is scanned once for line starts (offsets only, in 1 MiB blocks);
  workers then read one line at a time with seek + readline. No file is ever loaded whole.
- Order: an epoch is a seeded permutation of (task, line) pairs cut into batches. Global batch b goes
  to process b % world; a process's batches are dealt round-robin to its DataLoader workers, which
  is the order DataLoader reads them back in. So a run resumed at micro-batch m of an epoch sees
  exactly the batches the uninterrupted run would have seen.
- Prompt (Ying-VLM): `<human>: {instruction}\\n{inputs}\\n<bot>: ` then the outputs and the end
  token; all visual placeholders come first. Labels are -100 over placeholders, prompt and padding.
- Instruction cap (paper §4.3: 1/2/4/8 instructions per task): each record's instruction is redrawn
  from the first k of the task's exported pool (instructions.json), seeded by (seed, task, line).
- Several images or video frames: every frame becomes num_query_tokens placeholders, in frame order.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pybase64
import torch
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .config import DataConfig

MANIFEST = "manifest.json"
BLOCK = 1 << 20
HUMAN, BOT = "<human>: ", "<bot>: "


class DataError(ValueError):
    """The export or the data selection cannot be used; the message says why."""


# --- the export -------------------------------------------------------------------------------


def read_manifest(export_dir: Path) -> dict[str, Any]:
    path = Path(export_dir) / MANIFEST
    if not path.is_file():
        raise DataError(f"{export_dir} is not a complete export (no {MANIFEST})")
    try:
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON: {exc}") from exc
    if manifest.get("format") != "m3it":
        raise DataError(f"{path} is not an M3IT export manifest")
    return manifest


@dataclass
class TaskSource:
    slug: str
    path: Path
    records: int  # in the file
    pool: list[str]  # the task's instruction pool, in order
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # line starts used


def line_offsets(path: Path, limit: int | None = None) -> np.ndarray:
    """Start offsets of the (non-empty) lines of a file, scanning 1 MiB blocks; at most `limit`."""
    starts: list[int] = []
    position, line_start, line_empty = 0, 0, True
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            cursor = 0
            while True:
                nl = block.find(b"\n", cursor)
                end = nl if nl >= 0 else len(block)
                if end > cursor:
                    line_empty = False
                if nl < 0:
                    break
                if not line_empty:
                    starts.append(line_start)
                    if limit is not None and len(starts) >= limit:
                        return np.asarray(starts, dtype=np.int64)
                line_start, line_empty, cursor = position + nl + 1, True, nl + 1
            position += len(block)
    if not line_empty:
        starts.append(line_start)
    return np.asarray(starts[:limit] if limit is not None else starts, dtype=np.int64)


def select_tasks(export_dir: Path, config: DataConfig, index: bool = True) -> list[TaskSource]:
    """The task files a run reads; DataError for a task or split the export does not have."""
    export_dir = Path(export_dir)
    manifest = read_manifest(export_dir)
    entries = {t["slug"]: t for t in manifest["tasks"]}
    if config.tasks is None:
        names = [slug for slug, t in entries.items() if t.get("held_in") and config.split in t["splits"]]
        if not names:
            raise DataError(f"the export has no held-in task with a {config.split} split; name the tasks to use")
    else:
        names = list(dict.fromkeys(config.tasks))
        if unknown := [n for n in names if n not in entries]:
            raise DataError(
                f"task(s) not in the export: {', '.join(unknown)} (it has: {', '.join(sorted(entries)) or 'none'})"
            )
        if lacking := [n for n in names if config.split not in entries[n]["splits"]]:
            raise DataError(f"task(s) without a {config.split} split in the export: {', '.join(lacking)}")
    sources = []
    for slug in names:
        entry = entries[slug]
        split = entry["splits"][config.split]
        pool_path = export_dir / entry["instructions"]
        pool = orjson.loads(pool_path.read_bytes()) if pool_path.is_file() else []
        if config.instructions_per_task is not None and not pool:
            raise DataError(f"task {slug} has no exported instruction pool to draw from")
        source = TaskSource(slug=slug, path=export_dir / split["file"], records=int(split["records"]), pool=pool)
        if not source.path.is_file():
            raise DataError(f"{source.path} is missing from the export")
        if index:
            source.offsets = line_offsets(source.path, config.max_per_task)
        sources.append(source)
    return sources


# --- images -----------------------------------------------------------------------------------


class ImageTransform:
    """Encoded image bytes -> a (3, H, W) uint8 tensor, resized as the checkpoint's image processor
    says (size, resample); its mean/std normalisation runs on the device (M3ITModel)."""

    def __init__(self, image_processor: Any, fast: bool = False) -> None:
        size = image_processor.size
        self.size = (int(size["width"]), int(size["height"]))
        self.resample = Image.Resampling(int(getattr(image_processor, "resample", 3) or 3))
        self.fast = fast

    def __call__(self, data: bytes) -> torch.Tensor:
        with Image.open(io.BytesIO(data)) as img:
            if self.fast and img.format == "JPEG":
                img.draft("RGB", self.size)  # decode at a smaller scale straight from the DCT
            rgb = img.convert("RGB")
        resized = rgb.resize(self.size, self.resample, reducing_gap=3.0 if self.fast else None)
        return torch.from_numpy(np.asarray(resized).transpose(2, 0, 1).copy())


def decode_images(record: dict[str, Any], transform: ImageTransform) -> torch.Tensor:
    images = record.get("image_base64_str") or []
    if not images:
        raise DataError("record has no image")
    return torch.stack([transform(pybase64.b64decode(s)) for s in images])


# --- text -------------------------------------------------------------------------------------


def prompt_ids(tokenizer: Any, instruction: str, inputs: str, max_tokens: int) -> list[int]:
    """The Ying-VLM prompt; a long instruction/inputs is cut so that `<bot>: ` always ends it.
    Literal `<image>` in the text stays text (split_special_tokens)."""
    head = tokenizer(f"{HUMAN}{instruction}\n{inputs}\n", split_special_tokens=True).input_ids
    tail = tokenizer(BOT, add_special_tokens=False).input_ids
    return head[: max(1, max_tokens - len(tail))] + tail


def target_ids(tokenizer: Any, outputs: str, max_tokens: int) -> list[int]:
    ids = tokenizer(outputs, add_special_tokens=False, split_special_tokens=True).input_ids
    return [*ids[: max(0, max_tokens - 1)], tokenizer.eos_token_id]


@dataclass
class Encoder:
    """A record -> one training example (frames, input ids, labels)."""

    tokenizer: Any
    transform: ImageTransform
    num_query_tokens: int
    image_token_id: int
    max_prompt_tokens: int = 256
    max_target_tokens: int = 128

    def __call__(self, record: dict[str, Any], instruction: str | None = None) -> dict[str, Any]:
        frames = decode_images(record, transform=self.transform)
        prompt = prompt_ids(
            self.tokenizer,
            record["instruction"] if instruction is None else instruction,
            record.get("inputs", ""),
            self.max_prompt_tokens,
        )
        target = target_ids(self.tokenizer, record["outputs"], self.max_target_tokens)
        visual = [self.image_token_id] * (frames.shape[0] * self.num_query_tokens)
        return {
            "pixel_values": frames,
            "input_ids": visual + prompt + target,
            "labels": [-100] * (len(visual) + len(prompt)) + target,
        }


def collate(examples: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch; frames of all records concatenated in record order."""
    width = max(len(e["input_ids"]) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example["input_ids"])
        input_ids[row, :n] = torch.tensor(example["input_ids"])
        labels[row, :n] = torch.tensor(example["labels"])
        attention[row, :n] = 1
    return {
        "pixel_values": torch.cat([e["pixel_values"] for e in examples]),
        "frame_counts": torch.tensor([e["pixel_values"].shape[0] for e in examples], dtype=torch.long),
        "input_ids": input_ids,
        "attention_mask": attention,
        "labels": labels,
    }


# --- the stream -------------------------------------------------------------------------------


def redraw_instruction(pool: list[str], k: int, seed: int, slug: str, line: int) -> str:
    """One of the first k instructions of the pool, the same for the same (seed, task, line)."""
    return random.Random(f"{seed}:{slug}:{line}").choice(pool[:k])


class M3ITStream(IterableDataset):
    """Yields collated batches for one process of `world`; see the module docstring for the order."""

    def __init__(
        self,
        sources: list[TaskSource],
        encoder: Encoder,
        config: DataConfig,
        batch_size: int,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        super().__init__()
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} outside world {world}")
        self.sources = sources
        self.encoder = encoder
        self.config = config
        self.batch_size = batch_size
        self.rank, self.world = rank, world
        self.epoch = 0
        self.start = 0  # rank-local batches of this epoch already consumed
        self.total_items = sum(len(s.offsets) for s in sources)
        self.batches_per_rank = (self.total_items // batch_size) // world
        if self.batches_per_rank == 0:
            raise DataError(
                f"{self.total_items} records are too few for one batch of {batch_size} on each of {world} process(es)"
            )

    def set_position(self, epoch: int, start: int) -> None:
        self.epoch, self.start = epoch, start

    def order(self, epoch: int) -> np.ndarray:
        """(n, 2) array of (task index, line index) pairs: this epoch's record order."""
        pairs = np.concatenate(
            [np.stack([np.full(len(s.offsets), i), np.arange(len(s.offsets))], 1) for i, s in enumerate(self.sources)]
        ).astype(np.int64)
        if self.config.shuffle:
            return pairs[np.random.default_rng([self.config.seed, epoch]).permutation(len(pairs))]
        # Round-robin over the tasks: line 0 of every task, then line 1, ...
        return pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]

    def local_batches(self) -> range:
        return range(self.start, self.batches_per_rank)

    def __len__(self) -> int:
        return self.batches_per_rank - self.start

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        order = self.order(self.epoch)
        handles: dict[int, Any] = {}
        try:
            for local in self.local_batches():
                if (local - self.start) % workers != worker:
                    continue
                first = (local * self.world + self.rank) * self.batch_size
                yield collate(
                    [self._example(order[j], handles) for j in range(first, first + self.batch_size)],
                    self.encoder.tokenizer.pad_token_id,
                )
        finally:
            for handle in handles.values():
                handle.close()

    def read_record(self, task: int, line: int, handles: dict[int, Any]) -> dict[str, Any]:
        source = self.sources[task]
        handle = handles.get(task)
        if handle is None:
            handle = handles[task] = open(source.path, "rb")  # noqa: SIM115 - closed at the end of __iter__
        handle.seek(int(source.offsets[line]))
        return orjson.loads(handle.readline())

    def _example(self, pair: np.ndarray, handles: dict[int, Any]) -> dict[str, Any]:
        task, line = int(pair[0]), int(pair[1])
        record = self.read_record(task, line, handles)
        instruction = None
        k = self.config.instructions_per_task
        if k is not None:
            source = self.sources[task]
            instruction = redraw_instruction(source.pool, k, self.config.seed, source.slug, line)
        return self.encoder(record, instruction)


def loader(stream: M3ITStream, num_workers: int) -> DataLoader:
    """Batches come out of the workers round-robin, in the order the stream dealt them."""
    return DataLoader(
        stream,
        batch_size=None,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(0),  # keeps the global RNG untouched by iterator creation
        prefetch_factor=4 if num_workers else None,
        persistent_workers=False,
    )


def texts_for_tokenizer(sources: list[TaskSource], limit: int = 2000) -> Iterator[str]:
    """Text of the first records of each task (and the pools), for training a tiny tokenizer."""
    per_task = max(1, limit // max(1, len(sources)))
    yield HUMAN + BOT
    for source in sources:
        yield from source.pool
        with open(source.path, "rb") as handle:
            for i, line in enumerate(handle):
                if i >= per_task:
                    break
                if line.strip():
                    record = orjson.loads(line)
                    yield f"{record['instruction']}\n{record.get('inputs', '')}\n{record['outputs']}"


def steps_per_epoch(stream: M3ITStream, grad_accum: int) -> float:
    return stream.batches_per_rank / grad_accum


def epochs_for(steps: int, stream: M3ITStream, grad_accum: int) -> int:
    return math.ceil(steps * grad_accum / stream.batches_per_rank)
