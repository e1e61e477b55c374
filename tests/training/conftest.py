"""Fixtures for the training tests: one small export written once per session by the real exporter."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from django.db import transaction
from django.test import override_settings

from .export_data import build_training_dataset, copy_export

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def export_folder(django_db_setup: None, django_db_blocker: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export folder (caps + colours held-in, clips video held-out) with no database rows behind it."""
    base = tmp_path_factory.mktemp("training-export")
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=str(base / "media"), EXPORT_ROOT=base / "exports"),
        transaction.atomic(),
    ):
        built = build_training_dataset()
        folder = copy_export(built["export"], base / "export")
        transaction.set_rollback(True)
    return folder


@pytest.fixture(autouse=True)
def _one_torch_thread() -> object:
    """Tiny matrices: a second thread only fights other processes for the two cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
