"""Any JSONL or CSV file with a field mapping: which field holds the id, the image path(s), inputs, output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.imports.adapters.base import (
    Adapter,
    Draft,
    FileSpec,
    ImageFile,
    ImportInputError,
    Location,
    Media,
    OptionSpec,
    Rejected,
    Row,
    SourceFiles,
    Target,
    VideoFile,
    csv_rows,
    jsonl_lines,
)


def field_value(record: dict[str, Any], path: str) -> Any:
    """`record["a"]["b"]` for "a.b"; None when any step is missing."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def image_paths(value: Any) -> list[str]:
    """One path, a list of paths, or several separated by ';' (CSV)."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(";") if part.strip()]


class GenericAdapter(Adapter):
    name = "generic"
    label = "Generic JSONL / CSV with a field mapping"
    description = (
        "A JSONL or CSV file (by its extension) and an images folder. Options name the fields holding the id, "
        "the image path(s) (a list, or ';'-separated in CSV), the inputs and the output; dotted names reach "
        "into nested JSON. Other fields go into meta unless meta_fields lists the ones to keep."
    )
    files = (
        FileSpec("records", "jsonl/csv", "records.jsonl", "one record per line (JSONL) or per row (CSV)"),
        FileSpec("images", "folder", "images", "folder the image paths are relative to", required=False),
    )
    options = (
        OptionSpec("id_field", "id", "field with the stable source id"),
        OptionSpec("image_field", "image", "field with the image path(s)"),
        OptionSpec("inputs_field", "inputs", "field with the inputs (question, options); may be absent"),
        OptionSpec("output_field", "output", "field with the answer, caption or label"),
        OptionSpec("meta_fields", "", "comma-separated fields to keep in meta; empty: all other fields"),
        OptionSpec("video", False, "true when the image field holds a video path (8 frames are sampled)", "bool"),
        OptionSpec("short_answers", False, "true when the outputs are short answers to paraphrase later", "bool"),
    )

    def rows(self, source: SourceFiles, options: dict[str, Any], target: Target) -> Iterator[Row]:
        label = source.name("records")
        path = source.file("records")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            stream: Iterator[tuple[int, Any, str | None]] = ((n, row, None) for n, row in csv_rows(path, label, source))
        elif suffix in (".jsonl", ".json", ".ndjson"):
            stream = jsonl_lines(path, label, source)
        else:
            raise ImportInputError(f"{label}: the generic adapter reads .jsonl or .csv files, not {suffix or 'none'}")
        for number, record, error in stream:
            where = Location(label, number)
            if error:
                yield Rejected(where, error)
                continue
            yield self._row(record, where, source, options)

    def _row(self, record: Any, where: Location, source: SourceFiles, options: dict[str, Any]) -> Row:
        if not isinstance(record, dict):
            return Rejected(where, "record is not a JSON object")
        fields = {name: options[f"{name}_field"] for name in ("id", "image", "inputs", "output")}
        values = {name: field_value(record, path) for name, path in fields.items()}
        source_id = "" if values["id"] in (None, "") else str(values["id"])
        missing = [fields[name] for name in ("id", "image", "output") if values[name] in (None, "", [])]
        if missing:
            return Rejected(where, f"missing field(s): {', '.join(missing)}", source_id)
        media: list[Media] = []
        try:
            for relative in image_paths(values["image"]):
                path = source.under("images", relative)
                media.append(VideoFile(path) if options["video"] else ImageFile(path))
        except ImportInputError as exc:
            return Rejected(where, str(exc), source_id)
        if not media:
            return Rejected(where, f"missing field(s): {fields['image']}", source_id)
        keep = [f.strip() for f in str(options["meta_fields"]).split(",") if f.strip()]
        used = {path.split(".")[0] for path in fields.values()}
        meta = {k: record.get(k) for k in keep} if keep else {k: v for k, v in record.items() if k not in used}
        return Draft(
            source_id=source_id,
            media=media,
            inputs="" if values["inputs"] is None else str(values["inputs"]).strip(),
            output=str(values["output"]).strip(),
            meta={"source_dataset": "generic", **meta},
            where=where,
            short_answer=options["short_answers"],
        )
