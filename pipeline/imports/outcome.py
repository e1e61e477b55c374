"""What an import that created nothing tells its user: a warning state with the likely reason, not a green bar."""

from __future__ import annotations

from typing import Any

from pipeline.imports.adapters.base import Adapter, SourceFiles


def empty_import_warning(result: dict[str, Any], adapter: Adapter, source: SourceFiles) -> str:
    """Why an import created no sample, in words for the job page; "" when it created any."""
    if result.get("created"):
        return ""
    records, rejected, skipped = (int(result.get(k) or 0) for k in ("records", "rejected", "skipped"))
    record_files = [spec for spec in adapter.files if spec.kind != "folder" and source.has(spec.role)]
    if records == 0:
        names = ", ".join(f"{source.name(spec.role)} (the {spec.role} file)" for spec in record_files)
        first = record_files[0] if record_files else None
        hint = f": is {source.name(first.role)} the {first.role} file ({first.help})?" if first else "."
        return f"Nothing was imported: no rows found in {names or 'the files'}{hint}"
    if rejected and rejected >= records:
        return (
            f"Nothing was imported: all {records} rows were rejected (see the rejected rows). "
            "Is the right file mapped to each role, and the right adapter chosen?"
        )
    if skipped:
        return f"Nothing new was imported: all {skipped} accepted rows were already in this split (duplicates)."
    return "Nothing was imported."
