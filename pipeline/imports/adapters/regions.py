"""Region tasks: a JSONL of image path + boxes; the boxes are drawn in red on a copy of the image."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.imports.adapters.base import (
    Adapter,
    Box,
    Draft,
    FileSpec,
    ImageFile,
    ImportInputError,
    Location,
    OptionSpec,
    Rejected,
    Row,
    SourceFiles,
    Target,
    jsonl_lines,
)
from pipeline.imports.adapters.generic import field_value


def parse_boxes(value: Any, box_format: str) -> tuple[Box, ...]:
    """Boxes as (x0, y0, x1, y1) pixel tuples; raises ValueError with a readable reason."""
    if isinstance(value, list) and len(value) == 4 and all(isinstance(v, int | float) for v in value):
        value = [value]  # one box given without the outer list
    if not isinstance(value, list) or not value:
        raise ValueError("boxes must be a non-empty list of [x0, y0, x1, y1]")
    boxes = []
    for index, box in enumerate(value):
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
            raise ValueError(f"box {index} must be four numbers")
        x0, y0, a, b = (float(v) for v in box)
        x1, y1 = (x0 + a, y0 + b) if box_format == "xywh" else (a, b)
        if x1 <= x0 or y1 <= y0 or min(x0, y0) < 0:
            raise ValueError(f"box {index} {box} is empty or negative")
        boxes.append((x0, y0, x1, y1))
    return tuple(boxes)


class RegionAdapter(Adapter):
    name = "regions"
    label = "Region tasks (JSONL with boxes)"
    description = (
        'A JSONL file, one object per line: "id", "image" (path in the images folder), "boxes" '
        '([[x0, y0, x1, y1], ...] in pixels), "inputs", "output", optional "meta"; other field names are mapped '
        "with the *_field options (dotted names reach into nested JSON), as in the generic adapter. The boxes are "
        "drawn as red rectangles on a copy of the image, which is stored as a derived image."
    )
    files = (
        FileSpec("records", "jsonl", "regions.jsonl", "one JSON object per line"),
        FileSpec("images", "folder", "images", "folder the image paths are relative to"),
    )
    options = (
        OptionSpec("id_field", "id", "field with the stable source id"),
        OptionSpec("image_field", "image", "field with the image path"),
        OptionSpec("boxes_field", "boxes", "field with the boxes"),
        OptionSpec("inputs_field", "inputs", "field with the inputs (question, options); may be absent"),
        OptionSpec("output_field", "output", "field with the answer or caption"),
        OptionSpec("box_format", "xyxy", '"xyxy" (corners) or "xywh" (COCO: corner, width, height)'),
        OptionSpec("short_answers", False, "true when the outputs are short answers to paraphrase later", "bool"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        box_format = options["box_format"]
        if box_format not in ("xyxy", "xywh"):
            raise ImportInputError(f'box_format must be "xyxy" or "xywh", not {box_format!r}')
        short: bool = options["short_answers"]
        label = source.name("records")
        source.folder("images")
        for number, record, error in jsonl_lines(source.file("records"), label, source):
            where = Location(label, number)
            if error:
                yield Rejected(where, error)
                continue
            yield self._row(record, where, source, options, box_format, short)

    def _row(
        self, record: Any, where: Location, source: SourceFiles, options: dict[str, Any], box_format: str, short: bool
    ) -> Row:
        if not isinstance(record, dict):
            return Rejected(where, "record is not a JSON object")
        fields = {name: options[f"{name}_field"] for name in ("id", "image", "boxes", "inputs", "output")}
        values = {name: field_value(record, path) for name, path in fields.items()}
        source_id = "" if values["id"] in (None, "") else str(values["id"])
        missing = [fields[name] for name in ("id", "image", "boxes", "output") if values[name] in (None, "", [])]
        if missing:
            return Rejected(where, f"missing field(s): {', '.join(missing)}", source_id)
        try:
            boxes = parse_boxes(values["boxes"], box_format)
            path = source.under("images", str(values["image"]))
        except (ValueError, ImportInputError) as exc:
            return Rejected(where, str(exc), source_id)
        meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        return Draft(
            source_id=source_id,
            media=[ImageFile(path, boxes=boxes)],
            inputs="" if values["inputs"] is None else str(values["inputs"]).strip(),
            output=str(values["output"]).strip(),
            meta={"source_dataset": "regions", **meta, "image": values["image"], "boxes": values["boxes"]},
            where=where,
            short_answer=short,
        )
