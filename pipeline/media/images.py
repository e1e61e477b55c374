"""Validated, content-addressed image storage. Every image enters the app through here.

`inspect_image` checks bytes before anything is stored: a size limit, a format allowlist read from
the header, a limit on each side, Pillow's decompression-bomb guard (its warning is an error here),
a full decode (truncated files fail), and EXIF orientation applied. `ImageStore` stores many images
for one import with a few queries per batch instead of one per image.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import Image as PILImage
from PIL import ImageDraw, ImageOps, UnidentifiedImageError

from pipeline.models import Image

ALLOWED_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}
BOX_COLOUR = (255, 0, 0)
# Named colours for datasets that tell several boxes apart by colour (VCR); red stays the default.
BOX_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": BOX_COLOUR,
    "blue": (0, 90, 255),
    "green": (0, 200, 0),
    "yellow": (255, 220, 0),
    "purple": (160, 32, 240),
    "orange": (255, 140, 0),
    "cyan": (0, 230, 230),
    "pink": (255, 105, 180),
    "brown": (140, 80, 20),
    "white": (255, 255, 255),
}


class ImageRejected(ValueError):
    """The bytes are not an acceptable image; the message says why."""


@dataclass(frozen=True)
class PreparedImage:
    """Checked image bytes (EXIF orientation applied) and their content hash, ready to store."""

    data: bytes
    format: str
    width: int
    height: int
    sha256: str = field(default="")

    @property
    def name(self) -> str:
        return f"images/{self.sha256[:2]}/{self.sha256}.{ALLOWED_FORMATS[self.format]}"


def inspect_image(data: bytes) -> tuple[bytes, str, int, int]:
    """Validate image bytes and apply EXIF orientation. Returns (bytes, format, width, height)."""
    if len(data) > settings.IMAGE_MAX_BYTES:
        raise ImageRejected(f"image is {len(data)} bytes; the limit is {settings.IMAGE_MAX_BYTES}")
    if not data:
        raise ImageRejected("not a readable image: the file is empty")
    PILImage.MAX_IMAGE_PIXELS = settings.IMAGE_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data)) as probe:  # reads the header only
                fmt = probe.format
                if fmt not in ALLOWED_FORMATS:
                    raise ImageRejected(
                        f"image format {fmt or 'unknown'} is not allowed ({', '.join(ALLOWED_FORMATS)})"
                    )
                width, height = probe.size
                if max(width, height) > settings.IMAGE_MAX_SIDE or min(width, height) < 1:
                    raise ImageRejected(
                        f"image is {width}x{height}; each side must be 1 to {settings.IMAGE_MAX_SIDE} pixels"
                    )
                probe.verify()
            with PILImage.open(io.BytesIO(data)) as img:
                img.load()  # a full decode: truncated or corrupt data fails here
                orientation = img.getexif().get(0x0112, 1)
                if orientation not in (1, None):
                    rotated = ImageOps.exif_transpose(img)
                    out = io.BytesIO()
                    save_args: dict[str, Any] = {"quality": 95} if fmt == "JPEG" else {}
                    rotated.save(out, format=fmt, **save_args)
                    data = out.getvalue()
                    width, height = rotated.size
    except ImageRejected:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise ImageRejected(f"image too large to decode safely (decompression bomb guard): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("not a readable image: the format is unknown or the file is damaged") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(f"not a readable image: {exc}") from exc
    return data, fmt, width, height


def prepare_image(data: bytes) -> PreparedImage:
    data, fmt, width, height = inspect_image(data)
    return PreparedImage(data, fmt, width, height, hashlib.sha256(data).hexdigest())


def _save_file(prepared: PreparedImage) -> None:
    """Write the file unless a complete copy is there. A file of the wrong size (a worker killed while
    writing it) is replaced, so a truncated image is not reused forever."""
    name = prepared.name
    if default_storage.exists(name):
        if default_storage.size(name) == len(prepared.data):
            return
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(prepared.data))
    if saved != name:  # another worker wrote the same bytes meanwhile; keep theirs, drop our copy
        default_storage.delete(saved)


def store_image(data: bytes, *, derived_from: Image | None = None, derivation: dict[str, Any] | None = None) -> Image:
    """Validate and store image bytes once under their sha256; returns the (possibly existing) row."""
    prepared = prepare_image(data)
    existing = Image.objects.filter(sha256=prepared.sha256).first()
    if existing is not None:
        return existing
    _save_file(prepared)
    try:
        with transaction.atomic():
            return Image.objects.create(
                sha256=prepared.sha256,
                file=prepared.name,
                format=prepared.format,
                width=prepared.width,
                height=prepared.height,
                size_bytes=len(prepared.data),
                derived_from=derived_from,
                derivation=derivation or {},
            )
    except IntegrityError:  # stored meanwhile by another worker
        return Image.objects.get(sha256=prepared.sha256)


@dataclass
class PendingImage:
    prepared: PreparedImage
    derived_from_sha: str | None = None
    derivation: dict[str, Any] = field(default_factory=dict)


class ImageStore:
    """Stores the images of one import: sha256 → id cached for the whole import, new images written
    with one SELECT and one bulk INSERT per batch (sources first, then images derived from them)."""

    def __init__(self, max_cached: int = 500_000) -> None:
        self.ids: dict[str, int] = {}
        self.max_cached = max_cached
        self.stored = 0

    def store(self, pending: Sequence[PendingImage]) -> dict[str, int]:
        """Make sure every pending image has a row; returns sha256 → id for all of them."""
        sources = [p for p in pending if p.derived_from_sha is None]
        derived = [p for p in pending if p.derived_from_sha is not None]
        self._store_level(sources)
        self._store_level(derived)
        return {p.prepared.sha256: self.ids[p.prepared.sha256] for p in pending}

    def _store_level(self, pending: Iterable[PendingImage]) -> None:
        todo = {p.prepared.sha256: p for p in pending if p.prepared.sha256 not in self.ids}
        if not todo:
            return
        if len(self.ids) + len(todo) > self.max_cached:
            self.ids.clear()  # bounded memory on huge imports; a miss costs one query per batch
        self._load_ids(todo)
        missing = [p for sha, p in todo.items() if sha not in self.ids]
        if not missing:
            return
        for p in missing:
            _save_file(p.prepared)
        Image.objects.bulk_create(
            [
                Image(
                    sha256=p.prepared.sha256,
                    file=p.prepared.name,
                    format=p.prepared.format,
                    width=p.prepared.width,
                    height=p.prepared.height,
                    size_bytes=len(p.prepared.data),
                    derived_from_id=self.ids.get(p.derived_from_sha) if p.derived_from_sha else None,
                    derivation=p.derivation,
                )
                for p in missing
            ],
            ignore_conflicts=True,  # another import may store the same bytes at the same time
        )
        self.stored += len(missing)
        self._load_ids({p.prepared.sha256: p for p in missing})

    def _load_ids(self, wanted: dict[str, PendingImage]) -> None:
        for sha, pk in Image.objects.filter(sha256__in=list(wanted)).values_list("sha256", "id"):
            self.ids[sha] = pk


def box_line_width(width: int, height: int) -> int:
    """Line width scaled to the image: about 1/100 of the shorter side, at least 2 pixels."""
    return max(2, round(min(width, height) / 100))


def pixel_box(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """A box in pixel coordinates clamped to the image (the last pixel is width - 1); ImageRejected when
    it lies outside the image or covers less than one pixel once clamped."""
    x0, y0, x1, y1 = box
    if x0 >= width or y0 >= height:
        raise ImageRejected(f"box {list(box)} lies outside the {width}x{height} image")
    left, top = min(max(0, round(x0)), width - 1), min(max(0, round(y0)), height - 1)
    right, bottom = min(round(x1), width - 1), min(round(y1), height - 1)
    if right <= left or bottom <= top:
        raise ImageRejected(f"box {list(box)} is less than a pixel wide or high inside the {width}x{height} image")
    return left, top, right, bottom


def box_colour(name: str) -> tuple[int, int, int]:
    """The RGB value of a named box colour; ImageRejected for a name we do not know."""
    try:
        return BOX_COLOURS[name]
    except KeyError:
        raise ImageRejected(f"unknown box colour {name!r}; use one of {', '.join(BOX_COLOURS)}") from None


def draw_boxes(
    prepared: PreparedImage,
    boxes: Sequence[tuple[float, float, float, float]],
    colours: Sequence[str] = (),
) -> PreparedImage:
    """A copy of the image with each box drawn as a rectangle: red (as the M3IT paper does) unless `colours`
    names a colour per box (VCR's colour-coded objects)."""
    if colours and len(colours) != len(boxes):
        raise ImageRejected(f"{len(boxes)} boxes but {len(colours)} colours")
    rgb = [box_colour(name) for name in colours] if colours else [BOX_COLOUR] * len(boxes)
    with PILImage.open(io.BytesIO(prepared.data)) as source:
        img = source.convert("RGB")
    line = box_line_width(img.width, img.height)
    draw = ImageDraw.Draw(img)
    for box, colour in zip(boxes, rgb, strict=True):
        draw.rectangle(pixel_box(box, img.width, img.height), outline=colour, width=line)
    out = io.BytesIO()
    fmt = "JPEG" if prepared.format == "JPEG" else "PNG"
    # JPEG sources stay JPEG (small, like their source) but without chroma subsampling (4:4:4): with the
    # default 4:2:0 the colour of a thin red line is averaged with its neighbours and washes out to pink.
    img.save(out, format=fmt, **({"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}))
    return prepare_image(out.getvalue())


def read_image_bytes(image: Image) -> bytes:
    with default_storage.open(image.file.name, "rb") as handle:
        return handle.read()
