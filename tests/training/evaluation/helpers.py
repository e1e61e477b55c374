"""Small real inputs for the evaluation tests: PNG frames as base64, export folders on disk."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image


def png_b64(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (40, 30)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def record(instruction: str, inputs: str, outputs: str, images: list[str] | None = None, **meta: Any) -> dict:
    return {
        "instruction": instruction,
        "inputs": inputs,
        "outputs": outputs,
        "image_base64_str": images if images is not None else [png_b64()],
        "meta": meta,
    }


def write_export(root: Path, splits: dict[tuple[str, str, str], list[dict]], manifest: bool = True) -> Path:
    """splits: (slug, group, split) -> records. Writes data/<group>/<slug>/<split>.jsonl (+ manifest)."""
    tasks: dict[str, dict] = {}
    for (slug, group, split), rows in splits.items():
        rel = f"data/{group}/{slug}/{split}.jsonl"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        entry = tasks.setdefault(
            slug,
            {
                "slug": slug,
                "group": group,
                "folder": group,
                "task_dir": slug,
                "modality": "video" if group == "video" else "image",
                "language": "zh" if group == "chinese" else "en",
                "held_in": group not in ("video", "chinese"),
                "splits": {},
            },
        )
        entry["splits"][split] = {"file": rel, "records": len(rows)}
    if manifest:
        (root / "manifest.json").write_text(json.dumps({"format": "m3it", "tasks": list(tasks.values())}))
    return root
