"""The demo project: one user per role, the registry, instructions for two tasks, demo samples."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from annotator import roles
from annotator.models import Instruction, PoolStatus, Task
from annotator.registry import load_tasks
from pipeline.demo import dataset as demo
from pipeline.jobs.runner import start_job
from pipeline.models import Job, JobKind, Sample

DEMO_USERS = (
    ("admin", "admin", {"is_staff": True, "is_superuser": True}),
    ("annotator", "annotator", {}),
    ("annotator2", "annotator", {}),
    ("reviewer", "reviewer", {}),
)
# (task, split, kind, count)
DEMO_SPLITS = (("shapes", "train", "vqa", 40), ("shapes", "val", "vqa", 20), ("coco", "val", "caption", 20))


def demo_logins_file() -> Path:
    return settings.VAR_DIR / "demo-logins.json"


def ensure_demo_users() -> dict[str, str]:
    """Create the demo users once with random passwords, kept in var/ (never in settings)."""
    path = demo_logins_file()
    logins: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    User = get_user_model()
    for username, role, flags in DEMO_USERS:
        user, created = User.objects.get_or_create(username=username, defaults=flags)
        if created or username not in logins:
            logins[username] = secrets.token_urlsafe(9)
            user.set_password(logins[username])
            for key, value in flags.items():
                setattr(user, key, value)
            user.save()
        if role in roles.GROUPS:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
    path.write_text(json.dumps(logins, indent=2))
    path.chmod(0o600)
    return logins


def demo_translation_model() -> Path | None:
    """The demo's NLLB: when TRANSLATION_MODEL names a folder under var/ that does not exist yet (`make run`'s
    .env sets var/models/demo-nllb), a tiny random NLLB-architecture model with the 80 languages' tokens is
    written there, so Stage IV runs end to end on a laptop. Its output is noise: real runs point
    TRANSLATION_MODEL at facebook/nllb-200-* (same loading code)."""
    from pipeline.translation import random_model
    from pipeline.translation.languages import PAPER_LANGUAGES, SOURCE_NLLB

    folder = Path(settings.TRANSLATION_MODEL).expanduser()
    folder = folder if folder.is_absolute() else settings.BASE_DIR / folder
    if settings.TRANSLATION_BACKEND == "openai" or folder.exists() or settings.VAR_DIR.resolve() not in folder.parents:
        return None
    return random_model.build(folder, [SOURCE_NLLB, *(nllb for _, nllb, _ in PAPER_LANGUAGES)])


@transaction.atomic
def seed_demo(seconds_per_sample: float = 0.0) -> dict[str, Any]:
    logins = ensure_demo_users()
    load_tasks()
    Task.objects.filter(slug="shapes").update(translated=True)  # the demo's evaluation split can be translated
    User = get_user_model()
    annotator = User.objects.get(username="annotator")
    reviewer = User.objects.get(username="reviewer")
    admin = User.objects.get(username="admin")
    for slug, texts in demo.DEMO_INSTRUCTIONS.items():
        task = Task.objects.get(slug=slug)
        task.writer, task.reviewer = annotator, reviewer
        if not task.instructions.exists():
            for position, text in enumerate(texts):
                Instruction.objects.create(task=task, text=text, author=annotator, position=position)
            task.pool_status = PoolStatus.SUBMITTED
        task.save()
    # Two more tasks for the annotators to write in Stage I.
    for slug, username in (("vqa-v2", "annotator"), ("okvqa", "annotator2")):
        Task.objects.filter(slug=slug, writer__isnull=True).update(
            writer=User.objects.get(username=username), reviewer=reviewer
        )
    jobs: list[Job] = []
    for seed, (slug, split, kind, count) in enumerate(DEMO_SPLITS):
        if Sample.objects.filter(task__slug=slug, split=split).count() >= count:
            continue
        jobs.append(
            start_job(
                JobKind.DEMO,
                "pipeline.demo.tasks.build_demo_dataset",
                user=admin,
                params={
                    "task": slug,
                    "split": split,
                    "kind": kind,
                    "count": count,
                    "seed": seed,  # each split draws its own pictures: no train/val overlap
                    "seconds_per_sample": seconds_per_sample,
                },
                total=count,
                for_task=Task.objects.get(slug=slug),
            )
        )
    return {"logins": logins, "jobs": [job.pk for job in jobs]}
