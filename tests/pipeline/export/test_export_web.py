"""Export pages, API and command: who may use them, what they show, and paths that stay inside the root."""

from __future__ import annotations

import io
import os
import zipfile

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from pipeline.export import writer as exports
from pipeline.models import Export, Job, JobStatus
from tests.factories import UserFactory
from tests.pipeline.export.export_data import build_small_dataset


@pytest.fixture(autouse=True)
def _own_export_root(settings, tmp_path):
    settings.EXPORT_ROOT = tmp_path / "exports"


@pytest.fixture
def finished_export(db, eager_jobs, admin_user):
    build_small_dataset()
    with eager_jobs():
        export = exports.start_export(admin_user)
    export.refresh_from_db()
    assert export.completed_at, export.job.error
    return export


def web_urls(export: Export) -> list[tuple[str, str]]:
    return [
        ("get", reverse("export-list")),
        ("post", reverse("export-list")),
        ("get", reverse("export-detail", args=[export.pk])),
        ("get", reverse("export-download", args=[export.pk])),
        ("get", reverse("export-file", args=[export.pk, "README.md"])),
        ("post", reverse("export-delete", args=[export.pk])),
    ]


def api_urls(export: Export) -> list[tuple[str, str]]:
    return [
        ("get", reverse("api-export-list")),
        ("post", reverse("api-export-list")),
        ("get", reverse("api-export-detail", args=[export.pk])),
        ("get", reverse("api-export-download", args=[export.pk])),
        ("delete", reverse("api-export-detail", args=[export.pk])),
    ]


@pytest.mark.parametrize("role", ["annotator", "reviewer", "plain"])
def test_only_admins_reach_exports_everyone_else_gets_404(client, finished_export, role):
    user = UserFactory(role=None if role == "plain" else role)
    client.force_login(user)
    for method, url in web_urls(finished_export) + api_urls(finished_export):
        response = getattr(client, method)(url, {"tasks": ["alpha"], "splits": ["train"]} if method == "post" else None)
        assert response.status_code == 404, (method, url, response.status_code)
    assert Export.objects.count() == 1 and exports.export_dir(finished_export).is_dir()


def test_anonymous_users_go_to_login_on_pages_and_get_403_from_the_api(client, finished_export):
    for method, url in web_urls(finished_export):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
    for method, url in api_urls(finished_export):  # 403 like every API endpoint (issue 15: was 404)
        assert getattr(client, method)(url).status_code == 403, url
    assert Export.objects.count() == 1


def test_admin_pages_show_the_export_its_files_and_what_was_left_out(client, admin_user, finished_export):
    client.force_login(admin_user)
    listing = client.get(reverse("export-list")).content.decode()
    assert finished_export.name in listing and admin_user.username in listing
    # The form ticks tasks with an approved split and leaves gamma unticked.
    assert 'value="alpha" id="task-alpha" checked' in listing and 'value="gamma" id="task-gamma">' in listing

    page = client.get(reverse("export-detail", args=[finished_export.pk])).content.decode()
    manifest = exports.read_manifest(finished_export)
    for entry in manifest["files"]:
        assert entry["path"] in page and entry["sha256"] in page
    assert str(exports.export_dir(finished_export)) in page
    assert "not approved by QC (status: In review)" in page  # beta/val
    assert finished_export.digest in page


def test_an_export_whose_folder_was_removed_from_disk_says_so_instead_of_failing(client, admin_user, finished_export):
    import shutil

    shutil.rmtree(exports.export_dir(finished_export))
    client.force_login(admin_user)
    page = client.get(reverse("export-detail", args=[finished_export.pk]))
    assert page.status_code == 200
    assert "no longer on disk" in page.content.decode()
    api = client.get(f"/api/exports/{finished_export.pk}/")
    assert api.status_code == 200
    assert api.json()["files"] == [] and "no longer on disk" in api.json()["files_problem"]


def test_admin_starts_an_export_from_the_page_and_unapproved_choices_are_reported(client, admin_user, db, eager_jobs):
    build_small_dataset()
    client.force_login(admin_user)
    with eager_jobs():
        response = client.post(reverse("export-list"), {"tasks": ["alpha", "gamma"], "splits": ["train", "test"]})
    export = Export.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("export-detail", args=[export.pk])
    export.refresh_from_db()
    assert [(i["task"], i["split"]) for i in export.included] == [("alpha", "train")]
    page = client.get(response["Location"]).content.decode()
    assert "gamma" in page and "alpha" in page and "Asked for but left out" in page

    refused = client.post(reverse("export-list"), {"tasks": ["gamma"], "splits": ["train"]})
    assert refused.status_code == 400 and "Nothing to export" in refused.content.decode()
    empty = client.post(reverse("export-list"), {"splits": ["train"]})
    assert empty.status_code == 400 and "Choose at least one task." in empty.content.decode()
    assert Export.objects.count() == 1


def test_api_start_list_detail_download_delete(client, admin_user, db, eager_jobs):
    build_small_dataset()
    client.force_login(admin_user)
    with eager_jobs():
        created = client.post(reverse("api-export-list"), {"tasks": ["beta", "gamma"]}, content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert [(i["task"], i["split"]) for i in body["included"]] == [("beta", "train")]
    assert {(e["task"], e["split"]) for e in body["excluded"]} == {
        ("beta", "val"),
        ("beta", "test"),
        ("gamma", "train"),
        ("gamma", "val"),
        ("gamma", "test"),
    }

    listed = client.get(reverse("api-export-list")).json()["results"]
    assert [e["id"] for e in listed] == [body["id"]]
    detail = client.get(reverse("api-export-detail", args=[body["id"]])).json()
    assert detail["job"]["status"] == "succeeded"
    assert {f["path"] for f in detail["files"]} == {
        "README.md",
        "data/captioning/beta_caps/instructions.json",
        "data/captioning/beta_caps/train.jsonl",
    }

    download = client.get(reverse("api-export-download", args=[body["id"]]))
    assert download.status_code == 200 and download.streaming
    payload = b"".join(download.streaming_content)
    assert int(download["Content-Length"]) == len(payload)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert f"{detail['name']}/data/captioning/beta_caps/train.jsonl" in archive.namelist()

    bad = client.post(reverse("api-export-list"), {"tasks": ["nope"]}, content_type="application/json")
    assert bad.status_code == 400 and "unknown task(s): nope" in bad.json()["detail"]
    bad_split = client.post(reverse("api-export-list"), {"splits": ["dev"]}, content_type="application/json")
    assert bad_split.status_code == 400

    export = Export.objects.get(pk=body["id"])
    folder = exports.export_dir(export)
    assert client.delete(reverse("api-export-detail", args=[body["id"]])).status_code == 204
    assert not folder.exists() and not Export.objects.filter(pk=body["id"]).exists()
    assert Job.objects.filter(pk=export.job_id).exists()  # the job stays in the history


def test_a_running_export_cannot_be_deleted(client, admin_user, db):
    build_small_dataset()
    export = exports.start_export(admin_user)  # queued, no worker
    client.force_login(admin_user)
    response = client.delete(reverse("api-export-detail", args=[export.pk]))
    assert response.status_code == 400 and "still running" in response.json()["detail"]
    page = client.post(reverse("export-delete", args=[export.pk]), follow=True)
    assert "still running" in page.content.decode()
    assert Export.objects.filter(pk=export.pk).exists()


@pytest.mark.parametrize(
    "relative",
    [
        "../../../../etc/passwd",
        "data/../../outside.txt",
        "%2e%2e/%2e%2e/outside.txt",
        "/etc/passwd",
        "data/vqa/alpha/.hidden",
        "data/vqa/alpha/link.jsonl",
    ],
)
def test_file_paths_cannot_escape_the_export(client, admin_user, finished_export, relative, tmp_path):
    outside = tmp_path / "exports" / "outside.txt"
    outside.write_text("secret")
    root = exports.export_dir(finished_export)
    os.symlink(outside, root / "data/vqa/alpha/link.jsonl")
    # Even if the manifest were tampered with to list the link, it is refused.
    manifest = orjson.loads((root / "manifest.json").read_bytes())
    manifest["files"].append({"path": "data/vqa/alpha/link.jsonl", "sha256": "0" * 64, "size": 6})
    (root / "manifest.json").write_bytes(orjson.dumps(manifest))
    client.force_login(admin_user)
    response = client.get(f"/exports/{finished_export.pk}/files/{relative}")
    assert response.status_code == 404
    assert b"secret" not in b"".join(getattr(response, "streaming_content", [response.content]))
    ok = client.get(reverse("export-file", args=[finished_export.pk, "data/vqa/alpha/instructions.json"]))
    assert ok.status_code == 200


def test_an_export_name_that_leaves_the_root_is_refused(client, admin_user, finished_export):
    Export.objects.filter(pk=finished_export.pk).update(name="../../etc")
    client.force_login(admin_user)
    assert client.get(reverse("export-download", args=[finished_export.pk])).status_code == 404
    assert client.get(reverse("api-export-download", args=[finished_export.pk])).status_code == 404
    with pytest.raises(exports.ExportError, match="unsafe export name"):
        exports.export_dir(Export.objects.get(pk=finished_export.pk))


@pytest.mark.django_db(transaction=True)
def test_manage_py_export_writes_the_export_with_a_progress_bar(capsys):
    build_small_dataset()
    admin = UserFactory(username="boss", is_staff=True)
    call_command("export", "--task", "alpha", "--task", "beta", "--split", "train", "--user", "boss")
    out, err = capsys.readouterr()
    export = Export.objects.get()
    assert export.created_by == admin and export.job.status == JobStatus.SUCCEEDED
    assert "left out alpha/val" not in out  # only train was asked for
    assert "7 records in 6 files" in out and export.digest in out
    assert f"job #{export.job_id} export" in err and "100%" in err and "7/7" in err and "MB written" in err
    assert sorted(p.name for p in exports.export_dir(export).rglob("*.jsonl")) == ["train.jsonl", "train.jsonl"]

    with pytest.raises(CommandError, match="Nothing to export"):
        call_command("export", "--task", "gamma")
    with pytest.raises(CommandError, match="no active admin"):
        call_command("export", "--user", "nobody")
