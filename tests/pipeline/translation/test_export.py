"""The M3IT-80 layout in an export: loads with `datasets`, counts match the plan, unusable left out."""

from __future__ import annotations

import orjson
import pytest
from datasets import load_dataset

from pipeline.export import writer as exports
from pipeline.models import Language, TranslationUnusable
from pipeline.translation import plan as plans
from pipeline.translation import runner

from .data import POOL, translated_task

pytestmark = pytest.mark.django_db


def _export(eager_jobs, user):
    with eager_jobs():
        export = exports.start_export(user, None, None)
    export.refresh_from_db()
    assert export.job.status == "succeeded", export.job.error
    return export, exports.export_dir(export)


def test_m3it80_files_load_with_datasets_and_match_the_plan(tiny_settings, eager_jobs, admin_user, reviewer):
    task = translated_task(approved=True)
    task.reviewer = reviewer
    task.save()
    plan = plans.build_plan(None, ["fr", "vi", "ar"])
    with eager_jobs():
        job = runner.start_translation(admin_user, language_codes=["fr", "vi", "ar"])
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    TranslationUnusable.objects.create(task=task, language=Language.objects.get(code="vi"), note="garbled",
                                       marked_by=reviewer)  # fmt: skip

    export, root = _export(eager_jobs, admin_user)
    slug = task.slug
    for split_plan in plan.splits:
        split = split_plan.split
        n = len(split_plan.sample_ids)
        english = load_dataset("json", data_files=str(root / f"data/{slug}/{split}_500.jsonl"), split="train")
        assert english.num_rows == n
        for code in ("fr", "ar"):
            path = root / f"data/{slug}/{slug}_{split}_{code}.jsonl"
            ds = load_dataset("json", data_files=str(path), split="train")
            assert ds.num_rows == n
            assert set(ds.column_names) == {"instruction", "inputs", "outputs", "image_base64_str", "meta"}
            assert ds[0]["meta"]["language"] == code and ds[0]["image_base64_str"] == english[0]["image_base64_str"]
            assert ds[0]["meta"]["source_id"] == english[0]["meta"]["source_id"]
        assert not (root / f"data/{slug}/{slug}_{split}_vi.jsonl").exists()
    pool = [orjson.loads(line) for line in (root / "data/instructions/fr.jsonl").read_bytes().splitlines()]
    assert [line["task"] for line in pool] == [slug] and len(pool[0]["instructions"]) == len(POOL)
    assert not (root / "data/instructions/vi.jsonl").exists()

    manifest = orjson.loads((root / "manifest.json").read_bytes())
    section = manifest["translation"]
    assert [lang["code"] for lang in section["languages"]] == ["ar", "fr"]
    assert section["records"] == 2 * plan.samples
    assert section["models"] == [f"transformers:{tiny_settings.TRANSLATION_MODEL}"]
    assert any("marked unusable by" in e["reason"] and "garbled" in e["reason"] for e in section["excluded"])
    listed = {f["path"] for f in manifest["files"]}
    assert f"data/{slug}/{slug}_val_fr.jsonl" in listed and "data/instructions/ar.jsonl" in listed
    card = (root / "README.md").read_text()
    assert f'config_name: "{slug}-fr"' in card and "marked unusable" in card and "Translations (M3IT-80" in card
    assert exports.verify_export(export) == []

    # deterministic: a second export of the same state has the same digest
    again, _ = _export(eager_jobs, admin_user)
    assert again.digest == export.digest
