"""Multipart import requests (issue 15, item 18): `-F files=…` and `-F options=<JSON text>` are used or
refused with the accepted forms, never silently dropped."""

from __future__ import annotations

import json

import pytest

from pipeline.models import Job
from tests.factories import AdminFactory
from tests.pipeline.imports.files import vqa_annotation, write_vqa

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(import_root):
    write_vqa(
        import_root / "mp", [{"image_id": 1, "question": "Q?", "question_id": 1}], [vqa_annotation(1, 1, ["yes"])], [1]
    )
    (import_root / "mp" / "questions.json").rename(import_root / "mp" / "v2_OpenEnded_mscoco_val2014_questions.json")
    return "mp"


BASE = {"adapter": "vqa-v2", "task": "vqa-v2", "split": "val"}


def _post(client, data):
    return client.post("/api/imports/", data)  # multipart, as curl -F sends it


def test_files_as_role_equals_path_and_as_json_text_are_used(client, tasks, folder):
    client.force_login(AdminFactory())
    name = "v2_OpenEnded_mscoco_val2014_questions.json"
    response = _post(client, {**BASE, "folder": folder, "files": f"questions={name}"})
    assert response.status_code == 202, response.content
    assert Job.objects.get(pk=response.json()["id"]).params["files"] == {"questions": name}
    response = _post(client, {**BASE, "folder": folder, "files": json.dumps({"questions": name})})
    assert response.status_code == 202, response.content
    assert Job.objects.get(pk=response.json()["id"]).params["files"] == {"questions": name}


def test_options_as_json_text_are_used_and_bad_forms_refused_clearly(client, tasks, folder):
    client.force_login(AdminFactory())
    files = "questions=v2_OpenEnded_mscoco_val2014_questions.json"
    bad_option = _post(client, {**BASE, "folder": folder, "files": files, "options": '{"no_such_option": 1}'})
    assert bad_option.status_code == 400 and "no_such_option" in bad_option.content.decode()  # read, not dropped
    broken = _post(client, {**BASE, "folder": folder, "files": files, "options": "{not json"})
    assert broken.status_code == 400 and "options is not valid JSON" in broken.content.decode()
    vague = _post(client, {**BASE, "folder": folder, "files": "q.json"})
    assert vague.status_code == 400 and "files='q.json' is not understood" in vague.content.decode()
    assert "-F files=key=value" in vague.content.decode()


def _official(import_root, name: str = "official"):
    folder = import_root / name
    write_vqa(folder, [{"image_id": 1, "question": "Q?", "question_id": 1}], [vqa_annotation(1, 1, ["yes"])], [1])
    (folder / "questions.json").rename(folder / "v2_OpenEnded_mscoco_val2014_questions.json")
    (folder / "annotations.json").rename(folder / "v2_mscoco_val2014_annotations.json")
    return folder


def test_vqa_v2_with_the_official_file_names_needs_no_file_mapping(client, tasks, import_root, eager_jobs):
    _official(import_root)
    client.force_login(AdminFactory())
    with eager_jobs():
        response = client.post("/api/imports/", {**BASE, "folder": "official"}, content_type="application/json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == "succeeded" and job.result["created"] == 1, job.error


def test_a_missing_file_error_lists_the_json_files_found(client, tasks, import_root):
    folder = _official(import_root, "two")
    (folder / "v2_OpenEnded_mscoco_train2014_questions.json").write_text("{}")  # two candidates: no guess
    client.force_login(AdminFactory())
    response = client.post("/api/imports/", {**BASE, "folder": "two"}, content_type="application/json")
    detail = response.json()["detail"]
    assert response.status_code == 400 and "questions file 'questions.json' does not exist" in detail
    assert "v2_OpenEnded_mscoco_train2014_questions.json" in detail and "v2_mscoco_val2014_annotations.json" in detail
    assert "questions=<file>" in detail


def test_import_form_placeholders_follow_the_adapter(client, tasks):
    import json

    from pipeline.imports.forms import ImportForm

    examples = json.loads(ImportForm().fields["adapter"].widget.attrs["data-placeholders"])
    assert examples["vqa-v2"]["files"].startswith("questions=questions.json")
    assert "answer_mode" not in examples["vqa-v2"]["options"]  # VQA v2 has no answer_mode; A-OKVQA has
    assert "answer_mode" in examples["a-okvqa"]["options"]
    bound = ImportForm({"adapter": "a-okvqa"})
    assert "answer_mode" in bound.fields["options"].widget.attrs["placeholder"]
    client.force_login(AdminFactory())
    page = client.get("/imports/").content.decode()
    assert "data-placeholders" in page and "adapter.dataset.placeholders" in page
