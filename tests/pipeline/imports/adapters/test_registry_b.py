"""The VQA, knowledge/reasoning and video QA adapters are registered under their registry task slugs."""

from __future__ import annotations

import pytest

from annotator.registry import read_registry
from pipeline.imports.adapters import ADAPTERS
from pipeline.imports.adapters.base import RecordAdapter

SLUGS = [
    "docvqa",
    "st-vqa",
    "text-vqa",
    "ocr-vqa",
    "gqa",
    "shapes",
    "fm-iqa",
    "science-qa",
    "viquae",
    "clevr",
    "nlvr",
    "vcr",
    "visual-mrc",
    "ivqa",
    "msvd-qa",
    "activitynet-qa",
]


@pytest.mark.parametrize("slug", SLUGS)
def test_adapter_is_named_after_its_registry_task(slug):
    assert slug in {entry["slug"] for entry in read_registry()}
    adapter = ADAPTERS[slug]
    assert adapter.name == slug and adapter.label and adapter.description
    assert adapter.files and all(spec.default and spec.help for spec in adapter.files)
    assert len({spec.role for spec in adapter.files}) == len(adapter.files)
    assert type(adapter).__doc__ and len(type(adapter).__doc__) > 200  # names the format's public reference
    if isinstance(adapter, RecordAdapter):
        roles = {spec.role for spec in adapter.files}
        assert adapter.media_role in roles
        assert adapter.record_role in roles or type(adapter).records is not RecordAdapter.records
