"""Fixtures of the import tests: a temporary IMPORT_ROOT and the task registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from annotator.registry import load_tasks


@pytest.fixture
def import_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "import-root"
    root.mkdir()
    settings.IMPORT_ROOT = root
    return root


@pytest.fixture
def tasks(db: None) -> None:
    load_tasks()
