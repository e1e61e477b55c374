"""Issue 15, data safety: what the check pass must reject per row (value types, what the database or
the export encoder cannot store) and JSON the streaming readers must not refuse as a whole."""

from __future__ import annotations

import base64

import pytest

from pipeline.models import Sample
from tests.pipeline.imports.files import image_bytes, importer_for, write_jsonl

pytestmark = pytest.mark.django_db

PNG = base64.b64encode(image_bytes((1, 2, 3))).decode()


def _m3it(**fields):
    record = {"instruction": "Say it.", "inputs": "Q?", "outputs": "An answer.", "image_base64_str": [PNG], "meta": {}}
    record.update(fields)
    return {k: v for k, v in record.items() if v is not ...}


def _messages(import_root, records, max_rejected=100):
    write_jsonl(import_root / "m3it" / "train.jsonl", records)
    outcome = importer_for("m3it-jsonl", "okvqa", "train", "m3it", max_rejected=max_rejected).run()
    return outcome, {row["line"]: row["message"] for row in outcome.first_rejected}


# ---- 1. the M3IT re-import checks every key's type ----------------------------------------------


def test_m3it_reimport_rejects_each_wrong_value_type_on_its_own_line(import_root, tasks):
    records = [
        _m3it(meta={"source_id": "good"}),
        _m3it(outputs=["a", "b"]),
        _m3it(meta="not an object"),
        _m3it(inputs=None),
        _m3it(image_base64_str=PNG),
        _m3it(instruction=...),
        _m3it(inputs=...),
        _m3it(meta=...),
        _m3it(instruction=3, outputs={"x": 1}),
        _m3it(image_base64_str=[PNG, 7]),
        _m3it(meta={"original_answer": ["pink"]}),
    ]
    outcome, messages = _messages(import_root, records)
    assert (outcome.created, outcome.rejected) == (1, 10)
    assert messages == {
        2: "outputs must be a string, not a list",
        3: "meta must be an object, not a string",
        4: "missing field(s): inputs",
        5: "image_base64_str must be a list of base64 strings, not a string",
        6: "missing field(s): instruction",
        7: "missing field(s): inputs",
        8: "missing field(s): meta",
        9: "instruction must be a string, not a number; outputs must be a string, not an object",
        10: "image 1 is not a base64 string but a number",
        11: "original_answer must be a string, not a list",
    }
    assert Sample.objects.get().source_id == "good"


def test_m3it_reimport_still_reads_the_published_key_names(import_root, tasks):
    record = {"instruction": "Say it.", "question": "Q?", "paraphrased_answer": "It is.", "img_str": [PNG], "meta": {}}
    outcome, messages = _messages(import_root, [record], max_rejected=0)
    assert (outcome.created, messages) == (1, {})
    assert (Sample.objects.get().inputs, Sample.objects.get().outputs) == ("Q?", "It is.")
