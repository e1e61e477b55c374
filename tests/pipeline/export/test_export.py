"""Exports: the M3IT layout, loading with `datasets`, approval gate, determinism, resumption."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

import orjson
import pytest

from annotator.models import Instruction, QCStatus, Task, TaskSplit
from pipeline.export import writer as exports
from pipeline.export.record import record_meta
from pipeline.jobs.runner import Progress, request_cancel, send_job
from pipeline.models import JobStatus, Sample
from tests.pipeline.export.export_data import build_small_dataset, files_under

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_export_root(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"


EXPECTED_FILES = {
    "README.md",
    "manifest.json",
    "data/vqa/alpha/instructions.json",
    "data/vqa/alpha/train.jsonl",
    "data/vqa/alpha/val.jsonl",
    "data/captioning/beta_caps/instructions.json",
    "data/captioning/beta_caps/train.jsonl",
}


def run_eager_export(eager_jobs, user, tasks=None, splits=None, **options):
    with eager_jobs():
        export = exports.start_export(user, tasks, splits, **options)
    export.refresh_from_db()
    export.job.refresh_from_db()
    assert export.job.status == JobStatus.SUCCEEDED, export.job.error
    return export


def test_plan_includes_only_approved_splits_and_says_why_the_rest_is_left_out(db):
    build_small_dataset()
    plan = exports.plan_export()
    assert [(i["task"], i["split"], i["records"]) for i in plan.included] == [
        ("beta", "train", 3),  # captioning/ sorts before vqa/; one of four samples was rejected by QC
        ("alpha", "train", 4),
        ("alpha", "val", 4),
    ]
    assert plan.excluded == [
        {"task": "beta", "split": "val", "reason": "not approved by QC (status: In review)"},
        {"task": "beta", "split": "test", "reason": "not approved by QC (status: Not reviewed)"},
        {"task": "alpha", "split": "test", "reason": "not approved by QC (status: Not reviewed)"},
    ]

    asked = exports.plan_export(["gamma", "alpha"], ["test", "train"])
    assert [(i["task"], i["split"]) for i in asked.included] == [("alpha", "train")]
    assert {(e["task"], e["split"]) for e in asked.excluded} == {
        ("alpha", "test"),
        ("gamma", "train"),
        ("gamma", "test"),
    }

    with pytest.raises(exports.ExportError, match="unknown task"):
        exports.plan_export(["nope"])
    with pytest.raises(exports.ExportError, match="Nothing to export"):
        exports.start_export(None, ["gamma"])


def test_plan_leaves_out_an_approved_split_with_samples_lacking_an_instruction(db):
    build_small_dataset()
    Sample.objects.filter(task__slug="alpha", split="val").order_by("id").filter(
        pk=Sample.objects.filter(task__slug="alpha", split="val").order_by("id").values("pk")[:1]
    ).update(instruction=None)
    plan = exports.plan_export(["alpha"], ["train", "val"])
    assert [(i["task"], i["split"]) for i in plan.included] == [("alpha", "train")]
    assert plan.excluded == [
        {"task": "alpha", "split": "val", "reason": "1 sample(s) have no instruction (draw them, then review again)"}
    ]


def test_a_directory_is_claimed_only_by_a_task_that_writes_into_it(db):
    from tests.factories import TaskFactory

    build_small_dataset()
    alpha = Task.objects.get(slug="alpha")
    # An unapproved task sorting before alpha with the same directory must not push alpha out.
    TaskFactory(slug="aardvark", folder=alpha.folder, task_dir=alpha.task_dir)
    plan = exports.plan_export(["aardvark", "alpha"], ["train"])
    assert [(i["task"], i["split"]) for i in plan.included] == [("alpha", "train")]
    assert plan.excluded[0]["task"] == "aardvark" and "not approved" in plan.excluded[0]["reason"]


def test_export_loads_with_datasets_and_every_record_round_trips(eager_jobs, admin_user, tmp_path):
    from datasets import load_dataset

    data = build_small_dataset()
    export = run_eager_export(eager_jobs, admin_user)
    root = exports.export_dir(export)
    assert set(files_under(root)) == EXPECTED_FILES
    assert not exports.partial_dir(export).exists()
    assert export.job.counters["records"] == 11 and export.job.counters["files"] == 7
    assert (export.job.done, export.job.total) == (11, 11)

    for task in ("alpha", "beta"):
        task_obj = data.tasks[task]
        pool = orjson.loads((root / exports.instructions_path(task_obj)).read_bytes())
        assert pool == list(
            Instruction.objects.filter(task=task_obj).order_by("position").values_list("text", flat=True)
        )

    for task, split in (("alpha", "train"), ("alpha", "val"), ("beta", "train")):
        path = root / exports.split_path(data.tasks[task], split)
        loaded = load_dataset("json", data_files={split: str(path)}, cache_dir=str(tmp_path / "hf"))[split]
        samples = list(
            Sample.objects.filter(task__slug=task, split=split)
            .exclude(qc_state="rejected")
            .select_related("instruction")
            .order_by("id")
        )
        assert len(loaded) == len(samples) > 0
        assert loaded.column_names == ["instruction", "inputs", "outputs", "image_base64_str", "meta"]
        raw_lines = path.read_bytes().splitlines()
        for row, line, sample in zip(loaded, raw_lines, samples, strict=True):
            assert row["instruction"] == sample.instruction.text
            assert row["inputs"] == sample.inputs
            assert row["outputs"] == sample.outputs
            assert [base64.b64decode(s) for s in row["image_base64_str"]] == data.images[sample.pk]
            # `datasets` unifies dict columns across rows, so meta is compared on the raw line.
            expected_meta = {**sample.meta, "source_id": sample.source_id, "split": split}
            if sample.paraphrase_state == "accepted":
                expected_meta["original_answer"] = sample.original_output
            assert orjson.loads(line)["meta"] == record_meta(sample) == expected_meta
    rejected = Sample.objects.get(pk=data.rejected[0])
    assert rejected.source_id.encode() not in (root / "data/captioning/beta_caps/train.jsonl").read_bytes()

    # The dataset card's YAML lets `datasets` load a task by name from the export folder.
    by_name = load_dataset(str(root), "beta", cache_dir=str(tmp_path / "hf2"))
    assert set(by_name) == {"train"} and by_name["train"].num_rows == 3


def test_unapproved_splits_are_never_written_even_when_asked_for(eager_jobs, admin_user):
    build_small_dataset()
    export = run_eager_export(eager_jobs, admin_user, ["alpha", "beta", "gamma"], ["train", "val", "test"])
    files = set(files_under(exports.export_dir(export)))
    assert files == EXPECTED_FILES  # no alpha/test, beta/val, nor anything of gamma
    assert {(e["task"], e["split"]) for e in export.excluded} == {
        ("alpha", "test"),
        ("beta", "val"),
        ("beta", "test"),
        ("gamma", "train"),
        ("gamma", "val"),
        ("gamma", "test"),
    }
    card = (exports.export_dir(export) / "README.md").read_text()
    assert "gamma/train: not approved by QC (status: Not reviewed)" in card


def test_manifest_checksums_verify_and_two_exports_of_one_state_are_identical(eager_jobs, admin_user):
    build_small_dataset()
    first = run_eager_export(eager_jobs, admin_user)
    second = run_eager_export(eager_jobs, admin_user)
    assert first.name != second.name
    one, two = files_under(exports.export_dir(first)), files_under(exports.export_dir(second))
    assert one.keys() == two.keys()
    for path in one:
        if path != "manifest.json":
            assert one[path] == two[path], path

    manifest = orjson.loads(one["manifest.json"])
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == EXPECTED_FILES - {"manifest.json"}
    for path, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(one[path]).hexdigest()
        assert entry["size"] == len(one[path])
    lines = "".join(f"{listed[p]['sha256']}  {p}\n" for p in sorted(listed))
    assert manifest["digest"] == hashlib.sha256(lines.encode()).hexdigest() == first.digest == second.digest
    assert exports.verify_export(first) == []
    assert first.file_count == 7 and first.size_bytes == sum(len(b) for b in one.values())

    # What the manifest says about who, what and approvals.
    assert manifest["created_by"] == admin_user.username and manifest["app"]["version"]
    beta = next(t for t in manifest["tasks"] if t["slug"] == "beta")
    assert beta["held_in"] is False and beta["licence"] == "Custom"
    assert beta["splits"]["train"]["records"] == 3
    assert beta["splits"]["train"]["approved_by"] == "rita"
    assert beta["splits"]["train"]["approved_at"].startswith("2026-11-20T09:30")
    assert beta["splits"]["train"]["prompt_versions"] == {"v2": 1}
    assert manifest["totals"]["records"] == 11

    # A changed byte is caught.
    target = exports.export_dir(first) / "data/vqa/alpha/val.jsonl"
    target.write_bytes(target.read_bytes().replace(b"Answer", b"answer", 1))
    assert exports.verify_export(first) == ["data/vqa/alpha/val.jsonl: checksum mismatch"]


def test_interrupted_export_is_invisible_and_the_rerun_matches_a_clean_one(eager_jobs, admin_user, monkeypatch):
    build_small_dataset(samples_per_split=6)
    clean = run_eager_export(eager_jobs, admin_user)

    # A second export dies (as a killed process would: no clean-up runs) after three chunks of one sample.
    calls = {"n": 0}

    def die_on_third_chunk(seconds: float) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(exports.time, "sleep", die_on_third_chunk)
    job_export = exports.start_export(admin_user, chunk_size=1, pause_per_chunk=0.01)
    with pytest.raises(KeyboardInterrupt):
        exports.run_export(job_export, Progress(job_export.job))
    assert not exports.export_dir(job_export).exists()
    work = exports.partial_dir(job_export)
    assert (work / "data/captioning/beta_caps/train.jsonl").stat().st_size > 0
    monkeypatch.undo()

    result = exports.run_export(job_export, Progress(job_export.job))
    assert result["resumed_records"] == 3
    assert not work.exists()
    resumed, reference = files_under(exports.export_dir(job_export)), files_under(exports.export_dir(clean))
    assert resumed.keys() == reference.keys()
    assert all(resumed[p] == reference[p] for p in resumed if p != "manifest.json")
    job_export.refresh_from_db()
    assert job_export.digest == clean.digest and job_export.completed_at


@pytest.mark.parametrize("when", ["before the job starts", "while it runs"])
def test_lost_approval_stops_the_export_before_it_is_published(admin_user, monkeypatch, when):
    build_small_dataset()
    export = exports.start_export(admin_user)

    def unapprove() -> None:
        TaskSplit.objects.filter(task__slug="alpha", split="val").update(qc_status=QCStatus.REJECTED)

    if when == "before the job starts":
        unapprove()
    else:
        real_render = exports.render_card

        def unapprove_then_render(*args, **kwargs):
            unapprove()
            return real_render(*args, **kwargs)

        monkeypatch.setattr(exports, "render_card", unapprove_then_render)
    with pytest.raises(exports.ExportError, match="no longer approved: alpha/val"):
        exports.run_export(export, Progress(export.job))
    assert not exports.export_dir(export).exists() and not exports.partial_dir(export).exists()


def test_archive_streams_every_file(eager_jobs, admin_user):
    build_small_dataset()
    export = run_eager_export(eager_jobs, admin_user)
    stream = exports.archive(export)
    size = len(stream)
    body = b"".join(stream)
    assert len(body) == size
    on_disk = files_under(exports.export_dir(export))
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert {n.removeprefix(export.name + "/"): archive.read(n) for n in archive.namelist()} == on_disk


def test_dataset_card_has_the_paper_tables_for_what_was_exported(eager_jobs, admin_user):
    build_small_dataset()
    export = run_eager_export(eager_jobs, admin_user)
    card = (exports.export_dir(export) / "README.md").read_text()
    # Table 7 shape: one row per task; beta is held out, its val split is not approved.
    assert "| Visual Question Answering | Alpha (`alpha`) | `vqa/alpha` | 4 | 4 | 0 | yes | CC BY 4.0 |" in card
    assert "| Image Captioning | Beta (`beta`) | `captioning/beta_caps` | 3 | 0 | 0 | no | Custom |" in card
    assert "Held-in (used for instruction tuning): alpha." in card and "Held-out: beta." in card
    # Table 3 shape: per group and in total.
    assert "| Image Captioning | 3 | 0 | 0 |" in card and "| **Total** | 7 | 4 | 0 |" in card
    # Table 2 shape: 5 instructions of 6, 6, 2 (alpha) and 3, 9 (beta) words: mean 5.2,
    # sample sd sqrt(30.8 / 4) = 2.77.
    assert "| Instructions | 5 |" in card
    assert "| Image Captioning | 2 |" in card and "| Visual Question Answering | 3 |" in card
    assert "| Tokens per instruction | 5.2 ± 2.8 |" in card
    assert "| Edit distance within a task | " in card and "| Edit distance across tasks | " in card
    # The YAML header names each task's files for `datasets`.
    assert (
        '- config_name: "beta"\n  data_files:\n  - split: train\n    path: "data/captioning/beta_caps/train.jsonl"'
        in card
    )


def test_a_failed_write_fails_the_job_with_the_reason_and_leaves_nothing(eager_jobs, admin_user, monkeypatch):
    build_small_dataset()

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def write(self, data):
            raise OSError(28, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.handle, name)

    real_init = exports.ChunkWriter.__init__
    monkeypatch.setattr(
        exports.ChunkWriter, "__init__", lambda self, handle, *args: real_init(self, FullDisk(handle), *args)
    )
    with eager_jobs():
        export = exports.start_export(admin_user)
    export.refresh_from_db()
    export.job.refresh_from_db()
    assert export.job.status == JobStatus.FAILED and "No space left on device" in export.job.error
    assert export.completed_at is None
    assert list(exports.export_root().iterdir()) == []


def test_a_cancelled_export_stops_and_leaves_nothing(eager_jobs, admin_user, monkeypatch, settings):
    settings.JOB_PROGRESS_MIN_INTERVAL = 0
    build_small_dataset()
    monkeypatch.setattr(exports.time, "sleep", lambda seconds: request_cancel(export.job))
    export = exports.start_export(admin_user, chunk_size=1, pause_per_chunk=0.01)
    with eager_jobs():
        send_job(export.job)
    export.job.refresh_from_db()
    assert export.job.status == JobStatus.CANCELLED
    assert 0 < export.job.done < 11
    assert list(exports.export_root().iterdir()) == []
