"""Every registry task names an adapter that exists; the import page and API show which one and its files."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.registry import read_registry
from pipeline.imports.adapters import ADAPTERS, TASK_ADAPTERS, adapter_for_task
from tests.factories import AdminFactory

REGISTRY_SLUGS = [entry["slug"] for entry in read_registry()]


def test_the_table_has_exactly_the_registry_tasks():
    assert len(REGISTRY_SLUGS) == 40
    assert sorted(TASK_ADAPTERS) == sorted(REGISTRY_SLUGS)


@pytest.mark.parametrize("slug", REGISTRY_SLUGS)
def test_every_registry_task_names_an_adapter_that_exists(slug):
    name = TASK_ADAPTERS[slug]
    assert name in ADAPTERS, f"task {slug} names adapter {name!r}, which is not registered in ADAPTERS"
    assert adapter_for_task(slug) is ADAPTERS[name]


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_adapter_says_what_it_reads(name):
    adapter = ADAPTERS[name]
    assert adapter.name == name and adapter.label and adapter.description
    assert adapter.files and all(spec.default and spec.help for spec in adapter.files)
    assert len({spec.role for spec in adapter.files}) == len(adapter.files)


@pytest.mark.django_db
def test_the_import_page_shows_each_tasks_adapter_and_official_files(client, tasks):
    client.force_login(AdminFactory())
    page = client.get(reverse("import-list"), {"task": "textcap"})
    html = page.content.decode()
    assert page.status_code == 200
    # ?task= starts the form on that task with its adapter selected.
    assert '<option value="textcaps" selected>' in html
    assert '<option value="textcap" selected>' in html
    table = html.split('id="task-adapters"', 1)[1].split("</table>", 1)[0]
    assert "TextCaps_0.1_train.json" in table and "TextVQA_Rosetta_OCR_v0.2_train.json" in table
    assert "something-something-v2-labels.json" in table and "visdial_1.0_train.json" in table
    # The page's script gets the whole task → adapter map with the files as role=default lines.
    assert '"mocheg": {"adapter": "mocheg", "files": "corpus=Corpus2.csv\\nqrels=img_evidence_qrels.csv' in html


@pytest.mark.django_db
def test_the_adapters_api_lists_the_tasks_each_reads(client):
    client.force_login(AdminFactory())
    listing = {entry["name"]: entry for entry in client.get(reverse("api-import-adapters")).json()}
    assert listing["coco-cn"]["tasks"] == ["coco-cn"]
    assert listing["image-folder"]["tasks"] == ["imagenet"]
    assert listing["generic"]["tasks"] == []
