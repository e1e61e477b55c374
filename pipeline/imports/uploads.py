"""Uploaded import files: saved under IMPORT_ROOT/uploads/<random>/, zip archives unpacked safely.

A zip is checked entry by entry *before* anything is written: no absolute names, no `..`
(zip-slip), no symlinks, a cap on the entry count and on the unpacked size (zip bombs)."""

from __future__ import annotations

import re
import shutil
import stat
import uuid
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from pipeline.imports.adapters import get_adapter
from pipeline.imports.adapters.base import ImportInputError, safe_join
from pipeline.imports.importer import import_root, start_import
from pipeline.models import Job

CHUNK = 1 << 20


def _clean_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._")
    return cleaned or "upload"


def check_zip_entries(archive: zipfile.ZipFile) -> None:
    """Raise ImportInputError for the first entry that could escape the folder or blow up in size."""
    infos = archive.infolist()
    if len(infos) > settings.IMPORT_ZIP_MAX_ENTRIES:
        raise ImportInputError(f"the zip has {len(infos)} entries; the limit is {settings.IMPORT_ZIP_MAX_ENTRIES}")
    total = 0
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            raise ImportInputError(f"zip entry {name!r} points outside the import folder (zip-slip); nothing unpacked")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ImportInputError(f"zip entry {name!r} is a symbolic link; nothing unpacked")
        total += info.file_size
        if total > settings.IMPORT_ZIP_MAX_BYTES:
            raise ImportInputError(f"the zip unpacks to more than {settings.IMPORT_ZIP_MAX_BYTES} bytes")


def unpack_zip(fileobj: IO[bytes], dest: Path) -> None:
    try:
        with zipfile.ZipFile(fileobj) as archive:
            check_zip_entries(archive)
            budget = settings.IMPORT_ZIP_MAX_BYTES
            for info in archive.infolist():
                target = safe_join(dest, info.filename.replace("\\", "/"))
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(CHUNK):
                        budget -= len(chunk)
                        if budget < 0:  # the sizes in the directory were lies
                            limit = settings.IMPORT_ZIP_MAX_BYTES
                            raise ImportInputError(f"the zip unpacks to more than {limit} bytes")
                        out.write(chunk)
    except zipfile.BadZipFile as exc:
        raise ImportInputError(f"the upload is not a valid zip file: {exc}") from exc
    except NotImplementedError as exc:  # zipfile: a compression method it cannot read
        raise ImportInputError(
            f"the zip uses a compression method that cannot be read ({exc}); use deflate or store"
        ) from exc
    except RuntimeError as exc:  # zipfile: an encrypted entry needs a password (after NotImplementedError, a subclass)
        raise ImportInputError(f"the zip cannot be unpacked (encrypted entries are not supported): {exc}") from exc
    except (zlib.error, EOFError, OSError) as exc:  # damaged compressed data
        raise ImportInputError(f"the zip cannot be unpacked: {exc}") from exc


def _single_top_folder(dest: Path) -> str:
    """A zip made by zipping a folder holds just that folder: import from inside it."""
    entries = [entry for entry in dest.iterdir() if entry.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0].name
    return ""


def receive_upload(fileobj: IO[bytes], name: str, size: int) -> tuple[str, str | None]:
    """Save an upload for an import. Returns (folder relative to IMPORT_ROOT, file name or None for a zip)."""
    if size > settings.IMPORT_UPLOAD_MAX_BYTES:
        raise ImportInputError(
            f"the upload is {size} bytes; the limit is {settings.IMPORT_UPLOAD_MAX_BYTES} "
            "(put bigger files under the import folder on the server and import from there)"
        )
    folder = Path("uploads") / uuid.uuid4().hex
    dest = import_root() / folder
    dest.mkdir(parents=True)
    try:
        if name.lower().endswith(".zip"):
            unpack_zip(fileobj, dest)
            return str(folder / _single_top_folder(dest)), None
        filename = _clean_name(name)
        with (dest / filename).open("wb") as out:
            shutil.copyfileobj(fileobj, out, CHUNK)
        return str(folder), filename
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def start_import_from_upload(params: dict, upload: UploadedFile | None, user: object) -> Job:
    """Start an import of an upload (or of `params["folder"]` when there is none).

    A single uploaded file plays the adapter's first file role unless `files` names it; a zip is
    unpacked and its paths are used as given. On any input error the upload is removed again."""
    if upload is None:
        return start_import(params, user)
    adapter = get_adapter(str(params.get("adapter", "")))
    folder, filename = receive_upload(upload.file, upload.name or "", upload.size or 0)
    params = {**params, "folder": folder, "files": dict(params.get("files") or {})}
    if filename:
        params["files"].setdefault(adapter.files[0].role, filename)
    try:
        return start_import(params, user)
    except BaseException:
        shutil.rmtree(import_root() / folder, ignore_errors=True)
        raise
