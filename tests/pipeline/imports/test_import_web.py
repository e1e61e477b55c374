"""Import pages, the samples browser and the import/sample API, as an admin would use them."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pipeline.models import Job, JobStatus, ParaphraseState, Sample, SampleQCState
from pipeline.samples import counts
from tests.factories import AdminFactory, AnnotatorFactory, ReviewerFactory, SampleFactory, TaskFactory
from tests.pipeline.imports.files import id_image, image_bytes, vqa_annotation, write_json, write_video, write_vqa

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(AdminFactory())
    return client


def _m3it_jsonl(count: int) -> bytes:
    png = base64.b64encode(image_bytes((3, 4, 5))).decode()
    return "".join(
        json.dumps(
            {
                "instruction": "i",
                "inputs": f"q{i}",
                "outputs": f"a{i}",
                "image_base64_str": [png],
                "meta": {"source_id": f"m{i}"},
            }
        )
        + "\n"
        for i in range(count)
    ).encode()


def _vqa_zip(tmp_path, extra: dict[str, bytes] | None = None, top: str = "") -> bytes:
    write_vqa(
        tmp_path / "src",
        [{"image_id": 3, "question": "What is it?", "question_id": 30}],
        [vqa_annotation(30, 3, ["a cat"] * 10)],
        image_ids=[3],
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in (tmp_path / "src").rglob("*"):
            if path.is_file():
                archive.write(path, top + path.relative_to(tmp_path / "src").as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_import_page_is_for_admins_only(client, tasks):
    url = reverse("import-list")
    assert client.get(url).status_code == 302  # to the login page
    for user in (AnnotatorFactory(), ReviewerFactory()):
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.force_login(AdminFactory())
    page = client.get(url).content.decode()
    assert "coco-karpathy" in page and "dataset_coco.json" in page and "answer_mode" in page


def test_upload_one_file_imports_and_shows_counts(admin_client, import_root, tasks, eager_jobs):
    upload = SimpleUploadedFile("train.jsonl", _m3it_jsonl(3))
    with eager_jobs():
        response = admin_client.post(
            reverse("import-list"),
            {"adapter": "m3it-jsonl", "task": "okvqa", "split": "train", "upload": upload, "max_rejected": 0},
        )
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == reverse("import-detail", args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.params["files"] == {"records": "train.jsonl"}
    assert sorted(Sample.objects.values_list("source_id", flat=True)) == ["m0", "m1", "m2"]
    page = admin_client.get(response.url).content.decode()
    assert "data-job-url" in page and "skipped as duplicates" in page
    assert "?task=okvqa&split=train" in page


def test_upload_zip_with_files_and_images(admin_client, import_root, tasks, eager_jobs, tmp_path):
    upload = SimpleUploadedFile("vqa.zip", _vqa_zip(tmp_path))
    with eager_jobs():
        admin_client.post(
            reverse("import-list"),
            {"adapter": "vqa-v2", "task": "vqa-v2", "split": "val", "upload": upload, "max_rejected": 0},
        )
    sample = Sample.objects.get()
    assert (sample.source_id, sample.outputs, sample.images.get().width) == ("30", "a cat", 64)


def test_zip_of_a_folder_is_imported_from_inside_it(admin_client, import_root, tasks, eager_jobs, tmp_path):
    upload = SimpleUploadedFile("vqa.zip", _vqa_zip(tmp_path, top="my-vqa/"))
    with eager_jobs():
        admin_client.post(
            reverse("import-list"),
            {"adapter": "vqa-v2", "task": "vqa-v2", "split": "val", "upload": upload, "max_rejected": 0},
        )
    job = Job.objects.get()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.params["folder"].endswith("/my-vqa") and Sample.objects.get().outputs == "a cat"


def test_zip_slip_upload_is_refused_and_nothing_kept(admin_client, import_root, tasks, tmp_path):
    upload = SimpleUploadedFile("vqa.zip", _vqa_zip(tmp_path, {"../../escape.txt": b"x"}))
    response = admin_client.post(
        reverse("import-list"),
        {"adapter": "vqa-v2", "task": "vqa-v2", "split": "val", "upload": upload, "max_rejected": 0},
    )
    assert response.status_code == 400
    assert "zip entry &#x27;../../escape.txt&#x27; points outside the import folder" in response.content.decode()
    assert Job.objects.count() == 0 and Sample.objects.count() == 0
    assert list((import_root / "uploads").iterdir()) == []


def test_server_folder_outside_the_import_root_is_refused(admin_client, import_root, tasks):
    response = admin_client.post(
        reverse("import-list"),
        {"adapter": "vqa-v2", "task": "vqa-v2", "split": "val", "folder": "../../etc", "max_rejected": 0},
    )
    assert response.status_code == 400
    assert "is outside the import folder" in response.content.decode()
    assert Job.objects.count() == 0


def test_upload_over_the_size_limit_is_refused(admin_client, import_root, tasks, settings):
    settings.IMPORT_UPLOAD_MAX_BYTES = 100
    upload = SimpleUploadedFile("train.jsonl", _m3it_jsonl(3))
    response = admin_client.post(
        reverse("import-list"),
        {"adapter": "m3it-jsonl", "task": "okvqa", "split": "train", "upload": upload, "max_rejected": 0},
    )
    assert response.status_code == 400 and "The upload is larger than 100 bytes." in response.content.decode()
    assert Job.objects.count() == 0


def test_unknown_adapter_in_the_form(admin_client, import_root, tasks):
    response = admin_client.post(
        reverse("import-list"), {"adapter": "nope", "task": "okvqa", "split": "train", "folder": ".", "max_rejected": 0}
    )
    assert response.status_code == 400 and "Select a valid choice. nope is not one of" in response.content.decode()


def test_rejected_rows_listed_with_a_downloadable_report_and_rerun(admin_client, import_root, tasks, eager_jobs):
    good = _m3it_jsonl(2)
    data = good + b"not json at all\n" + b'{"inputs": "no outputs"}\n'
    with eager_jobs():
        admin_client.post(
            reverse("import-list"),
            {
                "adapter": "m3it-jsonl",
                "task": "okvqa",
                "split": "val",
                "upload": SimpleUploadedFile("val.jsonl", data),
                "max_rejected": 0,
            },
        )
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED and Sample.objects.count() == 0
    page = admin_client.get(reverse("import-detail", args=[job.pk])).content.decode()
    assert "First rejected rows" in page and "val.jsonl" in page and "line 3" in page and "line 4" in page
    assert "missing field(s): instruction, outputs, image_base64_str, meta" in page
    report = admin_client.get(reverse("import-report", args=[job.pk]))
    lines = b"".join(report.streaming_content).decode().splitlines()
    assert report["Content-Disposition"].startswith("attachment") and len(lines) == 3
    assert lines[1].startswith('val.jsonl,line,3,,"not valid JSON (')

    # Re-run with the bad lines allowed: the two good rows go in.
    job.params = {**job.params, "max_rejected": 2}
    job.save()
    with eager_jobs():
        response = admin_client.post(reverse("import-rerun", args=[job.pk]))
    rerun = Job.objects.exclude(pk=job.pk).get()
    assert response.url == reverse("import-detail", args=[rerun.pk])
    assert rerun.status == JobStatus.SUCCEEDED and rerun.result["created"] == 2 and rerun.result["rejected"] == 2

    other = AnnotatorFactory()
    admin_client.force_login(other)
    assert admin_client.get(reverse("import-report", args=[job.pk])).status_code == 404


def test_sample_browser_filters_pages_and_shows_frames(admin_client, import_root, tasks, eager_jobs, monkeypatch):
    task = TaskFactory(slug="browse-me")
    samples = [SampleFactory(task=task, split="train", image=id_image(i, "PNG")) for i in range(5)]
    counts.set_states(Sample.objects.filter(pk=samples[1].pk), paraphrase_state=ParaphraseState.PENDING)
    counts.set_states(Sample.objects.filter(pk=samples[2].pk), qc_state=SampleQCState.APPROVED)
    SampleFactory(task=task, split="val")
    colours = [(i * 20, 0, 0) for i in range(16)]
    write_video(import_root / "v" / "videos" / "video1.mp4", colours)
    write_json(import_root / "v" / "train_qa.json", [{"id": 9, "video_id": 1, "question": "what?", "answer": "x"}])
    with eager_jobs():
        admin_client.post(
            reverse("import-list"),
            {"adapter": "video-qa", "task": "msrvtt-qa", "split": "train", "folder": "v", "max_rejected": 0},
        )
    url = reverse("sample-list")
    monkeypatch.setattr("pipeline.samples.views.SAMPLES_PER_PAGE", 2)

    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get(url, {"task": "browse-me", "split": "train"}).content.decode()
    assert not any("COUNT(" in q["sql"].upper() or "DISTINCT" in q["sql"].upper() for q in queries.captured_queries)
    assert f"#{samples[0].pk}<" in first and f"#{samples[1].pk}<" in first and f"#{samples[2].pk}<" not in first
    assert f"after={samples[1].pk}" in first and "before=" not in first
    assert reverse("image-file", args=[samples[0].images.get().sha256]) in first
    second = admin_client.get(url, {"task": "browse-me", "split": "train", "after": samples[1].pk}).content.decode()
    assert f"#{samples[2].pk}<" in second and f"#{samples[3].pk}<" in second
    assert f"before={samples[2].pk}" in second and f"after={samples[3].pk}" in second
    back = admin_client.get(url, {"task": "browse-me", "split": "train", "before": samples[2].pk}).content.decode()
    assert f"#{samples[0].pk}<" in back and f"#{samples[1].pk}<" in back

    pending = admin_client.get(url, {"task": "browse-me", "paraphrase_state": "pending"}).content.decode()
    assert f"#{samples[1].pk}<" in pending and f"#{samples[0].pk}<" not in pending
    approved = admin_client.get(url, {"qc_state": "approved"}).content.decode()
    assert f"#{samples[2].pk}<" in approved and f"#{samples[3].pk}<" not in approved

    video = admin_client.get(url, {"task": "msrvtt-qa"}).content.decode()
    assert 'class="strip"' in video and video.count('class="frame"') == 8
    detail = admin_client.get(reverse("sample-detail", args=[Sample.objects.get(source_id="9").pk]))
    assert detail.status_code == 200 and "what?" in detail.content.decode()


def test_sample_pages_are_for_admins_only(client, tasks):
    sample = SampleFactory()
    client.force_login(ReviewerFactory())
    assert client.get(reverse("sample-list")).status_code == 404
    assert client.get(reverse("sample-detail", args=[sample.pk])).status_code == 404


def test_api_starts_imports_and_lists_samples(client, import_root, tasks, eager_jobs):
    write_vqa(
        import_root / "api",
        [{"image_id": 1, "question": "Q?", "question_id": 1}],
        [vqa_annotation(1, 1, ["yes"])],
        image_ids=[1],
    )
    client.force_login(AnnotatorFactory())
    assert client.post("/api/imports/", {}, content_type="application/json").status_code == 404
    assert client.get("/api/samples/").status_code == 404
    client.force_login(AdminFactory())
    body = {"adapter": "vqa-v2", "task": "vqa-v2", "split": "train", "folder": "api"}
    with eager_jobs():
        response = client.post("/api/imports/", body, content_type="application/json")
    assert response.status_code == 202, response.content
    assert Job.objects.get(pk=response.json()["id"]).status == JobStatus.SUCCEEDED

    bad = client.post("/api/imports/", {**body, "folder": "../x"}, content_type="application/json")
    assert bad.status_code == 400 and "outside the import folder" in bad.json()["detail"]
    unknown = client.post("/api/imports/", {**body, "adapter": "nope"}, content_type="application/json")
    assert unknown.status_code == 400 and "adapter" in unknown.json()

    with eager_jobs():
        uploaded = client.post(
            "/api/imports/",
            {
                "adapter": "m3it-jsonl",
                "task": "okvqa",
                "split": "val",
                "upload": SimpleUploadedFile("val.jsonl", _m3it_jsonl(2)),
            },
        )
    assert uploaded.status_code == 202
    assert Sample.objects.filter(task__slug="okvqa", split="val").count() == 2

    listing = client.get("/api/samples/", {"task": "vqa-v2"}).json()
    assert [s["source_id"] for s in listing["results"]] == ["1"]
    assert listing["results"][0]["images"][0]["url"].startswith("/images/")
    assert listing["results"][0]["paraphrase_state"] == "pending"
    adapters = client.get("/api/imports/adapters/").json()
    assert {a["name"] for a in adapters} >= {"vqa-v2", "video-qa", "generic"}
    assert [j["id"] for j in client.get("/api/imports/").json()["results"]] == sorted(
        Job.objects.values_list("id", flat=True), reverse=True
    )  # newest first, like the import page


def _patched_zip(data: bytes, *, flags: int = 0, method: int | None = None) -> bytes:
    """The zip with `flags` set and the compression method replaced in every local and central header."""
    out = bytearray(data)
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        start = out.find(signature)
        while start != -1:
            old = int.from_bytes(out[start + flag_at : start + flag_at + 2], "little")
            out[start + flag_at : start + flag_at + 2] = (old | flags).to_bytes(2, "little")
            if method is not None:
                out[start + method_at : start + method_at + 2] = method.to_bytes(2, "little")
            start = out.find(signature, start + 4)
    return bytes(out)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"flags": 0x1}, "the zip cannot be unpacked (encrypted entries are not supported)"),
        ({"method": 99}, "the zip uses a compression method that cannot be read"),
    ],
)
def test_encrypted_or_unreadable_zip_is_refused_and_nothing_kept(
    admin_client, import_root, tasks, tmp_path, patch, message
):
    upload = SimpleUploadedFile("vqa.zip", _patched_zip(_vqa_zip(tmp_path), **patch))
    response = admin_client.post(
        reverse("import-list"),
        {"adapter": "vqa-v2", "task": "vqa-v2", "split": "val", "upload": upload, "max_rejected": 0},
    )
    assert response.status_code == 400
    assert message in response.content.decode(), response.content.decode()[-3000:]
    assert Job.objects.count() == 0 and Sample.objects.count() == 0
    assert list((import_root / "uploads").iterdir()) == []
