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


# ---- 2. the check pass rejects what the database or the export encoder cannot store --------------


def _nested(depth: int) -> str:
    """JSON text of an object nested `depth` levels deep (built as text: json.dumps would recurse)."""
    return '{"x": ' * (depth - 1) + '{"leaf": 1}' + "}" * (depth - 1)


def _generic_rows(import_root, rows: list[str]) -> None:
    from tests.pipeline.imports.files import write_image

    write_image(import_root / "g" / "images" / "a.png")
    (import_root / "g" / "records.jsonl").write_text("".join(line + "\n" for line in rows))


def _generic_line(n: int, deep: str | None = None, **extra) -> str:
    import json

    line = json.dumps({"id": f"r{n}", "image": "a.png", "output": f"answer {n}", **extra})
    return line if deep is None else line[:-1] + f', "deep": {deep}}}'


@pytest.mark.django_db(transaction=True)  # each batch commits on its own, as in production
def test_rows_the_database_or_the_encoder_cannot_store_are_rejected_in_the_check_pass(import_root, tasks, settings):
    settings.IMPORT_META_MAX_DEPTH = 32
    bad = {
        2: _generic_line(2, inputs="a \u0000 b"),
        3: _generic_line(3, note="nul \u0000 in meta"),
        4: _generic_line(4, **{"k\u0000": "nul in a key"}),
        5: _generic_line(5, deep=_nested(1000)),
        6: _generic_line(6, deep=_nested(300)),  # PostgreSQL stores it; the export encoder (orjson) refuses
        7: _generic_line(7, deep=_nested(33)),
        8: _generic_line(8, output="x\u0000"),
        9: _generic_line(9, text="\ud800 alone"),
    }
    lines = [_generic_line(1), *bad.values(), _generic_line(10, deep=_nested(31))]
    _generic_rows(import_root, lines)
    importer = importer_for("generic", "gqa", "val", "g", batch_size=1)
    from pipeline.imports.importer import ImportRejected

    with pytest.raises(ImportRejected) as caught:
        importer.run()
    assert Sample.objects.count() == 0  # nothing written: the check pass found them all, before batch 1
    messages = {row["line"]: row["message"] for row in caught.value.result["first_rejected"]}
    assert sorted(messages) == sorted(bad)
    assert messages[2] == "inputs contains a NUL character (\\u0000), which the database cannot store"
    assert messages[3] == "meta.note contains a NUL character (\\u0000), which the database cannot store"
    assert messages[4].startswith("a key in meta contains a NUL character")
    assert messages[5] == messages[6] == messages[7]
    assert messages[5].startswith("meta.deep.x.x")
    assert messages[5].endswith("nests deeper than 32 levels (IMPORT_META_MAX_DEPTH)")
    assert messages[8].startswith("output contains a NUL")
    assert messages[9].startswith("not valid JSON (no low surrogate")  # orjson refuses it already

    # Allowed as rejected rows, the rest goes in and every stored row exports.
    outcome = importer_for("generic", "gqa", "val", "g", batch_size=1, max_rejected=len(bad)).run()
    assert (outcome.created, outcome.rejected) == (2, len(bad))
    from pipeline.export.record import build_record, encode_line

    for sample in Sample.objects.all():
        assert encode_line(build_record(sample))


# ---- 7. integers beyond 64 bits in streamed JSON ---------------------------------------------


def test_an_integer_beyond_64_bits_does_not_make_a_json_file_truncated(import_root, tasks):
    from tests.pipeline.imports.files import write_json, write_video

    big = 123456789012345678901234567890
    write_video(import_root / "v" / "videos" / "video1.mp4", [(i * 20, 0, 0) for i in range(8)])
    write_json(
        import_root / "v" / "train_qa.json",
        [
            {"id": 1, "video_id": 1, "question": "What?", "answer": "a", "views": big},  # a field not kept
            {"id": 2, "video_id": 1, "question": "Who?", "answer": "b", "category_id": big},  # kept in meta
            {"id": 3, "video_id": 1, "question": "Why?", "answer": "c", "category_id": 1.5},
        ],
    )
    outcome = importer_for("video-qa", "msrvtt-qa", "train", "v", max_rejected=1).run()
    assert (outcome.records, outcome.created, outcome.rejected) == (3, 2, 1)
    [row] = outcome.first_rejected
    assert (row["line"], row["message"]) == (
        2,
        "meta.category_id is an integer beyond 64 bits, which the M3IT export cannot write",
    )
    assert Sample.objects.get(source_id="3").meta["category_id"] == 1.5
