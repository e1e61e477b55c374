"""Validated, content-addressed image storage. Every image enters the app through `store_image`."""

from __future__ import annotations

import hashlib
import io
import warnings
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from .models import Image

ALLOWED_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}


class ImageRejected(ValueError):
    """The bytes are not an acceptable image; the message says why."""


def inspect_image(data: bytes) -> tuple[bytes, str, int, int]:
    """Validate image bytes and apply EXIF orientation. Returns (bytes, format, width, height).

    Pillow's decompression-bomb guard stays on and its warning is an error here.
    """
    if len(data) > settings.IMAGE_MAX_BYTES:
        raise ImageRejected(f"image is {len(data)} bytes; the limit is {settings.IMAGE_MAX_BYTES}")
    PILImage.MAX_IMAGE_PIXELS = settings.IMAGE_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if fmt not in ALLOWED_FORMATS:
                    raise ImageRejected(
                        f"image format {fmt or 'unknown'} is not allowed ({', '.join(ALLOWED_FORMATS)})"
                    )
                probe.verify()
            with PILImage.open(io.BytesIO(data)) as img:
                img.load()
                orientation = img.getexif().get(0x0112, 1)
                if orientation not in (1, None):
                    rotated = ImageOps.exif_transpose(img)
                    out = io.BytesIO()
                    save_args: dict[str, Any] = {"quality": 95} if fmt == "JPEG" else {}
                    rotated.save(out, format=fmt, **save_args)
                    data = out.getvalue()
                    width, height = rotated.size
                else:
                    width, height = img.size
    except ImageRejected:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise ImageRejected(f"image too large to decode safely (decompression bomb guard): {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"not a readable image: {exc}") from exc
    return data, fmt, width, height


def store_image(data: bytes, *, derived_from: Image | None = None, derivation: dict[str, Any] | None = None) -> Image:
    """Validate and store image bytes once under their sha256; returns the (possibly existing) row."""
    data, fmt, width, height = inspect_image(data)
    digest = hashlib.sha256(data).hexdigest()
    existing = Image.objects.filter(sha256=digest).first()
    if existing is not None:
        return existing
    name = f"images/{digest[:2]}/{digest}.{ALLOWED_FORMATS[fmt]}"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(data))
    try:
        with transaction.atomic():
            return Image.objects.create(
                sha256=digest,
                file=name,
                format=fmt,
                width=width,
                height=height,
                size_bytes=len(data),
                derived_from=derived_from,
                derivation=derivation or {},
            )
    except IntegrityError:  # stored meanwhile by another worker
        return Image.objects.get(sha256=digest)


def read_image_bytes(image: Image) -> bytes:
    with default_storage.open(image.file.name, "rb") as handle:
        return handle.read()
