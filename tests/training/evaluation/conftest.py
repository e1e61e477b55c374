"""An export for evaluation tests: the training tests' export (caps, colours held-in; clips, video,
held-out) plus val splits, so a run trains on train and is evaluated on val."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def eval_export(export_folder: Path, tmp_path: Path) -> Path:
    folder = shutil.copytree(export_folder, tmp_path / "eval-export")
    manifest = json.loads((folder / "manifest.json").read_text())
    for task in manifest["tasks"]:
        train = task["splits"]["train"]
        val_file = train["file"].replace("train.jsonl", "val.jsonl")
        lines = (folder / train["file"]).read_text().splitlines(keepends=True)[:3]
        (folder / val_file).write_text("".join(lines))
        task["splits"]["val"] = train | {"file": val_file, "records": len(lines)}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder
