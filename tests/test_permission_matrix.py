"""Every URL of the project x every role → the expected HTTP status.

The test walks the URL resolver, so a URL without a row in MATRIX fails `test_every_url_has_a_row`
with its name. To add your URLs, append rows to MATRIX:

    Row("export-detail", "get", expect(LOGIN, annotator=404, reviewer=404, admin=200, other=404),
        kwargs=lambda w: {"pk": ExportFactory(task=w.task_a).pk}),

- name: the URL name (what `reverse()` takes); several rows may share a name (one per method).
- method: "get", "post", "patch", "put" or "delete".
- expect(anonymous, annotator=, reviewer=, admin=, other=): an int status, or LOGIN for "redirect to
  the login page". Anonymous web users get LOGIN; anonymous API calls get 403 (DRF's answer when
  session authentication comes first; admin-only endpoints too); a wrong token gets 401.
  Objects of other people are 404, never 200 or 403.
- kwargs: builds the URL kwargs from the World (a fresh one per test: create what you need in it).
- data: builds the request body from the World (sent as JSON to URLs under /api/, as a form otherwise).

The roles: `annotator` writes task A, `reviewer` reviews task A, `admin` is staff, `other` is an
annotator who writes task B and acts on task A's objects. `w.job_a` is a job the annotator started.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from pipeline.models import Image, Job, JobKind
from tests.factories import AdminFactory, AnnotatorFactory, ReviewerFactory, TaskFactory, png_bytes

LOGIN = "login"
ROLES = ("anonymous", "annotator", "reviewer", "admin", "other")
# Namespaces not in the matrix: Django's admin has its own permission system.
SKIPPED_NAMESPACES = {"admin"}

Status = int | str


def expect(anonymous: Status, *, annotator: Status, reviewer: Status, admin: Status, other: Status) -> dict:
    return {"anonymous": anonymous, "annotator": annotator, "reviewer": reviewer, "admin": admin, "other": other}


EVERYONE_SIGNED_IN = {"annotator": 200, "reviewer": 200, "admin": 200, "other": 200}
ADMIN_ONLY_WEB = expect(LOGIN, annotator=404, reviewer=404, admin=200, other=404)
API_READ = expect(403, **EVERYONE_SIGNED_IN)
# Anonymous: 403 like every API endpoint (issue 15: was 404); signed-in non-admins: 404.
API_ADMIN_ONLY = expect(403, annotator=404, reviewer=404, admin=200, other=404)


# Stage I: only task A's writer changes its pool (others who can see it: 403; others: 404).
WRITER_EDITS_WEB = expect(LOGIN, annotator=302, reviewer=403, admin=403, other=404)
WRITER_EDITS_API = expect(403, annotator=200, reviewer=403, admin=403, other=404)
POOL_READ_API = expect(403, annotator=200, reviewer=200, admin=200, other=404)
ADMIN_ACTS_ON_POOL_WEB = expect(LOGIN, annotator=403, reviewer=403, admin=302, other=404)
ADMIN_ACTS_ON_POOL_API = expect(403, annotator=403, reviewer=403, admin=200, other=404)


def _instruction(w: World) -> Any:
    """One instruction in task A's pool, written by its annotator (created once per World)."""
    from tests.factories import InstructionFactory

    if "instruction" not in w.extra:
        w.extra["instruction"] = InstructionFactory(task=w.task_a, author=w.users["annotator"], position=0)
    return w.extra["instruction"]


def _instruction_kwargs(w: World) -> dict[str, Any]:
    return {"slug": w.task_a.slug, "pk": _instruction(w).pk}


def _instruction_pk(w: World) -> dict[str, Any]:
    return {"pk": _instruction(w).pk}


def _submitted_task_a(w: World) -> dict[str, Any]:
    from annotator.models import PoolStatus

    w.task_a.pool_status = PoolStatus.SUBMITTED
    w.task_a.save()
    return {"slug": w.task_a.slug}


@dataclass
class World:
    """The objects every row may refer to; built fresh for each test."""

    users: dict[str, Any]
    task_a: Any
    task_b: Any
    job_a: Job
    image: Image
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    expected: dict[str, Status]
    kwargs: Callable[[World], dict[str, Any]] = lambda w: {}
    data: Callable[[World], dict[str, Any]] | None = None


def _export_request(w: World) -> dict[str, Any]:
    """Approve task A's train split (one sample with an instruction) and ask for it."""
    from annotator.models import TaskSplit
    from pipeline.models import Sample
    from tests.factories import InstructionFactory, SampleFactory

    if "sample" not in w.extra:
        w.extra["sample"] = SampleFactory(task=w.task_a, split="train")
    if w.extra["sample"].instruction_id is None:  # an export leaves out samples without an instruction
        instruction = w.extra.get("instruction") or InstructionFactory(task=w.task_a, author=w.users["annotator"])
        Sample.objects.filter(pk=w.extra["sample"].pk).update(instruction=instruction)
        w.extra["sample"].instruction = instruction
    TaskSplit.objects.filter(task=w.task_a, split="train").update(qc_status="approved")
    return {"tasks": [w.task_a.slug], "splits": ["train"]}


def _finished_export(w: World) -> Any:
    """A complete export of task A's approved train split, written in this process."""
    from pipeline.export.tasks import export_dataset
    from pipeline.export.writer import start_export
    from pipeline.jobs.runner import run_job

    if "export" not in w.extra:
        request = _export_request(w)
        export = start_export(w.users["admin"], request["tasks"], request["splits"])
        assert run_job(export.job_id, export_dataset.body) == "succeeded"
        export.refresh_from_db()
        w.extra["export"] = export
    return w.extra["export"]


def _import_folder(w: World) -> str:
    """A folder under IMPORT_ROOT with a one-line M3IT file, for starting an import."""
    import base64

    from pipeline.imports.importer import import_root

    if "import_folder" not in w.extra:
        folder = import_root() / f"matrix-{w.task_a.slug}"
        folder.mkdir(parents=True, exist_ok=True)
        image = base64.b64encode(png_bytes()).decode()
        record = {"instruction": "", "inputs": "q", "outputs": "a", "image_base64_str": [image], "meta": {}}
        (folder / "train.jsonl").write_text(json.dumps(record) + "\n")
        w.extra["import_folder"] = folder.name
    return w.extra["import_folder"]


def _import_request(w: World) -> dict[str, Any]:
    return {
        "adapter": "m3it-jsonl",
        "task": w.task_a.slug,
        "split": "train",
        "folder": _import_folder(w),
        "max_rejected": 0,
    }


def _import_job(w: World) -> Job:
    """An ended import job of task A with a rejected-rows report in media storage."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    if "import_job" not in w.extra:
        name = default_storage.save("imports/reports/matrix.csv", ContentFile(b"file,unit,line,source_id,message\n"))
        w.extra["import_job"] = Job.objects.create(
            kind=JobKind.IMPORT,
            status="failed",
            task_name="pipeline.imports.tasks.import_source",
            params={**_import_request(w), "files": {}, "options": {}},
            result={"report": name, "first_rejected": []},
            task=w.task_a,
            created_by=w.users["admin"],
        )
    return w.extra["import_job"]


def _sample(w: World) -> Any:
    from tests.factories import SampleFactory

    if "sample" not in w.extra:
        w.extra["sample"] = SampleFactory(task=w.task_a, split="train")
    return w.extra["sample"]


def _training_run(w: World) -> Any:
    """An ended (failed) training run of the finished export; nothing is trained."""
    from training.models import RunStatus, TrainingRun

    if "training_run" not in w.extra:
        export = _finished_export(w)
        job = Job.objects.create(
            kind=JobKind.TRAIN,
            status="failed",
            task_name="training.tasks.train_model",
            queue="gpu",
            created_by=w.users["admin"],
        )
        w.extra["training_run"] = TrainingRun.objects.create(
            job=job,
            jobs=[job.pk],
            export=export,
            export_name=export.name,
            export_digest=export.digest,
            export_path="/nonexistent",
            config_name="tiny",
            config={},
            status=RunStatus.FAILED,
            run_dir="/nonexistent/run",
            created_by=w.users["admin"],
        )
    return w.extra["training_run"]


MATRIX: list[Row] = [
    # --- accounts ---------------------------------------------------------------------------
    Row("login", "get", expect(200, **EVERYONE_SIGNED_IN)),
    Row("logout", "post", expect(302, annotator=302, reviewer=302, admin=302, other=302)),
    # the header's language switcher and the JavaScript catalogue: for everyone, signed in or not
    Row(
        "set-language",
        "post",
        expect(302, annotator=302, reviewer=302, admin=302, other=302),
        data=lambda w: {"language": "zh-hans", "next": "/"},
    ),
    Row("javascript-catalog", "get", expect(200, **EVERYONE_SIGNED_IN)),
    # --- annotator: home and the task registry ----------------------------------------------
    Row("home", "get", expect(LOGIN, **EVERYONE_SIGNED_IN)),
    Row("task-list", "get", expect(LOGIN, **EVERYONE_SIGNED_IN)),
    Row("task-detail", "get", expect(LOGIN, **EVERYONE_SIGNED_IN), kwargs=lambda w: {"slug": w.task_a.slug}),
    Row(
        "task-assign",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"slug": w.task_b.slug},
        data=lambda w: {"writer": w.users["other"].pk, "reviewer": w.users["reviewer"].pk},
    ),
    Row("api-root", "get", API_READ),
    Row("api-task-list", "get", API_READ),
    Row("api-task-detail", "get", API_READ, kwargs=lambda w: {"slug": w.task_a.slug}),
    Row(
        "api-task-detail",
        "patch",
        expect(403, annotator=403, reviewer=403, admin=200, other=403),
        kwargs=lambda w: {"slug": w.task_b.slug},
        data=lambda w: {"reviewer": w.users["reviewer"].username},
    ),
    # --- annotator: Stage I instruction pools (writer edits; writer, reviewer, admin read) -----
    Row(
        "instruction-add",
        "post",
        WRITER_EDITS_WEB,
        kwargs=lambda w: {"slug": w.task_a.slug},
        data=lambda w: {"text": "Describe the image in one sentence."},
    ),
    Row("instruction-edit", "post", WRITER_EDITS_WEB, kwargs=_instruction_kwargs, data=lambda w: {"text": "Changed."}),
    Row("instruction-delete", "post", WRITER_EDITS_WEB, kwargs=_instruction_kwargs),
    Row("instruction-move", "post", WRITER_EDITS_WEB, kwargs=_instruction_kwargs, data=lambda w: {"direction": "up"}),
    Row(
        "pool-live-stats",
        "get",
        expect(LOGIN, annotator=200, reviewer=200, admin=200, other=404),
        kwargs=lambda w: {"slug": w.task_a.slug},
    ),
    Row("pool-submit", "post", WRITER_EDITS_WEB, kwargs=lambda w: {"slug": w.task_a.slug}),
    Row(
        "pool-return",
        "post",
        ADMIN_ACTS_ON_POOL_WEB,
        kwargs=_submitted_task_a,
        data=lambda w: {"comment": "Two instructions say the same."},
    ),
    Row("pool-unlock", "post", ADMIN_ACTS_ON_POOL_WEB, kwargs=_submitted_task_a),
    Row("instruction-export", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"slug": w.task_a.slug}),
    Row(
        "instruction-import",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"slug": w.task_a.slug},
    ),
    Row("instruction-stats", "get", expect(LOGIN, **EVERYONE_SIGNED_IN)),
    Row("instruction-stats-csv", "get", expect(LOGIN, **EVERYONE_SIGNED_IN)),
    Row("api-instruction-list", "get", API_READ),
    Row(
        "api-instruction-list",
        "post",
        expect(403, annotator=201, reviewer=403, admin=403, other=404),
        data=lambda w: {"task": w.task_a.slug, "text": "Describe the image in one sentence."},
    ),
    Row("api-instruction-detail", "get", POOL_READ_API, kwargs=_instruction_pk),
    Row("api-instruction-detail", "patch", WRITER_EDITS_API, kwargs=_instruction_pk, data=lambda w: {"text": "New."}),
    Row("api-instruction-detail", "put", WRITER_EDITS_API, kwargs=_instruction_pk, data=lambda w: {"text": "New."}),
    Row(
        "api-instruction-detail",
        "delete",
        expect(403, annotator=204, reviewer=403, admin=403, other=404),
        kwargs=_instruction_pk,
    ),
    Row("api-pool-list", "get", API_READ),
    Row("api-pool-detail", "get", POOL_READ_API, kwargs=lambda w: {"slug": w.task_a.slug}),
    Row(
        "api-pool-submit",
        "post",
        expect(403, annotator=400, reviewer=403, admin=403, other=404),
        kwargs=lambda w: {"slug": w.task_a.slug},
    ),
    Row(
        "api-pool-reorder",
        "post",
        WRITER_EDITS_API,
        kwargs=lambda w: {"slug": w.task_a.slug},
        data=lambda w: {"order": [_instruction(w).pk]},
    ),
    Row(
        "api-pool-return-pool",
        "post",
        ADMIN_ACTS_ON_POOL_API,
        kwargs=_submitted_task_a,
        data=lambda w: {"comment": "Why?"},
    ),
    Row("api-pool-unlock", "post", ADMIN_ACTS_ON_POOL_API, kwargs=_submitted_task_a),
    Row("api-pool-instructions-json", "get", POOL_READ_API, kwargs=lambda w: {"slug": w.task_a.slug}),
    Row(
        "api-pool-instructions-json",
        "put",
        expect(403, annotator=403, reviewer=403, admin=200, other=404),
        kwargs=lambda w: {"slug": w.task_a.slug},
        data=lambda w: ["Describe the image.", "What is in the picture?"],
    ),
    # --- pipeline: images and jobs ----------------------------------------------------------
    Row("image-file", "get", expect(LOGIN, **EVERYONE_SIGNED_IN), kwargs=lambda w: {"sha256": w.image.sha256}),
    Row("job-list", "get", ADMIN_ONLY_WEB),
    Row(
        "job-detail",
        "get",
        expect(LOGIN, annotator=200, reviewer=404, admin=200, other=404),
        kwargs=lambda w: {"pk": w.job_a.pk},
    ),
    Row(
        "job-cancel",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"pk": w.job_a.pk},
    ),
    Row("api-job-list", "get", API_READ),
    Row(
        "api-job-detail",
        "get",
        expect(403, annotator=200, reviewer=404, admin=200, other=404),
        kwargs=lambda w: {"pk": w.job_a.pk},
    ),
    Row(
        "api-job-cancel",
        "post",
        expect(403, annotator=403, reviewer=403, admin=202, other=403),
        kwargs=lambda w: {"pk": w.job_a.pk},
    ),
    # --- pipeline: exports (admins only; 404 for everyone else, API included) ----------------
    Row("export-list", "get", ADMIN_ONLY_WEB),
    Row(
        "export-list",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        data=lambda w: _export_request(w),
    ),
    Row("export-detail", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _finished_export(w).pk}),
    Row("export-download", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _finished_export(w).pk}),
    Row(
        "export-file",
        "get",
        ADMIN_ONLY_WEB,
        kwargs=lambda w: {"pk": _finished_export(w).pk, "relative": "README.md"},
    ),
    Row(
        "export-delete",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"pk": _finished_export(w).pk},
    ),
    Row("api-export-list", "get", API_ADMIN_ONLY),
    Row(
        "api-export-list",
        "post",
        expect(403, annotator=404, reviewer=404, admin=201, other=404),
        data=lambda w: _export_request(w),
    ),
    Row("api-export-detail", "get", API_ADMIN_ONLY, kwargs=lambda w: {"pk": _finished_export(w).pk}),
    Row(
        "api-export-detail",
        "delete",
        expect(403, annotator=404, reviewer=404, admin=204, other=404),
        kwargs=lambda w: {"pk": _finished_export(w).pk},
    ),
    Row("api-export-download", "get", API_ADMIN_ONLY, kwargs=lambda w: {"pk": _finished_export(w).pk}),
    # --- pipeline: paraphrase answers (admins only; 404 for everyone else, API included) ---------
    Row("paraphrase-start", "get", ADMIN_ONLY_WEB),
    Row(
        "paraphrase-start",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        data=lambda w: _paraphrase_request(w),
    ),
    Row("paraphrase-job", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _paraphrase_job(w).pk}),
    Row("paraphrase-sample", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _paraphrase_sample(w).pk}),
    Row(
        "api-paraphrase-start",
        "post",
        expect(403, annotator=404, reviewer=404, admin=202, other=404),
        data=lambda w: _paraphrase_request(w),
    ),
    # --- pipeline: translation (admins run it; a task's reviewer browses and judges its results) ---
    Row("translation", "get", ADMIN_ONLY_WEB),
    Row(
        "translation",
        "post",  # no model under TRANSLATION_MODEL here: refused with the reason, nothing started
        expect(LOGIN, annotator=404, reviewer=404, admin=400, other=404),
        data=lambda w: {"languages": "fr"},
    ),
    Row("translation-calibrate", "post", expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404)),
    Row(
        "translation-task-flag",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"slug": w.task_a.slug},
        data=lambda w: {"translated": "1"},
    ),
    Row("translation-job", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _translation_job(w).pk}),
    Row(
        "translation-cancel",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"pk": _translation_job(w).pk},
    ),
    Row(
        "translation-resume",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"pk": _translation_job(w).pk},
    ),
    Row("translation-results-index", "get", expect(LOGIN, annotator=404, reviewer=200, admin=200, other=404)),
    Row(
        "translation-results",
        "get",
        expect(LOGIN, annotator=404, reviewer=200, admin=200, other=404),
        kwargs=lambda w: {"slug": w.task_a.slug, "code": "fr"},
    ),
    Row(
        "translation-unusable",
        "post",
        expect(LOGIN, annotator=404, reviewer=302, admin=302, other=404),
        kwargs=lambda w: {"slug": w.task_a.slug, "code": "fr"},
        data=lambda w: {"note": "garbled"},
    ),
    Row(
        "api-translation",
        "post",
        expect(403, annotator=404, reviewer=404, admin=200, other=404),  # anonymous 403 (issue 15)
        data=lambda w: {"dry_run": True, "tasks": [w.task_a.slug], "languages": ["fr"]},
    ),
    Row("api-translation-languages", "get", API_READ),
    # --- qc: review queue, review page, dashboard, split history, API ---------------------------
    Row("review-queue", "get", expect(LOGIN, annotator=404, reviewer=200, admin=200, other=404)),
    Row(
        "review-detail",
        "get",
        expect(LOGIN, annotator=404, reviewer=200, admin=200, other=404),
        kwargs=lambda w: {"pk": _qc_review(w).pk},
    ),
    Row(
        "review-load-check",
        "post",
        expect(LOGIN, annotator=404, reviewer=302, admin=404, other=404),
        kwargs=lambda w: {"pk": _qc_review(w).pk},
    ),
    Row(
        "review-undo",
        "post",
        expect(LOGIN, annotator=404, reviewer=302, admin=404, other=404),
        kwargs=lambda w: {"pk": _qc_review(w).pk},
    ),
    Row(
        "review-submit",
        "post",
        expect(LOGIN, annotator=404, reviewer=302, admin=404, other=404),
        kwargs=lambda w: {"pk": _qc_review(w).pk},
    ),
    Row(
        "review-item-decide",
        "post",
        expect(LOGIN, annotator=404, reviewer=302, admin=404, other=404),
        kwargs=lambda w: {"pk": _qc_review(w).items.first().pk},
        data=lambda w: {"verdict": "approved"},
    ),
    Row(
        "review-start",
        "post",
        expect(LOGIN, annotator=404, reviewer=302, admin=302, other=404),
        kwargs=lambda w: {"pk": _qc_split(w).pk},
    ),
    Row(
        "qc-split-history",
        "get",
        expect(LOGIN, annotator=200, reviewer=404, admin=200, other=404),
        kwargs=lambda w: {"pk": _qc_review(w).task_split_id},
    ),
    Row(
        "review-second",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"pk": _qc_review(w).task_split_id},
        data=lambda w: {"reviewer": ReviewerFactory().pk},
    ),
    Row("qc-dashboard", "get", ADMIN_ONLY_WEB),
    Row("qc-reviewers", "get", ADMIN_ONLY_WEB),
    Row("qc-returned", "get", expect(LOGIN, **EVERYONE_SIGNED_IN)),
    Row("api-qc-review-list", "get", expect(403, annotator=403, reviewer=200, admin=200, other=403)),
    Row(
        "api-qc-review-list",
        "post",
        expect(403, annotator=403, reviewer=201, admin=201, other=403),
        data=lambda w: {"task_split": _qc_split(w).pk},
    ),
    Row(
        "api-qc-review-second",
        "post",
        expect(403, annotator=403, reviewer=403, admin=201, other=403),
        data=lambda w: {"task_split": _qc_review(w).task_split_id, "reviewer": ReviewerFactory().pk},
    ),
    Row(
        "api-qc-review-detail",
        "get",
        expect(403, annotator=403, reviewer=200, admin=200, other=403),
        kwargs=lambda w: {"pk": _qc_review(w).pk},
    ),
    Row(
        "api-qc-review-submit",
        "post",
        expect(403, annotator=403, reviewer=400, admin=404, other=403),  # 400: samples not decided yet
        kwargs=lambda w: {"pk": _qc_review(w).pk},
    ),
    Row(
        "api-qc-review-undo",
        "post",
        expect(403, annotator=403, reviewer=400, admin=404, other=403),  # 400: nothing to undo
        kwargs=lambda w: {"pk": _qc_review(w).pk},
    ),
    Row(
        "api-qc-review-load-check",
        "post",
        expect(403, annotator=403, reviewer=200, admin=404, other=403),
        kwargs=lambda w: {"pk": _qc_review(w).pk},
    ),
    Row("api-qc-review-item-list", "get", expect(403, annotator=403, reviewer=200, admin=200, other=403)),
    Row(
        "api-qc-review-item-detail",
        "get",
        expect(403, annotator=403, reviewer=200, admin=200, other=403),
        kwargs=lambda w: {"pk": _qc_review(w).items.first().pk},
    ),
    Row(
        "api-qc-review-item-detail",
        "patch",
        expect(403, annotator=403, reviewer=200, admin=404, other=403),
        kwargs=lambda w: {"pk": _qc_review(w).items.first().pk},
        data=lambda w: {"verdict": "approved"},
    ),
    Row(
        "api-qc-review-item-bulk",
        "post",
        expect(403, annotator=403, reviewer=200, admin=404, other=403),
        data=lambda w: [{"id": _qc_review(w).items.first().pk, "verdict": "approved"}],
    ),
    # --- pipeline: imports and the samples browser (admins only; 404 for everyone else) ---------
    Row("import-list", "get", ADMIN_ONLY_WEB),
    Row(
        "import-list",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        data=lambda w: _import_request(w),
    ),
    Row("import-detail", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _import_job(w).pk}),
    Row("import-report", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _import_job(w).pk}),
    Row(
        "import-rerun",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"pk": _import_job(w).pk},
    ),
    Row("sample-list", "get", ADMIN_ONLY_WEB),
    Row("sample-detail", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _sample(w).pk}),
    Row("api-import-list", "get", API_ADMIN_ONLY),
    Row(
        "api-import-list",
        "post",
        expect(403, annotator=404, reviewer=404, admin=202, other=404),
        data=lambda w: _import_request(w),
    ),
    Row("api-import-detail", "get", API_ADMIN_ONLY, kwargs=lambda w: {"pk": _import_job(w).pk}),
    Row("api-import-adapters", "get", API_ADMIN_ONLY),
    Row(
        "sample-delete",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        data=lambda w: {"task": _sample(w).task.slug, "split": _sample(w).split},
    ),
    Row("api-sample-list", "get", API_ADMIN_ONLY),
    Row("api-sample-detail", "get", API_ADMIN_ONLY, kwargs=lambda w: {"pk": _sample(w).pk}),
    # --- API schema and documentation: a login outside DEBUG (issue 15; `make run` keeps them open) -----
    Row("api-schema", "get", expect(403, **EVERYONE_SIGNED_IN)),
    Row("api-docs", "get", expect(403, **EVERYONE_SIGNED_IN)),
    Row("api-redoc", "get", expect(403, **EVERYONE_SIGNED_IN)),
    # --- training (admins only; 404 for everyone else) ----------------------------------------
    Row("training-run-list", "get", ADMIN_ONLY_WEB),
    Row(
        "training-run-list",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        data=lambda w: {"export": _finished_export(w).pk, "config": "tiny"},
    ),
    Row("training-run-detail", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _training_run(w).pk}),
    Row("training-run-metrics", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _training_run(w).pk}),
    Row(
        "training-run-cancel",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"pk": _training_run(w).pk},
    ),
    Row(
        "training-run-resume",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"pk": _training_run(w).pk},
    ),
    # the run page's "Evaluate" button: the admin is sent back with a message (this run has no checkpoint)
    Row(
        "training-run-evaluate",
        "post",
        expect(LOGIN, annotator=404, reviewer=404, admin=302, other=404),
        kwargs=lambda w: {"pk": _training_run(w).pk},
    ),
]


def _paraphrase_sample(w: World) -> Any:
    """A sample of task A's train split waiting for its paraphrase."""
    if "paraphrase_sample" not in w.extra:
        from pipeline.models import ParaphraseState
        from tests.factories import SampleFactory

        w.extra["paraphrase_sample"] = SampleFactory(
            task=w.task_a, split="train", paraphrase_state=ParaphraseState.PENDING
        )
    return w.extra["paraphrase_sample"]


def _paraphrase_request(w: World) -> dict[str, Any]:
    _paraphrase_sample(w)
    return {"splits": [f"{w.task_a.slug}/train"]}


def _paraphrase_job(w: World) -> Job:
    """A paraphrase job an admin started on task A's train split."""
    return Job.objects.create(
        kind=JobKind.PARAPHRASE,
        task_name="pipeline.paraphrase.tasks.paraphrase_answers",
        created_by=w.users["admin"],
        task=w.task_a,
        params={"splits": [f"{w.task_a.slug}/train"]},
    )


def _translation_job(w: World) -> Job:
    """A finished translation job an admin started on task A."""
    return Job.objects.create(
        kind=JobKind.TRANSLATE,
        task_name="pipeline.translation.tasks.translate_run",
        created_by=w.users["admin"],
        task=w.task_a,
        status="succeeded",
        params={"tasks": [w.task_a.slug], "languages": ["fr"], "backend": "transformers", "model": "none"},
    )


def _qc_split(w: World) -> Any:
    """Task A's train split with two samples to review (and an instruction pool by its writer)."""
    if "qc_split" not in w.extra:
        from annotator.models import TaskSplit
        from pipeline.samples.selection import draw_instruction
        from tests.factories import InstructionFactory, SampleFactory

        pool = [InstructionFactory(task=w.task_a, author=w.users["annotator"])]
        for _ in range(2):
            draw_instruction(SampleFactory(task=w.task_a, split="train"), pool)
        w.extra["qc_split"] = TaskSplit.objects.get(task=w.task_a, split="train")
    return w.extra["qc_split"]


def _qc_review(w: World) -> Any:
    """An open review of task A's train split, assigned to the task's reviewer."""
    if "qc_review" not in w.extra:
        from qc.review import start_review

        w.extra["qc_review"] = start_review(_qc_split(w), w.users["admin"])
    return w.extra["qc_review"]


# --- evaluation reports (training app; admins only) -------------------------------------------


def _evaluation(w: World, key: str = "evaluation") -> Any:
    """A finished evaluation with one prediction (created once per World and key)."""
    if key not in w.extra:
        from training.models import Backend, Evaluation, Prediction

        ev = Evaluation.objects.create(
            name=key,
            backend=Backend.ENDPOINT,
            model_name="m",
            export_path="/x",
            results={
                "tasks": {"okvqa": {"rouge_l": 0.5, "records": 1, "group": "kvqa"}},
                "groups": {"kvqa": 0.5},
                "overall": 0.5,
                "records": 1,
            },
        )
        Prediction.objects.create(
            evaluation=ev,
            task="okvqa",
            split="val",
            record_id="0",
            prompt="p",
            prediction="a cat",
            reference="the cat",
            rouge_l=0.5,
        )
        w.extra[key] = ev
    return w.extra[key]


def _judge(w: World) -> Any:
    from training.models import JudgeComparison

    return JudgeComparison.objects.create(
        evaluation_a=_evaluation(w),
        evaluation_b=_evaluation(w, "other_evaluation"),
        model="judge",
        counts={"wins": 1, "ties": 0, "losses": 0, "undecided": 0},
    )


def _ablation(w: World) -> Any:
    from training.models import AblationPoint, AblationSeries

    series = AblationSeries.objects.create(kind="tasks", export_path="/x", counts=[0, 4])
    AblationPoint.objects.create(series=series, count=0, status="done", score=0.1)
    return series


MATRIX += [
    Row("evaluation-list", "get", ADMIN_ONLY_WEB),
    Row("evaluation-detail", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _evaluation(w).pk}),
    Row(
        "evaluation-table",
        "get",
        ADMIN_ONLY_WEB,
        kwargs=lambda w: {"pk": _evaluation(w).pk, "table": "table4", "fmt": "csv"},
    ),
    Row("evaluation-predictions", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _evaluation(w).pk}),
    Row("evaluation-compare", "get", ADMIN_ONLY_WEB),
    Row("evaluation-compare-table", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"table": "tasks", "fmt": "md"}),
    Row("judge-detail", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _judge(w).pk}),
    Row("ablation-detail", "get", ADMIN_ONLY_WEB, kwargs=lambda w: {"pk": _ablation(w).pk}),
]


def _url_names(patterns: list, namespace: str = "", route: str = "") -> Iterator[tuple[str, str]]:
    """(name, route) of every URL pattern, with namespaces as `ns:name`; unnamed ones by route."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in SKIPPED_NAMESPACES:
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _url_names(pattern.url_patterns, inner, route + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            full_route = route + str(pattern.pattern)
            if full_route.startswith(("static/", "media/")):
                continue
            yield (f"{namespace}{pattern.name}" if pattern.name else f"<unnamed {full_route}>", full_route)


def uncovered(patterns: list, matrix: list[Row]) -> tuple[list[str], list[str]]:
    """(URLs without a row, rows whose URL no longer exists)."""
    routes: dict[str, str] = {}
    for name, route in _url_names(patterns):
        routes.setdefault(name, route)
    covered = {row.name for row in matrix}
    return sorted(f"{name} ({routes[name]})" for name in set(routes) - covered), sorted(covered - set(routes))


def test_every_url_has_a_row():
    missing, stale = uncovered(get_resolver().url_patterns, MATRIX)
    assert not missing, "URLs without a row in tests/test_permission_matrix.py MATRIX: " + ", ".join(missing)
    assert not stale, "MATRIX rows for URLs that no longer exist: " + ", ".join(stale)


def test_a_new_url_without_a_row_is_reported_by_name():
    from django.urls import include, path

    def view(request: Any) -> None:
        return None

    patterns = [
        *get_resolver().url_patterns,
        path("x/", include(([path("new/", view, name="brand-new"), path("anon/", view)], "x"), namespace="x")),
    ]
    missing, stale = uncovered(patterns, [*MATRIX, Row("gone", "get", API_READ)])
    assert missing == ["<unnamed x/anon/> (x/anon/)", "x:brand-new (x/new/)"]
    assert stale == ["gone"]


def test_every_row_names_every_role():
    for row in MATRIX:
        assert set(row.expected) == set(ROLES), row.name


@pytest.fixture
def world(db: None) -> World:
    from pipeline.media.images import store_image

    annotator, other = AnnotatorFactory(), AnnotatorFactory()
    reviewer, admin = ReviewerFactory(), AdminFactory()
    task_a = TaskFactory(writer=annotator, reviewer=reviewer)
    task_b = TaskFactory(writer=other)
    job_a = Job.objects.create(
        kind=JobKind.DEMO,
        task_name="pipeline.demo.tasks.build_demo_dataset",
        created_by=annotator,
        task=task_a,
        total=5,
    )
    users = {"anonymous": None, "annotator": annotator, "reviewer": reviewer, "admin": admin, "other": other}
    return World(users=users, task_a=task_a, task_b=task_b, job_a=job_a, image=store_image(png_bytes()))


CASES = [pytest.param(row, role, id=f"{row.name}-{row.method}-{role}") for row in MATRIX for role in ROLES]


@pytest.mark.parametrize(("row", "role"), CASES)
def test_permission(row: Row, role: str, world: World) -> None:
    client = Client()
    if world.users[role] is not None:
        client.force_login(world.users[role])
    url = reverse(row.name, kwargs=row.kwargs(world))
    send = getattr(client, row.method)
    body = row.data(world) if row.data else {}
    if url.startswith("/api/") and row.method != "get":
        response = send(url, json.dumps(body), content_type="application/json")
    else:
        response = send(url, body)
    want = row.expected[role]
    if want == LOGIN:
        assert response.status_code == 302, f"{role} {row.method.upper()} {url}: {response.status_code}"
        assert response["Location"].startswith(reverse("login") + "?next="), response["Location"]
    else:
        assert response.status_code == want, f"{role} {row.method.upper()} {url}: {response.status_code}"
