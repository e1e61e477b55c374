"""Image validation before storing, and batched storage for imports."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from pipeline.media.images import (
    BOX_COLOURS,
    ImageRejected,
    ImageStore,
    PendingImage,
    draw_boxes,
    inspect_image,
    prepare_image,
    read_image_bytes,
    store_image,
)
from pipeline.models import Image
from tests.pipeline.imports.files import bomb_png, image_bytes


def _jpeg_with_orientation(orientation: int, size: tuple[int, int] = (40, 20)) -> bytes:
    img = PILImage.new("RGB", size, (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 10, 20))  # a red band on the left edge
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif, quality=95)
    return out.getvalue()


def test_exif_orientation_is_applied():
    data, fmt, width, height = inspect_image(_jpeg_with_orientation(6))  # 6: rotate 90° clockwise to view
    assert (fmt, width, height) == ("JPEG", 20, 40)
    with PILImage.open(io.BytesIO(data)) as img:
        r, g, b = img.convert("RGB").getpixel((10, 2))  # the red band is now along the top edge
        assert r > 200 and g < 60 and b < 60
        assert img.getexif().get(0x0112, 1) == 1
    untouched = _jpeg_with_orientation(1)
    assert inspect_image(untouched)[0] == untouched


def test_format_outside_the_allowlist_is_refused():
    out = io.BytesIO()
    PILImage.new("RGB", (8, 8)).save(out, format="TIFF")
    with pytest.raises(ImageRejected, match=r"image format TIFF is not allowed \(PNG, JPEG, WEBP, GIF, BMP\)"):
        inspect_image(out.getvalue())


def test_size_limits(settings):
    settings.IMAGE_MAX_BYTES = 50
    with pytest.raises(ImageRejected, match=r"image is \d+ bytes; the limit is 50"):
        inspect_image(image_bytes((1, 2, 3)))
    settings.IMAGE_MAX_BYTES = 10_000_000
    settings.IMAGE_MAX_SIDE = 30
    with pytest.raises(ImageRejected, match="image is 40x30; each side must be 1 to 30 pixels"):
        inspect_image(image_bytes((1, 2, 3), size=(40, 30)))


def test_decompression_bomb_and_truncated_file():
    with pytest.raises(ImageRejected, match="decompression bomb guard"):
        inspect_image(bomb_png())
    whole = image_bytes((9, 9, 9), size=(200, 200), fmt="JPEG")
    with pytest.raises(ImageRejected, match="not a readable image"):
        inspect_image(whole[: len(whole) // 2])
    with pytest.raises(ImageRejected, match="the file is empty"):
        inspect_image(b"")


@pytest.mark.django_db
def test_image_store_uses_a_few_queries_per_batch(django_assert_max_num_queries):
    existing = store_image(image_bytes((1, 1, 1)))
    colours = [(1, 1, 1)] + [(i, 50, 50) for i in range(1, 29)]  # one already stored, 28 new
    batch = [PendingImage(prepare_image(image_bytes(colour))) for colour in colours]
    store = ImageStore()
    with django_assert_max_num_queries(3):  # look up, bulk insert, read the new ids
        ids = store.store(batch)
    assert ids[existing.sha256] == existing.pk
    assert Image.objects.count() == 29
    with django_assert_max_num_queries(0):  # everything is cached for the rest of the import
        assert store.store(batch) == ids
    source = batch[1].prepared
    derived = PendingImage(prepare_image(image_bytes((7, 7, 7))), source.sha256, {"boxes": [[1, 1, 2, 2]]})
    store.store([derived])
    row = Image.objects.get(sha256=derived.prepared.sha256)
    assert (row.derived_from_id, row.derivation) == (ids[source.sha256], {"boxes": [[1, 1, 2, 2]]})


@pytest.mark.django_db
def test_a_truncated_file_left_by_a_killed_worker_is_rewritten():
    data = image_bytes((9, 90, 200), size=(50, 40))
    prepared = prepare_image(data)
    other = prepare_image(image_bytes((1, 2, 3), size=(50, 40)))
    for name in (prepared.name, other.name):
        if default_storage.exists(name):
            default_storage.delete(name)
    default_storage.save(prepared.name, ContentFile(data[:20]))  # the worker died after 20 bytes
    image = store_image(data)
    assert image.file.name == prepared.name
    assert read_image_bytes(image) == data
    # The batch store (imports) mends its files the same way.
    default_storage.save(other.name, ContentFile(other.data[:-1]))
    ImageStore().store([PendingImage(other)])
    with default_storage.open(other.name, "rb") as handle:
        assert handle.read() == other.data
    assert default_storage.listdir(f"images/{other.sha256[:2]}")[1].count(f"{other.sha256}.png") == 1


def test_boxes_are_red_by_default_and_take_one_named_colour_each():
    picture = prepare_image(image_bytes((0, 0, 0), size=(100, 60)))
    red = PILImage.open(io.BytesIO(draw_boxes(picture, [(10, 10, 40, 40)]).data)).convert("RGB")
    assert red.getpixel((10, 25)) == (255, 0, 0)
    coloured = draw_boxes(picture, [(10, 10, 40, 40), (50, 10, 90, 50)], ["blue", "green"])
    pixels = PILImage.open(io.BytesIO(coloured.data)).convert("RGB")
    assert pixels.getpixel((10, 25)) == BOX_COLOURS["blue"] and pixels.getpixel((90, 30)) == BOX_COLOURS["green"]
    assert pixels.getpixel((25, 25)) == (0, 0, 0)  # inside a box nothing changes
    with pytest.raises(ImageRejected, match="unknown box colour 'mauve'"):
        draw_boxes(picture, [(10, 10, 40, 40)], ["mauve"])
    with pytest.raises(ImageRejected, match="2 boxes but 1 colours"):
        draw_boxes(picture, [(10, 10, 40, 40), (50, 10, 90, 50)], ["blue"])
